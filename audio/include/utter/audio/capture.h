// Microphone capture through PortAudio.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace utter::audio {

struct InputDevice {
  int index = -1;  // PortAudio device index
  std::string name;
  std::string host_api;  // e.g. "ALSA"
  int max_input_channels = 0;
  double default_sample_rate = 0.0;
  bool is_default = false;
};

// Lists the devices that have inputs. Raises AudioError when PortAudio cannot start.
std::vector<InputDevice> list_input_devices();

struct CaptureOptions {
  // Device name: empty for the default input, otherwise an exact name or a part of exactly one
  // device name (case-insensitive).
  std::string device;
  int sample_rate = 0;   // 0: the device's default rate
  int channels = 0;      // 0: up to two of the device's channels
  double ring_seconds = 4.0;  // ring capacity in seconds of audio; more overruns
};

// Records from one input device. The PortAudio callback only copies samples into a lock-free
// ring, which the caller drains with read() from its own thread at least once per ring_seconds.
// Samples that do not fit are dropped and counted as an overrun.
class Capture {
 public:
  explicit Capture(const CaptureOptions& options = {});
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  void start();
  void stop();

  // Appends the waiting interleaved samples (sample_rate(), channels()) to out and returns how
  // many values it appended.
  std::size_t read(std::vector<float>& out);

  // Returns a description of a failure, or nothing while the device is delivering: the stream
  // ended on its own (device removed or failed), or no audio arrived for stall_seconds (at
  // least 5 s before the first buffer). Call it regularly while recording.
  // Samples captured before the failure stay readable.
  std::optional<std::string> check_health(double stall_seconds = 2.0);

  const InputDevice& device() const;
  int sample_rate() const;
  int channels() const;
  // Samples (single values, not frames) dropped because the ring was full, and in how many
  // callbacks that happened.
  std::uint64_t overrun_samples() const;
  std::uint64_t overrun_events() const;
  // Input overflows PortAudio reported (audio lost before it reached the callback).
  std::uint64_t device_overflows() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace utter::audio
