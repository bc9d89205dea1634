// Cutting the 16 kHz stream into the model's 640-sample frames.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "utter/audio/audio_format.h"

namespace utter::audio {

// One 40 ms frame at 16 kHz. Only the last frame of a stream may be partial: its tail is zero
// and valid_samples is the number of leading samples that are real audio.
struct Frame {
  std::array<float, kFrameSamples> samples{};
  int valid_samples = kFrameSamples;
  // Position of samples[0] in the stream, counted in 16 kHz samples from its start.
  std::size_t first_sample = 0;
};

class Framer {
 public:
  // Queues 16 kHz mono samples.
  void push(std::span<const float> samples);

  // Returns the next complete frame, or nothing until enough samples have been pushed.
  std::optional<Frame> next_frame();

  // Returns the next remaining frame at the end of a stream, zero-padded when partial, or
  // nothing when none remain. Call it until it returns nothing. A later push() starts a new
  // stream whose positions continue after the last real sample.
  std::optional<Frame> finish();

  std::size_t pending_samples() const { return pending_.size() - read_offset_; }

 private:
  std::vector<float> pending_;
  std::size_t read_offset_ = 0;
  std::size_t next_first_sample_ = 0;
};

}  // namespace utter::audio
