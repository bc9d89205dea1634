#include "server/engine.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/api_error.h"
#include "server/stop_sequences.h"
#include "utter/inference/audio_projector.h"
#include "utter/inference/dictation_session.h"
#include "utter/inference/inference_context.h"
#include "utter/inference/sampler.h"
#include "utter/inference/text_model.h"
#include "utter/inference/tokenizer.h"

namespace utter::server {
namespace {

// Audio frames embedded and decoded together, as the dictation session groups them, so a
// clip sent to the chat endpoint goes through the same computation as a transcription.
constexpr int kAudioGroupFrames = 8;

}  // namespace

Engine::Engine(const EngineOptions& options) : options_(options) {
  using namespace utter::inference;
  model_ = TextModel::load(options.model_path);
  if (!options.mmproj_path.empty()) projector_ = AudioProjector::load(options.mmproj_path, model_->config().n_embd);

  ContextOptions context_options;
  context_options.threads = options.threads;
  context_options.kv_cache_budget_bytes = options.kv_cache_budget_bytes;
  context_options.max_batch = 64;
  chat_context_ = std::make_unique<InferenceContext>(*model_, context_options);
  max_positions_ = chat_context_->max_positions();

  model_id_ = options.model_path.filename().string();
  if (model_id_.ends_with(".gguf")) model_id_.resize(model_id_.size() - 5);

  worker_ = std::thread([this] { worker_loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_changed_.notify_all();
  worker_.join();
}

const inference::Tokenizer& Engine::tokenizer() const { return model_->tokenizer(); }

void Engine::enqueue(std::function<void()> job) {
  {
    std::lock_guard lock(queue_mutex_);
    if (queue_.size() >= options_.max_queued_requests) {
      throw ApiError(503, fmt::format("the server is busy: {} requests are already waiting; retry later",
                                      queue_.size()),
                     "server_error", {}, "server_busy");
    }
    queue_.push_back(std::move(job));
  }
  queue_changed_.notify_one();
}

void Engine::worker_loop() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock lock(queue_mutex_);
      queue_changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      // Jobs still queued at shutdown run anyway: their callers are waiting for them.
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

template <typename Result>
Result Engine::run(std::function<Result()> job) {
  auto task = std::make_shared<std::packaged_task<Result()>>(std::move(job));
  std::future<Result> result = task->get_future();
  enqueue([task] { (*task)(); });
  return result.get();
}

ChatOutcome Engine::complete_chat(const ChatCompletionRequest& request, const ChatPrompt& prompt,
                                  const TextCallback& on_text) {
  if (prompt.has_audio() && !projector_) {
    throw invalid_request("this server was started without an audio projector (--mmproj), so it cannot take audio",
                          "messages", "audio_not_supported");
  }
  if (prompt.positions + 1 > max_positions_) {
    throw invalid_request(fmt::format("the prompt needs {} positions but the context has room for {}; shorten the "
                                      "conversation or start the server with a larger --kv-budget",
                                      prompt.positions, max_positions_),
                          "messages", "context_length_exceeded");
  }
  return run<ChatOutcome>([&] { return run_chat(request, prompt, on_text); });
}

std::span<const float> Engine::prefill_prompt(const ChatCompletionRequest& request, const ChatPrompt& prompt,
                                              int64_t& cached_positions) {
  inference::InferenceContext& context = *chat_context_;

  // Reuse the cached prefix of the first token stretch. Without audio it is the whole prompt,
  // whose last token is always recomputed so that its logits exist.
  const std::vector<int32_t>& first = prompt.pieces.front().tokens;
  const std::vector<int64_t>& history = context.history();
  size_t common = 0;
  while (common < history.size() && common < first.size() && history[common] == first[common]) ++common;
  if (!prompt.has_audio() && !first.empty()) common = std::min(common, first.size() - 1);
  cached_positions = context.truncate(static_cast<int64_t>(common));

  std::span<const float> logits;
  std::vector<float> frames;
  std::vector<float> embeddings;
  const size_t frame_samples = inference::AudioProjector::kFrameSamples;
  for (size_t i = 0; i < prompt.pieces.size(); ++i) {
    const PromptPiece& piece = prompt.pieces[i];
    if (piece.audio_clip < 0) {
      std::span<const int32_t> tokens(piece.tokens);
      if (i == 0) tokens = tokens.subspan(static_cast<size_t>(cached_positions));
      if (!tokens.empty()) logits = context.decode(tokens);
      continue;
    }
    // The last partial frame is padded with zeros, as the projector takes whole frames.
    frames = request.audio_clips[static_cast<size_t>(piece.audio_clip)];
    frames.resize(static_cast<size_t>(piece.audio_frames) * frame_samples, 0.0f);
    const size_t group_samples = kAudioGroupFrames * frame_samples;
    for (size_t begin = 0; begin < frames.size(); begin += group_samples) {
      const auto group = std::span<const float>(frames).subspan(begin, std::min(group_samples, frames.size() - begin));
      embeddings.resize(group.size() / frame_samples * static_cast<size_t>(projector_->n_embd()));
      projector_->project(group, embeddings);
      logits = context.decode_embeddings(embeddings);
    }
  }
  return logits;
}

ChatOutcome Engine::run_chat(const ChatCompletionRequest& request, const ChatPrompt& prompt,
                             const TextCallback& on_text) {
  const inference::Tokenizer& tokenizer = model_->tokenizer();
  inference::InferenceContext& context = *chat_context_;
  ChatOutcome outcome;
  outcome.prompt_tokens = prompt.positions;

  std::span<const float> logits = prefill_prompt(request, prompt, outcome.cached_tokens);

  inference::SamplingParams sampling = request.sampling;
  sampling.suppressed_tokens = tokenizer.suppressed_tokens();
  inference::Sampler sampler(sampling);
  inference::Utf8StreamDecoder utf8;
  StopSequenceFilter stop_filter(request.stop);
  const int64_t max_tokens = request.max_tokens.value_or(options_.default_max_tokens);

  // The same loop as `utter generate`, so equal settings give equal tokens.
  outcome.finish_reason = "length";
  for (int64_t i = 0; i < max_tokens; ++i) {
    const int32_t token = sampler.sample(logits);
    if (tokenizer.is_end_of_generation(token)) {
      outcome.finish_reason = "stop";
      break;
    }
    outcome.tokens.push_back(token);
    const std::string text = stop_filter.push(utf8.push(tokenizer.token_piece(token)));
    outcome.text += text;
    if (on_text && !on_text(text)) {
      outcome.finish_reason = "cancelled";
      break;
    }
    if (stop_filter.stopped()) {
      outcome.finish_reason = "stop";
      break;
    }
    if (i + 1 >= max_tokens || context.position() + 1 > context.max_positions()) break;
    logits = context.decode(std::span<const int32_t>(&token, 1));
  }

  if (outcome.finish_reason != "cancelled") {
    std::string tail = stop_filter.push(utf8.flush());
    tail += stop_filter.flush();
    outcome.text += tail;
    if (on_text && !tail.empty() && !on_text(tail)) outcome.finish_reason = "cancelled";
  }
  return outcome;
}

cli::FileTranscript Engine::transcribe(const std::filesystem::path& path, const TranscriptionSettings& settings,
                                       const CancelCheck& is_cancelled) {
  if (!projector_) {
    throw invalid_request("this server was started without an audio projector (--mmproj), so it cannot transcribe",
                          "file", "audio_not_supported");
  }
  return run<cli::FileTranscript>([&] {
    using namespace utter::inference;
    // The session keeps its cache and threads between requests with the same settings.
    if (!transcription_session_ || !(transcription_settings_ == settings)) {
      transcription_session_.reset();
      DictationOptions session_options;
      session_options.system_prompt = settings.system_prompt;
      session_options.instruction = settings.instruction;
      session_options.sampling.temperature = settings.temperature;
      session_options.sampling.seed = settings.seed;
      session_options.max_transcript_tokens = settings.max_tokens;
      session_options.threads = options_.threads;
      transcription_session_ = std::make_unique<DictationSession>(*model_, *projector_, session_options);
      transcription_settings_ = settings;
    }
    cli::FileTranscriber transcriber(*transcription_session_);
    // Throwing out of the callbacks ends the file early; the next file resets the session.
    auto check = [&] {
      if (is_cancelled && is_cancelled()) throw RequestCancelled();
    };
    return transcriber.transcribe(path, [&](double, double) { check(); }, [&](std::string_view) { check(); });
  });
}

}  // namespace utter::server
