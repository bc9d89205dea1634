#include "utter/editor/document.h"

#include "utter/editor/utf8.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace utter::editor {

namespace {

void require_valid_utf8(std::string_view text, const char* what) {
  if (const auto offset = find_invalid_utf8(text)) {
    throw std::invalid_argument(std::string(what) + " is not valid UTF-8: invalid byte sequence at offset " +
                                std::to_string(*offset));
  }
}

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Where a position ends up after [position, position + removed) became inserted bytes.
std::size_t map_through_edit(std::size_t value, std::size_t position, std::size_t removed,
                             std::size_t inserted, bool move_after_insertion) {
  if (value < position) return value;
  if (value == position && removed == 0 && !move_after_insertion) return value;
  if (value >= position + removed) return value - removed + inserted;
  return position;
}

}  // namespace

Document::Document() = default;

Document::Document(std::string_view text) {
  require_valid_utf8(text, "document text");
  original_.assign(text);
  size_ = original_.size();
  if (size_ > 0) pieces_.push_back({false, 0, size_});
  text_cache_valid_ = false;
}

const std::string& Document::text() const {
  if (!text_cache_valid_) {
    text_cache_.clear();
    text_cache_.reserve(size_);
    for (const Piece& piece : pieces_) {
      const std::string& buffer = piece.in_added ? added_ : original_;
      text_cache_.append(buffer, piece.start, piece.length);
    }
    text_cache_valid_ = true;
  }
  return text_cache_;
}

std::string Document::substr(std::size_t position, std::size_t length) const {
  std::string out;
  if (position >= size_) return out;
  length = std::min(length, size_ - position);
  if (text_cache_valid_) return text_cache_.substr(position, length);
  out.reserve(length);
  std::size_t piece_start = 0;
  for (const Piece& piece : pieces_) {
    const std::size_t piece_end = piece_start + piece.length;
    if (piece_end > position && out.size() < length) {
      const std::size_t from = position > piece_start ? position - piece_start : 0;
      const std::size_t take = std::min(piece.length - from, length - out.size());
      const std::string& buffer = piece.in_added ? added_ : original_;
      out.append(buffer, piece.start + from, take);
    }
    if (out.size() == length) break;
    piece_start = piece_end;
  }
  return out;
}

unsigned char Document::byte_at(std::size_t position) const {
  if (text_cache_valid_) return static_cast<unsigned char>(text_cache_[position]);
  std::size_t piece_start = 0;
  for (const Piece& piece : pieces_) {
    if (position < piece_start + piece.length) {
      const std::string& buffer = piece.in_added ? added_ : original_;
      return static_cast<unsigned char>(buffer[piece.start + position - piece_start]);
    }
    piece_start += piece.length;
  }
  return 0;
}

void Document::check_boundary(std::size_t position, const char* what) const {
  if (position > size_) {
    throw std::invalid_argument(std::string(what) + " " + std::to_string(position) +
                                " is past the end of the document (" + std::to_string(size_) +
                                " bytes)");
  }
  if (position < size_ && is_utf8_continuation(byte_at(position))) {
    throw std::invalid_argument(std::string(what) + " " + std::to_string(position) +
                                " is inside a UTF-8 sequence; use a code point boundary");
  }
}

std::size_t Document::floor_to_boundary(std::size_t position) const {
  position = std::min(position, size_);
  while (position > 0 && position < size_ && is_utf8_continuation(byte_at(position))) --position;
  return position;
}

void Document::set_selection(Selection selection) {
  selection_ = {floor_to_boundary(selection.anchor), floor_to_boundary(selection.head)};
  typing_step_open_ = false;
}

// Returns the index of the piece that starts at position, splitting a piece if needed.
std::size_t Document::split_at(std::size_t position) {
  std::size_t piece_start = 0;
  for (std::size_t i = 0; i < pieces_.size(); ++i) {
    Piece& piece = pieces_[i];
    if (position == piece_start) return i;
    if (position < piece_start + piece.length) {
      const std::size_t offset = position - piece_start;
      Piece tail{piece.in_added, piece.start + offset, piece.length - offset};
      piece.length = offset;
      pieces_.insert(pieces_.begin() + static_cast<std::ptrdiff_t>(i) + 1, tail);
      return i + 1;
    }
    piece_start += piece.length;
  }
  return pieces_.size();
}

void Document::apply_raw(std::size_t position, std::size_t removed_length,
                         std::string_view inserted) {
  if (removed_length > 0) {
    const std::size_t first = split_at(position);
    const std::size_t last = split_at(position + removed_length);
    pieces_.erase(pieces_.begin() + static_cast<std::ptrdiff_t>(first),
                  pieces_.begin() + static_cast<std::ptrdiff_t>(last));
    size_ -= removed_length;
  }
  if (!inserted.empty()) {
    const std::size_t index = split_at(position);
    // Appending right after the previous piece's bytes in the added buffer extends that piece,
    // which keeps the piece count flat while someone types.
    if (index > 0 && pieces_[index - 1].in_added &&
        pieces_[index - 1].start + pieces_[index - 1].length == added_.size()) {
      pieces_[index - 1].length += inserted.size();
    } else {
      pieces_.insert(pieces_.begin() + static_cast<std::ptrdiff_t>(index),
                     Piece{true, added_.size(), inserted.size()});
    }
    added_.append(inserted);
    size_ += inserted.size();
  }
  text_cache_valid_ = false;
  ++revision_;

  const std::size_t inserted_length = inserted.size();
  const bool was_empty = selection_.empty();
  std::size_t start = selection_.start();
  std::size_t end = selection_.end();
  // A cursor moves past text inserted at it. A non-empty selection does not grow at either
  // edge, so its start moves past and its end stays before.
  start = map_through_edit(start, position, removed_length, inserted_length, true);
  end = map_through_edit(end, position, removed_length, inserted_length, was_empty);
  if (selection_.anchor <= selection_.head) {
    selection_ = {start, end};
  } else {
    selection_ = {end, start};
  }
  for (auto& [id, marker] : markers_) {
    marker.position = map_through_edit(marker.position, position, removed_length, inserted_length,
                                       marker.gravity == MarkerGravity::kMoveAfter);
  }
}

