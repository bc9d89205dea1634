// Tokenizer tests against llama.cpp's and the Hugging Face tokenizer's own token ids.
#include "utter/inference/tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "utter/inference/gguf.h"

namespace {

using utter::inference::GgufFile;
using utter::inference::Tokenizer;
using utter::inference::TokenizerError;
using utter::inference::TokenizerOptions;
using utter::inference::TokenType;
using utter::inference::Utf8StreamDecoder;

std::string testdata(const std::string& relative) {
  return std::string(UTTER_TESTDATA_DIR) + "/" + relative;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("failed to open " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_file(path)); }

struct VectorCase {
  std::string text;
  std::vector<int32_t> ids;
};

// Reads llama.cpp's test-vector format: inputs separated by "\n__ggml_vocab_test__\n", and one
// line of space-separated ids per input.
std::vector<VectorCase> read_vectors(const std::string& stem) {
  const std::string inputs = read_file(testdata("tokenizer/" + stem + ".inp"));
  const std::string outputs = read_file(testdata("tokenizer/" + stem + ".out"));
  const std::string separator = "\n__ggml_vocab_test__\n";

  std::vector<std::string> texts;
  size_t pos = 0;
  while (true) {
    const size_t found = inputs.find(separator, pos);
    if (found == std::string::npos) {
      texts.push_back(inputs.substr(pos));
      break;
    }
    texts.push_back(inputs.substr(pos, found - pos));
    pos = found + separator.size();
  }
  if (inputs.ends_with(separator)) {
    texts.pop_back();
  } else if (texts.back().ends_with('\n')) {
    texts.back().pop_back();  // the line end of the file, not part of the last input
  }

  std::vector<VectorCase> cases;
  std::istringstream lines(outputs);
  std::string line;
  for (const std::string& text : texts) {
    if (!std::getline(lines, line)) throw std::runtime_error(stem + ".out has too few lines");
    VectorCase entry{text, {}};
    std::istringstream numbers(line);
    int32_t id = 0;
    while (numbers >> id) entry.ids.push_back(id);
    cases.push_back(std::move(entry));
  }
  return cases;
}

struct PlainVocabulary {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
};

bool is_byte_token_text(const std::string& text) {
  return text.size() == 6 && text.starts_with("<0x") && text.back() == '>';
}

// The Gemma vocabulary of gemma-tokenizer.json as plain arrays: HF special tokens are CONTROL,
// `<0xHH>` tokens are BYTE, everything else is NORMAL (as a GGUF converter stores them).
const PlainVocabulary& hf_vocabulary() {
  static const PlainVocabulary vocabulary = [] {
    const nlohmann::json json = read_json(testdata("tokenizer/gemma-tokenizer.json"));
    const auto& model = json.at("model");
    PlainVocabulary result;
    result.tokens.resize(model.at("vocab").size());
    for (const auto& [text, id] : model.at("vocab").items()) {
      result.tokens.at(id.get<size_t>()) = text;
    }
    result.types.assign(result.tokens.size(), static_cast<int32_t>(TokenType::Normal));
    for (size_t id = 0; id < result.tokens.size(); ++id) {
      if (is_byte_token_text(result.tokens[id])) result.types[id] = 6;
    }
    for (const auto& added : json.at("added_tokens")) {
      const auto id = added.at("id").get<size_t>();
      if (added.at("special").get<bool>() && id < result.tokens.size()) result.types[id] = 3;
    }
    for (const auto& merge : model.at("merges")) {
      if (merge.is_string()) {
        result.merges.push_back(merge.get<std::string>());
      } else {
        result.merges.push_back(merge.at(0).get<std::string>() + " " +
                                merge.at(1).get<std::string>());
      }
    }
    return result;
  }();
  return vocabulary;
}

const Tokenizer& hf_tokenizer() {
  static const Tokenizer tokenizer = [] {
    const PlainVocabulary& vocabulary = hf_vocabulary();
    return Tokenizer::from_vocabulary(vocabulary.tokens, vocabulary.types, vocabulary.merges);
  }();
  return tokenizer;
}

// The same vocabulary with Gemma 4's special tokens written into their slots. Types follow
// Gemma 4 GGUF files: the tool, think, turn and media markers are CONTROL and the seven visible
// markers USER_DEFINED. Apart from the byte tokens, everything else is NORMAL.
const Tokenizer& gemma4_tokenizer() {
  static const Tokenizer tokenizer = [] {
    PlainVocabulary vocabulary = hf_vocabulary();
    const std::map<int32_t, std::pair<std::string, int32_t>> specials = {
        {0, {"<pad>", 3}},          {1, {"<eos>", 3}},           {2, {"<bos>", 3}},
        {3, {"<unk>", 3}},          {46, {"<|tool>", 3}},        {47, {"<tool|>", 3}},
        {48, {"<|tool_call>", 4}},  {49, {"<tool_call|>", 4}},   {50, {"<|tool_response>", 4}},
        {51, {"<tool_response|>", 4}}, {52, {"<|\"|>", 4}},      {98, {"<|think|>", 3}},
        {100, {"<|channel>", 4}},   {101, {"<channel|>", 4}},    {105, {"<|turn>", 3}},
        {106, {"<turn|>", 3}},      {255999, {"<|image>", 3}},   {256000, {"<|audio>", 3}},
        {258880, {"<|image|>", 3}}, {258881, {"<|audio|>", 3}},  {258882, {"<image|>", 3}},
        {258883, {"<audio|>", 3}},  {258884, {"<|video|>", 3}},
    };
    for (size_t id = 0; id < vocabulary.types.size(); ++id) {
      if (vocabulary.types[id] == 3) vocabulary.types[id] = 1;
    }
    for (const auto& [id, entry] : specials) {
      vocabulary.tokens.at(id) = entry.first;
      vocabulary.types.at(id) = entry.second;
    }
    TokenizerOptions options;
    options.suppressed_tokens = {258882, 258883};
    return Tokenizer::from_vocabulary(std::move(vocabulary.tokens), std::move(vocabulary.types),
                                      vocabulary.merges, options);
  }();
  return tokenizer;
}

// The vocabulary of the reference models, loaded the way the engine loads it. Loading it is
// much faster than parsing the JSON file, so most tests use it.
const Tokenizer& gguf_tokenizer() {
  static const Tokenizer tokenizer = [] {
    const GgufFile file = GgufFile::open(testdata("reference/tiny-f32.gguf"));
    return Tokenizer::from_gguf(file);
  }();
  return tokenizer;
}

std::string describe(const std::vector<int32_t>& ids) {
  std::string out;
  for (const int32_t id : ids) out += std::to_string(id) + " ";
  return out;
}

void expect_vectors_reproduce(const Tokenizer& tokenizer, const std::string& stem) {
  const std::vector<VectorCase> cases = read_vectors(stem);
  ASSERT_FALSE(cases.empty());
  for (const VectorCase& entry : cases) {
    const std::vector<int32_t> ids = tokenizer.encode(entry.text, false, false);
    EXPECT_EQ(ids, entry.ids) << stem << " text '" << entry.text << "'\n got      "
                              << describe(ids) << "\n expected " << describe(entry.ids);
    EXPECT_EQ(tokenizer.decode(entry.ids), entry.text) << stem << " decode of " << describe(entry.ids);
  }
}

struct ReferenceTextCase {
  std::string id;
  std::string prompt;  // the byte-exact prompt file
  std::vector<int32_t> prompt_token_ids;
};

// Text cases of a cases.json. The prompt comes from the case's prompt file, because the
// `prompt_text` field is not byte-exact (t5_code_whitespace loses the carriage return before
// its last line end).
std::vector<ReferenceTextCase> reference_text_cases(const std::string& cases_file,
                                                    const std::string& variant) {
  const nlohmann::json json = read_json(testdata(cases_file));
  const std::string folder = cases_file.substr(0, cases_file.rfind('/') + 1);
  std::vector<ReferenceTextCase> cases;
  for (const auto& entry : json.at("cases")) {
    if (entry.at("kind") != "text") continue;
    cases.push_back({entry.at("id").get<std::string>(),
                     read_file(testdata(folder + entry.at("prompt_file").get<std::string>())),
                     entry.at("results").at(variant).at("prompt_token_ids").get<std::vector<int32_t>>()});
  }
  return cases;
}

void expect_reference_cases_reproduce(const Tokenizer& tokenizer, const std::string& cases_file,
                                      const std::string& variant) {
  const std::vector<ReferenceTextCase> cases = reference_text_cases(cases_file, variant);
  ASSERT_FALSE(cases.empty());
  for (const ReferenceTextCase& entry : cases) {
    const std::vector<int32_t> ids = tokenizer.encode(entry.prompt, true, true);
    EXPECT_EQ(ids, entry.prompt_token_ids)
        << entry.id << "\n got      " << describe(ids) << "\n expected "
        << describe(entry.prompt_token_ids);
  }
}

// A small hand-made vocabulary for checking the BPE rules on their own.
Tokenizer make_small_tokenizer() {
  std::vector<std::string> tokens = {"<pad>", "<eos>", "<bos>", "<unk>", "a", "b", "c", "ab", "bc",
                                     "aa", "\xE2\x96\x81", "\n", "<|ctl|>", "<ud>"};
  std::vector<int32_t> types = {3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 4};
  for (int byte = 0; byte < 256; ++byte) {
    char text[8];
    std::snprintf(text, sizeof(text), "<0x%02X>", byte);
    tokens.emplace_back(text);
    types.push_back(6);
  }
  const std::vector<std::string> merges = {"b c", "a b", "a a", "ab c"};
  return Tokenizer::from_vocabulary(tokens, types, merges);
}

int32_t byte_token(int byte) { return 14 + byte; }  // ids of <0x00>.. in the small vocabulary

TEST(Tokenizer, VectorsFromHfVocabulary) {
  expect_vectors_reproduce(hf_tokenizer(), "vectors-a");
  expect_vectors_reproduce(hf_tokenizer(), "vectors-b");
}

TEST(Tokenizer, ReferencePromptsWithGemma4Specials) {
  expect_reference_cases_reproduce(gemma4_tokenizer(), "reference/cases.json", "f32");
}

TEST(Tokenizer, ReferenceIdsDecode) {
  const Tokenizer& tokenizer = gemma4_tokenizer();
  const nlohmann::json json = read_json(testdata("reference/cases.json"));
  std::vector<int32_t> ids;
  for (const auto& entry : json.at("cases")) {
    if (entry.at("id") == "t6_ids") ids = entry.at("prompt_token_ids_given").get<std::vector<int32_t>>();
  }
  ASSERT_FALSE(ids.empty());

  // Expected text from the JSON vocabulary: U+2581 becomes a space, CONTROL tokens vanish,
  // USER_DEFINED markers stay literal.
  const PlainVocabulary& vocabulary = hf_vocabulary();
  std::string expected;
  for (const int32_t id : ids) {
    const std::string_view text = tokenizer.token_text(id);
    const TokenType type = tokenizer.token_type(id);
    if (type == TokenType::Control) continue;
    if (type == TokenType::UserDefined) {
      expected += text;
      continue;
    }
    const std::string& piece = vocabulary.tokens.at(id);
    for (size_t pos = 0; pos < piece.size();) {
      if (piece.compare(pos, 3, "\xE2\x96\x81") == 0) {
        expected += ' ';
        pos += 3;
      } else {
        expected += piece[pos++];
      }
    }
  }
  const std::string decoded = tokenizer.decode(ids);
  EXPECT_EQ(decoded, expected);
  EXPECT_TRUE(decoded.starts_with("The capital of France isuser\n<|channel><channel|>")) << decoded;

  const std::string rendered = tokenizer.decode(ids, true);
  EXPECT_TRUE(rendered.starts_with("<bos>The capital of France is<|turn>user\n<|image>")) << rendered;
  EXPECT_EQ(tokenizer.encode("The capital of France is", true, false),
            std::vector<int32_t>(ids.begin(), ids.begin() + 6));
}

TEST(Tokenizer, UserDefinedSplitWithoutSpecialParsing) {
  const Tokenizer& tokenizer = gguf_tokenizer();
  // <|channel> is USER_DEFINED: llama.cpp splits it out even without special parsing.
  EXPECT_EQ(tokenizer.encode("<|channel>", false, false), std::vector<int32_t>{100});
  // <|turn> is CONTROL: only special parsing turns the text into the token.
  EXPECT_EQ(tokenizer.encode("<|turn>", false, true), std::vector<int32_t>{105});
  const std::vector<int32_t> plain = tokenizer.encode("<|turn>", false, false);
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(tokenizer.decode(plain), "<|turn>");
  // <|tool_response> is stored USER_DEFINED but ends generation, which llama.cpp treats as
  // a control token.
  EXPECT_EQ(tokenizer.encode("<|tool_response>", false, true), std::vector<int32_t>{50});
  EXPECT_NE(tokenizer.encode("<|tool_response>", false, false), std::vector<int32_t>{50});
}

TEST(Tokenizer, EndOfGenerationIds) {
  const Tokenizer& tokenizer = gguf_tokenizer();
  EXPECT_TRUE(tokenizer.is_end_of_generation(1));
  EXPECT_TRUE(tokenizer.is_end_of_generation(106));
  EXPECT_TRUE(tokenizer.is_end_of_generation(50));
  EXPECT_FALSE(tokenizer.is_end_of_generation(212));  // </s> is an ordinary token in Gemma 4
  EXPECT_FALSE(tokenizer.is_end_of_generation(2));
  EXPECT_FALSE(tokenizer.is_end_of_generation(105));
  EXPECT_EQ(tokenizer.find_token("</s>"), 212);
  EXPECT_EQ(tokenizer.find_token("<|turn>"), 105);
  EXPECT_EQ(tokenizer.find_token("no such token text"), std::nullopt);
  EXPECT_EQ(tokenizer.suppressed_tokens(), (std::vector<int32_t>{258882, 258883}));
  EXPECT_EQ(tokenizer.size(), 262144u);
}

TEST(Tokenizer, PieceRules) {
  const Tokenizer& tokenizer = gguf_tokenizer();
  EXPECT_EQ(tokenizer.token_piece(236743), " ");
  EXPECT_EQ(tokenizer.token_piece(138), "  ");
  EXPECT_EQ(tokenizer.token_piece(105), "");
  EXPECT_EQ(tokenizer.token_piece(105, true), "<|turn>");
  EXPECT_EQ(tokenizer.token_piece(100), "<|channel>");
  const auto byte_a = tokenizer.find_token("<0x41>");
  ASSERT_TRUE(byte_a.has_value());
  EXPECT_EQ(tokenizer.token_piece(*byte_a), "A");
  EXPECT_THROW(tokenizer.token_piece(-1), TokenizerError);
  EXPECT_THROW(tokenizer.token_piece(262144), TokenizerError);
  const std::vector<int32_t> bad = {818, 999999};
  EXPECT_THROW(tokenizer.decode(bad), TokenizerError);
}

TEST(Tokenizer, InvalidUtf8BecomesByteTokens) {
  const Tokenizer& tokenizer = gguf_tokenizer();
  const std::vector<std::string> inputs = {
      "a\xFF" "b",           // a byte that never starts a character
      "\x80\x80",            // lone continuation bytes
      "x\xE2\x96",           // a character cut off at the end
      "\xC3(",               // a lead byte followed by a non-continuation byte
      "\xF8\x88\x80\x80\x80",  // five-byte form, not UTF-8
      std::string("nul\0byte", 8),
  };
  for (const std::string& input : inputs) {
    const std::vector<int32_t> ids = tokenizer.encode(input, false, false);
    EXPECT_EQ(tokenizer.decode(ids), input) << describe(ids);
  }
  const auto byte_ff = tokenizer.find_token("<0xFF>");
  ASSERT_TRUE(byte_ff.has_value());
  const std::vector<int32_t> ids = tokenizer.encode("a\xFF" "b", false, false);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[1], *byte_ff);
  EXPECT_EQ(ids[0], tokenizer.find_token("a"));
  EXPECT_EQ(ids[2], tokenizer.find_token("b"));
}

