#include "utter/audio/capture.h"

#include <portaudio.h>

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <mutex>

#include "portaudio_session.h"
#include "utter/audio/audio_error.h"
#include "utter/audio/spsc_ring.h"

namespace utter::audio {
namespace {

constexpr double kStartGraceSeconds = 5.0;

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

InputDevice describe_device(PaDeviceIndex index) {
  const PaDeviceInfo* info = Pa_GetDeviceInfo(index);
  InputDevice device;
  device.index = index;
  if (info == nullptr) return device;
  device.name = info->name != nullptr ? info->name : "";
  const PaHostApiInfo* host = Pa_GetHostApiInfo(info->hostApi);
  device.host_api = host != nullptr && host->name != nullptr ? host->name : "";
  device.max_input_channels = info->maxInputChannels;
  device.default_sample_rate = info->defaultSampleRate;
  device.is_default = index == Pa_GetDefaultInputDevice();
  return device;
}

std::vector<InputDevice> enumerate_inputs() {
  std::vector<InputDevice> devices;
  const PaDeviceIndex count = Pa_GetDeviceCount();
  if (count < 0) {
    throw AudioError(fmt::format("PortAudio failed to list devices: {}", Pa_GetErrorText(count)));
  }
  for (PaDeviceIndex index = 0; index < count; ++index) {
    InputDevice device = describe_device(index);
    if (device.max_input_channels > 0) devices.push_back(std::move(device));
  }
  return devices;
}

InputDevice choose_device(const std::string& requested) {
  const std::vector<InputDevice> devices = enumerate_inputs();
  if (devices.empty()) {
    throw AudioError("no audio input device found; connect a microphone or start a sound server");
  }
  if (requested.empty()) {
    for (const auto& device : devices) {
      if (device.is_default) return device;
    }
    throw AudioError("there is no default input device; name one with --device (see `utter devices`)");
  }
  for (const auto& device : devices) {
    if (device.name == requested) return device;
  }
  const std::string needle = lowercase(requested);
  std::vector<const InputDevice*> matches;
  for (const auto& device : devices) {
    if (lowercase(device.name).find(needle) != std::string::npos) matches.push_back(&device);
  }
  if (matches.size() == 1) return *matches.front();
  std::string names;
  for (const auto& device : devices) names += fmt::format("\n  {}", device.name);
  if (matches.empty()) {
    throw AudioError(fmt::format("input device \"{}\" not found; available inputs:{}", requested, names));
  }
  throw AudioError(fmt::format("input device \"{}\" matches {} devices; give the full name:{}",
                               requested, matches.size(), names));
}

}  // namespace

std::vector<InputDevice> list_input_devices() {
  PortAudioSession session;
  return enumerate_inputs();
}

struct Capture::Impl {
  PortAudioSession session;
  InputDevice device;
  int sample_rate = 0;
  int channels = 0;
  std::unique_ptr<SpscRing<float>> ring;
  PaStream* stream = nullptr;
  bool running = false;

  // Written by the audio callback thread, read by the consumer.
  std::atomic<std::uint64_t> callbacks{0};
  std::atomic<std::uint64_t> overrun_samples{0};
  std::atomic<std::uint64_t> overrun_events{0};
  std::atomic<std::uint64_t> device_overflows{0};
  std::atomic<bool> stream_finished{false};

  // Consumer-side watchdog state.
  std::uint64_t callbacks_at_start = 0;
  std::uint64_t last_seen_callbacks = 0;
  std::chrono::steady_clock::time_point last_progress;
  std::optional<std::string> failure;

  // Runs on PortAudio's real-time thread: copies into the ring and counts, nothing else.
  static int on_audio(const void* input, void*, unsigned long frame_count,
                      const PaStreamCallbackTimeInfo*, PaStreamCallbackFlags flags, void* user) {
    auto* self = static_cast<Impl*>(user);
    if ((flags & paInputOverflow) != 0) self->device_overflows.fetch_add(1, std::memory_order_relaxed);
    if (input != nullptr) {
      const std::size_t values = frame_count * static_cast<std::size_t>(self->channels);
      const std::span<const float> samples(static_cast<const float*>(input), values);
      const std::size_t written = self->ring->write(samples);
      if (written < values) {
        self->overrun_samples.fetch_add(values - written, std::memory_order_relaxed);
        self->overrun_events.fetch_add(1, std::memory_order_relaxed);
      }
    }
    self->callbacks.fetch_add(1, std::memory_order_release);
    return paContinue;
  }

