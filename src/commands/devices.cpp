// `utter devices`: lists the audio inputs that `utter record` and dictation can use.
#include <fmt/core.h>

#include <memory>

#include "commands/command_registry.h"
#include "utter/audio/capture.h"

namespace {

struct DevicesOptions {};

int run_devices(const DevicesOptions&) {
  const std::vector<utter::audio::InputDevice> devices = utter::audio::list_input_devices();
  if (devices.empty()) {
    fmt::print("No audio input devices found. Connect a microphone or start a sound server.\n");
    return 0;
  }
  std::size_t name_width = 4;
  for (const auto& device : devices) name_width = std::max(name_width, device.name.size());
  fmt::print("  {:<{}}  {:<8}  {:>8}  {:>9}\n", "name", name_width, "host API", "channels", "rate (Hz)");
  for (const auto& device : devices) {
    fmt::print("{} {:<{}}  {:<8}  {:>8}  {:>9.0f}\n", device.is_default ? '*' : ' ', device.name,
               name_width, device.host_api, device.max_input_channels, device.default_sample_rate);
  }
  fmt::print("* marks the default input. Pass a name, or a unique part of one, to --device.\n");
  return 0;
}

void setup_devices(CLI::App& sub) {
  auto options = std::make_shared<DevicesOptions>();
  sub.callback([options] { utter::cli::run_guarded([&] { return run_devices(*options); }); });
}

const bool registered =
    utter::cli::register_command({"devices", "List audio input devices", setup_devices});

}  // namespace