TEST(Tokenizer, RandomBytesRoundTrip) {
  const Tokenizer& tokenizer = gguf_tokenizer();
  const std::vector<std::string> pieces = {"<|turn>", "<turn|>", "<|channel>", "<bos>", " ",
                                           "  ", "\n", "\n\n\n", "\t", "\xC3\xA9", "\xF0\x9F",
                                           "<|tool_response>", "<0x41>", "\r\n"};
  std::mt19937 generator(1234);
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const int parts = static_cast<int>(generator() % 40);
    for (int i = 0; i < parts; ++i) {
      if (generator() % 3 == 0) {
        text += pieces[generator() % pieces.size()];
      } else {
        text.push_back(static_cast<char>(generator() % 256));
      }
    }
    // Without special parsing every byte comes back from the plain pieces; with it, the
    // control tokens come back only when rendered.
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(text, false, false)), text) << "round " << round;
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(text, false, true), true), text)
        << "round " << round;
  }
}

TEST(Tokenizer, SmallVocabularyMergeOrder) {
  const Tokenizer tokenizer = make_small_tokenizer();
  // "b c" has the lowest rank, so "abc" becomes a + bc although "ab c" also exists.
  EXPECT_EQ(tokenizer.encode("abc", false, false), (std::vector<int32_t>{4, 8}));
  // Equal ranks: the leftmost pair merges first, "aaa" -> aa + a.
  EXPECT_EQ(tokenizer.encode("aaa", false, false), (std::vector<int32_t>{9, 4}));
  EXPECT_EQ(tokenizer.encode("aaaa", false, false), (std::vector<int32_t>{9, 9}));
  // A space becomes U+2581; a character outside the vocabulary falls back to bytes.
  EXPECT_EQ(tokenizer.encode("a b", false, false), (std::vector<int32_t>{4, 10, 5}));
  EXPECT_EQ(tokenizer.encode("\xC3\xA9", false, false),
            (std::vector<int32_t>{byte_token(0xC3), byte_token(0xA9)}));
  // A newline run without its own token is split into characters.
  EXPECT_EQ(tokenizer.encode("a\n\nb", false, false), (std::vector<int32_t>{4, 11, 11, 5}));
  EXPECT_EQ(tokenizer.encode("a", true, false), (std::vector<int32_t>{2, 4}));
  EXPECT_EQ(tokenizer.encode("", false, false), std::vector<int32_t>{});
  EXPECT_EQ(tokenizer.encode("", true, false), std::vector<int32_t>{2});
}

