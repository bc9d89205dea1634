// Formatting of libsndfile's error strings.
#pragma once

#include <string>

namespace utter::audio {

// Returns a libsndfile message without its trailing full stops, so it can end a sentence.
inline std::string sndfile_message(const char* message) {
  std::string text = message != nullptr ? message : "unknown error";
  while (!text.empty() && (text.back() == '.' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace utter::audio
