#include "utter/audio/voice_activity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "audio/audio_test_support.h"

namespace utter::audio {
namespace {

using testing::shell_quote;
using testing::run_shell;

constexpr int kRate = 16000;
constexpr std::size_t kToleranceSamples = kRate / 10;  // 100 ms

// A clip of known speech pieces separated by known pauses, so the true boundaries are known by
// construction. The pieces are espeak-ng phrases trimmed with sox to where the voice begins and
// ends (first and last sample above -50 dBFS).
class VoiceActivityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    folder_ = new testing::TempDir();
    clip_ = new std::vector<float>();
    truth_ = new std::vector<SpeechSegment>();
    const char* phrases[] = {"open the window", "seven apples are on the kitchen table",
                             "please send the report tomorrow morning"};
    const double pauses[] = {1.0, 0.8, 1.2, 1.0};  // before, between and after the phrases

    append_silence(pauses[0]);
    for (int i = 0; i < 3; ++i) {
      const auto raw = *folder_ / ("phrase" + std::to_string(i) + "_raw.wav");
      const auto trimmed = *folder_ / ("phrase" + std::to_string(i) + ".wav");
      ASSERT_EQ(run_shell(std::string("espeak-ng -v en-us -s 150 -w ") + shell_quote(raw) + " '" + phrases[i] + "'"), 0);
      ASSERT_EQ(run_shell(std::string("sox ") + shell_quote(raw) + " -r 16000 -b 16 " + shell_quote(trimmed) +
                          " silence 1 1s -50d reverse silence 1 1s -50d reverse 2>/dev/null"),
                0);
      int rate = 0;
      const std::vector<float> piece = testing::read_pcm16_mono_wav(trimmed, &rate);
      ASSERT_EQ(rate, kRate);
      ASSERT_GT(piece.size(), static_cast<std::size_t>(kRate / 2));
      truth_->push_back({clip_->size(), clip_->size() + piece.size()});
      clip_->insert(clip_->end(), piece.begin(), piece.end());
      append_silence(pauses[i + 1]);
    }

    // Noise beds made by sox in repeatable mode, mixed in at a set SNR below.
    const double seconds = static_cast<double>(clip_->size()) / kRate + 0.1;
    for (const char* kind : {"whitenoise", "pinknoise", "brownnoise"}) {
      const auto noise_file = *folder_ / (std::string(kind) + ".wav");
      ASSERT_EQ(run_shell(std::string("sox -R -n -r 16000 -b 16 -c 1 ") + shell_quote(noise_file) + " synth " +
                          std::to_string(seconds) + " " + kind + " 2>/dev/null"),
                0);
    }
  }

  static void TearDownTestSuite() {
    delete folder_;
    delete clip_;
    delete truth_;
  }

  static void append_silence(double seconds) {
    clip_->insert(clip_->end(), static_cast<std::size_t>(seconds * kRate), 0.0f);
  }

  // Returns the clip with noise added so that the speech RMS is snr_db above the noise RMS.
  static std::vector<float> noisy_clip(const std::string& kind, double snr_db) {
    int rate = 0;
    const std::vector<float> noise = testing::read_pcm16_mono_wav(*folder_ / (kind + ".wav"), &rate);
    double speech_energy = 0.0;
    std::size_t speech_samples = 0;
    for (const SpeechSegment& segment : *truth_) {
      for (std::size_t i = segment.start_sample; i < segment.end_sample; ++i) {
        speech_energy += static_cast<double>((*clip_)[i]) * (*clip_)[i];
      }
      speech_samples += segment.end_sample - segment.start_sample;
    }
    const double speech_rms = std::sqrt(speech_energy / static_cast<double>(speech_samples));
    const double noise_gain = speech_rms / std::pow(10.0, snr_db / 20.0) / testing::rms_of(noise);
    std::vector<float> mixed = *clip_;
    for (std::size_t i = 0; i < mixed.size(); ++i) mixed[i] += static_cast<float>(noise_gain * noise.at(i));
    return mixed;
  }

