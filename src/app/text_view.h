// The editor's text area: lays out a Document with word wrap, draws it with the selection and
// a caret, and turns keyboard and mouse input into document edits and selection changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "utter/editor/document.h"

struct ImFont;
using ImU32 = unsigned int;

namespace utter::app {

// Text shown at a document position but not part of the document yet: a transcript while
// the model is still writing it.
struct PendingText {
  std::string text;
  std::size_t position = 0;  // document byte offset it is shown at
};

// Draws text wrapped at the available width, like ImGui::TextWrapped, with the characters that
// ImGui's atlas lacks (emoji among them) drawn as the text view draws them.
void wrapped_text(std::string_view text, ImU32 color);

class TextView {
 public:
  // Draws the view into the current ImGui window's remaining space and handles its input.
  // read_only blocks edits (the selection can still change).
  void draw(editor::Document& document, const PendingText& pending, bool read_only);

  // Scrolls on the next draw so that the caret is visible.
  void scroll_to_caret() { scroll_to_caret_ = true; }
  void focus() { focus_requested_ = true; }

 private:
  struct VisualLine {
    std::size_t start = 0;  // byte range in the shown text; end excludes a line break
    std::size_t end = 0;
  };

  // Returns the document's text with the pending text inserted at pending_at_, rebuilt only
  // when one of them changed, because copying a large document each frame costs time.
  const std::string& update_shown(const editor::Document& document, const std::string& pending_text);
  void layout(const std::string& shown, float wrap_width, ImFont* font, float font_size);
  // Appends to lines the layout of the paragraphs from begin, a paragraph start, up to end, the
  // end of a paragraph.
  void layout_paragraphs(const std::string& shown, std::size_t begin, std::size_t end, float wrap_width, ImFont* font,
                         float font_size, std::vector<VisualLine>& lines) const;
  // Lays out again only the paragraphs that contain the pending text, whose length was
  // old_length. Valid only while the document, the wrap width and the pending position stay.
  void relayout_pending(const std::string& shown, const std::string& document_text, std::size_t old_length,
                        float wrap_width, ImFont* font, float font_size);
  std::size_t line_of(std::size_t shown_offset) const;
  float x_of(const std::string& shown, std::size_t shown_offset, ImFont* font, float font_size) const;
  std::size_t offset_at_x(const std::string& shown, const VisualLine& line, float x, ImFont* font,
                          float font_size) const;
  void handle_keyboard(editor::Document& document, bool read_only, const std::string& shown, ImFont* font,
                       float font_size, float page_lines);
  void handle_mouse(editor::Document& document, const std::string& shown, std::size_t hovered_offset);

  // Maps between document offsets and offsets in the shown text (document + pending text).
  std::size_t to_shown(std::size_t document_offset) const;
  std::size_t to_document(std::size_t shown_offset) const;

  std::string shown_;
  std::uint64_t shown_revision_ = UINT64_MAX;
  std::size_t shown_pending_at_ = 0;
  std::string shown_pending_;

  std::vector<VisualLine> lines_;
  std::uint64_t laid_out_revision_ = UINT64_MAX;
  std::string laid_out_pending_;
  std::size_t laid_out_pending_at_ = 0;
  float laid_out_width_ = -1.0f;
  float laid_out_font_size_ = -1.0f;

  std::size_t pending_at_ = 0;
  std::size_t pending_length_ = 0;
  float preferred_x_ = -1.0f;  // column kept while moving up and down
  bool scroll_to_caret_ = false;
  bool focus_requested_ = true;
  bool dragging_ = false;
  editor::Selection last_selection_{};
  std::uint64_t last_revision_ = 0;
};

}  // namespace utter::app
