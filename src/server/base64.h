// Base64 (RFC 4648, standard alphabet) decoding for audio sent inside JSON requests.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace utter::server {

// Decodes `text`, ignoring ASCII whitespace; padding is optional. Returns nullopt when a
// character is outside the alphabet, padding is followed by data, or the length leaves a
// single dangling character.
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace utter::server
