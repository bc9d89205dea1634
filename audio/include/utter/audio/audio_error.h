// The exception type of the audio library.
#pragma once

#include <stdexcept>
#include <string>

namespace utter::audio {

// Raised for unreadable or invalid audio files, device failures and invalid arguments. The
// message names the file or device and the next step.
class AudioError : public std::runtime_error {
 public:
  explicit AudioError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace utter::audio
