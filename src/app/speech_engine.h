// Everything the editor window asks of audio and the model, off the UI thread: loading the
// model in the background, an audio thread that keeps the input open with a pre-roll, the
// inference worker that decodes utterances, command-mode rewrites and audio-file
// transcription. Results come back as events that the UI thread drains once per frame.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "utter/editor/dictation_controller.h"
#include "utter/editor/rewrite.h"

namespace utter::inference {
class TextModel;
class AudioProjector;
class DictationSession;
}  // namespace utter::inference

namespace utter::cli {
class SessionWorker;
class ModelRewriter;
}  // namespace utter::cli

namespace utter::app {

struct EngineEvent {
  enum class Kind {
    kModelLoaded,      // text: a summary of the model
    kModelMissing,     // text: where the files were looked for and how to get them
    kModelFailed,      // text: the error
    kTranscriptPiece,  // text: more of the transcript being decoded; mode: how it was spoken
    kUtteranceDone,    // text: the whole transcript; mode: how it was spoken
    kRewritePiece,     // text: more of the rewrite reply
    kRewriteDone,      // text: the model's whole reply, not yet cleaned
    kRewriteFailed,    // text: the error
    kFileProgress,     // done/total: seconds of audio transcribed
    kFileText,         // text: a finished piece of a file's transcript
    kFileDone,         // text: a summary; cancelled when stopped by the person
    kNotice,           // text: a line for the status bar (device lost, errors)
  };
  Kind kind = Kind::kNotice;
  std::string text;
  editor::UtteranceMode mode = editor::UtteranceMode::kDictation;
  double done = 0.0;
  double total = 0.0;
  double audio_seconds = 0.0;  // kUtteranceDone: the audio the utterance held, pre-roll included
  double finish_seconds = 0.0;  // kUtteranceDone: from the end of the utterance to its last token
  bool cancelled = false;
};

struct EngineOptions {
  std::string model;         // command-line or settings paths; empty: the usual search
  std::string mmproj;
  std::string input_device;  // empty: the system default
  std::filesystem::path audio_input;  // a file that stands in for the microphone
  bool hands_free = false;
  int threads = 0;
};

// Facts about the loaded model for the About window.
struct ModelSummary {
  std::filesystem::path model_path;
  std::filesystem::path mmproj_path;
  std::uintmax_t model_bytes = 0;
  std::uintmax_t mmproj_bytes = 0;
  std::string weight_type;
  int layers = 0;
  int embedding_size = 0;
  double load_seconds = 0.0;
};

enum class ListenState { kIdle, kListening, kDecoding };

class SpeechEngine {
 public:
  // wake is called from any thread after an event is queued, so the UI can leave its wait.
  SpeechEngine(EngineOptions options, std::function<void()> wake);
  ~SpeechEngine();
  SpeechEngine(const SpeechEngine&) = delete;
  SpeechEngine& operator=(const SpeechEngine&) = delete;

  // Starts loading the model and opening the audio input on background threads.
  void start();

  // Push-to-talk. press() includes the pre-roll; release() ends the utterance and decodes it.
  // Both return at once; the audio thread carries them out.
  void press(editor::UtteranceMode mode);
  void release();
  // Drops the utterance being recorded or stops the transcript being decoded.
  void cancel_utterance();
  void set_hands_free(bool hands_free);

  // Rewrites on a background thread; the reply arrives as kRewritePiece/kRewriteDone events.
  void start_rewrite(editor::RewriteRequest request);
  void cancel_rewrite();

  // Transcribes an audio file on a background thread; push-to-talk waits until it is done.
  void transcribe_file(std::filesystem::path path);
  void cancel_file();

  std::vector<EngineEvent> take_events();

  bool model_ready() const { return model_ready_.load(); }
  bool loading() const { return loading_.load(); }
  std::string loading_stage() const;
  double loading_seconds() const;
  std::optional<ModelSummary> model_summary() const;
  ListenState listen_state() const { return listen_state_.load(); }
  bool file_busy() const { return file_busy_.load(); }
  bool rewrite_busy() const { return rewrite_busy_.load(); }
  // Input level in dBFS (decaying peak) and seconds recorded in the open utterance.
  float level_dbfs() const { return level_dbfs_.load(); }
  double recorded_seconds() const { return recorded_samples_.load() / 16000.0; }
  std::string input_name() const;
  // Tokens per second of the last transcript and the last rewrite; 0 before the first.
  double transcript_tokens_per_second() const { return transcript_speed_.load(); }
  double rewrite_tokens_per_second() const { return rewrite_speed_.load(); }

 private:
  struct AudioCommand {
    enum class Kind { kPress, kRelease, kCancel } kind;
    editor::UtteranceMode mode;
  };

  void post(EngineEvent event);
  void load_model();
  void audio_loop();
  void set_stage(std::string stage);

  EngineOptions options_;
  std::function<void()> wake_;

  std::unique_ptr<inference::TextModel> model_;
  std::unique_ptr<inference::AudioProjector> projector_;
  std::unique_ptr<inference::DictationSession> session_;
  std::unique_ptr<cli::SessionWorker> worker_;
  std::unique_ptr<cli::ModelRewriter> rewriter_;
  std::optional<ModelSummary> summary_;

  mutable std::mutex mutex_;  // guards events_, stage_, summary_, commands_, input_name_
  std::vector<EngineEvent> events_;
  std::vector<AudioCommand> commands_;
  std::string stage_;
  std::string input_name_;
  std::chrono::steady_clock::time_point load_started_{};

  std::atomic<bool> model_ready_{false};
  std::atomic<bool> loading_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<ListenState> listen_state_{ListenState::kIdle};
  std::atomic<editor::UtteranceMode> utterance_mode_{editor::UtteranceMode::kDictation};
  std::atomic<bool> hands_free_{false};
  std::atomic<float> level_dbfs_{-120.0f};
  std::atomic<std::int64_t> recorded_samples_{0};
  std::atomic<bool> file_busy_{false};
  std::atomic<bool> file_cancel_{false};
  std::atomic<bool> rewrite_busy_{false};
  std::atomic<bool> rewrite_cancel_{false};
  std::atomic<double> transcript_speed_{0.0};
  std::atomic<double> rewrite_speed_{0.0};

  std::thread load_thread_;
  std::thread audio_thread_;
  std::thread rewrite_thread_;
  std::thread file_thread_;
};

}  // namespace utter::app
