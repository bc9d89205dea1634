// The body of POST /v1/chat/completions, parsed and checked, and the prompt it renders to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "utter/inference/chat_prompt.h"
#include "utter/inference/sampler.h"

namespace utter::inference {
class Tokenizer;
}

namespace utter::server {

struct ChatRequestLimits {
  double max_clip_seconds = 30.0;  // per input_audio clip; the model is trained on up to 30 s
  size_t max_stop_sequences = 4;   // as OpenAI's API allows
};

struct ChatCompletionRequest {
  std::string model;
  std::vector<inference::ChatMessage> messages;
  std::vector<std::vector<float>> audio_clips;  // 16 kHz mono, in the order the audio parts appear
  std::optional<int> max_tokens;                // absent: the server's default
  inference::SamplingParams sampling;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

// Parses and checks a request body; throws ApiError (400) naming the field at fault. Audio
// parts are decoded here. Defaults: temperature 1, top_p 0.95, top_k 64 (the sampling Google
// recommends for Gemma and `utter generate`'s defaults besides temperature), a random seed.
ChatCompletionRequest parse_chat_request(std::string_view body, const ChatRequestLimits& limits);

// One stretch of the prompt: tokens, or the frames of one audio clip.
struct PromptPiece {
  std::vector<int32_t> tokens;
  int audio_clip = -1;  // index into ChatCompletionRequest::audio_clips, or -1 for tokens
  int64_t audio_frames = 0;
};

struct ChatPrompt {
  std::vector<PromptPiece> pieces;
  int64_t positions = 0;  // cache positions the prompt fills
  bool has_audio() const { return pieces.size() > 1; }
};

// Renders the messages in the Gemma 4 chat format and tokenizes them as `utter generate --chat`
// does. Each audio part becomes `<|audio>`, its frames and `<audio|>`, as in dictation.
// Throws ApiError when a text part contains the audio placeholder's literal text.
ChatPrompt build_chat_prompt(const inference::Tokenizer& tokenizer, const ChatCompletionRequest& request);

}  // namespace utter::server
