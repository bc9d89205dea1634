#include "utter/editor/voice_commands.h"

#include "editor_test_support.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace utter::editor {
namespace {

using testing::make_document;
using testing::marked_text;

struct CommandCase {
  const char* name;
  std::string document;       // cursor and selection marked as in make_document
  std::string utterance;
  std::string expected;       // the document afterwards, with its selection marked
  bool succeeds = true;
  std::string last_insertion = {};  // text of the last dictated utterance (its last occurrence)
};

const std::vector<CommandCase>& command_cases() {
  static const std::vector<CommandCase> cases = {
      {"select all", "Café| crème.", "select all", "[Café crème.]"},
      {"select everything RTL", "שלום| עולם.", "Select everything.", "[שלום עולם.]"},
      {"select that keeps selection", "a [b] c", "select that", "a [b] c"},
      {"select that is last dictation", "Hi 👋🏽 there|", "select that", "Hi 👋🏽 [there]", true, "there"},
      {"select that with nothing", "abc|", "select that", "abc|", false},
      {"select last word accents", "Café crème|.", "select the last word", "Café [crème]."},
      {"select next word emoji", "Hi |👋🏽 there.", "select next word", "Hi [👋🏽] there."},
      {"select next word from selection", "[Hi] 👨‍👩‍👧 there.", "select the next word", "Hi [👨‍👩‍👧] there."},
      {"select previous sentence CJK", "今日は晴れ。明日は雨。|", "select the previous sentence",
       "今日は晴れ。[明日は雨。]"},
      {"select this sentence RTL", "שלום עו|לם. מה שלומך?", "select this sentence", "[שלום עולם.] מה שלומך?"},
      {"select sentence", "One. Tw|o. Three.", "select sentence", "One. [Two.] Three."},
      {"select paragraph", "Déjà vu.\n\nÉté| brûlant.", "select paragraph", "Déjà vu.\n\n[Été brûlant.]"},
      {"select next paragraph", "Café| crème.\n\nÉté brûlant.", "select the next paragraph",
       "Café crème.\n\n[Été brûlant.]"},
      {"select no previous word", "|Café", "select the last word", "|Café", false},
      {"select phrase", "The Quarterly Report is late. |", "select quarterly report",
       "The [Quarterly Report] is late. "},
      {"select phrase nearest before", "tea, tea and tea|", "select tea", "tea, tea and [tea]"},
      {"select phrase after cursor", "|tea, coffee", "select coffee", "tea, [coffee]"},
      {"select phrase whole word first", "steak, tea|", "select tea", "steak, [tea]"},
      {"select accented phrase", "Café crème. Déjà vu|", "select Crème", "Café [crème]. Déjà vu"},
      {"select CJK phrase", "|今日は晴れ。明日は雨。", "select 明日", "今日は晴れ。[明日]は雨。"},
      {"select quoted RTL phrase", "שלום עולם|", "select “עולם”", "שלום [עולם]"},
      {"select emoji phrase", "a 👨‍👩‍👧 b|", "select 👨‍👩‍👧", "a [👨‍👩‍👧] b"},
      {"select phrase not found", "abc|", "select quarterly report", "abc|", false},
      {"delete that emoji", "Hi [👋🏽] there.", "delete that", "Hi| there."},
      {"scratch that last dictation", "Déjà vu here and more|", "scratch that", "Déjà vu here|", true,
       "and more"},
      {"delete that before comma", "Hello [there], you", "delete that", "Hello|, you"},
      {"remove that CJK", "今日は[晴れ]。", "remove that", "今日は|。"},
      {"erase it RTL", "שלום [עולם]", "erase it", "שלום|"},
      {"delete that with nothing", "abc|", "delete that", "abc|", false},
      {"cap that", "[déjà vu] here", "cap that", "[Déjà Vu] here"},
      {"capitalize last dictation", "ok i said|", "capitalize that", "ok [I Said]", true, "i said"},
      {"all caps that", "[straße] 👍🏽", "all caps that", "[STRASSE] 👍🏽"},
      {"uppercase RTL unchanged", "[שלום]", "uppercase that", "[שלום]"},
      {"no caps that", "[ÉTÉ] שלום", "no caps that", "[été] שלום"},
      {"lowercase that", "[Hello WORLD]", "lower case that", "[hello world]"},
      {"cap that with nothing", "abc|", "cap that", "abc|", false},
      {"go to start", "שלום| עולם", "go to start", "|שלום עולם"},
      {"go to the end", "|今日は", "go to the end", "今日は|"},
      {"go to the beginning of the document", "ab|c", "go to the beginning of the document", "|abc"},
      {"move to the bottom", "|ab", "move to the bottom", "ab|"},
      {"go to end of paragraph", "Café| crème.\n\nÉté.", "go to the end of the paragraph",
       "Café crème.|\n\nÉté."},
      {"go to start of sentence", "One. Two th|ree.", "go to the start of the sentence", "One. |Two three."},
      {"go to start of next paragraph", "A|.\n\nשלום.", "go to the start of the next paragraph",
       "A.\n\n|שלום."},
      {"jump to end of word", "Fa👨‍👩‍👧mi|ly x", "jump to the end of the word", "Fa👨‍👩‍👧mily| x"},
      {"new paragraph", "Fin.|", "new paragraph", "Fin.\n\n|"},
      {"new line", "שלום |", "new line", "שלום\n|"},
      {"new paragraph mid text", "one.| Two", "New paragraph.", "one.\n\n|Two"},
      {"bold that", "Café [crème].", "bold that", "Café **[crème]**."},
      {"bold that again removes", "Café **[crème]**.", "bold that", "Café [crème]."},
      {"bold trims spaces", "a[ b ]c", "bold that", "a **[b]** c"},
      {"bold last dictation", "Go 東京|", "bold that", "Go **[東京]**", true, "東京"},
      {"make that bold CJK", "[明日]は", "make that bold", "**[明日]**は"},
      {"italic that", "Hi [👋🏽]", "italic that", "Hi *[👋🏽]*"},
      {"italicize bold text", "**[x]**", "italicize that", "***[x]***"},
      {"make that italic RTL", "[שלום] x", "make that italic", "*[שלום]* x"},
      {"italic with nothing", "abc|", "italic that", "abc|", false},
      {"replace nearest before", "I like tea. Tea is good.|", "replace tea with coffee",
       "I like tea. Coffee| is good."},
      {"replace RTL", "שלום עולם|", "replace עולם with חברים", "שלום חברים|"},
      {"replace accents", "|Un été chaud", "replace été with hiver", "Un hiver| chaud"},
      {"replace CJK", "今日は晴れ。|", "replace 晴れ with 雨", "今日は雨|。"},
      {"replace emoji", "ok 👍🏽|", "replace 👍🏽 with 👍🏿", "ok 👍🏿|"},
      {"replace phrase with phrase", "see the quarterly report|", "Replace quarterly report with annual summary.",
       "see the annual summary|"},
      {"replace not found", "abc|", "replace tea with coffee", "abc|", false},
  };
  return cases;
}

TEST(VoiceCommands, EveryCommandOnEveryScript) {
  const CommandGrammar grammar = CommandGrammar::load_default();
  for (const CommandCase& test : command_cases()) {
    Document document = make_document(test.document);
    CommandContext context;
    if (!test.last_insertion.empty()) {
      const std::size_t start = document.text().rfind(test.last_insertion);
      ASSERT_NE(start, std::string::npos) << test.name;
      context.last_insertion = TextRange{start, start + test.last_insertion.size()};
    }
    const auto command = grammar.match(test.utterance);
    ASSERT_TRUE(command.has_value()) << test.name << ": \"" << test.utterance << "\" is not a command";
    const CommandOutcome outcome = execute_command(document, *command, context);
    EXPECT_EQ(outcome.succeeded, test.succeeds) << test.name << ": " << outcome.message;
    EXPECT_FALSE(outcome.message.empty()) << test.name;
    EXPECT_EQ(marked_text(document), test.expected) << test.name;
    if (!test.succeeds) {
      EXPECT_FALSE(document.can_undo()) << test.name << " changed the document";
    }
  }
}

TEST(VoiceCommands, EveryActionHasACase) {
  const CommandGrammar grammar = CommandGrammar::load_default();
  std::set<std::string> covered;
  for (const CommandCase& test : command_cases()) {
    if (const auto command = grammar.match(test.utterance)) covered.insert(command->action);
  }
  covered.insert("undo");  // covered by the undo and redo tests below
  covered.insert("redo");
  for (const CommandGrammar::Rule& rule : grammar.rules()) {
    EXPECT_TRUE(covered.contains(rule.action)) << "no test case for action " << rule.action;
  }
}

TEST(VoiceCommands, UndoAndRedoThat) {
  const CommandGrammar grammar = CommandGrammar::load_default();
  Document document("Crème 👍🏽");
  document.set_cursor(document.size());
  document.replace_selection(" 東京");
  const CommandContext context;
  CommandOutcome outcome = execute_command(document, *grammar.match("undo that"), context);
  EXPECT_TRUE(outcome.succeeded);
  EXPECT_EQ(document.text(), "Crème 👍🏽");
  outcome = execute_command(document, *grammar.match("Redo."), context);
  EXPECT_TRUE(outcome.succeeded);
  EXPECT_EQ(document.text(), "Crème 👍🏽 東京");
  outcome = execute_command(document, *grammar.match("undo"), context);
  outcome = execute_command(document, *grammar.match("undo"), context);
  EXPECT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.message, "Nothing to undo");
}

