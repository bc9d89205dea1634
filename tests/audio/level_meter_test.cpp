#include "utter/audio/level_meter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

namespace utter::audio {
namespace {

TEST(LevelMeter, FullScaleSine) {
  std::vector<float> sine(16000);
  for (std::size_t i = 0; i < sine.size(); ++i) {
    sine[i] = static_cast<float>(std::sin(2.0 * std::numbers::pi * 1000.0 * static_cast<double>(i) / 16000.0));
  }
  const Level level = measure_level(sine);
  // 16 samples per period, so the peaks +-1 are sampled exactly. A sine's RMS is its peak divided by sqrt(2): -3.01 dBFS.
  EXPECT_NEAR(level.rms_dbfs, -3.0103f, 0.01f);
  EXPECT_NEAR(level.peak_dbfs, 0.0f, 0.01f);
}

TEST(LevelMeter, SquareWaveAtHalfScale) {
  std::vector<float> square(1000);
  for (std::size_t i = 0; i < square.size(); ++i) square[i] = (i / 10) % 2 == 0 ? 0.5f : -0.5f;
  const Level level = measure_level(square);
  EXPECT_NEAR(level.rms_dbfs, -6.0206f, 0.001f);
  EXPECT_NEAR(level.peak_dbfs, -6.0206f, 0.001f);
}

TEST(LevelMeter, SilenceAndEmpty) {
  const std::vector<float> zeros(100, 0.0f);
  EXPECT_EQ(measure_level(zeros).rms_dbfs, kSilenceDbfs);
  EXPECT_EQ(measure_level(zeros).peak_dbfs, kSilenceDbfs);
  EXPECT_EQ(measure_level({}).rms_dbfs, kSilenceDbfs);
}

TEST(LevelMeter, SinglePeak) {
  std::vector<float> samples(100, 0.0f);
  samples[42] = -0.1f;
  const Level level = measure_level(samples);
  EXPECT_NEAR(level.peak_dbfs, -20.0f, 0.001f);
  EXPECT_NEAR(level.rms_dbfs, -40.0f, 0.001f);  // 0.1 / sqrt(100)
}

}  // namespace
}  // namespace utter::audio
