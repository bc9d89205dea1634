// A private PulseAudio daemon with a null sink, started and stopped by a test, so capture can be
// tested through PortAudio -> ALSA "pulse" device -> PulseAudio without real hardware.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "audio/audio_test_support.h"

extern char** environ;

namespace utter::audio::testing {

inline constexpr const char* kNullSinkName = "utter_null";

class PulseServer {
 public:
  // Starts the daemon. On failure running() is false and failure() describes the cause.
  PulseServer() {
    const std::string executable = find_program("pulseaudio");
    if (executable.empty()) {
      failure_ = "pulseaudio is not installed (Debian package pulseaudio)";
      return;
    }
    if (find_program("pactl").empty() || find_program("paplay").empty()) {
      failure_ = "pactl or paplay is missing (Debian package pulseaudio-utils)";
      return;
    }
    socket_ = folder_.path() / "native";
    const auto log_file = folder_.path() / "pulse.log";
    std::vector<std::string> arguments = {
        executable, "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
        "--disallow-exit", "--log-target=file:" + log_file.string(),
        "--load=module-native-protocol-unix auth-anonymous=1 socket=" + socket_.string(),
        // 48 kHz stereo, so the capture path has to resample and downmix.
        std::string("--load=module-null-sink rate=48000 channels=2 sink_name=") + kNullSinkName,
    };
    std::vector<std::string> environment = {
        "HOME=" + folder_.path().string(), "XDG_RUNTIME_DIR=" + folder_.path().string(),
        "XDG_CONFIG_HOME=" + (folder_.path() / "config").string(),
        "PULSE_RUNTIME_PATH=" + (folder_.path() / "runtime").string(),
        "PULSE_STATE_PATH=" + (folder_.path() / "state").string(),
        "PATH=" + std::string(std::getenv("PATH") != nullptr ? std::getenv("PATH") : "/usr/bin:/bin")};
    std::vector<char*> argv;
    for (auto& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);
    if (posix_spawn(&pid_, executable.c_str(), nullptr, nullptr, argv.data(), envp.data()) != 0) {
      pid_ = -1;
      failure_ = "cannot start " + executable;
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (run_shell(client_environment() + " pactl info >/dev/null 2>&1") == 0) return;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        failure_ = "pulseaudio exited at start-up; see its log:\n" + read_log(log_file);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    failure_ = "pulseaudio did not accept connections within 10 s; its log:\n" + read_log(log_file);
    stop();
  }

  ~PulseServer() { stop(); }
  PulseServer(const PulseServer&) = delete;
  PulseServer& operator=(const PulseServer&) = delete;

  bool running() const { return failure_.empty() && pid_ > 0; }
  const std::string& failure() const { return failure_; }
  std::string address() const { return "unix:" + socket_.string(); }

  // Environment assignments that point clients (pactl, paplay, utter) at this server.
  std::string client_environment() const { return "PULSE_SERVER=" + shell_quote(address()); }

  // Points this process's PulseAudio clients, including PortAudio's ALSA plugin, at the server.
  void use_in_this_process() const { setenv("PULSE_SERVER", address().c_str(), 1); }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 50 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (waitpid(pid_, &status, WNOHANG) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

 private:
  static std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string directories = path != nullptr ? path : "/usr/bin:/bin";
    std::size_t begin = 0;
    while (begin <= directories.size()) {
      const std::size_t end = std::min(directories.find(':', begin), directories.size());
      const auto candidate = std::filesystem::path(directories.substr(begin, end - begin)) / name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
      begin = end + 1;
    }
    return "";
  }

  static std::string read_log(const std::filesystem::path& file) {
    std::ifstream stream(file);
    std::string text((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  }

  TempDir folder_;
  std::filesystem::path socket_;
  pid_t pid_ = -1;
  std::string failure_;
};

}  // namespace utter::audio::testing
