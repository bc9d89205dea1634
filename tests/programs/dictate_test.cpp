// `utter dictate` end to end: speech played into a private PulseAudio server reaches the
// model through the microphone path and comes out as text, in both modes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "audio/audio_test_support.h"
#include "audio/pulse_server.h"
#include "support/reference_cases.h"

namespace {

using namespace utter::testing;

std::string quote(const std::string& text) { return "'" + text + "'"; }

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

class DictateCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!server_.running()) GTEST_SKIP() << "no sound server can run here: " << server_.failure();
    folder_ = std::filesystem::temp_directory_path() / ("utter-dictate-" + std::to_string(getpid()));
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override {
    if (!folder_.empty()) std::filesystem::remove_all(folder_);
  }

  // Starts dictation with its stdin connected to a pipe we write keys into.
  FILE* start_dictate(const std::string& mode_flags) {
    const std::string command =
        server_.client_environment() + " " + UTTER_BINARY + " dictate --device pulse " + mode_flags + " -m " +
        quote(testdata_path("reference/tiny-f32.gguf")) + " --mmproj " +
        quote(testdata_path("reference/tiny-mmproj-f32.gguf")) +
        " --system '' --instruction 'Transcribe this audio.' -n 8 -t 2 -o " + quote((folder_ / "out.txt").string()) +
        " >" + quote((folder_ / "stdout.txt").string()) + " 2>" + quote((folder_ / "stderr.txt").string());
    return popen(command.c_str(), "w");
  }

  // Waits until dictation has loaded the model and opened the microphone.
  bool wait_until_listening() {
    for (int i = 0; i < 600; ++i) {
      if (read_file(folder_ / "stderr.txt").find("Listening on") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  int play_speech() {
    return utter::audio::testing::run_shell(server_.client_environment() + " paplay --device=" +
                                            utter::audio::testing::kNullSinkName + " " +
                                            quote(testdata_path("audio/jfk.wav")));
  }

  utter::audio::testing::PulseServer server_;
  std::filesystem::path folder_;
};

TEST_F(DictateCommand, PushToTalkTranscribesPlayedSpeech) {
  FILE* keys = start_dictate("");
  ASSERT_NE(keys, nullptr);
  ASSERT_TRUE(wait_until_listening()) << read_file(folder_ / "stderr.txt");
  std::fputs("\n", keys);                                // start recording
  std::fflush(keys);
  ASSERT_EQ(play_speech(), 0);
  std::fputs("\n", keys);  // stop: the transcript is decoded
  std::fflush(keys);
  const int status = pclose(keys);  // end of input quits after the transcript
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_file(folder_ / "stderr.txt");

  const std::string transcript = read_file(folder_ / "out.txt");
  EXPECT_FALSE(transcript.empty()) << read_file(folder_ / "stderr.txt");
  EXPECT_EQ(std::count(transcript.begin(), transcript.end(), '\n'), 1) << transcript;
  EXPECT_NE(read_file(folder_ / "stdout.txt").find(transcript.substr(0, transcript.size() - 1)), std::string::npos);
}

TEST_F(DictateCommand, HandsFreeEndsUtterancesAtPauses) {
  FILE* keys = start_dictate("--hands-free");
  ASSERT_NE(keys, nullptr);
  ASSERT_TRUE(wait_until_listening()) << read_file(folder_ / "stderr.txt");
  ASSERT_EQ(play_speech(), 0);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the last pause ends the last utterance
  const int status = pclose(keys);
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_file(folder_ / "stderr.txt");

  // jfk.wav has four pauses longer than the detector's 300 ms hangover, so several utterances.
  const std::string transcript = read_file(folder_ / "out.txt");
  EXPECT_GE(std::count(transcript.begin(), transcript.end(), '\n'), 2) << transcript << read_file(folder_ / "stderr.txt");
}

}  // namespace