  // Checks that the detector found exactly the true segments, each boundary within 100 ms.
  static void expect_boundaries(const std::vector<SpeechSegment>& found, const std::string& label) {
    std::printf("%-18s", label.c_str());
    for (std::size_t i = 0; i < found.size() && i < truth_->size(); ++i) {
      const double start_error_ms = (static_cast<double>(found[i].start_sample) - static_cast<double>((*truth_)[i].start_sample)) / 16.0;
      const double end_error_ms = (static_cast<double>(found[i].end_sample) - static_cast<double>((*truth_)[i].end_sample)) / 16.0;
      std::printf("  [start %+6.0f ms, end %+6.0f ms]", start_error_ms, end_error_ms);
    }
    std::printf("  (%zu segments)\n", found.size());
    ASSERT_EQ(found.size(), truth_->size()) << label;
    for (std::size_t i = 0; i < found.size(); ++i) {
      const auto distance = [](std::size_t a, std::size_t b) { return a > b ? a - b : b - a; };
      EXPECT_LE(distance(found[i].start_sample, (*truth_)[i].start_sample), kToleranceSamples)
          << label << ": start of segment " << i;
      EXPECT_LE(distance(found[i].end_sample, (*truth_)[i].end_sample), kToleranceSamples)
          << label << ": end of segment " << i;
    }
  }

  static testing::TempDir* folder_;
  static std::vector<float>* clip_;
  static std::vector<SpeechSegment>* truth_;
};

testing::TempDir* VoiceActivityTest::folder_ = nullptr;
std::vector<float>* VoiceActivityTest::clip_ = nullptr;
std::vector<SpeechSegment>* VoiceActivityTest::truth_ = nullptr;

TEST_F(VoiceActivityTest, CleanSpeechBoundaries) {
  expect_boundaries(find_speech_segments(*clip_), "clean");
}

TEST_F(VoiceActivityTest, NoisySpeechBoundaries) {
  for (const char* kind : {"whitenoise", "pinknoise", "brownnoise"}) {
    for (const double snr : {30.0, 20.0, 10.0}) {
      const std::string label = std::string(kind) + " " + std::to_string(static_cast<int>(snr)) + " dB";
      expect_boundaries(find_speech_segments(noisy_clip(kind, snr)), label);
    }
  }
}

TEST_F(VoiceActivityTest, ChunkedInputGivesSameSegments) {
  const std::vector<float> noisy = noisy_clip("pinknoise", 20.0);
  const std::vector<SpeechSegment> whole = find_speech_segments(noisy);
  VoiceActivityDetector detector;
  std::vector<SpeechSegment> chunked;
  std::mt19937 generator(3);
  std::uniform_int_distribution<std::size_t> chunk(1, 700);
  for (std::size_t offset = 0; offset < noisy.size();) {
    const std::size_t count = std::min(chunk(generator), noisy.size() - offset);
    detector.push(std::span<const float>(noisy.data() + offset, count));
    offset += count;
    for (const SpeechSegment& segment : detector.take_segments()) chunked.push_back(segment);
  }
  detector.finish();
  for (const SpeechSegment& segment : detector.take_segments()) chunked.push_back(segment);
  ASSERT_EQ(chunked.size(), whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(chunked[i].start_sample, whole[i].start_sample);
    EXPECT_EQ(chunked[i].end_sample, whole[i].end_sample);
  }
}

TEST_F(VoiceActivityTest, PauseEndsUtterance) {
  // Feeding the clip up to 400 ms after the first phrase: the hangover has expired, so the
  // detector reports silence and one finished segment.
  VoiceActivityDetector detector;
  const std::size_t cut = (*truth_)[0].end_sample + kRate * 4 / 10;
  detector.push(std::span<const float>(clip_->data(), cut));
  EXPECT_FALSE(detector.in_speech());
  EXPECT_NEAR(detector.silence_ms(), 400.0, 100.0);
  EXPECT_EQ(detector.take_segments().size(), 1u);
}

