// Measures how many times faster than real time the audio input paths run on the calling
// thread: microphone samples through ring, resampler and framer (with and without levels and
// voice activity), and files through decoding, resampling and framing.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <ctime>
#include <cmath>
#include <filesystem>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "utter/audio/file_source.h"
#include "utter/audio/frame_pipeline.h"
#include "utter/audio/level_meter.h"
#include "utter/audio/spsc_ring.h"
#include "utter/audio/voice_activity.h"
#include "utter/audio/wav_writer.h"

namespace audio = utter::audio;

namespace {

// Returns the CPU time of the calling thread, which other programs on a busy machine do not
// inflate. Wall time is printed next to it.
double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

struct Timer {
  std::chrono::steady_clock::time_point wall_start = std::chrono::steady_clock::now();
  double cpu_start = thread_cpu_seconds();
  double wall() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count(); }
  double cpu() const { return thread_cpu_seconds() - cpu_start; }
};

// Speech-like test signal: a few harmonics with a slow amplitude envelope, plus noise.
std::vector<float> make_signal(int rate, int channels, double seconds) {
  const auto frames = static_cast<std::size_t>(seconds * rate);
  std::vector<float> samples(frames * static_cast<std::size_t>(channels));
  std::mt19937 generator(11);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  for (std::size_t i = 0; i < frames; ++i) {
    const double t = static_cast<double>(i) / rate;
    const double envelope = 0.5 + 0.5 * std::sin(2.0 * std::numbers::pi * 0.7 * t);
    double value = 0.0;
    for (int harmonic = 1; harmonic <= 5; ++harmonic) {
      value += 0.1 / harmonic * std::sin(2.0 * std::numbers::pi * 180.0 * harmonic * t);
    }
    for (int c = 0; c < channels; ++c) {
      samples[i * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)] =
          static_cast<float>(envelope * value) + noise(generator);
    }
  }
  return samples;
}

struct CaptureRun {
  double seconds_of_audio = 0.0;
  double wall_seconds = 0.0;
  double cpu_seconds = 0.0;
  std::size_t frames = 0;
};

// Plays the part of the device callback (ring writes of one device buffer) and of the audio
// worker (ring reads, resampling, framing) alternately on this one thread.
CaptureRun run_capture_path(const std::vector<float>& input, int rate, int channels,
                            std::size_t buffer_frames, audio::ResamplerQuality quality, bool analyze) {
  audio::SpscRing<float> ring(static_cast<std::size_t>(rate) * static_cast<std::size_t>(channels));
  audio::FramePipeline pipeline(rate, channels, quality);
  audio::VoiceActivityDetector detector;
  std::vector<float> drained(ring.capacity());
  const std::size_t buffer_values = buffer_frames * static_cast<std::size_t>(channels);
  CaptureRun run;
  float level_sink = 0.0f;

  const Timer timer;
  auto take_frames = [&] {
    while (auto frame = pipeline.next_frame()) {
      ++run.frames;
      if (analyze) {
        const std::span<const float> samples(frame->samples.data(), static_cast<std::size_t>(frame->valid_samples));
        level_sink += audio::measure_level(samples).rms_dbfs;
        detector.push(samples);
      }
    }
  };
  auto consume = [&] {
    const std::size_t got = ring.read(drained);
    pipeline.push(std::span<const float>(drained.data(), got));
    take_frames();
  };
  for (std::size_t offset = 0; offset < input.size(); offset += buffer_values) {
    const std::size_t count = std::min(buffer_values, input.size() - offset);
    ring.write(std::span<const float>(input.data() + offset, count));
    // The worker wakes about every 20 ms of audio.
    if (ring.size() >= static_cast<std::size_t>(rate / 50) * static_cast<std::size_t>(channels)) consume();
  }
  consume();
  pipeline.finish();
  take_frames();
  detector.finish();
  run.wall_seconds = timer.wall();
  run.cpu_seconds = timer.cpu();
  run.seconds_of_audio = static_cast<double>(input.size()) / channels / rate;
  if (level_sink == 12345.0f) fmt::print("");  // keeps the level computation from being optimized out
  return run;
}

const char* quality_name(audio::ResamplerQuality quality) {
  switch (quality) {
    case audio::ResamplerQuality::kFastest:
      return "fastest";
    case audio::ResamplerQuality::kMedium:
      return "medium";
    case audio::ResamplerQuality::kBest:
      return "best";
  }
  return "?";
}

void bench_file(const std::filesystem::path& path) {
  const Timer timer;
  audio::FileSource source(path);
  std::size_t samples = 0;
  while (auto frame = source.next_frame()) samples += static_cast<std::size_t>(frame->valid_samples);
  const double cpu = timer.cpu();
  const double wall = timer.wall();
  const double seconds = static_cast<double>(samples) / audio::kModelSampleRate;
  fmt::print("file    {} ({}, {} Hz, {} ch)\n        {:7.1f} s of audio: CPU {:6.3f} s = {:7.0f}x real time, "
             "wall {:6.3f} s = {:7.0f}x\n",
             path.filename().string(), source.info().format, source.info().sample_rate, source.info().channels,
             seconds, cpu, seconds / cpu, wall, seconds / wall);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Measure the speed of utter's audio input paths on one thread"};
  double seconds = 60.0;
  std::vector<std::string> files;
  app.add_option("--seconds", seconds, "Length of the synthetic signal in seconds")->check(CLI::Range(1.0, 3600.0));
  app.add_option("files", files, "Audio files to decode as well");
  CLI11_PARSE(app, argc, argv);

  struct CaptureCase {
    int rate;
    int channels;
    std::size_t buffer_frames;  // a device buffer, odd sizes included
  };
  const CaptureCase cases[] = {{48000, 2, 480}, {44100, 2, 441}, {44100, 1, 1021}};
  for (const CaptureCase& c : cases) {
    const std::vector<float> input = make_signal(c.rate, c.channels, seconds);
    for (const auto quality : {audio::ResamplerQuality::kFastest, audio::ResamplerQuality::kMedium,
                               audio::ResamplerQuality::kBest}) {
      for (const bool analyze : {false, true}) {
        const CaptureRun run = run_capture_path(input, c.rate, c.channels, c.buffer_frames, quality, analyze);
        fmt::print("capture {} Hz {} ch, {:4} frames/buffer, {:<7} {:<14} {:5.1f} s of audio: CPU {:6.3f} s = "
                   "{:6.0f}x real time, wall {:6.3f} s = {:6.0f}x\n",
                   c.rate, c.channels, c.buffer_frames, quality_name(quality), analyze ? "+ level + VAD" : "",
                   run.seconds_of_audio, run.cpu_seconds, run.seconds_of_audio / run.cpu_seconds,
                   run.wall_seconds, run.seconds_of_audio / run.wall_seconds);
      }
    }
  }

  // A 48 kHz stereo 16-bit WAV written here, then any files given on the command line.
  const auto wav = std::filesystem::temp_directory_path() / fmt::format("utter-bench-audio-{}.wav", ::getpid());
  {
    audio::WavWriter writer(wav, 48000, 2);
    writer.write(make_signal(48000, 2, seconds));
  }
  bench_file(wav);
  std::filesystem::remove(wav);
  for (const auto& file : files) bench_file(file);
  return 0;
}
