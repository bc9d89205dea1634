// Chat prompt rendering, checked against the Gemma 4 token framing and llama.cpp's prompts.
#include "utter/inference/chat_prompt.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "utter/inference/gguf.h"
#include "utter/inference/tokenizer.h"

namespace {

using utter::inference::ChatMessage;
using utter::inference::ChatPart;
using utter::inference::ChatPromptBuilder;
using utter::inference::ChatPromptOptions;
using utter::inference::ChatRole;
using utter::inference::GgufFile;
using utter::inference::Tokenizer;

std::string testdata(const std::string& relative) {
  return std::string(UTTER_TESTDATA_DIR) + "/" + relative;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("failed to open " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const Tokenizer& tokenizer() {
  static const Tokenizer instance = [] {
    const GgufFile file = GgufFile::open(testdata("reference/tiny-f32.gguf"));
    return Tokenizer::from_gguf(file);
  }();
  return instance;
}

std::vector<int32_t> encode_rendered(const std::string& text) {
  return tokenizer().encode(text, false, true);
}

const nlohmann::json& reference_case(const std::string& id) {
  static const nlohmann::json cases =
      nlohmann::json::parse(read_file(testdata("reference/cases.json"))).at("cases");
  for (const auto& entry : cases) {
    if (entry.at("id") == id) return entry;
  }
  throw std::runtime_error("reference case " + id + " not found");
}

TEST(ChatPrompt, UserTurnFraming) {
  ChatPromptBuilder builder;
  builder.add_text(ChatRole::User, "Hi");
  const std::string text = builder.render();
  EXPECT_EQ(text, "<bos><|turn>user\nHi<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");

  const std::vector<int32_t> ids = encode_rendered(text);
  const std::vector<int32_t> prefix = {2, 105, 2364, 107};
  const std::vector<int32_t> suffix = {106, 107, 105, 4368, 107, 100, 45518, 107, 101};
  ASSERT_EQ(ids.size(), prefix.size() + 1 + suffix.size());
  EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + 4), prefix);
  EXPECT_EQ(std::vector<int32_t>(ids.end() - 9, ids.end()), suffix);
}

TEST(ChatPrompt, ThinkingOnEmptySystemTurn) {
  ChatPromptBuilder builder;
  builder.add_text(ChatRole::User, "Hi");
  ChatPromptOptions options;
  options.thinking = true;
  const std::string text = builder.render(options);
  EXPECT_EQ(text, "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n");

  const std::vector<int32_t> ids = encode_rendered(text);
  const std::vector<int32_t> system_turn = {2, 105, 9731, 107, 98, 107, 106, 107};
  ASSERT_GE(ids.size(), system_turn.size() + 3);
  EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + 8), system_turn);
  EXPECT_EQ(std::vector<int32_t>(ids.end() - 3, ids.end()), (std::vector<int32_t>{105, 4368, 107}));
}

TEST(ChatPrompt, AudioPromptMatchesReference) {
  ChatPromptBuilder builder;
  builder.add_user_audio("Transcribe this audio.");
  const std::string text = builder.render();

  // llama.cpp's prompt uses its own media marker where ours has the audio placeholder.
  std::string expected = "<bos>" + read_file(testdata("reference/prompts/audio_prompt.txt"));
  const std::string media_marker = "<__media__>";
  expected.replace(expected.find(media_marker), media_marker.size(), "<|audio|>");
  EXPECT_EQ(text, expected);

  // Reference chunks: text ending in <|audio>, the audio, text starting with <audio|>. Our
  // prompt contains the placeholder token <|audio|> where that expansion goes.
  const auto& chunks = reference_case("a1_jfk").at("results").at("f32").at("chunks");
  std::vector<int32_t> before = chunks.at(0).at("token_ids").get<std::vector<int32_t>>();
  std::vector<int32_t> after = chunks.at(2).at("token_ids").get<std::vector<int32_t>>();
  ASSERT_EQ(before.back(), 256000);
  ASSERT_EQ(after.front(), 258883);
  std::vector<int32_t> expected_ids(before.begin(), before.end() - 1);
  expected_ids.push_back(258881);
  expected_ids.insert(expected_ids.end(), after.begin() + 1, after.end());
  EXPECT_EQ(encode_rendered(text), expected_ids);
}

