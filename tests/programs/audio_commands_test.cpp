// Runs `utter devices` and `utter record` against a private PulseAudio server.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "audio/audio_test_support.h"
#include "audio/pulse_server.h"

namespace {

namespace testing = utter::audio::testing;
using testing::shell_quote;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

CommandResult run_utter(const std::string& environment, const std::string& arguments) {
  const std::string command = environment + " " + shell_quote(UTTER_BINARY) + " " + arguments + " 2>&1";
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) result.output += buffer;
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return result;
}

class AudioCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!server_.running()) GTEST_SKIP() << "no sound server can run here: " << server_.failure();
  }

  testing::PulseServer server_;
  testing::TempDir folder_;
};

TEST_F(AudioCommandsTest, DevicesListsInputs) {
  const CommandResult result = run_utter(server_.client_environment(), "devices");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("pulse"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("* default"), std::string::npos) << result.output;
}

TEST_F(AudioCommandsTest, RecordSavesPlayedSpeech) {
  const auto speech_file = testing::testdata_audio("espeak_de_16k.wav");
  int rate = 0;
  const std::vector<float> reference = testing::read_pcm16_mono_wav(speech_file, &rate);
  const auto output = folder_ / "take.wav";

  // A fresh server took up to two seconds to deliver audio on a loaded machine, so the 4.9 s
  // clip starts 4 s after the recorder and ends well inside the 12 s recording.
  auto recording = std::async(std::launch::async, [&] {
    return run_utter(server_.client_environment(), "record -o " + shell_quote(output) + " --seconds 12 --device pulse");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  EXPECT_EQ(testing::run_shell(server_.client_environment() + " paplay --device=" + testing::kNullSinkName +
                               " " + shell_quote(speech_file)),
            0);
  const CommandResult result = recording.get();
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("Saved 12.00 s"), std::string::npos) << result.output;

  const std::vector<float> recorded = testing::read_pcm16_mono_wav(output, &rate);
  EXPECT_EQ(rate, 16000);
  ASSERT_EQ(recorded.size(), 12u * 16000u);
  double correlation = 0.0;
  const std::size_t offset = testing::find_offset(reference, recorded, &correlation);
  std::printf("speech found at %.3f s with correlation %.4f\n", static_cast<double>(offset) / 16000.0, correlation);
  EXPECT_GT(correlation, 0.95);
  ASSERT_LE(offset + reference.size(), recorded.size()) << "the clip was cut off";
  const std::vector<float> aligned(recorded.begin() + static_cast<std::ptrdiff_t>(offset),
                                   recorded.begin() + static_cast<std::ptrdiff_t>(offset + reference.size()));
  EXPECT_LT(std::fabs(20.0 * std::log10(testing::rms_of(aligned) / testing::rms_of(reference))), 1.0);
}

TEST_F(AudioCommandsTest, RecordRejectsUnknownDevice) {
  const CommandResult result =
      run_utter(server_.client_environment(), "record -o " + shell_quote(folder_ / "x.wav") + " --device 'no such mic'");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("input device \"no such mic\" not found"), std::string::npos) << result.output;
  EXPECT_FALSE(std::filesystem::exists(folder_ / "x.wav"));
}

TEST_F(AudioCommandsTest, RecordReportsUnwritableOutput) {
  const auto target = folder_ / "missing-folder" / "x.wav";
  const CommandResult result = run_utter(server_.client_environment(), "record --seconds 1 -o " + shell_quote(target));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("cannot create WAV file"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(target.string()), std::string::npos) << result.output;
}

TEST_F(AudioCommandsTest, RecordKeepsAudioWhenServerGoes) {
  const auto output = folder_ / "cut.wav";
  auto recording = std::async(std::launch::async, [&] {
    return run_utter(server_.client_environment(), "record -o " + shell_quote(output) + " --seconds 20");
  });
  // Long enough for audio to flow (about one second here), then the server goes away.
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  server_.stop();
  const CommandResult result = recording.get();
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("recording stopped after"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("saved to"), std::string::npos) << result.output;
  int rate = 0;
  const std::vector<float> saved = testing::read_pcm16_mono_wav(output, &rate);
  EXPECT_GT(saved.size(), 0u);
  EXPECT_LT(saved.size(), 20u * 16000u);
}

TEST(AudioCommands, RecordRejectsZeroSeconds) {
  const CommandResult result = run_utter("", "record -o /dev/null --seconds 0");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("--seconds"), std::string::npos) << result.output;
}

}  // namespace