void Document::open_step_if_needed() {
  if (!step_open_) {
    open_step_ = UndoStep{};
    open_step_.selection_before = selection_;
    step_open_ = true;
  }
}

void Document::close_step_if_outermost() {
  if (transaction_depth_ > 0 || !step_open_) return;
  step_open_ = false;
  if (open_step_.edits.empty()) return;
  open_step_.selection_after = selection_;
  undo_stack_.push_back(std::move(open_step_));
  redo_stack_.clear();
}

void Document::apply_recorded(std::size_t position, std::size_t length, std::string_view text) {
  check_boundary(position, "edit position");
  if (length > size_ - position) {
    throw std::invalid_argument("edit range " + std::to_string(position) + "+" +
                                std::to_string(length) + " runs past the end of the document (" +
                                std::to_string(size_) + " bytes)");
  }
  check_boundary(position + length, "edit end");
  require_valid_utf8(text, "inserted text");
  if (length == 0 && text.empty()) return;

  open_step_if_needed();
  EditRecord record{position, substr(position, length), std::string(text)};
  apply_raw(position, length, text);
  open_step_.edits.push_back(std::move(record));
}

void Document::insert(std::size_t position, std::string_view text) {
  replace(position, 0, text);
}

void Document::erase(std::size_t position, std::size_t length) { replace(position, length, {}); }

void Document::replace(std::size_t position, std::size_t length, std::string_view text) {
  typing_step_open_ = false;
  apply_recorded(position, length, text);
  close_step_if_outermost();
}

void Document::replace_selection(std::string_view text) {
  typing_step_open_ = false;
  const TextRange range = selection_.range();
  apply_recorded(range.start, range.length(), text);
  selection_ = Selection::cursor_at(range.start + text.size());
  close_step_if_outermost();
}

void Document::type_text(std::string_view text) {
  if (text.empty()) return;
  const bool starts_word = !is_ascii_space(text.front());
  const bool joins_previous = typing_step_open_ && transaction_depth_ == 0 && selection_.empty() &&
                              !undo_stack_.empty() && redo_stack_.empty() &&
                              !(typing_ended_with_space_ && starts_word);
  if (joins_previous) {
    // Reopen the last step so this keystroke lands in it.
    open_step_ = std::move(undo_stack_.back());
    undo_stack_.pop_back();
    step_open_ = true;
  }
  const TextRange range = selection_.range();
  apply_recorded(range.start, range.length(), text);
  selection_ = Selection::cursor_at(range.start + text.size());
  close_step_if_outermost();
  typing_step_open_ = true;
  typing_ended_with_space_ = is_ascii_space(text.back());
}

void Document::begin_transaction(std::string label) {
  typing_step_open_ = false;
  if (transaction_depth_ == 0) {
    step_open_ = false;
    open_step_if_needed();
    open_step_.label = std::move(label);
  }
  ++transaction_depth_;
}

void Document::commit_transaction() {
  if (transaction_depth_ == 0) {
    throw std::logic_error("commit_transaction called without a matching begin_transaction");
  }
  --transaction_depth_;
  close_step_if_outermost();
}

bool Document::undo() {
  if (transaction_depth_ > 0) {
    throw std::logic_error("undo is not allowed while a transaction is open");
  }
  typing_step_open_ = false;
  if (undo_stack_.empty()) return false;
  UndoStep step = std::move(undo_stack_.back());
  undo_stack_.pop_back();
  for (auto it = step.edits.rbegin(); it != step.edits.rend(); ++it) {
    apply_raw(it->position, it->inserted.size(), it->removed);
  }
  selection_ = step.selection_before;
  redo_stack_.push_back(std::move(step));
  return true;
}

bool Document::redo() {
  if (transaction_depth_ > 0) {
    throw std::logic_error("redo is not allowed while a transaction is open");
  }
  typing_step_open_ = false;
  if (redo_stack_.empty()) return false;
  UndoStep step = std::move(redo_stack_.back());
  redo_stack_.pop_back();
  for (const EditRecord& edit : step.edits) {
    apply_raw(edit.position, edit.removed.size(), edit.inserted);
  }
  selection_ = step.selection_after;
  undo_stack_.push_back(std::move(step));
  return true;
}

std::string Document::undo_label() const {
  return undo_stack_.empty() ? std::string() : undo_stack_.back().label;
}

std::string Document::redo_label() const {
  return redo_stack_.empty() ? std::string() : redo_stack_.back().label;
}

Document::MarkerId Document::add_marker(std::size_t position, MarkerGravity gravity) {
  const MarkerId id = next_marker_++;
  markers_[id] = Marker{floor_to_boundary(position), gravity};
  return id;
}

std::size_t Document::marker_position(MarkerId marker) const {
  const auto it = markers_.find(marker);
  if (it == markers_.end()) {
    throw std::out_of_range("unknown document marker " + std::to_string(marker));
  }
  return it->second.position;
}

void Document::remove_marker(MarkerId marker) { markers_.erase(marker); }

}  // namespace utter::editor
