#include "app/speech_engine.h"

#include <fmt/core.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <system_error>

#include "app/app_log.h"
#include "common/file_transcriber.h"
#include "common/model_files.h"
#include "common/model_rewriter.h"
#include "common/session_worker.h"
#include "utter/audio/capture.h"
#include "utter/audio/file_source.h"
#include "utter/audio/level_meter.h"
#include "utter/audio/resampler.h"
#include "utter/audio/voice_activity.h"
#include "utter/editor/assets.h"
#include "utter/inference/audio_projector.h"
#include "utter/inference/dictation_session.h"
#include "utter/inference/text_model.h"

namespace utter::app {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSampleRate = 16000;
// Audio from just before the key press, so that the first syllable is not lost.
constexpr double kPreRollSeconds = 0.3;
// Fall rate of the level meter after a peak.
constexpr float kLevelDecayDbPerSecond = 40.0f;
constexpr auto kAudioTick = std::chrono::milliseconds(10);
constexpr auto kMicrophoneRetry = std::chrono::seconds(3);

// Nice value of the threads that run the model. On a machine with few cores they would
// otherwise take turns with the UI thread and stretch frames while the model decodes.
constexpr int kInferenceNice = 10;

// Lowers the calling thread's priority. Linux keeps a nice value per thread, and threads
// started later from this one inherit it, which covers the session worker and the thread
// pools that the model load creates. Raising the nice value needs no privilege.
void lower_inference_priority() {
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kInferenceNice) != 0) {
    std::fprintf(app_log(), "utter: warning: failed to lower the priority of an inference thread: %s\n",
                 std::strerror(errno));
  }
}

// Thrown from a transcription callback to stop a file the person cancelled.
struct FileCancelled {};

// A prompt file from the assets folder without its trailing line breaks.
std::string prompt_asset(std::string_view name) {
  std::string text = editor::read_asset(name);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::uintmax_t file_size_or_zero(const std::filesystem::path& path) {
  std::error_code error;
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  return error ? 0 : size;
}

}  // namespace

SpeechEngine::SpeechEngine(EngineOptions options, std::function<void()> wake)
    : options_(std::move(options)), wake_(std::move(wake)) {
  hands_free_ = options_.hands_free;
}

SpeechEngine::~SpeechEngine() {
  stopping_ = true;
  rewrite_cancel_ = true;
  file_cancel_ = true;
  if (audio_thread_.joinable()) audio_thread_.join();
  if (load_thread_.joinable()) load_thread_.join();
  if (rewrite_thread_.joinable()) rewrite_thread_.join();
  if (file_thread_.joinable()) file_thread_.join();
  worker_.reset();  // joins the inference thread before the session goes away
}

void SpeechEngine::start() {
  loading_ = true;
  load_started_ = Clock::now();
  load_thread_ = std::thread([this] { load_model(); });
  audio_thread_ = std::thread([this] { audio_loop(); });
}

void SpeechEngine::post(EngineEvent event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  if (wake_) wake_();
}

std::vector<EngineEvent> SpeechEngine::take_events() {
  std::lock_guard lock(mutex_);
  std::vector<EngineEvent> events;
  events.swap(events_);
  return events;
}

void SpeechEngine::set_stage(std::string stage) {
  std::lock_guard lock(mutex_);
  stage_ = std::move(stage);
}

std::string SpeechEngine::loading_stage() const {
  std::lock_guard lock(mutex_);
  return stage_;
}

double SpeechEngine::loading_seconds() const {
  return std::chrono::duration<double>(Clock::now() - load_started_).count();
}

std::optional<ModelSummary> SpeechEngine::model_summary() const {
  std::lock_guard lock(mutex_);
  return summary_;
}

std::string SpeechEngine::input_name() const {
  std::lock_guard lock(mutex_);
  return input_name_;
}

