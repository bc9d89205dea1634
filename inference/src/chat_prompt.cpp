// Gemma 4 chat format. The rules follow the model's Jinja chat template: `| trim` on text,
// `strip_thinking` on model text, the empty thought channel when thinking is off.
#include "utter/inference/chat_prompt.h"

#include <cstdint>

namespace utter::inference {

namespace {

constexpr std::string_view kBos = "<bos>";
constexpr std::string_view kTurnStart = "<|turn>";
constexpr std::string_view kTurnEnd = "<turn|>\n";
constexpr std::string_view kThink = "<|think|>\n";
constexpr std::string_view kChannelStart = "<|channel>";
constexpr std::string_view kChannelEnd = "<channel|>";
constexpr std::string_view kEmptyThought = "<|channel>thought\n<channel|>";

// Code points that Python's str.isspace() accepts, which is what Jinja's `trim` removes.
bool is_python_whitespace(uint32_t code_point) {
  if (code_point >= 0x09 && code_point <= 0x0D) return true;
  if (code_point >= 0x1C && code_point <= 0x20) return true;
  if (code_point >= 0x2000 && code_point <= 0x200A) return true;
  switch (code_point) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return true;
    default: return false;
  }
}

// Decodes the well-formed UTF-8 character of `length` bytes at `pos`; returns false otherwise.
bool decode_at(std::string_view text, size_t pos, size_t length, uint32_t& code_point) {
  if (pos + length > text.size()) return false;
  const auto lead = static_cast<unsigned char>(text[pos]);
  static constexpr unsigned char kLeadMask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  if (length == 1) {
    if (lead >= 0x80) return false;
    code_point = lead;
    return true;
  }
  static constexpr unsigned char kLeadPrefix[5] = {0, 0, 0xC0, 0xE0, 0xF0};
  const unsigned char expected_prefix = kLeadPrefix[length];
  if ((lead & ~kLeadMask[length]) != expected_prefix) return false;
  code_point = lead & kLeadMask[length];
  for (size_t i = 1; i < length; ++i) {
    const auto byte = static_cast<unsigned char>(text[pos + i]);
    if ((byte & 0xC0) != 0x80) return false;
    code_point = (code_point << 6) | (byte & 0x3F);
  }
  return true;
}

// Length of the whitespace character that starts `text`, 0 if none.
size_t leading_whitespace_length(std::string_view text) {
  for (size_t length = 1; length <= 3; ++length) {
    uint32_t code_point = 0;
    if (decode_at(text, 0, length, code_point)) return is_python_whitespace(code_point) ? length : 0;
  }
  return 0;
}

// Length of the whitespace character that ends `text`, 0 if none.
size_t trailing_whitespace_length(std::string_view text) {
  for (size_t length = 1; length <= 3 && length <= text.size(); ++length) {
    uint32_t code_point = 0;
    if (decode_at(text, text.size() - length, length, code_point)) {
      return is_python_whitespace(code_point) ? length : 0;
    }
  }
  return 0;
}

std::string_view trim(std::string_view text) {
  while (const size_t length = leading_whitespace_length(text)) text.remove_prefix(length);
  while (const size_t length = trailing_whitespace_length(text)) text.remove_suffix(length);
  return text;
}

// Removes thought blocks from model text: of every piece that ends in `<channel|>`, only the
// part before `<|channel>` stays. The result is trimmed.
std::string strip_thinking(std::string_view text) {
  std::string visible;
  size_t pos = 0;
  while (true) {
    const size_t end = text.find(kChannelEnd, pos);
    const std::string_view piece =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    visible += piece.substr(0, piece.find(kChannelStart));
    if (end == std::string_view::npos) break;
    pos = end + kChannelEnd.size();
  }
  return std::string(trim(visible));
}

void render_parts(const ChatMessage& message, std::string& out) {
  for (const ChatPart& part : message.parts) {
    if (part.kind == ChatPart::Kind::Audio) {
      out += kAudioPlaceholder;
    } else if (message.role == ChatRole::Model) {
      out += strip_thinking(part.text);
    } else {
      out += trim(part.text);
    }
  }
}

}  // namespace

ChatRole parse_chat_role(std::string_view name) {
  if (name == "system" || name == "developer") return ChatRole::System;
  if (name == "user") return ChatRole::User;
  if (name == "model" || name == "assistant") return ChatRole::Model;
  throw std::invalid_argument("unknown chat role '" + std::string(name) +
                              "'; expected system, developer, user, model or assistant");
}

std::string_view chat_role_name(ChatRole role) {
  switch (role) {
    case ChatRole::System: return "system";
    case ChatRole::User: return "user";
    case ChatRole::Model: return "model";
  }
  return "user";
}

std::string render_chat_prompt(std::span<const ChatMessage> messages,
                               const ChatPromptOptions& options) {
  std::string out(kBos);
  size_t first = 0;
  const bool leading_system = !messages.empty() && messages.front().role == ChatRole::System;
  if (options.thinking || leading_system) {
    out += kTurnStart;
    out += "system\n";
    if (options.thinking) out += kThink;
    if (leading_system) {
      render_parts(messages.front(), out);
      first = 1;
    }
    out += kTurnEnd;
  }

  for (const ChatMessage& message : messages.subspan(first)) {
    out += kTurnStart;
    out += chat_role_name(message.role);
    out += '\n';
    // The 12B template primes history model turns with the empty thought channel too, so the
    // prefix of a growing conversation does not change between turns.
    if (message.role == ChatRole::Model && !options.thinking) out += kEmptyThought;
    render_parts(message, out);
    out += kTurnEnd;
  }

  if (options.add_generation_prompt) {
    out += kTurnStart;
    out += "model\n";
    if (!options.thinking) out += kEmptyThought;
  }
  return out;
}

ChatPromptBuilder& ChatPromptBuilder::add(ChatMessage message) {
  messages_.push_back(std::move(message));
  return *this;
}

ChatPromptBuilder& ChatPromptBuilder::add_text(ChatRole role, std::string text) {
  return add({role, {ChatPart::from_text(std::move(text))}});
}

ChatPromptBuilder& ChatPromptBuilder::add_user_audio(std::string instruction) {
  return add({ChatRole::User, {ChatPart::audio(), ChatPart::from_text(std::move(instruction))}});
}

std::string ChatPromptBuilder::render(const ChatPromptOptions& options) const {
  return render_chat_prompt(messages_, options);
}

}  // namespace utter::inference
