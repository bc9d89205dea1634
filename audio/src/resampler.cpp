#include "utter/audio/resampler.h"

#include <samplerate.h>

#include <fmt/core.h>

#include "utter/audio/audio_error.h"

namespace utter::audio {
namespace {

int converter_type(ResamplerQuality quality) {
  switch (quality) {
    case ResamplerQuality::kFastest:
      return SRC_SINC_FASTEST;
    case ResamplerQuality::kMedium:
      return SRC_SINC_MEDIUM_QUALITY;
    case ResamplerQuality::kBest:
      return SRC_SINC_BEST_QUALITY;
  }
  return SRC_SINC_MEDIUM_QUALITY;
}

// Output space reserved per call; src_process is called again until it consumes all input.
constexpr long kOutputChunk = 4096;

}  // namespace

void downmix_to_mono(std::span<const float> interleaved, int channels, std::vector<float>& out) {
  if (channels <= 0) throw AudioError(fmt::format("invalid channel count {}", channels));
  if (interleaved.size() % static_cast<std::size_t>(channels) != 0) {
    throw AudioError(fmt::format("{} interleaved values are not a whole number of {}-channel frames",
                                 interleaved.size(), channels));
  }
  const std::size_t frames = interleaved.size() / static_cast<std::size_t>(channels);
  const std::size_t old_size = out.size();
  out.resize(old_size + frames);
  if (channels == 1) {
    std::copy(interleaved.begin(), interleaved.end(), out.begin() + static_cast<std::ptrdiff_t>(old_size));
    return;
  }
  const float scale = 1.0f / static_cast<float>(channels);
  for (std::size_t frame = 0; frame < frames; ++frame) {
    const float* values = interleaved.data() + frame * static_cast<std::size_t>(channels);
    float sum = 0.0f;
    for (int channel = 0; channel < channels; ++channel) sum += values[channel];
    out[old_size + frame] = sum * scale;
  }
}

struct Resampler::State {
  SRC_STATE* converter = nullptr;
  std::vector<float> pending;  // mono input not yet consumed by libsamplerate
  ~State() {
    if (converter != nullptr) src_delete(converter);
  }
};

Resampler::Resampler(int input_rate, int channels, ResamplerQuality quality)
    : input_rate_(input_rate), channels_(channels), state_(std::make_unique<State>()) {
  if (input_rate < 1000 || input_rate > 1'000'000) {
    throw AudioError(fmt::format("invalid input sample rate {} Hz: expected 1000 to 1000000 Hz",
                                 input_rate));
  }
  if (channels < 1 || channels > 256) {
    throw AudioError(fmt::format("invalid channel count {}: expected 1 to 256", channels));
  }
  ratio_ = static_cast<double>(kModelSampleRate) / input_rate;
  if (input_rate != kModelSampleRate) {
    int error = 0;
    state_->converter = src_new(converter_type(quality), 1, &error);
    if (state_->converter == nullptr) {
      throw AudioError(fmt::format("libsamplerate failed to start a converter: {}",
                                   src_strerror(error)));
    }
  }
}

Resampler::~Resampler() = default;
Resampler::Resampler(Resampler&&) noexcept = default;
Resampler& Resampler::operator=(Resampler&&) noexcept = default;

void Resampler::process(std::span<const float> interleaved, std::vector<float>& out) {
  if (finished_) throw AudioError("Resampler::process called after finish()");
  if (state_->converter == nullptr) {
    downmix_to_mono(interleaved, channels_, out);
    return;
  }
  downmix_to_mono(interleaved, channels_, state_->pending);
  convert(false, out);
}

void Resampler::finish(std::vector<float>& out) {
  if (finished_) return;
  finished_ = true;
  if (state_->converter != nullptr) convert(true, out);
}

void Resampler::convert(bool end_of_input, std::vector<float>& out) {
  std::vector<float>& pending = state_->pending;
  std::size_t consumed = 0;
  while (true) {
    const std::size_t old_size = out.size();
    out.resize(old_size + kOutputChunk);
    SRC_DATA data{};
    data.data_in = pending.data() + consumed;
    data.input_frames = static_cast<long>(pending.size() - consumed);
    data.data_out = out.data() + old_size;
    data.output_frames = kOutputChunk;
    data.end_of_input = end_of_input ? 1 : 0;
    data.src_ratio = ratio_;
    const int error = src_process(state_->converter, &data);
    if (error != 0) {
      out.resize(old_size);
      throw AudioError(fmt::format("libsamplerate failed: {}", src_strerror(error)));
    }
    out.resize(old_size + static_cast<std::size_t>(data.output_frames_gen));
    consumed += static_cast<std::size_t>(data.input_frames_used);
    const bool stalled = data.input_frames_used == 0 && data.output_frames_gen == 0;
    if (consumed < pending.size() && !stalled) continue;
    if (stalled && !end_of_input) break;
    // A full output buffer may mean more output is ready from input already consumed. At the
    // end of input the converter is drained until it produces nothing.
    if (end_of_input ? data.output_frames_gen == 0 : data.output_frames_gen < kOutputChunk) break;
  }
  pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(consumed));
}

}  // namespace utter::audio
