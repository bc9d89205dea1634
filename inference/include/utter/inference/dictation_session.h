// A streaming dictation conversation with the model.
//
// Each utterance is one user turn holding audio followed by the transcription instruction,
// answered by a model turn holding the transcript. Audio is embedded and prefilled into the
// key/value cache while the person is still speaking, so ending an utterance only has to
// close the turn and decode the transcript. Utterances continue one conversation in one
// cache, so earlier transcripts inform later ones; when the cache budget runs out the session
// restarts from its system prompt with the most recent transcript text as context.
//
// Frames are prefilled in fixed groups counted from the start of the utterance, so the
// computation (and so every token) is the same however the audio is split into pushes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "utter/inference/sampler.h"

namespace utter::inference {

class AudioProjector;
class InferenceContext;
class TextModel;

struct DictationOptions {
  std::string system_prompt;  // empty: no system turn
  std::string instruction = "Transcribe this audio.";
  int prefill_group_frames = 8;       // audio frames prefilled together as soon as they arrive
  int max_transcript_tokens = 448;    // per utterance
  SamplingParams sampling;            // temperature 0 (greedy) by default
  int threads = 0;                    // 0: one per core
  uint64_t kv_cache_budget_bytes = 1ull << 30;
  int max_batch = 64;
  size_t compaction_context_chars = 2000;  // transcript text carried over when the cache is full
  // The conversation restarts (as when the cache budget is reached) before it would grow past
  // this many positions, so that attention over old audio never slows long dictation down.
  // 0 leaves only the budget as the limit.
  int64_t max_context_positions = 4096;
};

struct UtteranceResult {
  std::string text;             // the transcript, trimmed of surrounding whitespace
  std::vector<int32_t> tokens;  // the generated tokens, without the end-of-turn token
  int64_t audio_frames = 0;
  int64_t audio_samples = 0;
  bool stopped_by_limit = false;  // max_transcript_tokens reached before an end-of-turn token
  bool cancelled = false;         // the token callback asked to stop
  double finish_seconds = 0.0;    // from end_utterance() to the last token
};

class DictationSession {
 public:
  // Receives each piece of transcript text as soon as it is complete UTF-8; returns false to
  // stop decoding.
  using TokenCallback = std::function<bool(std::string_view text, int32_t token)>;

  DictationSession(const TextModel& model, const AudioProjector& projector, DictationOptions options);
  ~DictationSession();

  // Opens a user turn with an audio block. Throws std::logic_error if one is already open.
  void begin_utterance();
  // Adds 16 kHz mono samples (any count); complete frame groups are prefilled at once.
  void push_audio(std::span<const float> samples);
  // Pads and prefills the remaining audio, closes the turn with the instruction, decodes the
  // transcript, and leaves it in the conversation for the next utterance.
  UtteranceResult end_utterance(const TokenCallback& on_token = {});
  // Drops the open utterance as if it had not been spoken.
  void cancel_utterance();
  // Forgets the whole conversation.
  void reset();

  bool utterance_open() const { return utterance_open_; }
  int64_t cache_position() const;
  const InferenceContext& context() const { return *context_; }
  // Times the conversation restarted because the cache budget was reached.
  int compactions() const { return compactions_; }

 private:
  void start_conversation();
  void compact();
  int64_t context_limit() const;
  void ensure_room(int64_t positions);
  void open_turn();
  void prefill_frames(std::span<const float> samples, bool count_frames);
  void prefill_text(std::string_view text);

  const TextModel& model_;
  const AudioProjector& projector_;
  DictationOptions options_;
  std::unique_ptr<InferenceContext> context_;

  bool conversation_started_ = false;
  bool turn_needs_closing_ = false;   // the last model turn still lacks its end-of-turn marker
  bool closing_before_utterance_ = false;
  bool utterance_open_ = false;
  int64_t utterance_start_ = 0;       // cache position before the open utterance
  std::vector<float> pending_samples_;  // samples not yet part of a prefilled frame group
  std::vector<float> utterance_audio_;  // prefilled samples of the open utterance, for replay
  int64_t utterance_samples_ = 0;
  int64_t utterance_frames_ = 0;
  std::string transcript_context_;    // recent transcripts, carried over by compaction
  int compactions_ = 0;
};

}  // namespace utter::inference