TEST(VoiceCommands, EachCommandIsOneUndoStep) {
  const CommandGrammar grammar = CommandGrammar::load_default();
  Document document = make_document("Café [crème].");
  execute_command(document, *grammar.match("bold that"), {});
  EXPECT_EQ(document.undo_steps(), 1u);
  document.undo();
  EXPECT_EQ(marked_text(document), "Café [crème].");
}

struct MatchCase {
  std::string utterance;
  std::string action;  // empty: not a command
  std::map<std::string, std::string> arguments;
};

TEST(CommandGrammar, MatchesWholeUtterancesOnly) {
  const CommandGrammar grammar = CommandGrammar::load_default();
  const std::vector<MatchCase> cases = {
      {"Select the last sentence.", "select_unit", {{"direction", "previous"}, {"unit", "sentence"}}},
      {"select word", "select_unit", {{"unit", "word"}}},
      {"SCRATCH THAT", "delete_that", {{"that", "that"}}},
      {"delete the selection", "delete_that", {{"that", "that"}}},
      {"undo", "undo", {}},
      {"select “quarterly report”", "select_text", {{"target", "quarterly report"}}},
      {"replace a with b with c", "replace", {{"find", "a"}, {"replacement", "b with c"}}},
      {"go to the end of the paragraph", "go_to_unit_edge", {{"place", "end"}, {"unit", "paragraph"}}},
      {"go to the top", "go_to", {{"place", "start"}}},
      {"select", "", {}},
      {"delete the file", "", {}},
      {"hello world", "", {}},
      {"please select all", "", {}},
      {"new paragraph now", "", {}},
      {"", "", {}},
      {"  ...  ", "", {}},
  };
  for (const MatchCase& test : cases) {
    const auto command = grammar.match(test.utterance);
    if (test.action.empty()) {
      EXPECT_FALSE(command.has_value()) << "\"" << test.utterance << "\" matched " << command->action;
      continue;
    }
    ASSERT_TRUE(command.has_value()) << "\"" << test.utterance << "\" did not match";
    EXPECT_EQ(command->action, test.action) << test.utterance;
    EXPECT_EQ(command->arguments, test.arguments) << test.utterance;
  }
}

