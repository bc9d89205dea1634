#include "utter/audio/file_source.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <vector>

#include "audio/audio_test_support.h"
#include "utter/audio/audio_error.h"

namespace utter::audio {
namespace {

using testing::shell_quote;
using testing::run_shell;

// Encodes the reference speech once per test program in every supported format.
class FileSourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    folder_ = new testing::TempDir();
    const auto source = testing::testdata_audio("jfk.wav");
    reference_ = new std::vector<float>(testing::read_pcm16_mono_wav(source, &reference_rate_));
    ASSERT_EQ(reference_rate_, 16000);

    struct SoxOutput {
      const char* name;
      const char* output_options;
      const char* effects;
    };
    const SoxOutput outputs[] = {
        {"pcm16.wav", "-b 16", ""},
        {"pcm24.wav", "-b 24", ""},
        {"float32.wav", "-e floating-point -b 32", ""},
        {"pcm8.wav", "-D -b 8", ""},
        // Channels scaled by 1.2 and 0.8 average back to the original.
        {"stereo44k.wav", "-D -b 16", "rate 44100 remix 1v1.2 1v0.8"},
        {"speech.flac", "", ""},
        {"speech.ogg", "", ""},
        {"speech.mp3", "", ""},
    };
    for (const SoxOutput& output : outputs) {
      const std::string command = std::string("sox -R ") + shell_quote(source) + " " + output.output_options +
                                  " " + shell_quote(path(output.name)) + " " + output.effects + " 2>/dev/null";
      ASSERT_EQ(run_shell(command), 0) << command;
    }
    // sox cannot write Opus, so libsndfile encodes that one.
    write_opus(*reference_, path("speech.opus"));
  }

  static void TearDownTestSuite() {
    delete folder_;
    delete reference_;
  }

  static std::filesystem::path path(const std::string& name) { return *folder_ / name; }

  static void write_opus(const std::vector<float>& samples, const std::filesystem::path& target) {
    SF_INFO info{};
    info.samplerate = 16000;
    info.channels = 1;
    info.format = SF_FORMAT_OGG | SF_FORMAT_OPUS;
    SNDFILE* file = sf_open(target.c_str(), SFM_WRITE, &info);
    ASSERT_NE(file, nullptr) << sf_strerror(nullptr);
    EXPECT_EQ(sf_writef_float(file, samples.data(), static_cast<sf_count_t>(samples.size())),
              static_cast<sf_count_t>(samples.size()));
    sf_close(file);
  }

  // Decodes through frames, checking the framing, and returns the valid samples.
  static std::vector<float> decode_frames(const std::filesystem::path& file) {
    FileSource source(file);
    std::vector<float> samples;
    std::size_t frame_count = 0;
    bool saw_partial = false;
    while (auto frame = source.next_frame()) {
      EXPECT_FALSE(saw_partial) << "only the last frame may be partial";
      EXPECT_EQ(frame->first_sample, samples.size());
      saw_partial = frame->valid_samples < kFrameSamples;
      for (int i = frame->valid_samples; i < kFrameSamples; ++i) EXPECT_EQ(frame->samples[static_cast<std::size_t>(i)], 0.0f);
      samples.insert(samples.end(), frame->samples.begin(), frame->samples.begin() + frame->valid_samples);
      ++frame_count;
    }
    EXPECT_EQ(frame_count, (samples.size() + kFrameSamples - 1) / kFrameSamples);
    return samples;
  }

  static testing::TempDir* folder_;
  static std::vector<float>* reference_;
  static int reference_rate_;
};

testing::TempDir* FileSourceTest::folder_ = nullptr;
std::vector<float>* FileSourceTest::reference_ = nullptr;
int FileSourceTest::reference_rate_ = 0;

TEST_F(FileSourceTest, LosslessFormatsMatchExactly) {
  for (const char* name : {"pcm16.wav", "pcm24.wav", "float32.wav", "speech.flac"}) {
    const std::vector<float> decoded = decode_frames(path(name));
    ASSERT_EQ(decoded.size(), reference_->size()) << name;
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < decoded.size(); ++i) mismatches += decoded[i] != (*reference_)[i];
    EXPECT_EQ(mismatches, 0u) << name;
  }
}

TEST_F(FileSourceTest, FormatInfoFromHeader) {
  const AudioFileInfo wav = probe_audio_file(path("pcm24.wav"));
  EXPECT_EQ(wav.sample_rate, 16000);
  EXPECT_EQ(wav.channels, 1);
  EXPECT_EQ(wav.frames, static_cast<std::int64_t>(reference_->size()));
  EXPECT_NE(wav.format.find("24"), std::string::npos) << wav.format;
  const AudioFileInfo stereo = probe_audio_file(path("stereo44k.wav"));
  EXPECT_EQ(stereo.sample_rate, 44100);
  EXPECT_EQ(stereo.channels, 2);
}

struct LossyCase {
  const char* name;
  double min_snr_db;        // after alignment
  double min_correlation;
  int max_lag;              // samples at 16 kHz
};

