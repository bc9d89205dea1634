// Reads the vocabulary of a Hugging Face tokenizer.json and lays it out as a Gemma 4 GGUF
// vocabulary (tokenizer.ggml.tokens, token_type, merges, suppress_tokens).
//
// The file is parsed with nlohmann's SAX interface, so only the token strings and merges are
// kept in memory, never a DOM of the whole (30+ MB) document.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace utter::test_model {

// tokenizer.ggml.token_type values.
enum TokenType : int32_t {
  kTokenNormal = 1,
  kTokenUnknown = 2,
  kTokenControl = 3,
  kTokenUserDefined = 4,
  kTokenUnused = 5,
  kTokenByte = 6,
};

struct Vocabulary {
  std::vector<std::string> tokens;  // index = token id
  std::vector<int32_t> token_types;
  std::vector<std::string> merges;  // "left right", highest priority first
  std::vector<int32_t> suppress_tokens;
};

struct Gemma4Slot {
  int32_t id;
  std::string_view text;
  TokenType type;
};

// The Gemma 4 control and tool tokens and their ids in the 262,144-token vocabulary. Gemma 3
// tokenizer files hold other names (<unusedN>, <start_of_turn>, ...) in these slots. The
// seven tool and channel markers are USER_DEFINED because the official conversion marks them
// so they are always printed.
inline constexpr Gemma4Slot kGemma4Slots[] = {
    {46, "<|tool>", kTokenControl},
    {47, "<tool|>", kTokenControl},
    {48, "<|tool_call>", kTokenUserDefined},
    {49, "<tool_call|>", kTokenUserDefined},
    {50, "<|tool_response>", kTokenUserDefined},
    {51, "<tool_response|>", kTokenUserDefined},
    {52, "<|\"|>", kTokenUserDefined},
    {98, "<|think|>", kTokenControl},
    {100, "<|channel>", kTokenUserDefined},
    {101, "<channel|>", kTokenUserDefined},
    {105, "<|turn>", kTokenControl},
    {106, "<turn|>", kTokenControl},
    {255999, "<|image>", kTokenControl},
    {256000, "<|audio>", kTokenControl},
    {258880, "<|image|>", kTokenControl},
    {258881, "<|audio|>", kTokenControl},
    {258882, "<image|>", kTokenControl},
    {258883, "<audio|>", kTokenControl},
    {258884, "<|video|>", kTokenControl},
};

// The media markers. A cut-down vocabulary moves them to its last seven ids.
inline constexpr std::string_view kMediaTokens[] = {
    "<|image>", "<|audio>", "<|image|>", "<|audio|>", "<image|>", "<audio|>", "<|video|>",
};

// Markers whose logits the unified model's generation config suppresses.
inline constexpr std::string_view kSuppressedTokens[] = {"<image|>", "<audio|>"};

namespace detail {

inline bool is_byte_token(std::string_view text) {
  auto is_upper_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return text.size() == 6 && text.substr(0, 3) == "<0x" && is_upper_hex(text[3]) &&
         is_upper_hex(text[4]) && text[5] == '>';
}

// Collects model.vocab, model.merges and added_tokens from tokenizer.json SAX events.
class TokenizerJsonHandler : public nlohmann::json_sax<nlohmann::json> {
 public:
  // Largest token id accepted; far above any real vocabulary, it bounds the allocation.
  static constexpr int64_t kMaxTokenId = 1 << 24;

  explicit TokenizerJsonHandler(std::string display_name) : display_name_(std::move(display_name)) {}

  std::vector<std::string> tokens;
  std::vector<bool> token_seen;
  std::vector<std::string> merges;
  std::vector<int64_t> special_ids;  // added_tokens with "special": true

  bool null() override { return on_scalar(); }
  bool boolean(bool value) override {
    if (top() == Context::kAddedToken && key_ == "special") added_special_ = value;
    return on_scalar();
  }
  bool number_integer(number_integer_t value) override { return on_integer(value); }
  bool number_unsigned(number_unsigned_t value) override {
    return on_integer(value > static_cast<uint64_t>(kMaxTokenId) ? kMaxTokenId + 1
                                                                 : static_cast<int64_t>(value));
  }
  bool number_float(number_float_t, const string_t&) override {
    if (top() == Context::kVocab) fail("a token id is not an integer");
    return on_scalar();
  }
  bool binary(binary_t&) override { return on_scalar(); }

  bool string(string_t& value) override {
    switch (top()) {
      case Context::kMerges:
        if (value.find(' ', 1) == std::string::npos) {
          fail(fmt::format("merge {} ('{}') has no space separating its two parts",
                           merges.size(), value));
        }
        merges.push_back(std::move(value));
        break;
      case Context::kMergePair:
        if (pair_parts_ == 0) {
          merges.push_back(std::move(value));
        } else if (pair_parts_ == 1) {
          merges.back() += ' ';
          merges.back() += value;
        }
        ++pair_parts_;
        break;
      case Context::kVocab:
        fail(fmt::format("token '{}' has a string id", key_));
      default:
        break;
    }
    return on_scalar();
  }

