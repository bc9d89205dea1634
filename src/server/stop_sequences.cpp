#include "server/stop_sequences.h"

#include <algorithm>
#include <utility>

namespace utter::server {

StopSequenceFilter::StopSequenceFilter(std::vector<std::string> stop_sequences)
    : stop_sequences_(std::move(stop_sequences)) {
  std::erase_if(stop_sequences_, [](const std::string& stop) { return stop.empty(); });
}

std::string StopSequenceFilter::push(std::string_view text) {
  if (stopped_) return {};
  pending_ += text;

  size_t first_match = std::string::npos;
  for (const auto& stop : stop_sequences_) first_match = std::min(first_match, pending_.find(stop));
  if (first_match != std::string::npos) {
    std::string out = pending_.substr(0, first_match);
    pending_.clear();
    stopped_ = true;
    return out;
  }

  // Hold back the longest tail of the text that begins some stop sequence.
  size_t held_back = 0;
  for (const auto& stop : stop_sequences_) {
    for (size_t length = std::min(stop.size() - 1, pending_.size()); length > held_back; --length) {
      if (std::string_view(pending_).ends_with(std::string_view(stop).substr(0, length))) {
        held_back = length;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - held_back);
  pending_.erase(0, pending_.size() - held_back);
  return out;
}

std::string StopSequenceFilter::flush() {
  if (stopped_) return {};
  return std::exchange(pending_, {});
}

}  // namespace utter::server
