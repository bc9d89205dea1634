// Small UTF-8 helpers shared by the editor: validation and code point stepping.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace utter::editor {

// Returns the byte offset of the first invalid UTF-8 sequence, or nothing when text is valid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

inline bool is_utf8_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Decodes the code point starting at offset in valid UTF-8 and stores its length in bytes.
char32_t decode_utf8(std::string_view text, std::size_t offset, std::size_t* length);

// Offset of the code point before offset (0 stays 0).
std::size_t previous_code_point(std::string_view text, std::size_t offset);

void append_utf8(std::string& out, char32_t code_point);

}  // namespace utter::editor
