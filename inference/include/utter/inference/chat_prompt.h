// Renders conversations in the Gemma 4 instruction-tuned chat format.
//
// The output is text that starts with the literal `<bos>`, to be encoded with
// `Tokenizer::encode(text, /*add_bos=*/false, /*parse_special=*/true)`. It matches what the
// model's Jinja chat template renders for text and audio content (no tools, no images):
//
//   <bos>[<|turn>system\n[<|think|>\n]SYSTEM<turn|>\n]
//   <|turn>user\nUSER<turn|>\n
//   <|turn>model\n<|channel>thought\n<channel|>MODEL<turn|>\n       (history, thinking off)
//   <|turn>model\n<|channel>thought\n<channel|>                     (generation prompt)
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace utter::inference {

// Marker for one audio clip; the audio session replaces its token with `<|audio>`, the clip's
// embeddings and `<audio|>`.
inline constexpr std::string_view kAudioPlaceholder = "<|audio|>";

enum class ChatRole { System, User, Model };

// Parses "system" (or "developer"), "user" and "model" (or "assistant"); throws
// std::invalid_argument naming the value otherwise.
ChatRole parse_chat_role(std::string_view name);
std::string_view chat_role_name(ChatRole role);

struct ChatPart {
  enum class Kind { Text, Audio };
  Kind kind = Kind::Text;
  std::string text;  // empty for audio

  static ChatPart from_text(std::string text) { return {Kind::Text, std::move(text)}; }
  static ChatPart audio() { return {Kind::Audio, {}}; }
};

struct ChatMessage {
  ChatRole role = ChatRole::User;
  std::vector<ChatPart> parts;
};

struct ChatPromptOptions {
  // Off: the prompt ends with an empty thought channel, so the model answers directly.
  // On: a system turn starts with `<|think|>` and the model writes its reasoning first.
  bool thinking = false;
  // Ends the text with the opening of a model turn, for generation.
  bool add_generation_prompt = true;
};

// Renders `messages` in order. Text parts are trimmed of leading and trailing whitespace, thought
// blocks (`<|channel>...<channel|>`) are removed from model turns, and parts are joined without
// separators. A first system message shares the system turn with `<|think|>`; a later one gets
// a system turn of its own, as the template renders it.
std::string render_chat_prompt(std::span<const ChatMessage> messages,
                               const ChatPromptOptions& options = {});

// Collects messages and renders them with render_chat_prompt.
class ChatPromptBuilder {
 public:
  ChatPromptBuilder& add(ChatMessage message);
  ChatPromptBuilder& add_text(ChatRole role, std::string text);
  // Adds a user turn with one audio clip followed by an instruction text.
  ChatPromptBuilder& add_user_audio(std::string instruction);

  const std::vector<ChatMessage>& messages() const { return messages_; }
  std::string render(const ChatPromptOptions& options = {}) const;

 private:
  std::vector<ChatMessage> messages_;
};

}  // namespace utter::inference
