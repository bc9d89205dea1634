// Cuts generated text at the first of the request's stop sequences while it streams.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace utter::server {

class StopSequenceFilter {
 public:
  explicit StopSequenceFilter(std::vector<std::string> stop_sequences);

  // Appends `text` and returns what can be sent now. Text that could be the start of a stop
  // sequence is held back until it is decided. Once a stop sequence appears, returns the text
  // before it, sets stopped() and drops everything after.
  std::string push(std::string_view text);
  // Returns the text held back; call at the end of generation.
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stop_sequences_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace utter::server