  bool start_object(std::size_t) override {
    push(child_context(/*is_object=*/true));
    if (top() == Context::kAddedToken) {
      added_id_ = -1;
      added_special_ = false;
    }
    return true;
  }
  bool end_object() override {
    if (top() == Context::kAddedToken && added_special_ && added_id_ >= 0) {
      special_ids.push_back(added_id_);
    }
    pop();
    return true;
  }
  bool start_array(std::size_t) override {
    push(child_context(/*is_object=*/false));
    if (top() == Context::kMergePair) pair_parts_ = 0;
    return true;
  }
  bool end_array() override {
    if (top() == Context::kMergePair && pair_parts_ != 2) {
      fail(fmt::format("merge {} has {} parts, expected 2", merges.size() - 1, pair_parts_));
    }
    pop();
    return true;
  }
  bool key(string_t& value) override {
    key_ = std::move(value);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::json::exception& error) override {
    throw std::runtime_error(fmt::format("{}: invalid JSON at byte {}: {}", display_name_,
                                         position, error.what()));
  }

 private:
  enum class Context {
    kOther, kRoot, kModel, kVocab, kMerges, kMergePair, kAddedTokens, kAddedToken,
  };

  Context top() const { return stack_.empty() ? Context::kOther : stack_.back(); }

  Context child_context(bool is_object) const {
    if (stack_.empty()) return is_object ? Context::kRoot : Context::kOther;
    switch (top()) {
      case Context::kRoot:
        if (is_object && key_ == "model") return Context::kModel;
        if (!is_object && key_ == "added_tokens") return Context::kAddedTokens;
        return Context::kOther;
      case Context::kModel:
        if (is_object && key_ == "vocab") return Context::kVocab;
        if (!is_object && key_ == "merges") return Context::kMerges;
        return Context::kOther;
      case Context::kMerges:
        return is_object ? Context::kOther : Context::kMergePair;
      case Context::kAddedTokens:
        return is_object ? Context::kAddedToken : Context::kOther;
      default:
        return Context::kOther;
    }
  }

  void push(Context context) { stack_.push_back(context); }
  void pop() { stack_.pop_back(); }

  bool on_scalar() { return true; }

  bool on_integer(int64_t value) {
    if (top() == Context::kVocab) add_token(value);
    if (top() == Context::kAddedToken && key_ == "id") added_id_ = value;
    return true;
  }

  void add_token(int64_t id) {
    if (id < 0 || id > kMaxTokenId) {
      fail(fmt::format("token '{}' has id {}, outside 0..{}", key_, id, kMaxTokenId));
    }
    const auto index = static_cast<size_t>(id);
    if (index >= tokens.size()) {
      tokens.resize(index + 1);
      token_seen.resize(index + 1, false);
    }
    if (token_seen[index]) {
      fail(fmt::format("token id {} is used twice ('{}' and '{}')", id, tokens[index], key_));
    }
    token_seen[index] = true;
    tokens[index] = key_;
  }

  [[noreturn]] void fail(const std::string& problem) const {
    throw std::runtime_error(fmt::format("{}: {}", display_name_, problem));
  }

  std::string display_name_;
  std::vector<Context> stack_;
  std::string key_;
  int pair_parts_ = 0;
  int64_t added_id_ = -1;
  bool added_special_ = false;
};

}  // namespace detail

