#include "utter/editor/command_mode.h"
#include "utter/editor/dictation_controller.h"
#include "utter/editor/rewrite.h"

#include "editor_test_support.h"

#include "utter/editor/utf8.h"

#include <gtest/gtest.h>

#include <random>

#include <stdexcept>
#include <string>
#include <vector>

namespace utter::editor {
namespace {

using testing::make_document;
using testing::marked_text;

// Stands in for the model: records each request and returns a scripted reply.
struct FakeRewriter {
  std::vector<RewriteRequest> requests;
  std::string reply;

  RewriteFunction function() {
    return [this](const RewriteRequest& request) {
      requests.push_back(request);
      return reply;
    };
  }
};

Dictation make_dictation(Document& document, RewriteFunction rewrite = {}) {
  return Dictation(document, SpokenPunctuation::load_default(), CommandGrammar::load_default(),
                   std::move(rewrite));
}

TEST(RewritePrompt, DefaultTemplateExactText) {
  const RewritePrompt prompt = build_rewrite_prompt({"  make this more formal ", "hey {name}, send it\nby friday"});
  EXPECT_EQ(prompt.user, "Instruction: make this more formal\n\nText:\nhey {name}, send it\nby friday");
  EXPECT_FALSE(prompt.system.empty());
  EXPECT_NE(prompt.system.back(), '\n');
  EXPECT_EQ(prompt.system.find("{text}"), std::string::npos);
}

TEST(RewritePrompt, CustomTemplate) {
  const RewritePromptTemplate templates{"S", "<{text}|{instruction}>"};
  const RewritePrompt prompt = build_rewrite_prompt({"shorter", "a {instruction} b"}, templates);
  EXPECT_EQ(prompt.system, "S");
  EXPECT_EQ(prompt.user, "<a {instruction} b|shorter>");
  EXPECT_THROW(build_rewrite_prompt({"x", "y"}, RewritePromptTemplate{"S", "{text}"}), std::invalid_argument);
  EXPECT_THROW(build_rewrite_prompt({"x", "y"}, RewritePromptTemplate{"S", "{text}{text}{instruction}"}),
               std::invalid_argument);
}

TEST(RewriteOutput, Cleaning) {
  struct Case {
    std::string reply, original, expected;
  };
  const std::vector<Case> cases = {
      {"  Could you send it?\n", "hey send it", "Could you send it?"},
      {"\"Could you send it?\"", "hey send it", "Could you send it?"},
      {"“Bonjour à tous”", "salut", "Bonjour à tous"},
      {"\"Quoted\"", "\"quoted\"", "\"Quoted\""},
      {"\"a\" and \"b\"", "a and b", "\"a\" and \"b\""},
      {"```\nfixed text\n```", "text", "fixed text"},
      {"```markdown\n**bold**\n```", "bold", "**bold**"},
      {"new", "  old\n", "  new\n"},
      {"東京", "とうきょう ", "東京 "},
  };
  for (const Case& test : cases) {
    EXPECT_EQ(clean_rewrite_output(test.reply, test.original), test.expected) << test.reply;
  }
}

struct RewriteCase {
  const char* name;
  std::string document;
  std::string instruction;
  std::string reply;
  std::string expected_request_text;
  std::string expected;
};

TEST(CommandMode, RewritesSelectionOrParagraph) {
  const std::vector<RewriteCase> cases = {
      {"selection", "[hey, can u send it] now", "make this more formal", "\"Could you send it?\"",
       "hey, can u send it", "[Could you send it?] now"},
      {"paragraph at cursor", "First.\n\nSecond par|agraph.\n\nThird.", "shorter", "Second.",
       "Second paragraph.", "First.\n\n[Second.]\n\nThird."},
      {"paragraph before cursor", "Only one.\n\n|", "translate to French", "Un seul.", "Only one.",
       "[Un seul.]\n\n"},
      {"accents", "[crème brûlée]", "translate to English", "burnt cream", "crème brûlée", "[burnt cream]"},
      {"emoji", "Hi [👋🏽 👨‍👩‍👧] ok", "describe the emoji", "a wave and a family", "👋🏽 👨‍👩‍👧",
       "Hi [a wave and a family] ok"},
      {"CJK", "[今日は晴れ。]明日", "translate to English", "It is sunny today.", "今日は晴れ。",
       "[It is sunny today.]明日"},
      {"RTL", "x [שלום עולם] y", "translate to English", "Hello world", "שלום עולם", "x [Hello world] y"},
      {"keeps selection whitespace", "a[ old ]b", "newer", "new", " old ", "a[ new ]b"},
  };
  for (const RewriteCase& test : cases) {
    Document document = make_document(test.document);
    FakeRewriter model;
    model.reply = test.reply;
    Dictation dictation = make_dictation(document, model.function());
    const UtteranceResult result = dictation.handle(test.instruction, UtteranceMode::kCommand);
    EXPECT_EQ(result.kind, UtteranceResult::Kind::kRewrite) << test.name;
    EXPECT_TRUE(result.succeeded) << test.name << ": " << result.message;
    ASSERT_EQ(model.requests.size(), 1u) << test.name;
    EXPECT_EQ(model.requests[0].instruction, test.instruction) << test.name;
    EXPECT_EQ(model.requests[0].text, test.expected_request_text) << test.name;
    ASSERT_TRUE(result.rewrite.has_value()) << test.name;
    EXPECT_EQ(result.rewrite->instruction, test.instruction) << test.name;
    EXPECT_NE(result.message.find(test.instruction), std::string::npos) << test.name;
    EXPECT_EQ(marked_text(document), test.expected) << test.name;

    EXPECT_EQ(document.undo_steps(), 1u) << test.name;
    EXPECT_EQ(document.undo_label(), "Rewrite: " + test.instruction) << test.name;
    document.undo();
    EXPECT_EQ(marked_text(document), test.document) << test.name;
  }
}

TEST(CommandMode, GrammarCommandsDoNotReachTheModel) {
  Document document = make_document("one [two] three");
  FakeRewriter model;
  Dictation dictation = make_dictation(document, model.function());
  const UtteranceResult result = dictation.handle("all caps that", UtteranceMode::kCommand);
  EXPECT_EQ(result.kind, UtteranceResult::Kind::kCommand);
  EXPECT_TRUE(model.requests.empty());
  EXPECT_EQ(marked_text(document), "one [TWO] three");
}

TEST(CommandMode, ModelFailureChangesNothing) {
  Document document = make_document("[text]");
  Dictation dictation = make_dictation(document, [](const RewriteRequest&) -> std::string {
    throw std::runtime_error("out of memory");
  });
  const UtteranceResult result = dictation.handle("shorter", UtteranceMode::kCommand);
  EXPECT_FALSE(result.succeeded);
  EXPECT_NE(result.message.find("out of memory"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("shorter"), std::string::npos) << result.message;
  EXPECT_EQ(marked_text(document), "[text]");
  EXPECT_FALSE(document.can_undo());
}

TEST(CommandMode, NoModelLoaded) {
  Document document = make_document("[text]");
  Dictation dictation = make_dictation(document);
  const UtteranceResult result = dictation.handle("shorter", UtteranceMode::kCommand);
  EXPECT_FALSE(result.succeeded);
  EXPECT_EQ(result.kind, UtteranceResult::Kind::kRewrite);
  EXPECT_NE(result.message.find("No model"), std::string::npos) << result.message;
}

TEST(CommandMode, NothingToRewrite) {
  Document document = make_document("|");
  FakeRewriter model;
  Dictation dictation = make_dictation(document, model.function());
  const UtteranceResult result = dictation.handle("shorter", UtteranceMode::kCommand);
  EXPECT_FALSE(result.succeeded);
  EXPECT_TRUE(model.requests.empty());
}

TEST(CommandMode, EditsWhileModelRuns) {
  // An edit before the range moves it; the reply still lands on the right text.
  Document document = make_document("abc [def] ghi");
  auto pending = begin_rewrite(document, "upper");
  ASSERT_TRUE(pending.has_value());
  document.insert(0, "12 ");
  RewriteOutcome outcome = finish_rewrite(document, *pending, "DEF");
  EXPECT_TRUE(outcome.succeeded) << outcome.message;
  EXPECT_EQ(document.text(), "12 abc DEF ghi");

  // An edit inside the range means the reply no longer fits: nothing changes.
  Document edited = make_document("abc [def] ghi");
  pending = begin_rewrite(edited, "upper");
  ASSERT_TRUE(pending.has_value());
  edited.insert(5, "X");
  outcome = finish_rewrite(edited, *pending, "DEF");
  EXPECT_FALSE(outcome.succeeded);
  EXPECT_EQ(edited.text(), "abc dXef ghi");
}

TEST(DictationController, UnknownPhrasesAreDictated) {
  Document document = make_document("|");
  FakeRewriter model;
  int changes = 0;
  Dictation dictation = make_dictation(document, model.function());
  dictation.set_after_change([&] { ++changes; });

  UtteranceResult result = dictation.handle("please select all the apples period");
  EXPECT_EQ(result.kind, UtteranceResult::Kind::kDictated);
  EXPECT_EQ(document.text(), "Please select all the apples.");
  result = dictation.handle("they are red");
  EXPECT_EQ(document.text(), "Please select all the apples. They are red");
  ASSERT_TRUE(dictation.last_insertion().has_value());
  EXPECT_EQ(document.substr(*dictation.last_insertion()), "They are red");

  result = dictation.handle("cap that");
  EXPECT_EQ(result.kind, UtteranceResult::Kind::kCommand);
  EXPECT_EQ(marked_text(document), "Please select all the apples. [They Are Red]");
  document.set_cursor(document.size());
  result = dictation.handle("Scratch that.");
  EXPECT_TRUE(result.succeeded) << result.message;
  EXPECT_EQ(marked_text(document), "Please select all the apples.|");
  result = dictation.handle("scratch that");
  EXPECT_FALSE(result.succeeded);
  EXPECT_EQ(document.text(), "Please select all the apples.");

  result = dictation.handle("   ");
  EXPECT_EQ(result.kind, UtteranceResult::Kind::kIgnored);
  EXPECT_TRUE(model.requests.empty());
  EXPECT_EQ(changes, 4);  // two dictations, cap that, scratch that
}

TEST(DictationController, InvalidUtf8IsRejected) {
  Document document = make_document("ok|");
  Dictation dictation = make_dictation(document);
  const UtteranceResult result = dictation.handle("caf\xE9 au lait");
  EXPECT_FALSE(result.succeeded);
  EXPECT_EQ(result.kind, UtteranceResult::Kind::kIgnored);
  EXPECT_NE(result.message.find("offset 3"), std::string::npos) << result.message;
  EXPECT_EQ(marked_text(document), "ok|");
}

TEST(VoiceCommandsDirect, EmptyArgumentsFailCleanly) {
  Document document = make_document("tea|");
  const CommandOutcome replace = execute_command(document, VoiceCommand{"replace", {}}, {});
  EXPECT_FALSE(replace.succeeded);
  const CommandOutcome select = execute_command(document, VoiceCommand{"select_text", {}}, {});
  EXPECT_FALSE(select.succeeded);
  const CommandOutcome unknown = execute_command(document, VoiceCommand{"fly", {}}, {});
  EXPECT_FALSE(unknown.succeeded);
  EXPECT_EQ(marked_text(document), "tea|");
}

// Random mixes of words, punctuation words and commands, in both modes: the document must stay
// valid UTF-8 with the selection inside it, and undoing everything restores the start.
TEST(DictationController, RandomUtterancesKeepDocumentValid) {
  const std::vector<std::string> words = {
      "hello", "comma", "period", "new", "paragraph", "line", "select", "the", "last", "next",
      "word", "sentence", "that", "scratch", "delete", "cap", "all", "caps", "no", "bold",
      "italic", "undo", "redo", "replace", "with", "go", "to", "end", "start", "of",
      "literal", "open", "close", "quote", "question", "mark", "é", "👨‍👩‍👧", "東京", "שלום",
      "👍🏽", "\"", ",", ".", "make", "it", "shorter", "e\u0301"};
  const std::string initial = "Début. 東京 שלום 👋🏽.\n\nSecond paragraph here.";
  Document document(initial);
  FakeRewriter model;
  model.reply = "\"Réécrit 👍🏽\"";
  Dictation dictation = make_dictation(document, model.function());
  std::mt19937 random(11);
  for (int i = 0; i < 1500; ++i) {
    std::string utterance;
    const int count = std::uniform_int_distribution<int>(1, 5)(random);
    for (int k = 0; k < count; ++k) {
      if (!utterance.empty()) utterance += ' ';
      utterance += words[std::uniform_int_distribution<std::size_t>(0, words.size() - 1)(random)];
    }
    if (std::uniform_int_distribution<int>(0, 4)(random) == 0) {
      const std::size_t size = document.size();
      document.set_selection({std::uniform_int_distribution<std::size_t>(0, size)(random),
                              std::uniform_int_distribution<std::size_t>(0, size)(random)});
    }
    const UtteranceMode mode =
        std::uniform_int_distribution<int>(0, 3)(random) == 0 ? UtteranceMode::kCommand : UtteranceMode::kDictation;
    dictation.handle(utterance, mode);
    ASSERT_FALSE(find_invalid_utf8(document.text()).has_value()) << "after \"" << utterance << "\"";
    ASSERT_LE(document.selection().end(), document.size()) << "after \"" << utterance << "\"";
  }
  while (document.undo()) {
  }
  EXPECT_EQ(document.text(), initial);
}

TEST(DictationController, UtteranceIsOneUndoStep) {
  Document document = make_document("Intro.|");
  Dictation dictation = make_dictation(document);
  dictation.handle("one comma two new paragraph three");
  EXPECT_EQ(document.text(), "Intro. One, two\n\nThree");
  dictation.handle("undo that");
  EXPECT_EQ(marked_text(document), "Intro.|");
}

}  // namespace
}  // namespace utter::editor
