// Gemma 4 tokenizer. The behaviour mirrors llama.cpp's `LLAMA_VOCAB_PRE_TYPE_GEMMA4` path
// (src/llama-vocab.cpp): token ids, not strings, key the merge table so that loading 514,906
// merges stays fast, and BPE runs with a priority queue so long words cost O(n log n).
#include "utter/inference/tokenizer.h"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <utility>

#include "utter/inference/gguf.h"

namespace utter::inference {

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, stands for a space
constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// Token texts that end generation; llama.cpp finds them by text, whatever their stored type.
constexpr std::array<std::string_view, 3> kEndOfGenerationTexts = {"<eos>", "<turn|>",
                                                                   "<|tool_response>"};

bool is_continuation_byte(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Length of the UTF-8 sequence announced by a lead byte, 0 for a byte that cannot start one.
size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC0) return 0;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF8) return 4;
  return 0;
}

// Length of the character at `pos`, or 0 when the bytes there are not a complete sequence
// (bad lead byte, missing continuation byte, or cut off by the end of the text). The check is
// structural, like llama.cpp's decoder: overlong forms and surrogates count as characters.
size_t utf8_char_length(std::string_view text, size_t pos) {
  const size_t length = utf8_sequence_length(static_cast<unsigned char>(text[pos]));
  if (length == 0 || pos + length > text.size()) return 0;
  for (size_t i = 1; i < length; ++i) {
    if (!is_continuation_byte(static_cast<unsigned char>(text[pos + i]))) return 0;
  }
  return length;
}

std::string escape_spaces(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size() + text.size() / 4);
  for (const char c : text) {
    if (c == ' ') {
      escaped += kSpaceMarker;
    } else {
      escaped.push_back(c);
    }
  }
  return escaped;
}

// Renders a token text for an error message.
std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 60)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7F) {
      out.push_back(c);
    } else {
      out += fmt::format("\\x{:02X}", byte);
    }
  }
  if (text.size() > 60) out += "...";
  return out;
}

uint64_t mix_pair(uint64_t key) {
  // splitmix64 finalizer: spreads consecutive ids over the whole table.
  key ^= key >> 30;
  key *= 0xBF58476D1CE4E5B9ULL;
  key ^= key >> 27;
  key *= 0x94D049BB133111EBULL;
  key ^= key >> 31;
  return key;
}

size_t table_size_for(size_t entries) {
  // Linear probing stays fast below half load.
  return std::bit_ceil(std::max<size_t>(16, entries * 2));
}

struct MergeRule {
  int32_t rank = -1;
  int32_t result = -1;  // symbol id of the concatenation
};

struct Fragment {
  size_t begin = 0;
  size_t length = 0;
  int32_t token = -1;  // -1: raw text still to be tokenized
};

struct BpeSymbol {
  int32_t id;  // symbol id of the text, -1 when the text is neither a token nor in a merge
  uint32_t begin;
  uint32_t length;  // 0 once merged into the symbol on its left
  int32_t prev;
  int32_t next;
};

struct BpeCandidate {
  int32_t rank;
  int32_t left;
  int32_t right;
  int32_t left_id;
  int32_t right_id;
};

