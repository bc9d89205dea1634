// `utter record`: records the microphone through the same path dictation uses (capture, ring,
// resampler, framer) and saves the 16 kHz mono result, so people can check what the model hears.
#include <unistd.h>

#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <memory>
#include <string>
#include <thread>

#include "commands/command_registry.h"
#include "utter/audio/audio_error.h"
#include "utter/audio/capture.h"
#include "utter/audio/frame_pipeline.h"
#include "utter/audio/level_meter.h"
#include "utter/audio/wav_writer.h"

namespace {

namespace audio = utter::audio;

struct RecordOptions {
  std::string output;
  double seconds = 5.0;
  std::string device;
};

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) { g_interrupted.store(true); }

// Draws a one-line level meter on stderr, for a terminal only.
void show_level(const audio::Level& level, double seconds) {
  constexpr int kWidth = 30;
  const int filled = std::clamp(static_cast<int>((level.rms_dbfs + 60.0f) / 60.0f * kWidth), 0, kWidth);
  fmt::print(stderr, "\r{:6.1f} s [{}{}] {:6.1f} dBFS RMS, peak {:6.1f} dBFS ", seconds,
             std::string(static_cast<std::size_t>(filled), '#'),
             std::string(static_cast<std::size_t>(kWidth - filled), ' '), level.rms_dbfs, level.peak_dbfs);
}

int run_record(const RecordOptions& options) {
  audio::CaptureOptions capture_options;
  capture_options.device = options.device;
  audio::Capture capture(capture_options);
  audio::FramePipeline pipeline(capture.sample_rate(), capture.channels());
  audio::WavWriter writer(options.output, audio::kModelSampleRate, 1);

  const auto target_samples = static_cast<std::size_t>(std::llround(options.seconds * audio::kModelSampleRate));
  std::size_t written = 0;
  double sum_squares = 0.0;
  float peak = 0.0f;
  const bool show_meter = isatty(STDERR_FILENO) == 1;

  auto write_frame = [&](const audio::Frame& frame) {
    const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(frame.valid_samples), target_samples - written);
    const std::span<const float> samples(frame.samples.data(), count);
    writer.write(samples);
    for (const float sample : samples) {
      sum_squares += static_cast<double>(sample) * sample;
      peak = std::max(peak, std::fabs(sample));
    }
    written += count;
    if (show_meter) show_level(audio::measure_level(samples), static_cast<double>(written) / audio::kModelSampleRate);
  };

  g_interrupted = false;
  const auto previous_handler = std::signal(SIGINT, on_interrupt);
  fmt::print(stderr, "Recording {:.1f} s from \"{}\" ({} Hz, {} channels); press Ctrl-C to stop early.\n",
             options.seconds, capture.device().name, capture.sample_rate(), capture.channels());
  capture.start();

  std::vector<float> raw;
  std::optional<std::string> failure;
  while (written < target_samples && !g_interrupted) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    raw.clear();
    capture.read(raw);
    pipeline.push(raw);
    while (written < target_samples) {
      auto frame = pipeline.next_frame();
      if (!frame) break;
      write_frame(*frame);
    }
    failure = capture.check_health();
    if (failure) break;
  }
  capture.stop();
  // Keep what the ring still holds, including the last partial frame.
  raw.clear();
  capture.read(raw);
  pipeline.push(raw);
  pipeline.finish();
  while (written < target_samples) {
    auto frame = pipeline.next_frame();
    if (!frame) break;
    write_frame(*frame);
  }
  writer.close();
  std::signal(SIGINT, previous_handler);
  if (show_meter) fmt::print(stderr, "\n");

  const double recorded_seconds = static_cast<double>(written) / audio::kModelSampleRate;
  if (failure) {
    throw audio::AudioError(fmt::format("recording stopped after {:.2f} s: {}. The audio recorded so far "
                                        "was saved to {}", recorded_seconds, *failure, options.output));
  }
  const float rms_dbfs = audio::amplitude_to_dbfs(
      written > 0 ? static_cast<float>(std::sqrt(sum_squares / static_cast<double>(written))) : 0.0f);
  const float peak_dbfs = audio::amplitude_to_dbfs(peak);
  fmt::print("Saved {:.2f} s of 16 kHz mono audio to {} (RMS {:.1f} dBFS, peak {:.1f} dBFS).\n",
             recorded_seconds, options.output, rms_dbfs, peak_dbfs);
  if (capture.overrun_samples() > 0 || capture.device_overflows() > 0) {
    fmt::print(stderr, "warning: {} samples were lost because the recorder fell behind ({} times); "
               "{} input overflows were reported by the device\n",
               capture.overrun_samples(), capture.overrun_events(), capture.device_overflows());
  }
  if (peak_dbfs < -50.0f) {
    fmt::print(stderr, "warning: the recording is nearly silent (peak {:.1f} dBFS); check that the "
               "microphone is connected, not muted, and selected with --device\n", peak_dbfs);
  }
  return 0;
}

void setup_record(CLI::App& sub) {
  auto options = std::make_shared<RecordOptions>();
  sub.add_option("-o,--output", options->output, "WAV file to write (16 kHz, mono, 16-bit)")->required();
  sub.add_option("--seconds", options->seconds, "Length of the recording in seconds")
      ->check(CLI::Range(0.1, 86400.0));
  sub.add_option("--device", options->device,
                 "Input device: a name or a unique part of one, as listed by `utter devices` "
                 "(default: the system's default input)");
  sub.callback([options] { utter::cli::run_guarded([&] { return run_record(*options); }); });
}

const bool registered = utter::cli::register_command(
    {"record", "Record the microphone to a 16 kHz WAV file, as the model hears it", setup_record});

}  // namespace
