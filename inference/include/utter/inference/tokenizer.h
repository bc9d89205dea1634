// The Gemma 4 tokenizer (GGUF `tokenizer.ggml.model = "gemma4"`).
//
// Encoding follows llama.cpp's Gemma 4 path. Special tokens are split out first, spaces become
// U+2581, and the text is cut into runs of newlines and runs of other characters. A newline run
// that is a token stays whole; everything else goes through BPE by merge rank over UTF-8
// characters, with `<0xHH>` byte tokens for pieces that are not tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace utter::inference {

class GgufFile;

class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Token types as stored in `tokenizer.ggml.token_type`.
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

// Special ids and flags that a GGUF stores next to the vocabulary.
struct TokenizerOptions {
  int32_t bos_id = 2;
  int32_t eos_id = 1;
  int32_t unknown_id = 3;
  int32_t padding_id = 0;
  bool add_bos = true;
  std::vector<int32_t> suppressed_tokens;  // ids whose logits a sampler sets to -inf
};

// Immutable once built, so encode, decode and the lookups may run on several threads at once.
class Tokenizer {
 public:
  // Reads the vocabulary of a GGUF whose `tokenizer.ggml.model` is "gemma4"; throws
  // TokenizerError naming the file and the offending key or value. add_bos() is always true,
  // as in llama.cpp, whatever `tokenizer.ggml.add_bos_token` contains.
  static Tokenizer from_gguf(const GgufFile& file);

  // Builds a tokenizer from plain arrays (tests and tools). `merges` are "left right" strings,
  // rank = index. Throws TokenizerError on inconsistent input.
  static Tokenizer from_vocabulary(std::vector<std::string> tokens,
                                   std::vector<int32_t> token_types,
                                   const std::vector<std::string>& merges,
                                   TokenizerOptions options = {});

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Encodes UTF-8 text. With `parse_special`, the literal text of CONTROL and USER_DEFINED
  // tokens becomes those tokens; without it only USER_DEFINED texts are split out (as llama.cpp
  // does). Invalid UTF-8 never fails: each invalid byte becomes its byte token, so decoding
  // restores it (llama.cpp would encode U+FFFD instead).
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

  // Concatenates the pieces of `ids` (see token_piece); throws TokenizerError on an id outside
  // the vocabulary. Pieces are joined as bytes, so a character split across byte tokens is
  // whole again only in the full result; use Utf8StreamDecoder when showing tokens one by one.
  std::string decode(std::span<const int32_t> ids, bool render_special = false) const;

  // The bytes a token stands for: NORMAL text with U+2581 turned into spaces, the raw byte of
  // a BYTE token, USER_DEFINED text literally, CONTROL and UNKNOWN text only when
  // `render_special` is set, nothing for UNUSED tokens.
  std::string token_piece(int32_t id, bool render_special = false) const;

  int32_t bos_id() const;
  int32_t eos_id() const;
  int32_t unknown_id() const;
  int32_t padding_id() const;
  bool add_bos() const;
  // True for `<eos>`, `<turn|>`, `<|tool_response>` (found by text) and the stored eos id.
  bool is_end_of_generation(int32_t id) const;
  const std::vector<int32_t>& end_of_generation_ids() const;

  std::optional<int32_t> find_token(std::string_view text) const;
  size_t size() const;
  const std::vector<int32_t>& suppressed_tokens() const;
  // Both throw TokenizerError on an id outside the vocabulary.
  std::string_view token_text(int32_t id) const;
  TokenType token_type(int32_t id) const;

 private:
  struct State;
  friend struct TokenizerBuilder;
  explicit Tokenizer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Reassembles UTF-8 text from token pieces produced one at a time. A character can be split
// across several byte tokens, so an incomplete trailing sequence is held back until the bytes
// that complete it arrive. The output is always well-formed UTF-8: each ill-formed sequence
// (stray bytes, overlong forms, surrogates, values above U+10FFFF) becomes one U+FFFD.
class Utf8StreamDecoder {
 public:
  // Appends `piece` and returns the text that is complete so far.
  std::string push(std::string_view piece);
  // Returns what is still held back (an incomplete sequence becomes U+FFFD) and resets.
  std::string flush();

 private:
  std::string pending_;
};

}  // namespace utter::inference
