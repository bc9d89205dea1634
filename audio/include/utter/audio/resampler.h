// Streaming conversion of interleaved audio at any rate to 16 kHz mono.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "utter/audio/audio_format.h"

namespace utter::audio {

// libsamplerate's sinc converters. Measured by resampler_test and utter-bench-audio, kMedium
// keeps a 1 kHz tone within 0.01 dB with everything else more than 120 dB down, at about a
// third of kBest's CPU time.
enum class ResamplerQuality { kFastest, kMedium, kBest };

// Averages the channels of interleaved samples into mono, appending to out.
void downmix_to_mono(std::span<const float> interleaved, int channels, std::vector<float>& out);

// Converts a stream of interleaved samples to 16 kHz mono, chunk by chunk. The output does not
// depend on how the input is split into chunks: any split gives the same samples as one call.
// At 16 kHz input the samples pass through unchanged (after the downmix).
class Resampler {
 public:
  Resampler(int input_rate, int channels, ResamplerQuality quality = ResamplerQuality::kMedium);
  ~Resampler();
  Resampler(Resampler&&) noexcept;
  Resampler& operator=(Resampler&&) noexcept;

  // Appends the 16 kHz samples that the new input makes available to out. The input contains
  // whole sample frames (a multiple of channels() values).
  void process(std::span<const float> interleaved, std::vector<float>& out);

  // Appends the samples still held back for the filter's look-ahead. Call once at the end of
  // the stream; process() must not be called afterwards.
  void finish(std::vector<float>& out);

  int input_rate() const { return input_rate_; }
  int channels() const { return channels_; }

 private:
  void convert(bool end_of_input, std::vector<float>& out);

  int input_rate_;
  int channels_;
  double ratio_;
  bool finished_ = false;
  struct State;
  std::unique_ptr<State> state_;
  std::vector<float> mono_;
};

}  // namespace utter::audio