TEST(Tokenizer, SmallVocabularySpecialSplit) {
  const Tokenizer tokenizer = make_small_tokenizer();
  EXPECT_EQ(tokenizer.encode("a<|ctl|>b", false, true), (std::vector<int32_t>{4, 12, 5}));
  EXPECT_EQ(tokenizer.encode("<ud>ab<ud>", false, false), (std::vector<int32_t>{13, 7, 13}));
  const std::vector<int32_t> plain = tokenizer.encode("a<|ctl|>b", false, false);
  EXPECT_EQ(plain.size(), 9u);  // a, 7 characters as bytes or tokens, b
  EXPECT_EQ(tokenizer.decode(plain), "a<|ctl|>b");
}

// Builds a vocabulary and returns the error message, or "" when it was accepted.
std::string vocabulary_error(std::vector<std::string> tokens, std::vector<int32_t> types,
                             const std::vector<std::string>& merges, TokenizerOptions options) {
  try {
    (void)Tokenizer::from_vocabulary(std::move(tokens), std::move(types), merges, options);
  } catch (const TokenizerError& error) {
    return error.what();
  }
  return "";
}

TEST(Tokenizer, RejectsInconsistentVocabulary) {
  TokenizerOptions small;  // ids that exist in a two-token vocabulary
  small.bos_id = 0;
  small.eos_id = 1;
  small.unknown_id = -1;
  small.padding_id = -1;
  EXPECT_EQ(vocabulary_error({"a", "b"}, {1, 1}, {"a b"}, small), "");
  EXPECT_NE(vocabulary_error({"a", "b"}, {1}, {}, small).find("1 token types"), std::string::npos);
  EXPECT_NE(vocabulary_error({"a", "<0xZZ>"}, {1, 6}, {}, small).find("not of the form <0xHH>"),
            std::string::npos);
  EXPECT_NE(vocabulary_error({"a", "b"}, {1, 9}, {}, small).find("has type 9"), std::string::npos);
  EXPECT_NE(vocabulary_error({"a", "b"}, {1, 1}, {"ab"}, small).find("merge 0 ('ab')"),
            std::string::npos);
  EXPECT_NE(vocabulary_error({}, {}, {}, small).find("empty"), std::string::npos);
  TokenizerOptions out_of_range = small;
  out_of_range.bos_id = 5;
  EXPECT_NE(vocabulary_error({"a", "b"}, {1, 1}, {}, out_of_range).find("bos token id 5"),
            std::string::npos);
}