// Orders the heap so that the lowest rank, then the leftmost pair, comes first.
struct LaterCandidate {
  bool operator()(const BpeCandidate& a, const BpeCandidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

struct Tokenizer::State {
  // Texts of all symbols. Ids below vocab_size are tokens. Higher ids are strings that occur
  // only in merges, because a merge result that is not itself a token still takes part in BPE.
  std::string arena;
  std::vector<uint32_t> offsets{0};
  size_t vocab_size = 0;

  std::vector<TokenType> types;
  std::vector<bool> control_like;  // CONTROL, UNKNOWN, or an end-of-generation text
  std::vector<int16_t> byte_values;  // the byte of a BYTE token, -1 for other tokens

  struct TextSlot {
    int32_t id = -1;
    uint32_t hash = 0;
  };
  std::vector<TextSlot> text_slots;

  struct PairSlot {
    uint64_t key = ~0ULL;
    MergeRule rule;
  };
  std::vector<PairSlot> pair_slots;

  // Special tokens in matching order: longest text first, then lowest id.
  std::vector<int32_t> specials;
  std::unordered_map<std::string_view, int32_t> special_by_text;
  std::vector<size_t> special_lengths;  // distinct, descending
  std::array<bool, 256> special_first_byte{};

  std::array<int32_t, 256> byte_tokens{};
  TokenizerOptions options;
  std::vector<int32_t> end_of_generation;

  std::string_view text(int32_t id) const {
    return std::string_view(arena).substr(offsets[id], offsets[id + 1] - offsets[id]);
  }

  static uint64_t hash_text(std::string_view text) { return std::hash<std::string_view>{}(text); }

  int32_t find_text(std::string_view value) const {
    const uint64_t hash = hash_text(value);
    const size_t mask = text_slots.size() - 1;
    for (size_t slot = hash & mask;; slot = (slot + 1) & mask) {
      const TextSlot& entry = text_slots[slot];
      if (entry.id < 0) return -1;
      if (entry.hash == static_cast<uint32_t>(hash) && text(entry.id) == value) return entry.id;
    }
  }

  // Points `value` at `id`, replacing an earlier id with the same text (the last duplicate
  // wins, as in llama.cpp's text-to-token map).
  void assign_text(std::string_view value, int32_t id) {
    const uint64_t hash = hash_text(value);
    const size_t mask = text_slots.size() - 1;
    for (size_t slot = hash & mask;; slot = (slot + 1) & mask) {
      TextSlot& entry = text_slots[slot];
      if (entry.id < 0 || (entry.hash == static_cast<uint32_t>(hash) && text(entry.id) == value)) {
        entry.id = id;
        entry.hash = static_cast<uint32_t>(hash);
        return;
      }
    }
  }

  // Returns the symbol id of `value`, adding it as a merge-only symbol when it is new.
  int32_t intern(std::string_view value) {
    const int32_t found = find_text(value);
    if (found >= 0) return found;
    const auto id = static_cast<int32_t>(offsets.size() - 1);
    arena.append(value);
    offsets.push_back(static_cast<uint32_t>(arena.size()));
    if (offsets.size() * 2 > text_slots.size()) rebuild_text_slots(text_slots.size() * 2);
    assign_text(text(id), id);
    return id;
  }

  // Re-inserts every symbol into a table of `size` slots. Ids are inserted in order, so the
  // last of several tokens with the same text keeps winning.
  void rebuild_text_slots(size_t size) {
    text_slots.assign(size, {});
    for (size_t id = 0; id + 1 < offsets.size(); ++id) {
      const std::string_view value = text(static_cast<int32_t>(id));
      if (!value.empty()) assign_text(value, static_cast<int32_t>(id));
    }
  }

  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  MergeRule find_merge(int32_t left, int32_t right) const {
    const uint64_t key = pair_key(left, right);
    const size_t mask = pair_slots.size() - 1;
    for (size_t slot = mix_pair(key) & mask;; slot = (slot + 1) & mask) {
      const PairSlot& entry = pair_slots[slot];
      if (entry.key == key) return entry.rule;
      if (entry.key == ~0ULL) return {};
    }
  }

  // Adds a merge unless the pair already has one (the first, lowest rank wins).
  void add_merge(int32_t left, int32_t right, MergeRule rule) {
    const uint64_t key = pair_key(left, right);
    const size_t mask = pair_slots.size() - 1;
    for (size_t slot = mix_pair(key) & mask;; slot = (slot + 1) & mask) {
      PairSlot& entry = pair_slots[slot];
      if (entry.key == key) return;
      if (entry.key == ~0ULL) {
        entry.key = key;
        entry.rule = rule;
        return;
      }
    }
  }

  void check_id(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= vocab_size) {
      throw TokenizerError(fmt::format(
          "token id {} is outside the vocabulary (valid ids are 0 to {})", id, vocab_size - 1));
    }
  }

  void emit_bytes(std::string_view piece, std::vector<int32_t>& output) const {
    for (const char c : piece) {
      const int32_t token = byte_tokens[static_cast<unsigned char>(c)];
      // NOTE: llama.cpp drops a byte that has no <0xHH> token. The unknown token is used here
      // instead, when there is one, so that the loss stays visible. Gemma vocabularies have
      // all 256 byte tokens.
      if (token >= 0) {
        output.push_back(token);
      } else if (options.unknown_id >= 0) {
        output.push_back(options.unknown_id);
      }
    }
  }

  void encode_word(std::string_view word, std::vector<int32_t>& output) const;
  void encode_text(std::string_view text, std::vector<int32_t>& output) const;
  std::vector<Fragment> split_special(std::string_view text, bool parse_special) const;
};

struct VocabularyView {
  std::span<const std::string_view> tokens;
  std::span<const int32_t> types;
  std::span<const std::string_view> merges;
};

// Builds all lookup tables; shared by from_gguf and from_vocabulary. `source` names the file
// or other origin in error messages.
struct TokenizerBuilder {
  static Tokenizer build(const VocabularyView& vocabulary, TokenizerOptions options,
                         std::string_view source);
};

Tokenizer::Tokenizer(std::unique_ptr<State> state) : state_(std::move(state)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer TokenizerBuilder::build(const VocabularyView& vocabulary, TokenizerOptions options,
                                  std::string_view source) {
  auto state = std::make_unique<Tokenizer::State>();
  const size_t count = vocabulary.tokens.size();
  if (count == 0) throw TokenizerError(fmt::format("{}: the vocabulary is empty", source));
  if (count >= static_cast<size_t>(INT32_MAX) / 2) {
    throw TokenizerError(fmt::format("{}: the vocabulary has {} tokens, too many for 32-bit ids",
                                     source, count));
  }
  if (vocabulary.types.size() != count) {
    throw TokenizerError(fmt::format(
        "{}: the vocabulary has {} tokens but {} token types; both arrays must have one entry "
        "per token",
        source, count, vocabulary.types.size()));
  }
  state->vocab_size = count;

  size_t text_bytes = 0;
  for (const auto token : vocabulary.tokens) text_bytes += token.size();
  if (text_bytes + vocabulary.merges.size() * 16 >= UINT32_MAX) {
    throw TokenizerError(fmt::format("{}: the token texts are too large ({} bytes)", source,
                                     text_bytes));
  }
  state->arena.reserve(text_bytes + vocabulary.merges.size() * 4);
  state->offsets.reserve(count + 1);
  for (const auto token : vocabulary.tokens) {
    state->arena.append(token);
    state->offsets.push_back(static_cast<uint32_t>(state->arena.size()));
  }

  // Sized for the tokens; merge-only symbols are rare and grow the table when needed.
  state->rebuild_text_slots(table_size_for(count));

  state->types.resize(count);
  state->byte_values.assign(count, -1);
  for (size_t id = 0; id < count; ++id) {
    const int32_t raw_type = vocabulary.types[id];
    if (raw_type < 0 || raw_type > 6) {
      throw TokenizerError(fmt::format(
          "{}: token {} ('{}') has type {}, but valid token types are 0 to 6", source, id,
          printable(vocabulary.tokens[id]), raw_type));
    }
    const auto type = static_cast<TokenType>(raw_type);
    state->types[id] = type;
    if (type == TokenType::Byte) {
      const std::string_view text = vocabulary.tokens[id];
      unsigned value = 0;
      const bool well_formed = text.size() == 6 && text.starts_with("<0x") && text[5] == '>' &&
                               std::isxdigit(static_cast<unsigned char>(text[3])) &&
                               std::isxdigit(static_cast<unsigned char>(text[4])) &&
                               std::sscanf(std::string(text.substr(3, 2)).c_str(), "%2x",
                                           &value) == 1;
      if (!well_formed) {
        throw TokenizerError(fmt::format(
            "{}: token {} has type BYTE but its text '{}' is not of the form <0xHH>", source, id,
            printable(text)));
      }
      state->byte_values[id] = static_cast<int16_t>(value);
    }
  }

  // Merge table, keyed by the symbol ids of both sides.
  state->pair_slots.assign(table_size_for(vocabulary.merges.size()), {});
  std::string joined;
  for (size_t rank = 0; rank < vocabulary.merges.size(); ++rank) {
    const std::string_view merge = vocabulary.merges[rank];
    // Split at the first space after index 0, so a left side may itself start with a space.
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string_view::npos;
    if (space == std::string_view::npos || space + 1 >= merge.size()) {
      throw TokenizerError(fmt::format(
          "{}: merge {} ('{}') is not of the form '<left> <right>'", source, rank,
          printable(merge)));
    }
    const std::string_view left = merge.substr(0, space);
    const std::string_view right = merge.substr(space + 1);
    joined.assign(left);
    joined.append(right);
    const int32_t left_id = state->intern(left);
    const int32_t right_id = state->intern(right);
    const int32_t result_id = state->intern(joined);
    state->add_merge(left_id, right_id, {static_cast<int32_t>(rank), result_id});
  }

  for (int byte = 0; byte < 256; ++byte) {
    const int32_t id = state->find_text(fmt::format("<0x{:02X}>", byte));
    state->byte_tokens[byte] = (id >= 0 && static_cast<size_t>(id) < count) ? id : -1;
  }

  for (const auto eog_text : kEndOfGenerationTexts) {
    const int32_t id = state->find_text(eog_text);
    if (id >= 0 && static_cast<size_t>(id) < count) state->end_of_generation.push_back(id);
  }
  state->control_like.assign(count, false);
  for (size_t id = 0; id < count; ++id) {
    state->control_like[id] =
        state->types[id] == TokenType::Control || state->types[id] == TokenType::Unknown;
  }
  // llama.cpp adds the control attribute to every end-of-generation token, so for example
  // `<|tool_response>` (stored as USER_DEFINED) is split only with special parsing and is not
  // rendered by default.
  for (const int32_t id : state->end_of_generation) state->control_like[id] = true;

  for (const auto& [name, id] : {std::pair{"bos", options.bos_id}, std::pair{"eos", options.eos_id},
                                std::pair{"unknown", options.unknown_id},
                                std::pair{"padding", options.padding_id}}) {
    if (id >= 0 && static_cast<size_t>(id) >= count) {
      throw TokenizerError(fmt::format("{}: the {} token id {} is outside the vocabulary of {}",
                                       source, name, id, count));
    }
  }
  if (options.eos_id >= 0 &&
      std::find(state->end_of_generation.begin(), state->end_of_generation.end(),
                options.eos_id) == state->end_of_generation.end()) {
    state->end_of_generation.push_back(options.eos_id);
  }
  std::sort(state->end_of_generation.begin(), state->end_of_generation.end());
  state->end_of_generation.erase(
      std::unique(state->end_of_generation.begin(), state->end_of_generation.end()),
      state->end_of_generation.end());

  // Special tokens: llama.cpp splits them out longest text first.
  for (size_t id = 0; id < count; ++id) {
    if (state->text(static_cast<int32_t>(id)).empty()) continue;
    if (state->control_like[id] || state->types[id] == TokenType::UserDefined) {
      state->specials.push_back(static_cast<int32_t>(id));
    }
  }
  std::stable_sort(state->specials.begin(), state->specials.end(), [&](int32_t a, int32_t b) {
    return state->text(a).size() > state->text(b).size();
  });
  for (const int32_t id : state->specials) {
    const std::string_view text = state->text(id);
    state->special_by_text.emplace(text, id);
    state->special_first_byte[static_cast<unsigned char>(text[0])] = true;
    if (std::find(state->special_lengths.begin(), state->special_lengths.end(), text.size()) ==
        state->special_lengths.end()) {
      state->special_lengths.push_back(text.size());
    }
  }

  std::erase_if(options.suppressed_tokens, [count](int32_t id) {
    // As llama.cpp does, ids outside the vocabulary are dropped rather than rejected.
    return id < 0 || static_cast<size_t>(id) >= count;
  });
  state->options = std::move(options);
  return Tokenizer(std::move(state));
}

Tokenizer Tokenizer::from_vocabulary(std::vector<std::string> tokens,
                                     std::vector<int32_t> token_types,
                                     const std::vector<std::string>& merges,
                                     TokenizerOptions options) {
  const std::vector<std::string_view> token_views(tokens.begin(), tokens.end());
  const std::vector<std::string_view> merge_views(merges.begin(), merges.end());
  return TokenizerBuilder::build({token_views, token_types, merge_views}, std::move(options),
                                 "vocabulary");
}

Tokenizer Tokenizer::from_gguf(const GgufFile& file) {
  const std::string& name = file.display_name();
  const std::string_view model = file.get_string("tokenizer.ggml.model");
  if (model != "gemma4") {
    throw TokenizerError(fmt::format(
        "{}: tokenizer.ggml.model is '{}', but only 'gemma4' vocabularies are supported; use a "
        "Gemma 4 GGUF file",
        name, printable(model)));
  }

  const std::vector<std::string_view> tokens = file.get_string_array("tokenizer.ggml.tokens");
  const std::vector<int64_t> raw_types = file.get_int_array("tokenizer.ggml.token_type");
  std::vector<int32_t> types(raw_types.size());
  for (size_t i = 0; i < raw_types.size(); ++i) {
    if (raw_types[i] < 0 || raw_types[i] > 6) {
      throw TokenizerError(fmt::format(
          "{}: tokenizer.ggml.token_type[{}] is {}, but valid token types are 0 to 6", name, i,
          raw_types[i]));
    }
    types[i] = static_cast<int32_t>(raw_types[i]);
  }
  const std::vector<std::string_view> merges = file.get_string_array("tokenizer.ggml.merges");

  TokenizerOptions options;
  const auto read_id = [&](std::string_view key, int32_t fallback) -> int32_t {
    if (!file.has(key)) return fallback;
    const int64_t value = file.get_i64(key);
    if (value < 0 || static_cast<uint64_t>(value) >= tokens.size()) {
      throw TokenizerError(fmt::format("{}: {} is {}, outside the vocabulary of {} tokens", name,
                                       key, value, tokens.size()));
    }
    return static_cast<int32_t>(value);
  };
  options.bos_id = read_id("tokenizer.ggml.bos_token_id", -1);
  options.eos_id = read_id("tokenizer.ggml.eos_token_id", -1);
  options.unknown_id = read_id("tokenizer.ggml.unknown_token_id", -1);
  options.padding_id = read_id("tokenizer.ggml.padding_token_id", -1);
  if (options.bos_id < 0) {
    throw TokenizerError(fmt::format(
        "{}: tokenizer.ggml.bos_token_id is missing; Gemma 4 prompts must start with <bos>",
        name));
  }
  // llama.cpp always adds <bos> for Gemma 4, whatever tokenizer.ggml.add_bos_token contains, because
  // the model degrades badly without it.
  options.add_bos = true;
  if (file.has("tokenizer.ggml.suppress_tokens")) {
    for (const int64_t id : file.get_int_array("tokenizer.ggml.suppress_tokens")) {
      if (id >= INT32_MIN && id <= INT32_MAX) {
        options.suppressed_tokens.push_back(static_cast<int32_t>(id));
      }
    }
  }
  return TokenizerBuilder::build({tokens, types, merges}, std::move(options), name);
}

std::vector<Fragment> Tokenizer::State::split_special(std::string_view text,
                                                      bool parse_special) const {
  std::vector<Fragment> fragments{{0, text.size(), -1}};
  if (specials.empty() || text.empty()) return fragments;

  // Find which special texts occur at all, so that the per-token passes below only run for
  // those (a vocabulary can have thousands of special tokens).
  std::vector<bool> present(vocab_size, false);
  bool any_present = false;
  for (size_t pos = 0; pos < text.size(); ++pos) {
    if (!special_first_byte[static_cast<unsigned char>(text[pos])]) continue;
    for (const size_t length : special_lengths) {
      if (pos + length > text.size()) continue;
      const auto found = special_by_text.find(text.substr(pos, length));
      if (found == special_by_text.end()) continue;
      if (!parse_special && control_like[found->second]) continue;
      present[found->second] = true;
      any_present = true;
    }
  }
  if (!any_present) return fragments;

  // Same order and semantics as llama.cpp: each special token in turn (longest first) splits
  // every remaining text fragment at all of its non-overlapping occurrences.
  std::vector<Fragment> next;
  for (const int32_t special : specials) {
    if (!present[special]) continue;
    const std::string_view needle = this->text(special);
    next.clear();
    for (const Fragment& fragment : fragments) {
      if (fragment.token >= 0) {
        next.push_back(fragment);
        continue;
      }
      const std::string_view region = text.substr(fragment.begin, fragment.length);
      size_t pos = 0;
      while (pos < region.size()) {
        const size_t match = region.find(needle, pos);
        if (match == std::string_view::npos) break;
        if (match > pos) next.push_back({fragment.begin + pos, match - pos, -1});
        next.push_back({fragment.begin + match, needle.size(), special});
        pos = match + needle.size();
      }
      if (pos < region.size()) next.push_back({fragment.begin + pos, region.size() - pos, -1});
    }
    fragments.swap(next);
  }
  return fragments;
}

void Tokenizer::State::encode_word(std::string_view word, std::vector<int32_t>& output) const {
  if (word.empty()) return;
  std::vector<BpeSymbol> symbols;
  symbols.reserve(word.size());
  for (size_t pos = 0; pos < word.size();) {
    size_t length = utf8_char_length(word, pos);
    int32_t id = -1;
    if (length == 0) {
      length = 1;  // an invalid byte stays alone and falls back to its byte token
    } else {
      id = find_text(word.substr(pos, length));
    }
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, static_cast<uint32_t>(pos), static_cast<uint32_t>(length), index - 1,
                       pos + length < word.size() ? index + 1 : -1});
    pos += length;
  }