TEST(CommandGrammar, RejectsInvalidGrammars) {
  const std::vector<std::string> invalid = {
      "{",
      R"({"commands": [{"action": "fly", "patterns": ["fly"]}]})",
      R"({"commands": [{"action": "undo", "patterns": ["undo {thing}"]}]})",
      R"({"commands": [{"action": "undo", "patterns": ["(undo"]}]})",
      R"({"commands": [{"action": "undo", "patterns": ["[undo]"]}]})",
      R"({"commands": [{"action": "undo", "patterns": ["undo {text:}"]}]})",
      R"({"commands": [{"action": "undo", "patterns": ["undo ]"]}]})",
      R"({"commands": 5})",
  };
  for (const std::string& json : invalid) {
    EXPECT_THROW(CommandGrammar::parse(json, "grammar.json"), std::runtime_error) << json;
  }
  try {
    CommandGrammar::parse(R"({"commands": [{"action": "undo", "patterns": ["undo {thing}"]}]})", "g.json");
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("g.json"), std::string::npos) << message;
    EXPECT_NE(message.find("{thing}"), std::string::npos) << message;
  }
}

TEST(TextSearch, NearestInLargeText) {
  const std::string filler(200 * 1024, 'x');
  // The nearby occurrence wins over an earlier one far away.
  std::string text = "Tea first. " + filler + " then tea time";
  const std::size_t near_tea = text.rfind("tea");
  EXPECT_EQ(find_nearest(text, "TEA", text.size()), (TextRange{near_tea, near_tea + 3}));
  // Only "steak" is nearby, so the whole word far before the cursor is chosen.
  text = "Tea first. " + filler + " steak";
  EXPECT_EQ(find_nearest(text, "tea", text.size()), (TextRange{0, 3}));
  // Nothing before the cursor: the first occurrence after it.
  text = filler + " tea";
  EXPECT_EQ(find_nearest(text, "tea", 10), (TextRange{filler.size() + 1, filler.size() + 4}));
  EXPECT_FALSE(find_nearest(filler, "tea", filler.size()).has_value());
}

TEST(TextSearch, CaseInsensitiveAcrossScripts) {
  EXPECT_EQ(find_case_insensitive("ÉTÉ été", "été"), (std::vector<TextRange>{{0, 5}, {6, 11}}));
  EXPECT_EQ(find_case_insensitive("aaa", "aa"), (std::vector<TextRange>{{0, 2}}));
  EXPECT_TRUE(find_case_insensitive("abc", "").empty());
  EXPECT_TRUE(find_case_insensitive("ab", "abc").empty());
}

}  // namespace
}  // namespace utter::editor
