// Signal levels for the UI.
#pragma once

#include <span>

namespace utter::audio {

// Levels are in dBFS: 0 dBFS is a full-scale sample (|x| = 1). Silence is reported as
// kSilenceDbfs rather than minus infinity.
inline constexpr float kSilenceDbfs = -120.0f;

struct Level {
  float rms_dbfs = kSilenceDbfs;
  float peak_dbfs = kSilenceDbfs;
};

// Measures the RMS and the peak of a block of samples.
Level measure_level(std::span<const float> samples);

// Converts a linear amplitude to dBFS, clamped below at kSilenceDbfs.
float amplitude_to_dbfs(float amplitude);

}  // namespace utter::audio