  std::vector<BpeCandidate> heap;
  const auto add_candidate = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t left_id = symbols[left].id;
    const int32_t right_id = symbols[right].id;
    if (left_id < 0 || right_id < 0) return;
    const MergeRule rule = find_merge(left_id, right_id);
    if (rule.rank < 0) return;
    heap.push_back({rule.rank, left, right, left_id, right_id});
    std::push_heap(heap.begin(), heap.end(), LaterCandidate{});
  };
  for (size_t i = 1; i < symbols.size(); ++i) {
    add_candidate(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  }

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), LaterCandidate{});
    const BpeCandidate candidate = heap.back();
    heap.pop_back();
    BpeSymbol& left = symbols[candidate.left];
    BpeSymbol& right = symbols[candidate.right];
    // Skip candidates made stale by an earlier merge of either side.
    if (left.length == 0 || right.length == 0 || left.next != candidate.right ||
        left.id != candidate.left_id || right.id != candidate.right_id) {
      continue;
    }
    left.id = find_merge(candidate.left_id, candidate.right_id).result;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = candidate.left;
    add_candidate(left.prev, candidate.left);
    add_candidate(candidate.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    const BpeSymbol& symbol = symbols[i];
    if (symbol.id >= 0 && static_cast<size_t>(symbol.id) < vocab_size) {
      output.push_back(symbol.id);
    } else {
      emit_bytes(word.substr(symbol.begin, symbol.length), output);
    }
  }
}