TEST_F(FileSourceTest, LossyFormatsAgreeWithReference) {
  const LossyCase cases[] = {
      {"pcm8.wav", 20.0, 0.99, 0},
      {"stereo44k.wav", 20.0, 0.99, 0},
      {"speech.ogg", 10.0, 0.95, 2},
      {"speech.opus", 5.0, 0.9, 2},
      // MP3 without gapless information keeps the encoder's delay (1105 samples for LAME).
      {"speech.mp3", 5.0, 0.9, 1700},
      {"jfk.mp3", 5.0, 0.9, 1700},
  };
  for (const LossyCase& lossy : cases) {
    const std::string name = lossy.name;
    const auto file = name == "jfk.mp3" ? testing::testdata_audio(name) : path(name);
    const std::vector<float> decoded = decode_frames(file);
    double correlation = 0.0;
    const int lag = testing::best_lag(*reference_, decoded, 2000, 48000, &correlation);
    const double snr = testing::snr_db(*reference_, decoded, lag);
    const double level_db = 20.0 * std::log10(testing::rms_of(decoded) / testing::rms_of(*reference_));
    std::printf("%-14s samples %zu (reference %zu), lag %d, correlation %.4f, SNR %.1f dB, level %+.2f dB\n",
                lossy.name, decoded.size(), reference_->size(), lag, correlation, snr, level_db);
    EXPECT_LE(std::abs(lag), lossy.max_lag) << lossy.name;
    EXPECT_GE(correlation, lossy.min_correlation) << lossy.name;
    EXPECT_GE(snr, lossy.min_snr_db) << lossy.name;
    EXPECT_LT(std::fabs(level_db), 1.0) << lossy.name;
    EXPECT_NEAR(static_cast<double>(decoded.size()), static_cast<double>(reference_->size()), 2400.0) << lossy.name;
  }
}

TEST_F(FileSourceTest, ReadMatchesFrames) {
  const std::vector<float> by_frames = decode_frames(path("stereo44k.wav"));
  const std::vector<float> whole = decode_file_16k_mono(path("stereo44k.wav"));
  EXPECT_EQ(whole, by_frames);
}

void write_bytes(const std::filesystem::path& target, const std::string& bytes) {
  std::ofstream(target, std::ios::binary) << bytes;
}

void expect_error_mentions(const std::filesystem::path& file, const std::string& fragment) {
  try {
    FileSource source(file);
    while (source.next_frame()) {
    }
    ADD_FAILURE() << "no error for " << file;
  } catch (const AudioError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(file.filename().string()), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST_F(FileSourceTest, BadFilesGiveClearErrors) {
  expect_error_mentions(path("missing.wav"), "not found");

  write_bytes(path("empty.wav"), "");
  expect_error_mentions(path("empty.wav"), "empty");

  ASSERT_EQ(run_shell("sox -n -r 16000 -c 1 -b 16 " + shell_quote(path("zero.wav")) + " trim 0 0 2>/dev/null"), 0);
  expect_error_mentions(path("zero.wav"), "no samples");

  write_bytes(path("notes.wav"), "These are meeting notes, not audio.\n");
  expect_error_mentions(path("notes.wav"), "cannot decode");

  std::string noise(4096, '\0');
  std::mt19937 generator(99);
  for (char& byte : noise) byte = static_cast<char>(generator());
  write_bytes(path("noise.mp3"), noise);
  expect_error_mentions(path("noise.mp3"), "cannot decode");

  // A WAV header cut in the middle of its format chunk.
  std::ifstream whole(path("pcm16.wav"), std::ios::binary);
  std::string header(30, '\0');
  whole.read(header.data(), 30);
  write_bytes(path("cut_header.wav"), header);
  expect_error_mentions(path("cut_header.wav"), "cannot decode");

  expect_error_mentions(folder_->path(), "not a regular file");
}

TEST_F(FileSourceTest, TruncatedOggDecodesPartially) {
  std::ifstream input(path("speech.ogg"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(input)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 20000u);
  write_bytes(path("cut.ogg"), bytes.substr(0, bytes.size() / 2));

  // The cut removes the last page, which carries the stream's length.
  EXPECT_EQ(probe_audio_file(path("cut.ogg")).frames, -1);
  const std::vector<float> decoded = decode_file_16k_mono(path("cut.ogg"));
  EXPECT_GT(decoded.size(), reference_->size() / 4);
  EXPECT_LT(decoded.size(), reference_->size());
}

TEST_F(FileSourceTest, CorruptFlacFailsWithError) {
  // Overwrite the middle of the FLAC stream with garbage.
  std::ifstream input(path("speech.flac"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(input)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 20000u);
  for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 4000; ++i) bytes[i] = static_cast<char>(i * 7919);
  write_bytes(path("corrupt.flac"), bytes);
  expect_error_mentions(path("corrupt.flac"), "decoding");
}

}  // namespace
}  // namespace utter::audio
