#include "utter/editor/text_boundaries.h"
#include "utter/editor/text_case.h"

#include "editor_test_support.h"

#include <gtest/gtest.h>

#include <random>

#include <string>
#include <vector>

namespace utter::editor {
namespace {

std::vector<std::string> unit_texts(const std::string& text, TextUnit unit) {
  std::vector<std::string> out;
  for (const TextRange& range : text_units(text, unit)) {
    out.push_back(text.substr(range.start, range.length()));
  }
  return out;
}

struct SegmentCase {
  const char* name;
  std::string text;
  TextUnit unit;
  std::vector<std::string> expected;
};

TEST(TextBoundaries, SegmentsTable) {
  const std::vector<SegmentCase> cases = {
      {"combining accent", "e\u0301a", TextUnit::kCharacter, {"e\u0301", "a"}},
      {"skin tone", "👍🏽!", TextUnit::kCharacter, {"👍🏽", "!"}},
      {"ZWJ family", "👨‍👩‍👧‍👦x", TextUnit::kCharacter, {"👨‍👩‍👧‍👦", "x"}},
      {"flag", "🇫🇷🇩🇪", TextUnit::kCharacter, {"🇫🇷", "🇩🇪"}},
      {"Hangul jamo", "\u1100\u1161\u11A8", TextUnit::kCharacter, {"\u1100\u1161\u11A8"}},
      {"accented words", "Crème brûlée, s'il vous plaît.", TextUnit::kWord,
       {"Crème", "brûlée", "s'il", "vous", "plaît"}},
      {"emoji are words", "nice 👍🏽 work", TextUnit::kWord, {"nice", "👍🏽", "work"}},
      {"Japanese by dictionary", "私は学生です", TextUnit::kWord, {"私", "は", "学生", "です"}},
      {"Hebrew words", "שלום עולם.", TextUnit::kWord, {"שלום", "עולם"}},
      {"Arabic words", "مرحبا بالعالم", TextUnit::kWord, {"مرحبا", "بالعالم"}},
      {"sentences trimmed", "One. Two?  Three!\nFour", TextUnit::kSentence,
       {"One.", "Two?", "Three!", "Four"}},
      {"CJK sentences", "今日は晴れ。明日は雨。", TextUnit::kSentence, {"今日は晴れ。", "明日は雨。"}},
      {"Hebrew sentences", "שלום. מה שלומך?", TextUnit::kSentence, {"שלום.", "מה שלומך?"}},
      {"paragraphs", "First line\nsame paragraph\n\n  \nSecond.\n", TextUnit::kParagraph,
       {"First line\nsame paragraph", "Second."}},
      {"empty", "", TextUnit::kWord, {}},
  };
  for (const SegmentCase& test : cases) {
    EXPECT_EQ(unit_texts(test.text, test.unit), test.expected) << test.name;
  }
}

TEST(TextBoundaries, CharacterMotionSkipsClusters) {
  const std::string text = "a👨‍👩‍👧b";
  const std::size_t after_family = text.size() - 1;
  EXPECT_EQ(next_boundary(text, 0, TextUnit::kCharacter), 1u);
  EXPECT_EQ(next_boundary(text, 1, TextUnit::kCharacter), after_family);
  EXPECT_EQ(previous_boundary(text, after_family, TextUnit::kCharacter), 1u);
  EXPECT_EQ(previous_boundary(text, 0, TextUnit::kCharacter), 0u);
  EXPECT_EQ(next_boundary(text, text.size(), TextUnit::kCharacter), text.size());
}

TEST(TextBoundaries, WordMotion) {
  const std::string text = "one, two  three";
  EXPECT_EQ(next_boundary(text, 0, TextUnit::kWord), 3u);
  EXPECT_EQ(next_boundary(text, 3, TextUnit::kWord), 5u);
  EXPECT_EQ(next_boundary(text, 5, TextUnit::kWord), 8u);
  EXPECT_EQ(previous_boundary(text, 15, TextUnit::kWord), 10u);
  EXPECT_EQ(previous_boundary(text, 10, TextUnit::kWord), 8u);
  EXPECT_EQ(previous_boundary(text, 8, TextUnit::kWord), 5u);
}

TEST(TextBoundaries, UnitAroundOffset) {
  const std::string text = "alpha beta gamma";
  EXPECT_EQ(unit_at(text, 7, TextUnit::kWord), (TextRange{6, 10}));
  EXPECT_EQ(unit_at(text, 10, TextUnit::kWord), (TextRange{6, 10}));
  EXPECT_EQ(unit_at(text, 0, TextUnit::kWord), (TextRange{0, 5}));
  EXPECT_EQ(unit_before(text, 8, TextUnit::kWord), (TextRange{0, 5}));
  EXPECT_EQ(unit_after(text, 8, TextUnit::kWord), (TextRange{11, 16}));
  EXPECT_FALSE(unit_before(text, 3, TextUnit::kWord).has_value());
  EXPECT_FALSE(unit_after(text, 12, TextUnit::kWord).has_value());
  EXPECT_FALSE(unit_at("a   b", 2, TextUnit::kWord).has_value());
}

// Large texts are searched in a window of lines around the offset. The results must equal a
// plain scan over every unit of the whole text.
TEST(TextBoundaries, LargeTextMatchesFullScan) {
  std::string text;
  const std::vector<std::string> lines = {"Crème brûlée. Déjà vu!", "東京の天気は晴れです。", "שלום עולם. מה שלומך?",
                                          "Family 👨‍👩‍👧 and 👋🏽 wave.", "", "   "};
  for (int i = 0; text.size() < 400 * 1024; ++i) text += lines[static_cast<std::size_t>(i) % lines.size()] + "\n";
  std::mt19937 random(3);
  for (const TextUnit unit : {TextUnit::kWord, TextUnit::kSentence}) {
    const std::vector<TextRange> all = text_units(text, unit);
    for (int trial = 0; trial < 40; ++trial) {
      const std::size_t offset = std::uniform_int_distribution<std::size_t>(0, text.size())(random);
      std::optional<TextRange> before;
      std::optional<TextRange> after;
      for (const TextRange& range : all) {
        if (range.end <= offset) before = range;
        if (range.start >= offset && !after) after = range;
      }
      EXPECT_EQ(unit_before(text, offset, unit), before) << offset;
      EXPECT_EQ(unit_after(text, offset, unit), after) << offset;
    }
  }
}

TEST(TextBoundaries, LargeBlankGapFallsBackToWholeText) {
  std::string text = "alpha\n";
  for (int i = 0; i < 3000; ++i) text += std::string(100, ' ') + "\n";
  const std::size_t omega = text.size();
  text += "omega";
  EXPECT_EQ(unit_before(text, omega, TextUnit::kWord), (TextRange{0, 5}));
  EXPECT_EQ(unit_after(text, 6, TextUnit::kWord), (TextRange{omega, omega + 5}));
  EXPECT_EQ(previous_boundary(text, omega, TextUnit::kWord), 5u);
  EXPECT_EQ(next_boundary(text, 6, TextUnit::kWord), omega);
  EXPECT_FALSE(unit_at(text, 1000, TextUnit::kWord).has_value());
  EXPECT_FALSE(unit_before(text, 3, TextUnit::kWord).has_value());
}

TEST(TextBoundaries, MoveByUnitTable) {
  struct Case {
    const char* name;
    std::string document;
    TextUnit unit;
    bool forward;
    bool extend;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"right over ZWJ family", "a|👨‍👩‍👧b", TextUnit::kCharacter, true, false, "a👨‍👩‍👧|b"},
      {"left over skin tone", "x👍🏽|", TextUnit::kCharacter, false, false, "x|👍🏽"},
      {"right over combining accent", "|e\u0301t", TextUnit::kCharacter, true, false, "e\u0301|t"},
      {"shift right extends", "a|bc", TextUnit::kCharacter, true, true, "a[b]c"},
      {"shift left extends backwards", "ab|c", TextUnit::kCharacter, false, true, "a]b[c"},
      {"right collapses selection", "a[bc]d", TextUnit::kCharacter, true, false, "abc|d"},
      {"left collapses selection", "a[bc]d", TextUnit::kCharacter, false, false, "a|bcd"},
      {"word right accents", "|Crème brûlée", TextUnit::kWord, true, false, "Crème| brûlée"},
      {"word right from word end", "Crème| brûlée", TextUnit::kWord, true, false, "Crème |brûlée"},
      {"word left CJK", "私は学生|です", TextUnit::kWord, false, false, "私は|学生です"},
      {"word left RTL", "שלום עולם|", TextUnit::kWord, false, false, "שלום |עולם"},
      {"shift word right", "|one two", TextUnit::kWord, true, true, "[one] two"},
      {"sentence right", "One.| Two. Three.", TextUnit::kSentence, true, false, "One. |Two. Three."},
      {"paragraph left", "A.\n\nB b|b.", TextUnit::kParagraph, false, false, "A.\n\n|B bb."},
      {"at end stays", "ab|", TextUnit::kWord, true, false, "ab|"},
      {"at start stays", "|ab", TextUnit::kCharacter, false, false, "|ab"},
  };
  for (const Case& test : cases) {
    Document document = testing::make_document(test.document);
    document.set_selection(move_by_unit(document, test.unit, test.forward, test.extend));
    EXPECT_EQ(testing::marked_text(document), test.expected) << test.name;
  }
}

TEST(TextCase, Conversions) {
  EXPECT_EQ(to_upper("straße ǆ éa"), "STRASSE Ǆ ÉA");
  EXPECT_EQ(to_lower("ÉCOLE İ"), "école i̇");
  EXPECT_EQ(capitalize_words("the iPhone and élan, ok"), "The IPhone And Élan, Ok");
  EXPECT_EQ(capitalize_first_letter("\"ǆungla\""), "\"ǅungla\"");
  EXPECT_EQ(capitalize_first_letter("東京 is"), "東京 is");
  EXPECT_EQ(lowercase_first_word_if_capitalized("Store."), "store.");
  EXPECT_EQ(lowercase_first_word_if_capitalized("I think"), "I think");
  EXPECT_EQ(lowercase_first_word_if_capitalized("NASA"), "NASA");
  EXPECT_EQ(lowercase_first_word_if_capitalized("Él"), "él");
}

}  // namespace
}  // namespace utter::editor
