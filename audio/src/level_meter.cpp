#include "utter/audio/level_meter.h"

#include <algorithm>
#include <cmath>

namespace utter::audio {

float amplitude_to_dbfs(float amplitude) {
  if (!(amplitude > 0.0f)) return kSilenceDbfs;
  return std::max(kSilenceDbfs, 20.0f * std::log10(amplitude));
}

Level measure_level(std::span<const float> samples) {
  if (samples.empty()) return {};
  double sum_squares = 0.0;
  float peak = 0.0f;
  for (const float sample : samples) {
    sum_squares += static_cast<double>(sample) * sample;
    peak = std::max(peak, std::fabs(sample));
  }
  const double rms = std::sqrt(sum_squares / static_cast<double>(samples.size()));
  return {amplitude_to_dbfs(static_cast<float>(rms)), amplitude_to_dbfs(peak)};
}

}  // namespace utter::audio
