#include "utter/audio/capture.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>
#include <vector>

#include "audio/audio_test_support.h"
#include "audio/pulse_server.h"
#include "utter/audio/audio_error.h"
#include "utter/audio/frame_pipeline.h"

namespace utter::audio {
namespace {

using testing::shell_quote;

// Drains a capture into 16 kHz samples, failing the test if the device reports a problem.
class Recorder {
 public:
  explicit Recorder(Capture& capture)
      : capture_(capture), pipeline_(capture.sample_rate(), capture.channels()) {}

  void drain() {
    raw_.clear();
    capture_.read(raw_);
    pipeline_.push(raw_);
    take_frames();
  }

  void finish() {
    drain();
    pipeline_.finish();
    take_frames();
  }

  const std::vector<float>& samples() const { return samples_; }

 private:
  void take_frames() {
    while (auto frame = pipeline_.next_frame()) {
      samples_.insert(samples_.end(), frame->samples.begin(), frame->samples.begin() + frame->valid_samples);
    }
  }

  Capture& capture_;
  FramePipeline pipeline_;
  std::vector<float> raw_;
  std::vector<float> samples_;
};

class CaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!server_.running()) GTEST_SKIP() << "no sound server can run here: " << server_.failure();
    server_.use_in_this_process();
  }

  // Starts recording and waits until audio flows, so playback is not lost in the start-up delay.
  static void start_and_wait_for_audio(Capture& capture, Recorder& recorder) {
    capture.start();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (recorder.samples().empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      recorder.drain();
      const auto failure = capture.check_health();
      ASSERT_FALSE(failure.has_value()) << *failure;
    }
    ASSERT_FALSE(recorder.samples().empty()) << "no audio within 10 s of starting the capture";
  }

  testing::PulseServer server_;
};

TEST_F(CaptureTest, ListsPulseDevice) {
  const std::vector<InputDevice> devices = list_input_devices();
  bool found = false;
  for (const InputDevice& device : devices) {
    std::printf("input %d: %s (%s), %d channels, %.0f Hz%s\n", device.index, device.name.c_str(),
                device.host_api.c_str(), device.max_input_channels, device.default_sample_rate,
                device.is_default ? ", default" : "");
    EXPECT_GT(device.max_input_channels, 0);
    found |= device.name == "pulse";
  }
  EXPECT_TRUE(found) << "ALSA's \"pulse\" device is missing (Debian package libasound2-plugins)";
}

TEST_F(CaptureTest, RecordsPlayedSpeech) {
  int rate = 0;
  const auto speech_file = testing::testdata_audio("espeak_de_16k.wav");
  const std::vector<float> reference = testing::read_pcm16_mono_wav(speech_file, &rate);
  ASSERT_EQ(rate, kModelSampleRate);

  CaptureOptions options;
  options.device = "pulse";
  Capture capture(options);
  Recorder recorder(capture);
  start_and_wait_for_audio(capture, recorder);
  if (HasFatalFailure()) return;

  std::atomic<bool> playing{true};
  int play_status = -1;
  std::thread player([&] {
    play_status = testing::run_shell(server_.client_environment() + " paplay --device=" +
                                     testing::kNullSinkName + " " + shell_quote(speech_file));
    playing = false;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (playing && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    recorder.drain();
    const auto failure = capture.check_health();
    EXPECT_FALSE(failure.has_value()) << *failure;
  }
  player.join();
  ASSERT_EQ(play_status, 0) << "paplay failed";
  // The tail of the clip may still be in the server's buffers.
  for (int i = 0; i < 25; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    recorder.drain();
  }
  capture.stop();
  recorder.finish();

  const std::vector<float>& recording = recorder.samples();
  ASSERT_GT(recording.size(), reference.size());
  double correlation = 0.0;
  const std::size_t offset = testing::find_offset(reference, recording, &correlation);
  const std::vector<float> aligned(recording.begin() + static_cast<std::ptrdiff_t>(offset),
                                   recording.begin() + static_cast<std::ptrdiff_t>(std::min(offset + reference.size(), recording.size())));
  const double level_db = 20.0 * std::log10(testing::rms_of(aligned) / testing::rms_of(reference));
  const double snr = testing::snr_db(reference, aligned);
  std::printf("recorded %zu samples at 16 kHz from %d Hz, %d channels; speech at %.3f s, "
              "correlation %.4f, level %+.2f dB, SNR %.1f dB, overruns %llu\n",
              recording.size(), capture.sample_rate(), capture.channels(),
              static_cast<double>(offset) / kModelSampleRate, correlation, level_db, snr,
              static_cast<unsigned long long>(capture.overrun_samples()));
  EXPECT_GT(correlation, 0.98);
  EXPECT_LT(std::fabs(level_db), 1.0);
  EXPECT_EQ(aligned.size(), reference.size());
  EXPECT_EQ(capture.overrun_samples(), 0u);
}

TEST_F(CaptureTest, ServerLossIsReportedAndAudioKept) {
  Capture capture;  // the default input, which ALSA routes to the server
  Recorder recorder(capture);
  start_and_wait_for_audio(capture, recorder);
  if (HasFatalFailure()) return;

  server_.stop();
  std::optional<std::string> failure;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!failure && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    recorder.drain();
    failure = capture.check_health();
  }
  ASSERT_TRUE(failure.has_value()) << "losing the sound server went unnoticed for 10 s";
  std::printf("reported: %s\n", failure->c_str());
  EXPECT_NE(failure->find(capture.device().name), std::string::npos) << *failure;
  capture.stop();
  recorder.finish();
  EXPECT_FALSE(recorder.samples().empty());
}

TEST_F(CaptureTest, UnknownDeviceNameIsRejected) {
  CaptureOptions options;
  options.device = "no such microphone";
  try {
    Capture capture(options);
    ADD_FAILURE() << "opening an unknown device succeeded";
  } catch (const AudioError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("\"no such microphone\" not found"), std::string::npos) << message;
    EXPECT_NE(message.find("pulse"), std::string::npos) << "the message lists the inputs: " << message;
  }
}

}  // namespace
}  // namespace utter::audio