void SpeechEngine::load_model() {
  lower_inference_priority();
  set_stage("Looking for the model files");
  cli::ModelFiles files;
  try {
    files = cli::find_model_files(options_.model, options_.mmproj, /*need_mmproj=*/true);
  } catch (const std::exception& error) {
    loading_ = false;
    post({EngineEvent::Kind::kModelMissing, error.what()});
    return;
  }

  try {
    const auto started = Clock::now();
    set_stage(fmt::format("Loading the text model {}", files.model.filename().string()));
    model_ = inference::TextModel::load(files.model);
    set_stage(fmt::format("Loading the audio projector {}", files.mmproj.filename().string()));
    projector_ = inference::AudioProjector::load(files.mmproj, model_->config().n_embd);

    set_stage("Preparing the dictation session");
    inference::DictationOptions session_options;
    session_options.system_prompt = prompt_asset("prompts/transcription_system.txt");
    session_options.instruction = prompt_asset("prompts/transcription_instruction.txt");
    session_options.threads = options_.threads;
    session_ = std::make_unique<inference::DictationSession>(*model_, *projector_, session_options);

    cli::SessionWorker::Events events;
    events.on_text = [this](std::string_view text) {
      EngineEvent event{EngineEvent::Kind::kTranscriptPiece, std::string(text)};
      event.mode = utterance_mode_.load();
      post(std::move(event));
    };
    events.on_done = [this](const inference::UtteranceResult& result) {
      if (result.finish_seconds > 0.0) transcript_speed_ = static_cast<double>(result.tokens.size()) / result.finish_seconds;
      ListenState decoding = ListenState::kDecoding;
      listen_state_.compare_exchange_strong(decoding, ListenState::kIdle);
      EngineEvent event{EngineEvent::Kind::kUtteranceDone, result.text};
      event.mode = utterance_mode_.load();
      event.cancelled = result.cancelled;
      event.audio_seconds = static_cast<double>(result.audio_samples) / kSampleRate;
      event.finish_seconds = result.finish_seconds;
      post(std::move(event));
    };
    events.on_error = [this](const std::string& message) {
      ListenState decoding = ListenState::kDecoding;
      listen_state_.compare_exchange_strong(decoding, ListenState::kIdle);
      post({EngineEvent::Kind::kNotice, "Transcription failed: " + message});
    };
    worker_ = std::make_unique<cli::SessionWorker>(*session_, std::move(events));

    cli::RewriterOptions rewriter_options;
    rewriter_options.threads = options_.threads;
    rewriter_ = std::make_unique<cli::ModelRewriter>(*model_, rewriter_options);

    ModelSummary summary;
    summary.model_path = files.model;
    summary.mmproj_path = files.mmproj;
    summary.model_bytes = file_size_or_zero(files.model);
    summary.mmproj_bytes = file_size_or_zero(files.mmproj);
    summary.weight_type = model_->weight_format();
    summary.layers = model_->config().n_layer;
    summary.embedding_size = model_->config().n_embd;
    summary.load_seconds = std::chrono::duration<double>(Clock::now() - started).count();
    {
      std::lock_guard lock(mutex_);
      summary_ = summary;
    }
    model_ready_ = true;
    loading_ = false;
    post({EngineEvent::Kind::kModelLoaded,
          fmt::format("Model loaded: {} ({}) in {:.1f} s", files.model.filename().string(), summary.weight_type,
                      summary.load_seconds)});
  } catch (const std::exception& error) {
    worker_.reset();
    session_.reset();
    loading_ = false;
    post({EngineEvent::Kind::kModelFailed,
          fmt::format("Failed to load the model '{}': {}", files.model.string(), error.what())});
  }
}

void SpeechEngine::press(editor::UtteranceMode mode) {
  std::lock_guard lock(mutex_);
  commands_.push_back({AudioCommand::Kind::kPress, mode});
}

void SpeechEngine::release() {
  std::lock_guard lock(mutex_);
  commands_.push_back({AudioCommand::Kind::kRelease, editor::UtteranceMode::kDictation});
}

void SpeechEngine::cancel_utterance() {
  std::lock_guard lock(mutex_);
  commands_.push_back({AudioCommand::Kind::kCancel, editor::UtteranceMode::kDictation});
}

void SpeechEngine::set_hands_free(bool hands_free) { hands_free_ = hands_free; }

