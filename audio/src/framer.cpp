#include "utter/audio/framer.h"

#include <algorithm>

namespace utter::audio {

void Framer::push(std::span<const float> samples) {
  // Drop consumed samples before growing, so the buffer stays about one frame long.
  if (read_offset_ > 0 && read_offset_ >= pending_.size() / 2) {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(read_offset_));
    read_offset_ = 0;
  }
  pending_.insert(pending_.end(), samples.begin(), samples.end());
}

std::optional<Frame> Framer::next_frame() {
  if (pending_samples() < static_cast<std::size_t>(kFrameSamples)) return std::nullopt;
  Frame frame;
  const auto begin = pending_.begin() + static_cast<std::ptrdiff_t>(read_offset_);
  std::copy(begin, begin + kFrameSamples, frame.samples.begin());
  frame.first_sample = next_first_sample_;
  read_offset_ += kFrameSamples;
  next_first_sample_ += kFrameSamples;
  return frame;
}

std::optional<Frame> Framer::finish() {
  const std::size_t remaining = pending_samples();
  if (remaining == 0) return std::nullopt;
  if (remaining >= static_cast<std::size_t>(kFrameSamples)) return next_frame();
  Frame frame;
  const auto begin = pending_.begin() + static_cast<std::ptrdiff_t>(read_offset_);
  std::copy(begin, pending_.end(), frame.samples.begin());
  frame.valid_samples = static_cast<int>(remaining);
  frame.first_sample = next_first_sample_;
  next_first_sample_ += remaining;
  pending_.clear();
  read_offset_ = 0;
  return frame;
}

}  // namespace utter::audio