TEST(ChatPrompt, ChatCaseWithEmptyThought) {
  ChatPromptBuilder builder;
  builder.add_text(ChatRole::User, "Write a haiku about the sea.");
  const std::string text = builder.render();
  // t2_chat is the same conversation rendered up to the model turn, without the thought channel.
  const std::string t2_prompt = read_file(testdata("reference/prompts/t2_chat.txt"));
  EXPECT_EQ(text, "<bos>" + t2_prompt + "<|channel>thought\n<channel|>");

  std::vector<int32_t> expected =
      reference_case("t2_chat").at("results").at("f32").at("prompt_token_ids").get<std::vector<int32_t>>();
  expected.insert(expected.end(), {100, 45518, 107, 101});
  EXPECT_EQ(encode_rendered(text), expected);
}

TEST(ChatPrompt, RewriteExampleWithSystem) {
  ChatPromptBuilder builder;
  builder.add_text(ChatRole::System,
                   "You edit text. Apply the user's instruction to the given text and reply with "
                   "the rewritten text only.");
  builder.add_text(ChatRole::User,
                   "Instruction: make this more formal.\n\nText:\nhey, can u send me the report "
                   "by friday?\n");
  EXPECT_EQ(builder.render(),
            "<bos><|turn>system\nYou edit text. Apply the user's instruction to the given text "
            "and reply with the rewritten text only.<turn|>\n<|turn>user\nInstruction: make this "
            "more formal.\n\nText:\nhey, can u send me the report by friday?<turn|>\n<|turn>model\n"
            "<|channel>thought\n<channel|>");
}

TEST(ChatPrompt, TrimsTextParts) {
  ChatMessage message{ChatRole::User,
                      {ChatPart::from_text(" \t\n first \n"), ChatPart::audio(),
                       ChatPart::from_text("\xC2\xA0" "second line\nthird\xE3\x80\x80"),
                       ChatPart::from_text("\xE2\x80\x8B" "kept")}};
  ChatPromptOptions options;
  options.add_generation_prompt = false;
  const std::vector<ChatMessage> messages = {message};
  // U+00A0 and U+3000 are whitespace to Jinja's trim; U+200B (zero width space) is not.
  EXPECT_EQ(utter::inference::render_chat_prompt(messages, options),
            "<bos><|turn>user\nfirst<|audio|>second line\nthird\xE2\x80\x8B" "kept<turn|>\n");
}

TEST(ChatPrompt, HistoryModelTurns) {
  ChatPromptBuilder builder;
  builder.add_text(ChatRole::User, "Question one");
  builder.add_text(ChatRole::Model, "<|channel>thought\nreasoning here<channel|>  Answer one \n");
  builder.add_text(ChatRole::User, "Question two");
  EXPECT_EQ(builder.render(),
            "<bos><|turn>user\nQuestion one<turn|>\n"
            "<|turn>model\n<|channel>thought\n<channel|>Answer one<turn|>\n"
            "<|turn>user\nQuestion two<turn|>\n"
            "<|turn>model\n<|channel>thought\n<channel|>");

  ChatPromptOptions options;
  options.thinking = true;
  EXPECT_EQ(builder.render(options),
            "<bos><|turn>system\n<|think|>\n<turn|>\n"
            "<|turn>user\nQuestion one<turn|>\n"
            "<|turn>model\nAnswer one<turn|>\n"
            "<|turn>user\nQuestion two<turn|>\n"
            "<|turn>model\n");
}

TEST(ChatPrompt, LaterSystemMessageGetsOwnTurn) {
  ChatPromptBuilder builder;
  builder.add_text(ChatRole::User, "a");
  builder.add_text(ChatRole::System, " b ");
  ChatPromptOptions options;
  options.add_generation_prompt = false;
  EXPECT_EQ(builder.render(options), "<bos><|turn>user\na<turn|>\n<|turn>system\nb<turn|>\n");
}

TEST(ChatPrompt, EmptyConversation) {
  EXPECT_EQ(ChatPromptBuilder().render(), "<bos><|turn>model\n<|channel>thought\n<channel|>");
  ChatPromptOptions options;
  options.add_generation_prompt = false;
  EXPECT_EQ(ChatPromptBuilder().render(options), "<bos>");
}

TEST(ChatPrompt, RoleNames) {
  using utter::inference::parse_chat_role;
  EXPECT_EQ(parse_chat_role("assistant"), ChatRole::Model);
  EXPECT_EQ(parse_chat_role("model"), ChatRole::Model);
  EXPECT_EQ(parse_chat_role("developer"), ChatRole::System);
  EXPECT_EQ(parse_chat_role("system"), ChatRole::System);
  EXPECT_EQ(parse_chat_role("user"), ChatRole::User);
  EXPECT_THROW(parse_chat_role("bot"), std::invalid_argument);
  EXPECT_THROW(parse_chat_role("User"), std::invalid_argument);
  EXPECT_EQ(utter::inference::chat_role_name(ChatRole::Model), "model");
}

}  // namespace