void SpeechEngine::audio_loop() {
  std::unique_ptr<audio::Capture> capture;
  std::unique_ptr<audio::Resampler> resampler;
  std::string last_capture_error;
  auto last_open_attempt = Clock::now() - kMicrophoneRetry;

  // A file input is a stream of silence until the first press; then the file plays in real
  // time, followed by silence again.
  const bool use_file = !options_.audio_input.empty();
  std::vector<float> file_samples;
  std::size_t file_position = 0;
  bool file_playing = false;
  std::int64_t stream_samples = 0;
  const auto stream_start = Clock::now();
  if (use_file) {
    try {
      file_samples = audio::decode_file_16k_mono(options_.audio_input);
      std::lock_guard lock(mutex_);
      input_name_ = "file " + options_.audio_input.filename().string();
    } catch (const std::exception& error) {
      post({EngineEvent::Kind::kNotice, fmt::format("Failed to read the audio input file: {}", error.what())});
    }
  }

  std::deque<float> pre_roll;
  const auto pre_roll_samples = static_cast<std::size_t>(kPreRollSeconds * kSampleRate);
  audio::VoiceActivityDetector vad;
  bool recording = false;
  bool hands_free_utterance = false;
  std::vector<float> interleaved;
  std::vector<float> mono;
  float level = audio::kSilenceDbfs;
  auto last_tick = Clock::now();

  auto begin = [&](editor::UtteranceMode mode) {
    if (!model_ready_) {
      post({EngineEvent::Kind::kNotice, "No model is loaded, so dictation is off. See Help > About."});
      return false;
    }
    if (file_busy_) {
      post({EngineEvent::Kind::kNotice, "An audio file is being transcribed; dictation waits until it is done."});
      return false;
    }
    utterance_mode_ = mode;
    worker_->begin_utterance();
    worker_->push_audio(std::vector<float>(pre_roll.begin(), pre_roll.end()));
    recorded_samples_ = static_cast<std::int64_t>(pre_roll.size());
    pre_roll.clear();
    recording = true;
    listen_state_ = ListenState::kListening;
    if (use_file && !file_playing) file_playing = true;
    return true;
  };
  auto end = [&] {
    worker_->end_utterance();
    recording = false;
    hands_free_utterance = false;
    listen_state_ = ListenState::kDecoding;
  };

  while (!stopping_) {
    std::this_thread::sleep_for(kAudioTick);
    const auto now = Clock::now();
    const float elapsed = std::chrono::duration<float>(now - last_tick).count();
    last_tick = now;

    if (!use_file && !capture && now - last_open_attempt >= kMicrophoneRetry) {
      last_open_attempt = now;
      try {
        audio::CaptureOptions capture_options;
        capture_options.device = options_.input_device;
        auto opened = std::make_unique<audio::Capture>(capture_options);
        opened->start();
        resampler = std::make_unique<audio::Resampler>(opened->sample_rate(), opened->channels());
        {
          std::lock_guard lock(mutex_);
          input_name_ = opened->device().name;
        }
        capture = std::move(opened);
        std::fprintf(app_log(), "utter: audio input opened: %s\n", input_name().c_str());
        if (!last_capture_error.empty()) post({EngineEvent::Kind::kNotice, "The microphone is back: " + input_name()});
        last_capture_error.clear();
      } catch (const std::exception& error) {
        if (last_capture_error != error.what()) {
          last_capture_error = error.what();
          post({EngineEvent::Kind::kNotice, "No microphone: " + last_capture_error});
        }
      }
    }

    std::vector<AudioCommand> commands;
    {
      std::lock_guard lock(mutex_);
      commands.swap(commands_);
    }
    for (const AudioCommand& command : commands) {
      switch (command.kind) {
        case AudioCommand::Kind::kPress:
          if (!recording) begin(command.mode);
          break;
        case AudioCommand::Kind::kRelease:
          if (recording) end();
          break;
        case AudioCommand::Kind::kCancel:
          if (worker_) worker_->cancel();
          recording = false;
          hands_free_utterance = false;
          listen_state_ = ListenState::kIdle;
          break;
      }
    }

    mono.clear();
    if (use_file) {
      const auto due = static_cast<std::int64_t>(std::chrono::duration<double>(now - stream_start).count() * kSampleRate);
      for (; stream_samples < due; ++stream_samples) {
        const bool from_file = file_playing && file_position < file_samples.size();
        mono.push_back(from_file ? file_samples[file_position++] : 0.0f);
      }
    } else if (capture) {
      interleaved.clear();
      capture->read(interleaved);
      if (!interleaved.empty()) resampler->process(interleaved, mono);
    }

    const float block_level = mono.empty() ? audio::kSilenceDbfs : audio::measure_level(mono).peak_dbfs;
    level = std::max(block_level, std::max(audio::kSilenceDbfs, level - kLevelDecayDbPerSecond * elapsed));
    level_dbfs_ = level;

    if (hands_free_ && !mono.empty()) {
      vad.push(mono);
      vad.take_segments();
      if (!recording && vad.in_speech() && listen_state_ == ListenState::kIdle && model_ready_ && !file_busy_) {
        hands_free_utterance = begin(editor::UtteranceMode::kDictation);
      }
    }

    if (recording) {
      if (!mono.empty()) {
        recorded_samples_ += static_cast<std::int64_t>(mono.size());
        worker_->push_audio(mono);
      }
      if (hands_free_utterance && !vad.in_speech()) end();
    } else {
      pre_roll.insert(pre_roll.end(), mono.begin(), mono.end());
      while (pre_roll.size() > pre_roll_samples) pre_roll.pop_front();
    }

    if (capture) {
      if (auto failure = capture->check_health()) {
        const double kept = recorded_seconds();
        const bool was_recording = recording;
        if (recording) end();
        post({EngineEvent::Kind::kNotice,
              was_recording ? fmt::format("The microphone stopped ({}); the {:.1f} s recorded before that are kept "
                                          "and transcribed.", *failure, kept)
                            : fmt::format("The microphone stopped ({}); reconnecting.", *failure)});
        capture.reset();
        last_capture_error = *failure;
        last_open_attempt = now;
      }
    }
  }
  if (recording && worker_) worker_->cancel();
}

