// `utter dictate`: push-to-talk dictation in a terminal.
#include <fmt/core.h>
#include <sys/select.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "commands/command_registry.h"
#include "common/model_files.h"
#include "common/session_worker.h"
#include "utter/audio/capture.h"
#include "utter/audio/resampler.h"
#include "utter/audio/voice_activity.h"
#include "utter/editor/assets.h"
#include "utter/inference/audio_projector.h"
#include "utter/inference/dictation_session.h"
#include "utter/inference/text_model.h"

namespace utter::cli {
namespace {

struct DictateOptions {
  std::string model_path;
  std::string mmproj_path;
  std::string device;
  std::string output;
  std::optional<std::string> system_prompt;
  std::optional<std::string> instruction;
  bool hands_free = false;
  bool verbose = false;
  int threads = 0;
  int max_tokens = 448;
};

// Audio from just before the key press, so the first syllable is not lost.
constexpr double kPreRollSeconds = 0.3;

std::atomic<bool> g_interrupted{false};

void handle_interrupt(int) { g_interrupted = true; }

// Puts the terminal in character-at-a-time mode without echo and restores it afterwards.
class RawTerminal {
 public:
  RawTerminal() {
    if (isatty(STDIN_FILENO) != 1 || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  bool active() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

// Returns the next key typed within `timeout_ms`, -1 for none, or -2 at end of input.
int read_key(int timeout_ms) {
  fd_set fds;
  FD_ZERO(&fds);
  FD_SET(STDIN_FILENO, &fds);
  timeval timeout{0, timeout_ms * 1000};
  if (select(STDIN_FILENO + 1, &fds, nullptr, nullptr, &timeout) <= 0) return -1;
  char c = 0;
  const ssize_t n = read(STDIN_FILENO, &c, 1);
  if (n == 0) return -2;
  return n < 0 ? -1 : static_cast<unsigned char>(c);
}

std::string asset_text(std::string_view name) {
  std::string text = editor::read_asset(name);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

int run_dictate(const DictateOptions& options) {
  using Clock = std::chrono::steady_clock;
  const ModelFiles files = find_model_files(options.model_path, options.mmproj_path, /*need_mmproj=*/true);
  auto model = inference::TextModel::load(files.model);
  auto projector = inference::AudioProjector::load(files.mmproj, model->config().n_embd);

  inference::DictationOptions session_options;
  session_options.system_prompt = options.system_prompt.value_or(asset_text("prompts/transcription_system.txt"));
  session_options.instruction = options.instruction.value_or(asset_text("prompts/transcription_instruction.txt"));
  session_options.threads = options.threads;
  session_options.max_transcript_tokens = options.max_tokens;
  inference::DictationSession session(*model, *projector, session_options);

  std::ofstream transcript_file;
  if (!options.output.empty()) {
    transcript_file.open(options.output, std::ios::app | std::ios::binary);
    if (!transcript_file) throw std::runtime_error("failed to open '" + options.output + "' for appending");
  }

  std::mutex print_mutex;
  std::atomic<bool> decoding{false};
  Clock::time_point released_at;
  SessionWorker::Events events;
  events.on_text = [&](std::string_view text) {
    std::lock_guard lock(print_mutex);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  events.on_done = [&](const inference::UtteranceResult& result) {
    std::lock_guard lock(print_mutex);
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (transcript_file.is_open() && !result.text.empty()) {
      transcript_file << result.text << '\n';
      transcript_file.flush();
      if (!transcript_file) fmt::print(stderr, "utter: error: failed to append to '{}'\n", options.output);
    }
    if (options.verbose) {
      const double latency = std::chrono::duration<double>(Clock::now() - released_at).count();
      fmt::print(stderr, "[{:.2f} s audio, {} tokens, {:.3f} s from release to last token]\n",
                 result.audio_samples / 16000.0, result.tokens.size(), latency);
    }
    decoding = false;
  };
  events.on_error = [&](const std::string& message) {
    std::lock_guard lock(print_mutex);
    fmt::print(stderr, "utter: error: {}\n", message);
    decoding = false;
  };
  SessionWorker worker(session, events);

  audio::CaptureOptions capture_options;
  capture_options.device = options.device;
  audio::Capture capture(capture_options);
  audio::Resampler resampler(capture.sample_rate(), capture.channels());
  audio::VoiceActivityDetector vad;
  capture.start();

  RawTerminal terminal;
  std::signal(SIGINT, handle_interrupt);
  fmt::print(stderr, "Listening on '{}' ({} Hz, {} channel{}). {}\n", capture.device().name, capture.sample_rate(),
             capture.channels(), capture.channels() == 1 ? "" : "s",
             options.hands_free ? "Hands-free: speak, pause to finish. Press q to quit."
             : terminal.active() ? "Press space to start and stop, Esc to cancel, q to quit."
                                 : "Press Enter to start and stop; end of input quits.");

  std::deque<float> pre_roll;
  const auto pre_roll_samples = static_cast<size_t>(kPreRollSeconds * 16000);
  bool recording = false;
  std::vector<float> interleaved;
  std::vector<float> mono;
  int exit_status = 0;

  auto start_recording = [&] {
    worker.begin_utterance();
    worker.push_audio(std::vector<float>(pre_roll.begin(), pre_roll.end()));
    pre_roll.clear();
    recording = true;
    if (!options.hands_free) fmt::print(stderr, "[recording]\n");
  };
  auto stop_recording = [&] {
    released_at = Clock::now();
    decoding = true;
    worker.end_utterance();
    recording = false;
  };

  for (bool running = true; running && !g_interrupted;) {
    const int key = read_key(20);
    if (key == -2 || key == 'q' || key == 'Q' || key == 4) {
      running = false;
    } else if (key == 27 && recording) {
      worker.cancel();
      recording = false;
      fmt::print(stderr, "[cancelled]\n");
    } else if (!options.hands_free && (key == ' ' || key == '\n' || key == '\r')) {
      recording ? stop_recording() : start_recording();
    }

    interleaved.clear();
    mono.clear();
    capture.read(interleaved);
    if (!interleaved.empty()) resampler.process(interleaved, mono);

    if (options.hands_free && !mono.empty()) {
      vad.push(mono);
      vad.take_segments();
      if (!recording && vad.in_speech()) start_recording();
    }
    if (recording) {
      if (!mono.empty()) worker.push_audio(mono);
      if (options.hands_free && !vad.in_speech()) stop_recording();
    } else {
      pre_roll.insert(pre_roll.end(), mono.begin(), mono.end());
      while (pre_roll.size() > pre_roll_samples) pre_roll.pop_front();
    }

    if (auto failure = capture.check_health()) {
      // Keep what was spoken before the device went away.
      if (recording) stop_recording();
      fmt::print(stderr, "utter: error: the microphone stopped: {}\n", *failure);
      exit_status = 1;
      running = false;
    }
  }

  if (recording) stop_recording();
  worker.wait_idle();
  capture.stop();
  if (capture.overrun_samples() > 0) {
    fmt::print(stderr, "warning: {} samples were dropped because the model fell behind the microphone\n",
               capture.overrun_samples());
  }
  return exit_status;
}

void setup_dictate(CLI::App& sub) {
  auto options = std::make_shared<DictateOptions>();
  sub.add_option("-m,--model", options->model_path, "Gemma 4 text model (.gguf)");
  sub.add_option("--mmproj", options->mmproj_path, "Audio projector (mmproj .gguf)");
  sub.add_option("--device", options->device, "Input device: a name or part of one (see `utter devices`)");
  sub.add_flag("--hands-free", options->hands_free, "End each utterance at a pause instead of a key press");
  sub.add_option("-o,--output", options->output, "Also append each transcript to this file");
  sub.add_option("--system", options->system_prompt, "System prompt; an empty string means none");
  sub.add_option("--instruction", options->instruction, "The instruction that follows each utterance's audio");
  sub.add_flag("-v,--verbose", options->verbose, "Show each utterance's latency from key release to last token");
  sub.add_option("-n,--max-tokens", options->max_tokens, "Tokens to generate at most per utterance")
      ->check(CLI::Range(1, 1 << 16));
  sub.add_option("-t,--threads", options->threads, "Worker threads (0: one per core)")->check(CLI::NonNegativeNumber);
  sub.callback([options] { run_guarded([&] { return run_dictate(*options); }); });
}

const bool registered = register_command({"dictate", "Dictate into the terminal with push-to-talk", setup_dictate});

}  // namespace
}  // namespace utter::cli