  static void on_finished(void* user) {
    static_cast<Impl*>(user)->stream_finished.store(true, std::memory_order_release);
  }
};

Capture::Capture(const CaptureOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  impl.device = choose_device(options.device);
  impl.channels = options.channels > 0 ? options.channels : std::min(2, impl.device.max_input_channels);
  if (impl.channels > impl.device.max_input_channels) {
    throw AudioError(fmt::format("input device \"{}\" has {} channels, {} were requested",
                                 impl.device.name, impl.device.max_input_channels, impl.channels));
  }
  impl.sample_rate = options.sample_rate > 0
                         ? options.sample_rate
                         : static_cast<int>(std::lround(impl.device.default_sample_rate));
  if (impl.sample_rate < 1000) {
    throw AudioError(fmt::format("input device \"{}\" reports an invalid sample rate of {} Hz",
                                 impl.device.name, impl.sample_rate));
  }
  const double ring_seconds = std::clamp(options.ring_seconds, 0.1, 600.0);
  impl.ring = std::make_unique<SpscRing<float>>(
      static_cast<std::size_t>(ring_seconds * impl.sample_rate) * static_cast<std::size_t>(impl.channels));

  PaStreamParameters parameters{};
  parameters.device = impl.device.index;
  parameters.channelCount = impl.channels;
  parameters.sampleFormat = paFloat32;
  parameters.suggestedLatency = Pa_GetDeviceInfo(impl.device.index)->defaultLowInputLatency;
  const PaError error = Pa_OpenStream(&impl.stream, &parameters, nullptr, impl.sample_rate,
                                      paFramesPerBufferUnspecified, paNoFlag, &Impl::on_audio, &impl);
  if (error != paNoError) {
    impl.stream = nullptr;
    throw AudioError(fmt::format("cannot open input device \"{}\" at {} Hz with {} channels: {}",
                                 impl.device.name, impl.sample_rate, impl.channels,
                                 Pa_GetErrorText(error)));
  }
  Pa_SetStreamFinishedCallback(impl.stream, &Impl::on_finished);
}

Capture::~Capture() {
  if (impl_->stream != nullptr) {
    if (impl_->running) Pa_AbortStream(impl_->stream);
    Pa_CloseStream(impl_->stream);
  }
}

void Capture::start() {
  Impl& impl = *impl_;
  if (impl.running) return;
  impl.stream_finished.store(false);
  impl.failure.reset();
  const PaError error = Pa_StartStream(impl.stream);
  if (error != paNoError) {
    throw AudioError(fmt::format("cannot start recording from \"{}\": {}", impl.device.name,
                                 Pa_GetErrorText(error)));
  }
  impl.running = true;
  impl.callbacks_at_start = impl.callbacks.load();
  impl.last_seen_callbacks = impl.callbacks_at_start;
  impl.last_progress = std::chrono::steady_clock::now();
}

void Capture::stop() {
  Impl& impl = *impl_;
  if (!impl.running) return;
  impl.running = false;
  // Pa_StopStream waits for buffers in flight; a vanished device may never return them, so a
  // stream that already ended on its own is aborted instead.
  if (Pa_IsStreamActive(impl.stream) == 1) {
    Pa_StopStream(impl.stream);
  } else {
    Pa_AbortStream(impl.stream);
  }
}

std::size_t Capture::read(std::vector<float>& out) {
  SpscRing<float>& ring = *impl_->ring;
  const std::size_t available = ring.size();
  const std::size_t old_size = out.size();
  out.resize(old_size + available);
  const std::size_t got = ring.read(std::span<float>(out.data() + old_size, available));
  out.resize(old_size + got);
  return got;
}

std::optional<std::string> Capture::check_health(double stall_seconds) {
  Impl& impl = *impl_;
  if (impl.failure || !impl.running) return impl.failure;
  const auto now = std::chrono::steady_clock::now();
  const std::uint64_t callbacks = impl.callbacks.load(std::memory_order_acquire);
  if (callbacks != impl.last_seen_callbacks) {
    impl.last_seen_callbacks = callbacks;
    impl.last_progress = now;
  }
  if (impl.stream_finished.load(std::memory_order_acquire) || Pa_IsStreamActive(impl.stream) != 1) {
    impl.failure = fmt::format("input device \"{}\" stopped delivering audio (removed or failed)",
                               impl.device.name);
  } else {
    // Sound servers can take a second or two to deliver the first buffer after a start.
    const bool started = callbacks != impl.callbacks_at_start;
    const double limit = started ? stall_seconds : std::max(stall_seconds, kStartGraceSeconds);
    if (std::chrono::duration<double>(now - impl.last_progress).count() > limit) {
      impl.failure = fmt::format("no audio arrived from input device \"{}\" for {:.1f} s; it may have been "
                                 "unplugged or taken by another program", impl.device.name, limit);
    }
  }
  return impl.failure;
}

const InputDevice& Capture::device() const { return impl_->device; }
int Capture::sample_rate() const { return impl_->sample_rate; }
int Capture::channels() const { return impl_->channels; }
std::uint64_t Capture::overrun_samples() const { return impl_->overrun_samples.load(); }
std::uint64_t Capture::overrun_events() const { return impl_->overrun_events.load(); }
std::uint64_t Capture::device_overflows() const { return impl_->device_overflows.load(); }

}  // namespace utter::audio
