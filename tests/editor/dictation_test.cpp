#include "utter/editor/dictation.h"

#include "editor_test_support.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace utter::editor {
namespace {

using testing::make_document;
using testing::marked_text;

struct InsertionCase {
  const char* name;
  std::string document;  // cursor and selection marked as in make_document
  std::string utterance;
  std::string expected;
};

void run_cases(const std::vector<InsertionCase>& cases) {
  const SpokenPunctuation punctuation = SpokenPunctuation::load_default();
  for (const InsertionCase& test : cases) {
    Document document = make_document(test.document);
    insert_dictation(document, punctuation, test.utterance);
    EXPECT_EQ(marked_text(document), test.expected) << test.name;
    // One utterance is one undo step.
    if (document.can_undo()) {
      document.undo();
      EXPECT_EQ(marked_text(document), test.document) << test.name << " (after undo)";
    }
  }
}

TEST(DictationInsertion, SpacingAndCapitals) {
  run_cases({
      {"start of empty document", "|", "hello world", "Hello world|"},
      {"start before text", "|world", "hello", "Hello |world"},
      {"mid-sentence lower-cases", "I went to the |", "Store", "I went to the store|"},
      {"mid-sentence adds space", "I went to the|", "store", "I went to the store|"},
      {"mid-sentence keeps I", "and |", "I think", "and I think|"},
      {"mid-sentence keeps acronym", "ask |", "NASA", "ask NASA|"},
      {"after period and space", "One. |", "two", "One. Two|"},
      {"after period without space", "One.|", "two", "One. Two|"},
      {"after question mark", "Really? |", "yes", "Really? Yes|"},
      {"after ellipsis stays lower", "Wait… |", "What", "Wait… what|"},
      {"before comma", "Hello|, world", "there", "Hello there|, world"},
      {"before period", "It was late|.", "Then", "It was late then|."},
      {"between words", "one|three", "two", "one two |three"},
      {"comma removes space before", "hello |", "comma", "hello,|"},
      {"comma before a word", "hello|world", "comma", "hello, |world"},
      {"inside empty quotes", "He said \"|\"", "Stop", "He said \"stop|\""},
      {"inside quotes at sentence start", "\"|\"", "hello", "\"Hello|\""},
      {"after opening curly quote", "Then: “|”", "go", "Then: “go|”"},
      {"inside parentheses", "see (|)", "Page 4", "see (page 4|)"},
      {"after a newline", "First line\n|", "second", "First line\nSecond|"},
      {"after a paragraph break", "Para.\n\n|", "next", "Para.\n\nNext|"},
      {"line break removes spaces", "end |", "new line next", "end\nNext|"},
      {"replaces selection", "I like [tea] a lot", "coffee", "I like coffee| a lot"},
      {"replaces backwards selection", "I like ]tea[ a lot", "coffee", "I like coffee| a lot"},
      {"question mark attaches", "Is it|", "question mark", "Is it?|"},
      {"no double space", "one  |  two", "and", "one  and|  two"},
      {"blank utterance", "a|b", "   ", "a|b"},
      {"blank utterance keeps selection", "a[b]c", " ", "a[b]c"},
      {"CJK joins without spaces", "今日は|", "晴れ", "今日は晴れ|"},
      {"CJK then latin", "東京|", "OK", "東京OK|"},
      {"Hebrew gets spaces", "שלום |", "עולם", "שלום עולם|"},
      {"Arabic after sentence", "مرحبا. |", "كيف حالك", "مرحبا. كيف حالك|"},
      {"accented capital", "Fin. |", "été chaud", "Fin. Été chaud|"},
      {"after emoji", "Great 👍🏽|", "thanks", "Great 👍🏽 thanks|"},
      {"before emoji", "|👨‍👩‍👧", "family", "Family |👨‍👩‍👧"},
      {"model punctuation kept", "|", "Hello, world.", "Hello, world.|"},
      {"model newline kept", "|", "one\ntwo", "One\ntwo|"},
  });
}

// Every spoken punctuation word of the shipped table, on documents in several scripts.
const std::vector<InsertionCase>& punctuation_cases() {
  static const std::vector<InsertionCase> cases = {
      {"comma", "Crème brûlée|", "ok comma next", "Crème brûlée ok, next|"},
      {"period", "Family 👨‍👩‍👧|", "yes period next", "Family 👨‍👩‍👧 yes. Next|"},
      {"full stop", "東京|", "full stop", "東京.|"},
      {"question mark", "שלום|", "question mark", "שלום?|"},
      {"exclamation mark", "Crème brûlée|", "exclamation mark", "Crème brûlée!|"},
      {"exclamation point", "Family 👨‍👩‍👧|", "wow exclamation point", "Family 👨‍👩‍👧 wow!|"},
      {"colon", "東京|", "colon", "東京:|"},
      {"semicolon", "שלום|", "semicolon", "שלום;|"},
      {"semi colon", "Crème brûlée|", "semi colon then", "Crème brûlée; then|"},
      {"ellipsis", "Family 👨‍👩‍👧|", "ellipsis", "Family 👨‍👩‍👧…|"},
      {"dot dot dot", "東京|", "dot dot dot", "東京…|"},
      {"open quote", "Crème brûlée|", "open quote hi close quote", "Crème brûlée \"hi\"|"},
      {"begin quote", "שלום|", "begin quote עולם end quote", "שלום \"עולם\"|"},
      {"open quotes", "Family 👨‍👩‍👧|", "open quotes yes close quotes", "Family 👨‍👩‍👧 \"yes\"|"},
      {"quote unquote", "Crème brûlée|", "quote bon unquote", "Crème brûlée \"bon\"|"},
      {"single quotes", "東京|", "open single quote 大阪 close single quote", "東京'大阪'|"},
      {"open paren", "שלום|", "open paren עולם close paren", "שלום (עולם)|"},
      {"open parenthesis", "Crème brûlée|", "open parenthesis note close parenthesis",
       "Crème brûlée (note)|"},
      {"left paren", "Family 👨‍👩‍👧|", "left paren x right paren", "Family 👨‍👩‍👧 (x)|"},
      {"open bracket", "東京|", "open bracket 注 close bracket", "東京[注]|"},
      {"left bracket", "Crème brûlée|", "left bracket sic right bracket", "Crème brûlée [sic]|"},
      {"apostrophe", "Crème brûlée|", "don apostrophe t", "Crème brûlée don't|"},
      {"hyphen", "Family 👨‍👩‍👧|", "well hyphen known", "Family 👨‍👩‍👧 well-known|"},
      {"slash", "שלום|", "and slash or", "שלום and/or|"},
      {"forward slash", "東京|", "forward slash", "東京/|"},
      {"dash", "Crème brûlée|", "dash yes", "Crème brûlée – yes|"},
      {"em dash", "Family 👨‍👩‍👧|", "em dash yes", "Family 👨‍👩‍👧—yes|"},
      {"ampersand", "שלום|", "ampersand", "שלום &|"},
      {"percent sign", "東京|", "50 percent sign", "東京50%|"},
      {"new line", "Crème brûlée|", "new line next", "Crème brûlée\nNext|"},
      {"newline", "Family 👨‍👩‍👧|", "newline", "Family 👨‍👩‍👧\n|"},
      {"next line", "東京|", "next line 大阪", "東京\n大阪|"},
      {"new paragraph", "שלום|", "new paragraph עולם", "שלום\n\nעולם|"},
      {"next paragraph", "Crème brûlée|", "next paragraph done", "Crème brûlée\n\nDone|"},
      {"literal comma", "Family 👨‍👩‍👧|", "literal comma", "Family 👨‍👩‍👧 comma|"},
      {"literally new line", "Crème brûlée|", "literally new line", "Crème brûlée new line|"},
      {"literal alone", "שלום|", "literal", "שלום literal|"},
      {"model attached comma", "|", "Hello Comma, world", "Hello, world|"},
      {"upper-case phrase", "|", "Hi QUESTION MARK", "Hi?|"},
  };
  return cases;
}

TEST(SpokenPunctuation, EveryWordInEveryScript) { run_cases(punctuation_cases()); }

TEST(SpokenPunctuation, TableIsFullyCovered) {
  const SpokenPunctuation punctuation = SpokenPunctuation::load_default();
  auto covered = [](const std::string& phrase) {
    for (const InsertionCase& test : punctuation_cases()) {
      const std::string padded = " " + test.utterance + " ";
      if (padded.find(" " + phrase + " ") != std::string::npos) return true;
    }
    return false;
  };
  for (const PunctuationMark& mark : punctuation.marks()) {
    for (const std::string& phrase : mark.phrases) {
      EXPECT_TRUE(covered(phrase)) << "no test case says \"" << phrase << "\"";
    }
  }
  for (const std::string& word : punctuation.literal_words()) {
    EXPECT_TRUE(covered(word)) << "no test case says \"" << word << "\"";
  }
}

TEST(SpokenPunctuation, RejectsInvalidTables) {
  EXPECT_THROW(SpokenPunctuation::parse("{", "bad.json"), std::runtime_error);
  EXPECT_THROW(SpokenPunctuation::parse(R"({"marks": [{"phrases": ["x"], "text": ",", "spacing": "sideways"}]})",
                                        "bad.json"),
               std::runtime_error);
  EXPECT_THROW(SpokenPunctuation::parse(R"({"marks": [{"phrases": [], "text": ","}]})", "bad.json"),
               std::runtime_error);
  EXPECT_THROW(SpokenPunctuation::parse(R"({"marks": 3})", "bad.json"), std::runtime_error);
  try {
    SpokenPunctuation::parse(R"({"marks": [{"phrases": ["x"], "text": ",", "spacing": "sideways"}]})",
                             "table.json");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("table.json"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("sideways"), std::string::npos);
  }
}

TEST(SpokenPunctuation, RenderWithoutDocument) {
  const SpokenPunctuation punctuation = SpokenPunctuation::load_default();
  EXPECT_EQ(punctuation.render("hello comma world period how are you question mark"),
            "hello, world. How are you?");
  EXPECT_EQ(punctuation.render("new paragraph"), "\n\n");
  EXPECT_EQ(punctuation.render(""), "");
}

}  // namespace
}  // namespace utter::editor
