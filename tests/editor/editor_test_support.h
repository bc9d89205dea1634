// Test helpers: documents written with their selection marked inline.
#pragma once

#include "utter/editor/document.h"

#include <stdexcept>
#include <string>
#include <string_view>

namespace utter::editor::testing {

// "ab|c" puts the cursor before c; "a[bc]" selects bc with the cursor at its end; "a]bc[" is
// the same range selected backwards (cursor at the start).
inline Document make_document(std::string_view marked) {
  std::string text;
  std::size_t anchor = std::string::npos;
  std::size_t head = std::string::npos;
  for (const char c : marked) {
    if (c == '|') {
      anchor = head = text.size();
    } else if (c == '[') {
      anchor = text.size();
    } else if (c == ']') {
      head = text.size();
    } else {
      text += c;
    }
  }
  Document document(text);
  if (anchor == std::string::npos && head == std::string::npos) {
    throw std::invalid_argument("test document has no cursor mark: " + std::string(marked));
  }
  if (anchor == std::string::npos) anchor = head;
  if (head == std::string::npos) head = anchor;
  document.set_selection({anchor, head});
  return document;
}

// The inverse of make_document.
inline std::string marked_text(const Document& document) {
  const std::string& text = document.text();
  const Selection selection = document.selection();
  const bool forward = selection.anchor <= selection.head;
  std::string out;
  out.append(text, 0, selection.start());
  if (selection.empty()) {
    out.push_back('|');
  } else {
    out.push_back(forward ? '[' : ']');
    out.append(text, selection.start(), selection.end() - selection.start());
    out.push_back(forward ? ']' : '[');
  }
  out.append(text, selection.end(), std::string::npos);
  return out;
}

}  // namespace utter::editor::testing
