#include "utter/audio/frame_pipeline.h"

namespace utter::audio {

FramePipeline::FramePipeline(int input_rate, int channels, ResamplerQuality quality)
    : resampler_(input_rate, channels, quality) {}

void FramePipeline::push(std::span<const float> interleaved) {
  resampled_.clear();
  resampler_.process(interleaved, resampled_);
  framer_.push(resampled_);
}

void FramePipeline::finish() {
  if (finished_) return;
  finished_ = true;
  resampled_.clear();
  resampler_.finish(resampled_);
  framer_.push(resampled_);
}

std::optional<Frame> FramePipeline::next_frame() {
  if (auto frame = framer_.next_frame()) return frame;
  if (!finished_ || partial_taken_) return std::nullopt;
  partial_taken_ = true;
  return framer_.finish();
}

}  // namespace utter::audio
