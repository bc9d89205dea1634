#include "utter/inference/dictation_session.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "kv_cache.h"
#include "utter/inference/audio_projector.h"
#include "utter/inference/chat_prompt.h"
#include "utter/inference/inference_context.h"
#include "utter/inference/text_model.h"
#include "utter/inference/tokenizer.h"

namespace utter::inference {
namespace {

// Closes a model turn in the Gemma 4 chat format.
constexpr std::string_view kEndOfTurn = "<turn|>\n";
constexpr std::string_view kAudioStart = "<|audio>";
constexpr std::string_view kAudioEnd = "<audio|>";

struct TurnText {
  std::string before_audio;  // up to and including "<|turn>user\n"
  std::string after_audio;   // the instruction and the opening of the model turn
};

// Renders one audio turn with the chat builder and splits it at the audio placeholder.
TurnText render_audio_turn(const std::string& system_prompt, const std::string& instruction, bool first_turn) {
  ChatPromptBuilder builder;
  if (first_turn && !system_prompt.empty()) builder.add_text(ChatRole::System, system_prompt);
  builder.add_user_audio(instruction);
  std::string text = builder.render();
  const size_t placeholder = text.find(kAudioPlaceholder);
  if (placeholder == std::string::npos) throw std::logic_error("the chat prompt lost its audio placeholder");

  TurnText turn;
  turn.before_audio = text.substr(0, placeholder);
  turn.after_audio = text.substr(placeholder + kAudioPlaceholder.size());
  // Later turns continue the conversation already in the cache, which began with <bos>.
  constexpr std::string_view kBos = "<bos>";
  if (!first_turn && turn.before_audio.starts_with(kBos)) turn.before_audio.erase(0, kBos.size());
  return turn;
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

}  // namespace

DictationSession::DictationSession(const TextModel& model, const AudioProjector& projector, DictationOptions options)
    : model_(model), projector_(projector), options_(std::move(options)) {
  if (projector_.n_embd() != model_.config().n_embd) {
    throw std::invalid_argument("the audio projector and the text model have different hidden sizes");
  }
  options_.prefill_group_frames = std::clamp(options_.prefill_group_frames, 1, options_.max_batch);
  ContextOptions context_options;
  context_options.threads = options_.threads;
  context_options.kv_cache_budget_bytes = options_.kv_cache_budget_bytes;
  context_options.max_batch = options_.max_batch;
  context_ = std::make_unique<InferenceContext>(model_, context_options);
  if (options_.sampling.suppressed_tokens.empty()) {
    options_.sampling.suppressed_tokens = model_.tokenizer().suppressed_tokens();
  }
}

DictationSession::~DictationSession() = default;

int64_t DictationSession::cache_position() const { return context_->position(); }

void DictationSession::prefill_text(std::string_view text) {
  const std::vector<int32_t> tokens = model_.tokenizer().encode(text, /*add_bos=*/false, /*parse_special=*/true);
  context_->decode(tokens);
}

void DictationSession::start_conversation() {
  context_->clear();
  conversation_started_ = true;
  turn_needs_closing_ = false;
}

void DictationSession::compact() {
  // Restart the conversation with the recent transcript as written context. The audio of
  // earlier turns is not kept, so it is their text that carries over.
  ++compactions_;
  start_conversation();
  std::string system = options_.system_prompt;
  if (!transcript_context_.empty()) {
    if (!system.empty()) system += "\n\n";
    system += "Text dictated so far:\n" + transcript_context_;
  }
  if (system.empty()) return;
  ChatPromptBuilder builder;
  builder.add_text(ChatRole::System, system);
  ChatPromptOptions no_generation;
  no_generation.add_generation_prompt = false;
  prefill_text(builder.render(no_generation));
}

int64_t DictationSession::context_limit() const {
  const int64_t budget = context_->max_positions();
  return options_.max_context_positions > 0 ? std::min(budget, options_.max_context_positions) : budget;
}

void DictationSession::ensure_room(int64_t positions) {
  int64_t limit = context_limit();
  // An utterance that alone outgrows the soft context limit may use the whole budget:
  // restarting would only replay it again and again.
  if (utterance_open_ && context_->position() - utterance_start_ + positions > limit / 2) {
    limit = context_->max_positions();
  }
  if (context_->position() + positions <= limit) return;

  const bool reopen = utterance_open_;
  compact();
  if (reopen) {
    // Replay the open utterance: its turn opening and the audio prefilled so far.
    utterance_start_ = context_->position();
    closing_before_utterance_ = false;
    open_turn();
    prefill_frames(utterance_audio_, /*count_frames=*/false);
  }
  if (context_->position() + positions > context_->max_positions()) {
    throw ContextFullError(fmt::format(
        "the key/value cache budget has room for {} positions, too few for this utterance and its transcript; raise the "
        "budget",
        context_->max_positions()));
  }
}

void DictationSession::open_turn() {
  const bool continuing = context_->position() > 0;
  TurnText turn = render_audio_turn(options_.system_prompt, options_.instruction, !continuing);
  std::string opening;
  if (turn_needs_closing_ && continuing) opening += kEndOfTurn;
  opening += turn.before_audio;
  opening += kAudioStart;
  prefill_text(opening);
  turn_needs_closing_ = false;
}

void DictationSession::begin_utterance() {
  if (utterance_open_) throw std::logic_error("begin_utterance() called while an utterance is open");
  if (!conversation_started_) start_conversation();

  // Room for a 30 s utterance (750 frames) and its transcript; longer audio compacts again as
  // it arrives.
  ensure_room(750 + options_.max_transcript_tokens + 64);

  utterance_start_ = context_->position();
  closing_before_utterance_ = turn_needs_closing_;
  open_turn();

  utterance_open_ = true;
  pending_samples_.clear();
  utterance_audio_.clear();
  utterance_samples_ = 0;
  utterance_frames_ = 0;
}

void DictationSession::prefill_frames(std::span<const float> samples, bool count_frames) {
  const int64_t n_frames = static_cast<int64_t>(samples.size() / AudioProjector::kFrameSamples);
  if (n_frames == 0) return;
  // Batches of up to max_batch frames: each batch reads every weight once.
  const size_t batch_samples = static_cast<size_t>(options_.max_batch) * AudioProjector::kFrameSamples;
  std::vector<float> embeddings;
  for (size_t begin = 0; begin < samples.size(); begin += batch_samples) {
    const auto group = samples.subspan(begin, std::min(batch_samples, samples.size() - begin));
    embeddings.resize(group.size() / AudioProjector::kFrameSamples * projector_.n_embd());
    projector_.project(group, embeddings);
    context_->decode_embeddings(embeddings);
  }
  if (count_frames) {
    utterance_frames_ += n_frames;
    utterance_audio_.insert(utterance_audio_.end(), samples.begin(), samples.end());
  }
}

void DictationSession::push_audio(std::span<const float> samples) {
  if (!utterance_open_) throw std::logic_error("push_audio() called without an open utterance");
  pending_samples_.insert(pending_samples_.end(), samples.begin(), samples.end());
  utterance_samples_ += static_cast<int64_t>(samples.size());

  // Whole groups are prefilled as they complete. When audio arrives faster than it is
  // prefilled, the waiting groups go through together, up to max_batch frames. A batch costs
  // little more than one group because reading the weights dominates, so a session that
  // falls behind catches up instead of falling further behind.
  const size_t group_samples = static_cast<size_t>(options_.prefill_group_frames) * AudioProjector::kFrameSamples;
  const size_t groups_per_batch = static_cast<size_t>(std::max(1, options_.max_batch / options_.prefill_group_frames));
  size_t consumed = 0;
  while (pending_samples_.size() - consumed >= group_samples) {
    const size_t groups = std::min((pending_samples_.size() - consumed) / group_samples, groups_per_batch);
    const size_t batch = groups * group_samples;
    ensure_room(static_cast<int64_t>(batch / AudioProjector::kFrameSamples) + options_.max_transcript_tokens + 64);
    prefill_frames(std::span<const float>(pending_samples_).subspan(consumed, batch), true);
    consumed += batch;
  }
  pending_samples_.erase(pending_samples_.begin(), pending_samples_.begin() + static_cast<std::ptrdiff_t>(consumed));
}

UtteranceResult DictationSession::end_utterance(const TokenCallback& on_token) {
  if (!utterance_open_) throw std::logic_error("end_utterance() called without an open utterance");
  const auto start = std::chrono::steady_clock::now();
  UtteranceResult result;

  // The last partial frame is padded with zeros, as the projector expects whole frames.
  const size_t frame = AudioProjector::kFrameSamples;
  if (!pending_samples_.empty()) pending_samples_.resize((pending_samples_.size() + frame - 1) / frame * frame, 0.0f);
  if (utterance_samples_ == 0) {
    cancel_utterance();
    throw std::invalid_argument("the utterance contains no audio; push samples before ending it");
  }
  ensure_room(static_cast<int64_t>(pending_samples_.size() / frame) + options_.max_transcript_tokens + 64);
  prefill_frames(pending_samples_, true);
  pending_samples_.clear();

  const TurnText turn = render_audio_turn(options_.system_prompt, options_.instruction, false);
  const std::vector<int32_t> closing =
      model_.tokenizer().encode(std::string(kAudioEnd) + turn.after_audio, /*add_bos=*/false, /*parse_special=*/true);
  std::span<const float> logits = context_->decode(closing);
  utterance_open_ = false;

  const Tokenizer& tokenizer = model_.tokenizer();
  Sampler sampler(options_.sampling);
  Utf8StreamDecoder utf8;
  std::string raw_text;
  for (int step = 0;; ++step) {
    if (step >= options_.max_transcript_tokens) {
      result.stopped_by_limit = true;
      break;
    }
    const int32_t token = sampler.sample(logits);
    if (tokenizer.is_end_of_generation(token)) break;
    result.tokens.push_back(token);
    const std::string piece = utf8.push(tokenizer.token_piece(token));
    raw_text += piece;
    if (on_token && !on_token(piece, token)) {
      result.cancelled = true;
      context_->decode(std::span<const int32_t>(&token, 1));
      break;
    }
    // The cache must not run out in the middle of a transcript: compaction would lose it.
    if (context_->position() + 1 > context_->max_positions()) {
      result.stopped_by_limit = true;
      break;
    }
    logits = context_->decode(std::span<const int32_t>(&token, 1));
  }
  const std::string tail = utf8.flush();
  raw_text += tail;
  if (on_token && !tail.empty() && !result.cancelled) on_token(tail, -1);

  turn_needs_closing_ = true;
  result.text = trim(raw_text);
  result.audio_frames = utterance_frames_;
  result.audio_samples = utterance_samples_;
  result.finish_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (!result.text.empty()) {
    if (!transcript_context_.empty()) transcript_context_ += ' ';
    transcript_context_ += result.text;
    if (transcript_context_.size() > options_.compaction_context_chars) {
      size_t cut = transcript_context_.size() - options_.compaction_context_chars;
      // Cut at a character boundary: skip UTF-8 continuation bytes.
      while (cut < transcript_context_.size() && (static_cast<unsigned char>(transcript_context_[cut]) & 0xC0) == 0x80) {
        ++cut;
      }
      transcript_context_.erase(0, cut);
    }
  }
  return result;
}

void DictationSession::cancel_utterance() {
  if (!utterance_open_) return;
  utterance_open_ = false;
  pending_samples_.clear();
  utterance_audio_.clear();
  if (context_->truncate(utterance_start_) == utterance_start_) {
    turn_needs_closing_ = closing_before_utterance_;
    return;
  }
  // The sliding-window layers no longer hold the start of the utterance, so the cache was
  // cleared: restart from the written context.
  compact();
}

void DictationSession::reset() {
  utterance_open_ = false;
  pending_samples_.clear();
  utterance_audio_.clear();
  transcript_context_.clear();
  conversation_started_ = false;
  turn_needs_closing_ = false;
  context_->clear();
}

}  // namespace utter::inference