void Tokenizer::State::encode_text(std::string_view raw, std::vector<int32_t>& output) const {
  const std::string text = escape_spaces(raw);
  // BPE never crosses the border between a run of newlines and other characters.
  size_t pos = 0;
  while (pos < text.size()) {
    const bool newlines = text[pos] == '\n';
    size_t end = pos;
    while (end < text.size() && (text[end] == '\n') == newlines) ++end;
    const std::string_view word = std::string_view(text).substr(pos, end - pos);
    const int32_t whole = newlines ? find_text(word) : -1;
    if (whole >= 0 && static_cast<size_t>(whole) < vocab_size) {
      output.push_back(whole);
    } else {
      encode_word(word, output);
    }
    pos = end;
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  const State& state = *state_;
  // Symbol offsets inside a word are 32-bit, and a space grows into three bytes.
  if (text.size() > UINT32_MAX / 3) {
    throw TokenizerError(fmt::format(
        "cannot encode {} bytes of text at once; split it into pieces below 1 GiB", text.size()));
  }
  std::vector<int32_t> output;
  output.reserve(text.size() / 3 + 2);
  if (add_bos) {
    if (state.options.bos_id < 0) {
      throw TokenizerError("cannot add <bos>: the vocabulary defines no bos token id");
    }
    output.push_back(state.options.bos_id);
  }
  for (const Fragment& fragment : state.split_special(text, parse_special)) {
    if (fragment.token >= 0) {
      output.push_back(fragment.token);
    } else {
      state.encode_text(text.substr(fragment.begin, fragment.length), output);
    }
  }
  return output;
}

std::string Tokenizer::token_piece(int32_t id, bool render_special) const {
  const State& state = *state_;
  state.check_id(id);
  const std::string_view text = state.text(id);
  if (state.control_like[id]) return render_special ? std::string(text) : std::string();
  switch (state.types[id]) {
    case TokenType::UserDefined: return std::string(text);
    case TokenType::Byte: return std::string(1, static_cast<char>(state.byte_values[id]));
    case TokenType::Normal: {
      std::string piece;
      piece.reserve(text.size());
      for (size_t pos = 0; pos < text.size();) {
        if (text.substr(pos, kSpaceMarker.size()) == kSpaceMarker) {
          piece.push_back(' ');
          pos += kSpaceMarker.size();
        } else {
          piece.push_back(text[pos++]);
        }
      }
      return piece;
    }
    default: return {};  // UNUSED and UNDEFINED tokens render as nothing
  }
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  std::string text;
  for (const int32_t id : ids) text += token_piece(id, render_special);
  return text;
}

int32_t Tokenizer::bos_id() const { return state_->options.bos_id; }
int32_t Tokenizer::eos_id() const { return state_->options.eos_id; }
int32_t Tokenizer::unknown_id() const { return state_->options.unknown_id; }
int32_t Tokenizer::padding_id() const { return state_->options.padding_id; }
bool Tokenizer::add_bos() const { return state_->options.add_bos; }

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return std::binary_search(state_->end_of_generation.begin(), state_->end_of_generation.end(),
                            id);
}