void SpeechEngine::start_rewrite(editor::RewriteRequest request) {
  if (!model_ready_) {
    post({EngineEvent::Kind::kRewriteFailed, "No model is loaded, so rewrites are off."});
    return;
  }
  cancel_rewrite();
  // NOTE: this runs on the UI thread, which waits here for a cancelled rewrite to reach its
  // next token, so a command right after a rejected one can stall a frame by one token's time.
  if (rewrite_thread_.joinable()) rewrite_thread_.join();
  rewrite_cancel_ = false;
  rewrite_busy_ = true;
  rewrite_thread_ = std::thread([this, request = std::move(request)] {
    lower_inference_priority();
    const auto started = Clock::now();
    int pieces = 0;
    try {
      std::string result = rewriter_->generate_reply(request, [&](std::string_view piece) {
        ++pieces;
        post({EngineEvent::Kind::kRewritePiece, std::string(piece)});
        return !rewrite_cancel_.load();
      });
      const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      // NOTE: counts reply pieces, which equal tokens except where a character spans tokens.
      if (seconds > 0.0) rewrite_speed_ = pieces / seconds;
      EngineEvent event{rewrite_cancel_ ? EngineEvent::Kind::kRewriteFailed : EngineEvent::Kind::kRewriteDone,
                        rewrite_cancel_ ? std::string("The rewrite was cancelled.") : std::move(result)};
      event.cancelled = rewrite_cancel_.load();
      rewrite_busy_ = false;
      post(std::move(event));
    } catch (const std::exception& error) {
      rewrite_busy_ = false;
      post({EngineEvent::Kind::kRewriteFailed, fmt::format("The rewrite failed: {}", error.what())});
    }
  });
}

void SpeechEngine::cancel_rewrite() { rewrite_cancel_ = true; }

void SpeechEngine::transcribe_file(std::filesystem::path path) {
  if (!model_ready_) {
    post({EngineEvent::Kind::kFileDone, "No model is loaded, so audio files cannot be transcribed."});
    return;
  }
  if (file_busy_.exchange(true)) return;
  if (file_thread_.joinable()) file_thread_.join();
  file_cancel_ = false;
  file_thread_ = std::thread([this, path = std::move(path)] {
    lower_inference_priority();
    std::string text_so_far;
    EngineEvent done{EngineEvent::Kind::kFileDone, {}};
    try {
      // The session is shared with push-to-talk, which is refused while file_busy_ is set.
      worker_->wait_idle();
      cli::FileTranscriber transcriber(*session_);
      const cli::FileTranscript transcript = transcriber.transcribe(
          path,
          [&](double done_seconds, double total_seconds) {
            if (file_cancel_) throw FileCancelled{};
            EngineEvent progress{EngineEvent::Kind::kFileProgress, {}};
            progress.done = done_seconds;
            progress.total = total_seconds;
            post(std::move(progress));
          },
          [&](std::string_view piece) {
            if (file_cancel_) throw FileCancelled{};
            text_so_far += piece;
            post({EngineEvent::Kind::kFileText, std::string(piece)});
          });
      done.text = transcript.text();
      done.total = transcript.duration_seconds;
    } catch (const FileCancelled&) {
      // NOTE: the session may hold a half-decoded piece; cancel_utterance drops it.
      if (session_->utterance_open()) session_->cancel_utterance();
      done.text = text_so_far;
      done.cancelled = true;
    } catch (const std::exception& error) {
      if (session_->utterance_open()) session_->cancel_utterance();
      post({EngineEvent::Kind::kNotice,
            fmt::format("Failed to transcribe '{}': {}", path.string(), error.what())});
      done.text = text_so_far;
      done.cancelled = true;
    }
    file_busy_ = false;
    post(std::move(done));
  });
}

void SpeechEngine::cancel_file() { file_cancel_ = true; }

}  // namespace utter::app
