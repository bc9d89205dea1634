// The path from raw device or file samples to model frames: downmix, resample, frame.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "utter/audio/framer.h"
#include "utter/audio/resampler.h"

namespace utter::audio {

// Turns interleaved samples at any rate and channel count into 640-sample 16 kHz mono frames.
// push() takes chunks of any size and next_frame() returns the frames ready so far. At the end
// of the stream, call finish() once and take frames until next_frame() returns nothing.
class FramePipeline {
 public:
  FramePipeline(int input_rate, int channels,
                ResamplerQuality quality = ResamplerQuality::kMedium);

  void push(std::span<const float> interleaved);
  std::optional<Frame> next_frame();
  // Flushes the resampler and pads the last partial frame; next_frame() then returns the rest.
  void finish();

 private:
  Resampler resampler_;
  Framer framer_;
  std::vector<float> resampled_;
  bool finished_ = false;
  bool partial_taken_ = false;
};

}  // namespace utter::audio
