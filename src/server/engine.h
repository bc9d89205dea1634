// The one worker that owns the model. HTTP handler threads hand it requests through a queue
// and wait for their results, so the model is loaded once and runs one request at a time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/file_transcriber.h"
#include "server/chat_request.h"

namespace utter::inference {
class AudioProjector;
class DictationSession;
class InferenceContext;
class TextModel;
class Tokenizer;
}  // namespace utter::inference

namespace utter::server {

struct EngineOptions {
  std::filesystem::path model_path;
  std::filesystem::path mmproj_path;  // empty: the server handles text only
  int threads = 0;                    // 0: one per hardware thread
  uint64_t kv_cache_budget_bytes = 4096ull << 20;
  size_t max_queued_requests = 64;    // requests waiting beyond this get 503
  int default_max_tokens = 4096;      // for chat requests without max_tokens
};

struct ChatOutcome {
  std::string text;             // after stop sequences are cut off
  std::vector<int32_t> tokens;  // generated, without the end-of-turn token
  std::string finish_reason;    // "stop" or "length"; "cancelled" when the client went away
  int64_t prompt_tokens = 0;    // cache positions of the prompt (audio frames included)
  int64_t cached_tokens = 0;    // prompt positions reused from the previous request
};

struct TranscriptionSettings {
  std::string system_prompt;
  std::string instruction;
  float temperature = 0.0f;
  uint64_t seed = 0;
  int max_tokens = 448;  // per piece of at most 30 s

  bool operator==(const TranscriptionSettings&) const = default;
};

// Thrown out of a job whose client went away.
class RequestCancelled : public std::runtime_error {
 public:
  RequestCancelled() : std::runtime_error("the client closed the connection") {}
};

class Engine {
 public:
  // Receives each piece of generated text (possibly empty) on the engine thread; returns
  // false to stop generation because the client is gone.
  using TextCallback = std::function<bool(std::string_view text)>;
  // Returns true when the client is gone and the work should stop.
  using CancelCheck = std::function<bool()>;

  // Loads the model (and the projector when given); throws std::runtime_error naming the file.
  explicit Engine(const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const inference::Tokenizer& tokenizer() const;
  bool has_audio() const { return projector_ != nullptr; }
  // The name /v1/models lists: the model file's name without ".gguf".
  const std::string& model_id() const { return model_id_; }
  int64_t max_positions() const { return max_positions_; }

  // Generates a chat answer; throws ApiError for a prompt that does not fit the context or
  // when the queue is full. Blocks until the request has had its turn.
  ChatOutcome complete_chat(const ChatCompletionRequest& request, const ChatPrompt& prompt,
                            const TextCallback& on_text);

  // Transcribes an audio file as `utter transcribe` does; throws RequestCancelled when
  // `is_cancelled` turns true, audio::AudioError for undecodable audio.
  cli::FileTranscript transcribe(const std::filesystem::path& path, const TranscriptionSettings& settings,
                                 const CancelCheck& is_cancelled);

 private:
  // Queues `job`, waits for it on the calling thread and returns its result or rethrows.
  template <typename Result>
  Result run(std::function<Result()> job);
  void enqueue(std::function<void()> job);
  void worker_loop();

  ChatOutcome run_chat(const ChatCompletionRequest& request, const ChatPrompt& prompt, const TextCallback& on_text);
  std::span<const float> prefill_prompt(const ChatCompletionRequest& request, const ChatPrompt& prompt,
                                        int64_t& cached_positions);

  EngineOptions options_;
  std::unique_ptr<inference::TextModel> model_;
  std::unique_ptr<inference::AudioProjector> projector_;
  std::unique_ptr<inference::InferenceContext> chat_context_;
  std::unique_ptr<inference::DictationSession> transcription_session_;
  TranscriptionSettings transcription_settings_;
  std::string model_id_;
  int64_t max_positions_ = 0;

  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace utter::server