const std::vector<int32_t>& Tokenizer::end_of_generation_ids() const {
  return state_->end_of_generation;
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  if (text.empty()) return std::nullopt;
  const int32_t id = state_->find_text(text);
  if (id < 0 || static_cast<size_t>(id) >= state_->vocab_size) return std::nullopt;
  return id;
}

size_t Tokenizer::size() const { return state_->vocab_size; }

const std::vector<int32_t>& Tokenizer::suppressed_tokens() const {
  return state_->options.suppressed_tokens;
}

std::string_view Tokenizer::token_text(int32_t id) const {
  state_->check_id(id);
  return state_->text(id);
}

TokenType Tokenizer::token_type(int32_t id) const {
  state_->check_id(id);
  return state_->types[id];
}

namespace {

// The range the first continuation byte must fall in after `lead`, per Unicode's table of
// well-formed UTF-8 (it excludes overlong forms, surrogates and values above U+10FFFF).
std::pair<unsigned char, unsigned char> first_continuation_range(unsigned char lead) {
  switch (lead) {
    case 0xE0: return {0xA0, 0xBF};
    case 0xED: return {0x80, 0x9F};
    case 0xF0: return {0x90, 0xBF};
    case 0xF4: return {0x80, 0x8F};
    default: return {0x80, 0xBF};
  }
}

// Length of a well-formed sequence starting with `lead`, 0 if no such sequence exists.
size_t strict_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

}  // namespace

