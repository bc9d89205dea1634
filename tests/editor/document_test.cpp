#include "utter/editor/document.h"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace utter::editor {
namespace {

TEST(Document, InsertEraseReplace) {
  Document document("Hello world");
  document.insert(5, ",");
  EXPECT_EQ(document.text(), "Hello, world");
  document.erase(0, 7);
  EXPECT_EQ(document.text(), "world");
  document.replace(0, 5, "Grüße");
  EXPECT_EQ(document.text(), "Grüße");
  EXPECT_EQ(document.size(), 7u);
  EXPECT_EQ(document.substr(2, 2), "ü");
}

TEST(Document, RejectsInvalidUtf8AndSplitPositions) {
  EXPECT_THROW(Document("abc\xff"), std::invalid_argument);
  Document document("é");  // two bytes
  EXPECT_THROW(document.insert(1, "x"), std::invalid_argument);
  EXPECT_THROW(document.insert(0, "\xc3"), std::invalid_argument);
  EXPECT_THROW(document.erase(0, 1), std::invalid_argument);
  EXPECT_THROW(document.erase(1, 5), std::invalid_argument);
  EXPECT_THROW(document.insert(3, "x"), std::invalid_argument);
  EXPECT_EQ(document.text(), "é");
  EXPECT_FALSE(document.can_undo());
}

TEST(Document, SetSelectionSnapsToCodePoint) {
  Document document("aé");
  document.set_selection({0, 2});
  EXPECT_EQ(document.selection(), (Selection{0, 1}));
  document.set_cursor(100);
  EXPECT_EQ(document.selection(), Selection::cursor_at(3));
}

TEST(Document, TransactionIsOneUndoStep) {
  Document document("one two");
  {
    Document::Transaction transaction(document, "Bold that");
    document.insert(4, "**");
    document.insert(9, "**");
  }
  EXPECT_EQ(document.text(), "one **two**");
  EXPECT_EQ(document.undo_steps(), 1u);
  EXPECT_EQ(document.undo_label(), "Bold that");
  ASSERT_TRUE(document.undo());
  EXPECT_EQ(document.text(), "one two");
  EXPECT_EQ(document.redo_label(), "Bold that");
  ASSERT_TRUE(document.redo());
  EXPECT_EQ(document.text(), "one **two**");
  EXPECT_FALSE(document.redo());
}

TEST(Document, TypingJoinsOneStepPerWord) {
  Document document;
  for (char c : std::string("hello world")) document.type_text(std::string(1, c));
  EXPECT_EQ(document.text(), "hello world");
  EXPECT_EQ(document.undo_steps(), 2u);  // "hello " and "world"
  document.undo();
  EXPECT_EQ(document.text(), "hello ");
  EXPECT_EQ(document.selection(), Selection::cursor_at(6));
  document.undo();
  EXPECT_EQ(document.text(), "");
}

TEST(Document, TypingAfterCursorMoveStartsNewStep) {
  Document document("ab");
  document.set_cursor(2);
  document.type_text("c");
  document.set_cursor(0);
  document.type_text("x");
  EXPECT_EQ(document.text(), "xabc");
  EXPECT_EQ(document.undo_steps(), 2u);
}

TEST(Document, ReplaceSelectionMovesCursorAfter) {
  Document document("I like tea.");
  document.set_selection({7, 10});
  document.replace_selection("green tea");
  EXPECT_EQ(document.text(), "I like green tea.");
  EXPECT_EQ(document.selection(), Selection::cursor_at(16));
  document.undo();
  EXPECT_EQ(document.selection(), (Selection{7, 10}));
}

TEST(Document, SelectionFollowsEditsElsewhere) {
  Document document("abc def ghi");
  document.set_selection({8, 4});  // backwards selection of "def "
  document.insert(0, "12");
  EXPECT_EQ(document.selection(), (Selection{10, 6}));
  document.insert(10, "X");  // at the selection's end: the selection does not grow
  EXPECT_EQ(document.selection(), (Selection{10, 6}));
  document.insert(6, "Y");  // at its start: the selection moves and does not grow
  EXPECT_EQ(document.selection(), (Selection{11, 7}));
  document.erase(6, 1);
  EXPECT_EQ(document.selection(), (Selection{10, 6}));
  document.erase(4, 3);  // removes "c d", which overlaps the selection's start
  EXPECT_EQ(document.text(), "12abef Xghi");
  EXPECT_EQ(document.selection(), (Selection{7, 4}));
}

TEST(Document, MarkersFollowEdits) {
  Document document("🙂 one two");
  const auto before = document.add_marker(5, MarkerGravity::kStayBefore);
  const auto after = document.add_marker(5, MarkerGravity::kMoveAfter);
  const auto inside = document.add_marker(7);
  document.insert(5, "zero ");
  EXPECT_EQ(document.marker_position(before), 5u);
  EXPECT_EQ(document.marker_position(after), 10u);
  document.erase(10, 4);
  EXPECT_EQ(document.marker_position(inside), 10u);
  document.remove_marker(inside);
  EXPECT_THROW(document.marker_position(inside), std::out_of_range);
}

TEST(Document, UndoOnEmptyHistoryReturnsFalse) {
  Document document("x");
  EXPECT_FALSE(document.undo());
  EXPECT_FALSE(document.redo());
  EXPECT_THROW(document.commit_transaction(), std::logic_error);
}

// A code point boundary chosen at random in text.
std::size_t random_boundary(const std::string& text, std::mt19937& random) {
  std::size_t position = std::uniform_int_distribution<std::size_t>(0, text.size())(random);
  while (position > 0 && position < text.size() &&
         (static_cast<unsigned char>(text[position]) & 0xC0) == 0x80) {
    --position;
  }
  return position;
}

TEST(Document, ThousandRandomEditsUndoByteForByte) {
  const std::vector<std::string> fragments = {"a", "word ", "é", "ñandú ", "👍🏽", "👨‍👩‍👧",
                                              "漢字", "שלום ", "\n", "\n\n", ". ", "Ĳ"};
  const std::string initial = "Start of the document. Café, 東京, مرحبا.\n";
  Document document(initial);
  std::string model = initial;
  std::vector<std::string> history = {model};
  std::mt19937 random(20261204);

  for (int step = 0; step < 1000; ++step) {
    const int edits_in_step = std::uniform_int_distribution<int>(1, 3)(random);
    Document::Transaction transaction(document);
    for (int e = 0; e < edits_in_step; ++e) {
      const std::size_t start = random_boundary(model, random);
      std::size_t end = random_boundary(model, random);
      if (end < start || std::uniform_int_distribution<int>(0, 2)(random) == 0) end = start;
      if (end - start > 40) end = start;
      std::string inserted;
      if (std::uniform_int_distribution<int>(0, 3)(random) != 0) {
        inserted.append(fragments[std::uniform_int_distribution<std::size_t>(0, fragments.size() - 1)(random)]);
      }
      if (start == end && inserted.empty()) inserted.push_back('x');
      document.replace(start, end - start, inserted);
      model.replace(start, end - start, inserted);
    }
    history.push_back(model);
  }
  ASSERT_EQ(document.text(), model);
  ASSERT_EQ(document.undo_steps(), 1000u);

  for (int step = 1000; step > 0; --step) {
    ASSERT_TRUE(document.undo());
    ASSERT_EQ(document.text(), history[static_cast<std::size_t>(step - 1)]) << "after undo to step " << step - 1;
  }
  EXPECT_EQ(document.text(), initial);
  EXPECT_FALSE(document.undo());
  for (int step = 1; step <= 1000; ++step) {
    ASSERT_TRUE(document.redo());
    ASSERT_EQ(document.text(), history[static_cast<std::size_t>(step)]) << "after redo to step " << step;
  }
}

TEST(Document, SubstrAcrossPieces) {
  Document document("abcdef");
  document.insert(3, "XYZ");
  document.erase(1, 1);
  EXPECT_EQ(document.substr(0, 100), "acXYZdef");
  EXPECT_EQ(document.substr(1, 4), "cXYZ");
  EXPECT_EQ(document.substr(50, 4), "");
}

}  // namespace
}  // namespace utter::editor