TEST(Tokenizer, MissingByteTokensWithoutUnknown) {
  TokenizerOptions options;
  options.bos_id = 0;
  options.eos_id = -1;
  options.unknown_id = -1;
  options.padding_id = -1;
  const Tokenizer tokenizer = Tokenizer::from_vocabulary({"<bos>", "a"}, {3, 1}, {}, options);
  // With neither byte tokens nor an unknown token, llama.cpp's rule applies: the byte is dropped.
  EXPECT_EQ(tokenizer.encode("a\xC3\xA9" "a", false, false), (std::vector<int32_t>{1, 1}));
  EXPECT_THROW(tokenizer.encode("a", false, false).at(2), std::out_of_range);
}

TEST(Tokenizer, LongTextRoundTripAndTiming) {
  const auto open_start = std::chrono::steady_clock::now();
  const GgufFile file = GgufFile::open(testdata("reference/tiny-f32.gguf"));
  const auto build_start = std::chrono::steady_clock::now();
  const std::clock_t build_cpu_start = std::clock();
  const Tokenizer tokenizer = Tokenizer::from_gguf(file);
  const std::clock_t build_cpu_end = std::clock();
  const auto build_end = std::chrono::steady_clock::now();

  std::string text;
  const std::string paragraph = read_file(testdata("reference/prompts/t3_long.txt"));
  while (text.size() < 10 * 1024) text += paragraph + "\n\n";
  std::string one_line = text;
  std::replace(one_line.begin(), one_line.end(), '\n', ' ');

  const auto encode_start = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = tokenizer.encode(text, false, false);
  const auto encode_end = std::chrono::steady_clock::now();
  const std::vector<int32_t> one_line_ids = tokenizer.encode(one_line, false, false);
  const auto one_line_end = std::chrono::steady_clock::now();

  EXPECT_EQ(tokenizer.decode(ids), text);
  EXPECT_EQ(tokenizer.decode(one_line_ids), one_line);
  const auto ms = [](auto duration) {
    return std::chrono::duration<double, std::milli>(duration).count();
  };
  std::printf("open the GGUF: %.1f ms, build the tokenizer: %.1f ms (%.1f ms of processor time)\n",
              ms(build_start - open_start), ms(build_end - build_start),
              1000.0 * static_cast<double>(build_cpu_end - build_cpu_start) / CLOCKS_PER_SEC);
  std::printf("encode %zu bytes in paragraphs: %.2f ms (%zu tokens)\n", text.size(),
              ms(encode_end - encode_start), ids.size());
  std::printf("encode %zu bytes as one line: %.2f ms (%zu tokens)\n", one_line.size(),
              ms(one_line_end - encode_end), one_line_ids.size());
}