TEST(VoiceActivity, RecordedSpeechPauses) {
  // Pauses of the recorded address, read off its 50 ms energy profile above 200 Hz, where the
  // level drops from about -12 dBFS to the room noise near -43 dBFS. Word endings trail off in
  // the room's reverberation, so boundaries here are checked within 200 ms.
  int rate = 0;
  const std::vector<float> speech = testing::read_pcm16_mono_wav(testing::testdata_audio("jfk.wav"), &rate);
  ASSERT_EQ(rate, kRate);

  const std::vector<SpeechSegment> found = find_speech_segments(speech);
  ASSERT_GE(found.size(), 4u);
  for (const SpeechSegment& segment : found) {
    std::printf("speech %.2f s to %.2f s\n", static_cast<double>(segment.start_sample) / kRate,
                static_cast<double>(segment.end_sample) / kRate);
  }

  const std::size_t tolerance = 2 * kToleranceSamples;
  const double pauses[][2] = {{2.15, 3.25}, {4.30, 5.40}, {7.55, 8.15}};
  for (const auto& pause : pauses) {
    const auto pause_start = static_cast<std::size_t>(pause[0] * kRate);
    const auto pause_end = static_cast<std::size_t>(pause[1] * kRate);
    bool ends_near = false;
    bool starts_near = false;
    for (const SpeechSegment& segment : found) {
      EXPECT_FALSE(segment.start_sample < pause_end - tolerance &&
                   segment.end_sample > pause_start + tolerance)
          << "speech found inside the pause at " << pause[0] << " s";
      ends_near |= segment.end_sample + tolerance >= pause_start &&
                   segment.end_sample <= pause_start + tolerance;
      starts_near |= segment.start_sample + tolerance >= pause_end &&
                     segment.start_sample <= pause_end + tolerance;
    }
    EXPECT_TRUE(ends_near) << "no segment ends within 200 ms of " << pause[0] << " s";
    EXPECT_TRUE(starts_near) << "no segment starts within 200 ms of " << pause[1] << " s";
  }
}

TEST(SplitPoints, CutsInLongestLatePause) {
  // Speech at 0-8, 9-15, 17-19, 19.5-28 and 30-38 (in thousands of samples) in a 40000-sample
  // file, cut into chunks of at most 20000. The first cut takes the longer of the two pauses in
  // 10-20, which is 15-17 with its middle at 16. The next span, 16-36, prefers 26-36, where
  // 28-30 is the only pause, so the cut is at 29. The rest, 29-40, fits.
  const std::vector<SpeechSegment> segments = {
      {0, 8000}, {9000, 15000}, {17000, 19000}, {19500, 28000}, {30000, 38000}};
  const std::vector<std::size_t> cuts = choose_split_points(segments, 40000, 20000);
  ASSERT_EQ(cuts.size(), 2u);
  EXPECT_EQ(cuts[0], 16000u);
  EXPECT_EQ(cuts[1], 29000u);
}

TEST(SplitPoints, EarlyPauseWhenLateHalfHasNone) {
  // The only pause in the first 20000 samples is at 4000-6000, so the cut is at 5000.
  const std::vector<SpeechSegment> segments = {{0, 4000}, {6000, 30000}};
  const std::vector<std::size_t> cuts = choose_split_points(segments, 30000, 20000);
  ASSERT_EQ(cuts.size(), 2u);
  EXPECT_EQ(cuts[0], 5000u);
  // No pause in 5000-25000: a hard cut at the limit.
  EXPECT_EQ(cuts[1], 25000u);
}

TEST(SplitPoints, ShortFileNeedsNoCut) {
  EXPECT_TRUE(choose_split_points({{100, 900}}, 1000, 1000).empty());
  EXPECT_TRUE(choose_split_points({}, 0, 1000).empty());
}

TEST(VoiceActivity, SilenceAndSteadyNoiseHaveNoSpeech) {
  const std::vector<float> silence(kRate * 3, 0.0f);
  EXPECT_TRUE(find_speech_segments(silence).empty());
  std::mt19937 generator(5);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<float> hiss(kRate * 3);
  for (float& value : hiss) value = noise(generator);
  EXPECT_TRUE(find_speech_segments(hiss).empty());
}

}  // namespace
}  // namespace utter::audio
