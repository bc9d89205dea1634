// The document being edited: UTF-8 text in a piece table, a selection, markers that follow
// edits, and transactions that undo and redo as one step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace utter::editor {

// A half-open byte range [start, end) of the document's UTF-8 text.
struct TextRange {
  std::size_t start = 0;
  std::size_t end = 0;

  std::size_t length() const { return end - start; }
  bool empty() const { return start == end; }
  bool operator==(const TextRange&) const = default;
};

// The selection: anchor is where it started, head is the cursor. Both are byte offsets on
// UTF-8 code point boundaries. An empty selection (anchor == head) is a plain cursor.
struct Selection {
  std::size_t anchor = 0;
  std::size_t head = 0;

  static Selection cursor_at(std::size_t position) { return {position, position}; }
  static Selection of(TextRange range) { return {range.start, range.end}; }
  std::size_t start() const { return anchor < head ? anchor : head; }
  std::size_t end() const { return anchor < head ? head : anchor; }
  bool empty() const { return anchor == head; }
  TextRange range() const { return {start(), end()}; }
  bool operator==(const Selection&) const = default;
};

// Direction a marker moves in when text is inserted exactly at its position.
enum class MarkerGravity { kStayBefore, kMoveAfter };

// Not thread-safe: one thread (the UI thread) owns a document and makes every call.
class Document {
 public:
  using MarkerId = std::uint64_t;

  Document();
  // Throws std::invalid_argument when text is not valid UTF-8, naming the byte offset.
  explicit Document(std::string_view text);

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The whole text, built from the pieces on the first call after an edit and cached. The
  // reference is valid until the next edit.
  const std::string& text() const;
  // Up to length bytes starting at position (clamped to the end of the text).
  std::string substr(std::size_t position, std::size_t length) const;
  std::string substr(TextRange range) const { return substr(range.start, range.length()); }

  const Selection& selection() const { return selection_; }
  // Both ends are clamped to the text and moved back to a code point boundary.
  void set_selection(Selection selection);
  void set_cursor(std::size_t position) { set_selection(Selection::cursor_at(position)); }

  // Edits. Each call outside a transaction is one undo step. Positions must lie on code point
  // boundaries and inserted text must be valid UTF-8; otherwise std::invalid_argument.
  void insert(std::size_t position, std::string_view text);
  void erase(std::size_t position, std::size_t length);
  void replace(std::size_t position, std::size_t length, std::string_view text);
  void replace(TextRange range, std::string_view text) {
    replace(range.start, range.length(), text);
  }
  // Replaces the selection and leaves the cursor after the new text.
  void replace_selection(std::string_view text);
  // Keyboard input: like replace_selection, but consecutive keystrokes join one undo step
  // until a new word starts after whitespace, so undo removes a word, not a character.
  void type_text(std::string_view text);

  // Groups every edit until the matching commit into one undo step. Calls nest; the outermost
  // label names the step (e.g. "Rewrite: make it formal").
  void begin_transaction(std::string label = {});
  void commit_transaction();

  class Transaction {
   public:
    Transaction(Document& document, std::string label = {}) : document_(document) {
      document_.begin_transaction(std::move(label));
    }
    ~Transaction() { document_.commit_transaction(); }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

   private:
    Document& document_;
  };

  bool can_undo() const { return !undo_stack_.empty(); }
  bool can_redo() const { return !redo_stack_.empty(); }
  // Each returns false when there is nothing to undo or redo. Undo and redo restore the text
  // byte for byte and the selection as it was before or after the step.
  bool undo();
  bool redo();
  std::size_t undo_steps() const { return undo_stack_.size(); }
  std::size_t redo_steps() const { return redo_stack_.size(); }
  // Labels of the steps that undo() and redo() would apply; empty when there is none.
  std::string undo_label() const;
  std::string redo_label() const;

  // Counts every change to the text, including undo and redo; autosave compares it.
  std::uint64_t revision() const { return revision_; }

  // A marker is a position that follows edits: it shifts with text inserted or erased before
  // it and moves to the start of an erased range that contained it.
  MarkerId add_marker(std::size_t position, MarkerGravity gravity = MarkerGravity::kMoveAfter);
  // Throws std::out_of_range for an unknown or removed marker.
  std::size_t marker_position(MarkerId marker) const;
  void remove_marker(MarkerId marker);

  // Number of pieces in the piece table; for benchmarks and tests.
  std::size_t piece_count() const { return pieces_.size(); }

 private:
  struct Piece {
    bool in_added = false;  // false: original buffer, true: append-only added buffer
    std::size_t start = 0;
    std::size_t length = 0;
  };

  struct EditRecord {
    std::size_t position = 0;
    std::string removed;
    std::string inserted;
  };

  struct UndoStep {
    std::vector<EditRecord> edits;
    Selection selection_before;
    Selection selection_after;
    std::string label;
  };

  struct Marker {
    std::size_t position = 0;
    MarkerGravity gravity = MarkerGravity::kMoveAfter;
  };

  void check_boundary(std::size_t position, const char* what) const;
  std::size_t split_at(std::size_t position);
  std::size_t floor_to_boundary(std::size_t position) const;
  unsigned char byte_at(std::size_t position) const;
  // Changes the text and moves the selection and markers; records nothing.
  void apply_raw(std::size_t position, std::size_t removed_length, std::string_view inserted);
  // Applies one edit and records it in the open undo step (opening one if needed).
  void apply_recorded(std::size_t position, std::size_t length, std::string_view text);
  void open_step_if_needed();
  void close_step_if_outermost();

  std::string original_;
  std::string added_;
  std::vector<Piece> pieces_;
  std::size_t size_ = 0;

  Selection selection_;
  std::unordered_map<MarkerId, Marker> markers_;
  MarkerId next_marker_ = 1;

  std::vector<UndoStep> undo_stack_;
  std::vector<UndoStep> redo_stack_;
  UndoStep open_step_;
  int transaction_depth_ = 0;
  bool step_open_ = false;
  // True while the last undo step came from type_text and nothing else happened since.
  bool typing_step_open_ = false;
  bool typing_ended_with_space_ = false;

  std::uint64_t revision_ = 0;
  mutable std::string text_cache_;
  mutable bool text_cache_valid_ = true;
};

}  // namespace utter::editor