TEST(Utf8StreamDecoder, EmojiSplitAcrossByteTokens) {
  const Tokenizer& tokenizer = gguf_tokenizer();
  // U+1F642 (F0 9F 99 82) arrives as four byte tokens.
  std::vector<int32_t> ids;
  for (const char* text : {"<0xF0>", "<0x9F>", "<0x99>", "<0x82>"}) {
    const auto id = tokenizer.find_token(text);
    ASSERT_TRUE(id.has_value()) << text;
    ids.push_back(*id);
  }
  Utf8StreamDecoder decoder;
  std::string streamed;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string out = decoder.push(tokenizer.token_piece(ids[i]));
    if (i + 1 < ids.size()) {
      EXPECT_EQ(out, "") << "byte " << i;
    }
    streamed += out;
  }
  EXPECT_EQ(streamed, "\xF0\x9F\x99\x82");
  EXPECT_EQ(decoder.flush(), "");
}

TEST(Utf8StreamDecoder, HoldsBackAndReplaces) {
  Utf8StreamDecoder decoder;
  EXPECT_EQ(decoder.push("ab\xE2\x96"), "ab");
  EXPECT_EQ(decoder.push("\x81" "c"), "\xE2\x96\x81" "c");
  EXPECT_EQ(decoder.push("\xFF"), "\xEF\xBF\xBD");
  EXPECT_EQ(decoder.push("\xC3" "x"), "\xEF\xBF\xBD" "x");
  EXPECT_EQ(decoder.push("\xE2\x82"), "");
  EXPECT_EQ(decoder.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(decoder.push("ok"), "ok");
}

TEST(Utf8StreamDecoder, RejectsIllFormedSequences) {
  const std::string replacement = "\xEF\xBF\xBD";
  Utf8StreamDecoder decoder;
  // Overlong NUL: C0 can never start a character, and 80 alone is a stray continuation byte.
  EXPECT_EQ(decoder.push("\xC0\x80"), replacement + replacement);
  // A UTF-16 surrogate (U+D800) is not a character: ED must be followed by 80..9F.
  EXPECT_EQ(decoder.push("\xED\xA0\x80"), replacement + replacement + replacement);
  // Above U+10FFFF.
  EXPECT_EQ(decoder.push("\xF4\x90\x80\x80"),
            replacement + replacement + replacement + replacement);
  // The largest and a four-byte character pass unchanged, also when split byte by byte.
  std::string streamed;
  for (const char byte : std::string("\xF4\x8F\xBF\xBF\xF0\x9F\x9A\x80")) {
    streamed += decoder.push(std::string(1, byte));
  }
  EXPECT_EQ(streamed, "\xF4\x8F\xBF\xBF\xF0\x9F\x9A\x80");
  // A cut-off sequence followed by ASCII: one replacement for the whole valid start.
  EXPECT_EQ(decoder.push("\xF0\x9F\x9A" "a"), replacement + "a");
  EXPECT_EQ(decoder.flush(), "");
}

// These load the vocabulary that the reference models really carry.
TEST(TokenizerGguf, TinyModelVocabulary) {
  const GgufFile file = GgufFile::open(testdata("reference/tiny-f32.gguf"));
  const Tokenizer tokenizer = Tokenizer::from_gguf(file);
  EXPECT_EQ(tokenizer.size(), 262144u);
  EXPECT_EQ(tokenizer.bos_id(), 2);
  EXPECT_EQ(tokenizer.eos_id(), 1);
  EXPECT_TRUE(tokenizer.add_bos());
  EXPECT_EQ(tokenizer.suppressed_tokens(), (std::vector<int32_t>{258882, 258883}));
  EXPECT_EQ(tokenizer.token_text(105), "<|turn>");
  EXPECT_EQ(tokenizer.token_type(105), TokenType::Control);
  EXPECT_EQ(tokenizer.token_type(100), TokenType::UserDefined);
  expect_vectors_reproduce(tokenizer, "vectors-a");
  expect_vectors_reproduce(tokenizer, "vectors-b");
  expect_reference_cases_reproduce(tokenizer, "reference/cases.json", "f32");
}

TEST(TokenizerGguf, KquantVocabularyByteFallback) {
  const GgufFile file = GgufFile::open(testdata("reference-kquant/kquant-f32.gguf"));
  const Tokenizer tokenizer = Tokenizer::from_gguf(file);
  EXPECT_EQ(tokenizer.size(), 1024u);
  EXPECT_EQ(tokenizer.suppressed_tokens(), (std::vector<int32_t>{1021, 1022}));
  expect_reference_cases_reproduce(tokenizer, "reference-kquant/cases.json", "f32");
  const auto cases = reference_text_cases("reference-kquant/cases.json", "f32");
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(tokenizer.decode(cases[0].prompt_token_ids, true), "<bos>" + cases[0].prompt);
  // "Café" ends in the byte tokens of U+00E9 and "€" is three byte tokens.
  const std::vector<int32_t> cafe = tokenizer.encode("\xC3\xA9\xE2\x82\xAC", false, false);
  const std::vector<int32_t> expected_bytes = {
      *tokenizer.find_token("<0xC3>"), *tokenizer.find_token("<0xA9>"),
      *tokenizer.find_token("<0xE2>"), *tokenizer.find_token("<0x82>"),
      *tokenizer.find_token("<0xAC>")};
  EXPECT_EQ(cafe, expected_bytes);
}

TEST(TokenizerGguf, RejectsOtherTokenizerModel) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / "utter-tokenizer-test-llama.gguf";
  {
    utter::inference::GgufWriter writer(path);
    writer.add_metadata("general.architecture", utter::inference::gguf_make_string("llama"));
    writer.add_metadata("tokenizer.ggml.model", utter::inference::gguf_make_string("llama"));
    writer.add_metadata("tokenizer.ggml.tokens",
                        utter::inference::gguf_make_string_array({"<unk>", "a"}));
    writer.write_header();
    writer.finish();
  }
  const GgufFile file = GgufFile::open(path);
  try {
    (void)Tokenizer::from_gguf(file);
    ADD_FAILURE() << "a 'llama' vocabulary was accepted";
  } catch (const TokenizerError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'llama'"), std::string::npos) << message;
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  }
  std::filesystem::remove(path);
}

}  // namespace