// Reads a Hugging Face tokenizer.json (BPE model) and returns its vocabulary with the
// Gemma 4 control tokens written into their slots. Token types: byte tokens <0xHH> are BYTE,
// tokens that the file marks special are CONTROL, the Gemma 4 slots get their own types,
// every other token is NORMAL. Scores are not read (Gemma 4 GGUFs store -1000 for all).
// Throws std::runtime_error naming the file and the problem.
inline Vocabulary read_gemma4_vocabulary(const std::filesystem::path& path) {
  const std::string display_name = path.string();
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    throw std::runtime_error(fmt::format(
        "cannot open tokenizer file {}: check the --tokenizer path", display_name));
  }

  detail::TokenizerJsonHandler handler(display_name);
  nlohmann::json::sax_parse(stream, &handler);

  Vocabulary vocabulary;
  if (handler.tokens.empty()) {
    throw std::runtime_error(fmt::format(
        "{}: no model.vocab object found; expected a Hugging Face tokenizer.json of a BPE model",
        display_name));
  }
  for (size_t id = 0; id < handler.token_seen.size(); ++id) {
    if (!handler.token_seen[id]) {
      throw std::runtime_error(fmt::format(
          "{}: model.vocab has no token with id {} (ids must run from 0 to {} without gaps)",
          display_name, id, handler.tokens.size() - 1));
    }
  }
  handler.token_seen = {};
  vocabulary.tokens = std::move(handler.tokens);
  vocabulary.merges = std::move(handler.merges);

  const size_t size = vocabulary.tokens.size();
  const auto& last_slot = kGemma4Slots[std::size(kGemma4Slots) - 1];
  if (size <= static_cast<size_t>(last_slot.id)) {
    throw std::runtime_error(fmt::format(
        "{}: the vocabulary has {} tokens, but the Gemma 4 layout needs at least {} (up to the "
        "{} slot at id {})",
        display_name, size, last_slot.id + 1, last_slot.text, last_slot.id));
  }

  vocabulary.token_types.assign(size, kTokenNormal);
  for (size_t id = 0; id < size; ++id) {
    if (detail::is_byte_token(vocabulary.tokens[id])) vocabulary.token_types[id] = kTokenByte;
  }
  for (int64_t id : handler.special_ids) {
    // Added tokens past the vocabulary (Gemma 3 has <image_soft_token> at 262144) have no row
    // in the embedding and are left out.
    if (id >= 0 && static_cast<size_t>(id) < size) vocabulary.token_types[id] = kTokenControl;
  }

  for (const auto& slot : kGemma4Slots) {
    const std::string& current = vocabulary.tokens[slot.id];
    if (current != slot.text) {
      // Overwriting is only safe if the Gemma 4 text is not already another token.
      for (size_t id = 0; id < size; ++id) {
        if (vocabulary.tokens[id] == slot.text) {
          throw std::runtime_error(fmt::format(
              "{}: token '{}' is at id {}, but Gemma 4 puts it at id {}", display_name,
              slot.text, id, slot.id));
        }
      }
      vocabulary.tokens[slot.id] = std::string(slot.text);
    }
    vocabulary.token_types[slot.id] = slot.type;
  }

  for (std::string_view text : kSuppressedTokens) {
    for (const auto& slot : kGemma4Slots) {
      if (slot.text == text) vocabulary.suppress_tokens.push_back(slot.id);
    }
  }
  return vocabulary;
}

// Cuts a Gemma 4 vocabulary down to `size` tokens: ids below size - 7 keep their tokens and
// the seven media markers move to the last seven ids, so the control and byte tokens keep
// their real ids. Merges survive if both parts and their concatenation are still tokens.
// Throws std::invalid_argument when `size` would drop a byte or control token.
inline Vocabulary cut_vocabulary(Vocabulary full, uint32_t size) {
  const size_t media_count = std::size(kMediaTokens);
  if (size >= full.tokens.size()) {
    if (size == full.tokens.size()) return full;
    throw std::invalid_argument(fmt::format(
        "--vocab-size {} is larger than the tokenizer's {} tokens", size, full.tokens.size()));
  }

  // Every byte token and every Gemma 4 slot below the media markers must stay.
  size_t needed_prefix = 0;
  for (size_t id = 0; id < full.tokens.size(); ++id) {
    if (full.token_types[id] == kTokenByte) needed_prefix = id + 1;
  }
  for (const auto& slot : kGemma4Slots) {
    bool is_media = false;
    for (std::string_view media : kMediaTokens) is_media = is_media || media == slot.text;
    if (!is_media) needed_prefix = std::max(needed_prefix, static_cast<size_t>(slot.id) + 1);
  }
  if (size < needed_prefix + media_count) {
    throw std::invalid_argument(fmt::format(
        "--vocab-size {} is too small: the byte and control tokens need ids 0..{} plus {} "
        "media markers, so use at least {}",
        size, needed_prefix - 1, media_count, needed_prefix + media_count));
  }

  std::unordered_map<std::string_view, int32_t> media_ids;
  for (const auto& slot : kGemma4Slots) media_ids.emplace(slot.text, slot.id);

  Vocabulary cut;
  const size_t first_media_id = size - media_count;
  cut.tokens.reserve(size);
  cut.token_types.reserve(size);
  for (size_t id = 0; id < first_media_id; ++id) {
    cut.tokens.push_back(std::move(full.tokens[id]));
    cut.token_types.push_back(full.token_types[id]);
  }
  for (std::string_view media : kMediaTokens) {
    const int32_t old_id = media_ids.at(media);
    cut.tokens.emplace_back(media);
    cut.token_types.push_back(full.token_types[old_id]);
  }
  for (std::string_view text : kSuppressedTokens) {
    for (size_t i = 0; i < media_count; ++i) {
      if (kMediaTokens[i] == text) cut.suppress_tokens.push_back(static_cast<int32_t>(first_media_id + i));
    }
  }

  std::unordered_set<std::string_view> kept_texts(cut.tokens.begin(), cut.tokens.end());
  std::string joined;
  for (auto& merge : full.merges) {
    const size_t split = merge.find(' ', 1);
    const std::string_view left = std::string_view(merge).substr(0, split);
    const std::string_view right = std::string_view(merge).substr(split + 1);
    joined.assign(left);
    joined.append(right);
    if (kept_texts.count(left) && kept_texts.count(right) && kept_texts.count(joined)) {
      cut.merges.push_back(std::move(merge));
    }
  }
  return cut;
}

}  // namespace utter::test_model