std::string Utf8StreamDecoder::push(std::string_view piece) {
  pending_.append(piece);
  std::string complete;
  size_t pos = 0;
  while (pos < pending_.size()) {
    const auto lead = static_cast<unsigned char>(pending_[pos]);
    const size_t length = strict_sequence_length(lead);
    if (length == 0) {
      complete += kReplacementCharacter;
      ++pos;
      continue;
    }
    // Count the continuation bytes that have arrived and are valid so far.
    size_t valid = 1;
    while (valid < length && pos + valid < pending_.size()) {
      const auto byte = static_cast<unsigned char>(pending_[pos + valid]);
      const auto [low, high] =
          valid == 1 ? first_continuation_range(lead) : std::pair<unsigned char, unsigned char>{0x80, 0xBF};
      if (byte < low || byte > high) break;
      ++valid;
    }
    if (valid == length) {
      complete.append(pending_, pos, length);
      pos += length;
    } else if (pos + valid == pending_.size()) {
      break;  // a valid start of a character: wait for the next piece
    } else {
      // The longest invalid start becomes one U+FFFD, as the Unicode standard recommends.
      complete += kReplacementCharacter;
      pos += valid;
    }
  }
  pending_.erase(0, pos);
  return complete;
}

std::string Utf8StreamDecoder::flush() {
  std::string rest = pending_.empty() ? std::string() : std::string(kReplacementCharacter);
  pending_.clear();
  return rest;
}

}  // namespace utter::inference
