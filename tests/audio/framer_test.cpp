#include "utter/audio/framer.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "utter/audio/frame_pipeline.h"

namespace utter::audio {
namespace {

std::vector<float> make_ramp(std::size_t count) {
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<float>(i + 1) / 4096.0f;
  return values;
}

TEST(Framer, CutsFramesAndPadsLast) {
  const std::vector<float> input = make_ramp(2000);  // 3 * 640 + 80
  Framer framer;
  std::mt19937 generator(7);
  std::uniform_int_distribution<std::size_t> chunk(0, 900);
  std::vector<Frame> frames;
  for (std::size_t offset = 0; offset < input.size();) {
    const std::size_t count = std::min(chunk(generator), input.size() - offset);
    framer.push(std::span<const float>(input.data() + offset, count));
    offset += count;
    while (auto frame = framer.next_frame()) frames.push_back(*frame);
  }
  if (auto last = framer.finish()) frames.push_back(*last);

  ASSERT_EQ(frames.size(), 4u);
  for (std::size_t f = 0; f < 3; ++f) {
    EXPECT_EQ(frames[f].valid_samples, 640);
    EXPECT_EQ(frames[f].first_sample, f * 640);
  }
  EXPECT_EQ(frames[3].valid_samples, 80);
  EXPECT_EQ(frames[3].first_sample, 1920u);
  for (std::size_t i = 0; i < 2000; ++i) {
    ASSERT_EQ(frames[i / 640].samples[i % 640], input[i]) << "sample " << i;
  }
  for (std::size_t i = 80; i < 640; ++i) ASSERT_EQ(frames[3].samples[i], 0.0f) << "padding " << i;
}

TEST(Framer, ExactMultipleHasNoPartialFrame) {
  Framer framer;
  const std::vector<float> input = make_ramp(1280);
  framer.push(input);
  EXPECT_TRUE(framer.next_frame().has_value());
  EXPECT_TRUE(framer.next_frame().has_value());
  EXPECT_FALSE(framer.next_frame().has_value());
  EXPECT_FALSE(framer.finish().has_value());
}

TEST(Framer, EmptyStreamGivesNothing) {
  Framer framer;
  EXPECT_FALSE(framer.next_frame().has_value());
  EXPECT_FALSE(framer.finish().has_value());
}

TEST(FramePipeline, SixteenKilohertzStereoToFrames) {
  // 1000 stereo frames at 16 kHz: one full frame and a partial one of 360 samples.
  std::vector<float> interleaved(2000);
  for (std::size_t i = 0; i < 1000; ++i) {
    interleaved[2 * i] = 0.5f;
    interleaved[2 * i + 1] = static_cast<float>(i) / 1000.0f;
  }
  FramePipeline pipeline(16000, 2);
  pipeline.push(interleaved);
  std::vector<Frame> frames;
  while (auto frame = pipeline.next_frame()) frames.push_back(*frame);
  EXPECT_EQ(frames.size(), 1u);
  pipeline.finish();
  while (auto frame = pipeline.next_frame()) frames.push_back(*frame);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[1].valid_samples, 360);
  EXPECT_FLOAT_EQ(frames[0].samples[10], (0.5f + 0.010f) / 2.0f);
  EXPECT_FLOAT_EQ(frames[1].samples[0], (0.5f + 0.640f) / 2.0f);
}

TEST(FramePipeline, FortyEightKilohertzLength) {
  // 1.5 s at 48 kHz is 24000 samples at 16 kHz: 37 full frames and 320 samples.
  std::vector<float> interleaved(72000 * 2, 0.25f);
  FramePipeline pipeline(48000, 2);
  pipeline.push(interleaved);
  pipeline.finish();
  std::size_t samples = 0;
  int frames = 0;
  while (auto frame = pipeline.next_frame()) {
    samples += static_cast<std::size_t>(frame->valid_samples);
    ++frames;
  }
  EXPECT_NEAR(static_cast<double>(samples), 24000.0, 1.0);
  EXPECT_EQ(frames, 38);
}

}  // namespace
}  // namespace utter::audio
