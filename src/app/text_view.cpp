#include "app/text_view.h"

#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_internal.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <stdexcept>
#include <string_view>

#include "app/extra_glyphs.h"
#include "utter/editor/text_boundaries.h"
#include "utter/editor/utf8.h"

namespace utter::app {
namespace {

using editor::Document;
using editor::Selection;
using editor::TextUnit;

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::size_t next_code_point(std::string_view text, std::size_t offset) {
  if (offset >= text.size()) return text.size();
  ++offset;
  while (offset < text.size() && is_continuation_byte(text[offset])) ++offset;
  return offset;
}

std::string encode_utf8(unsigned int code_point) {
  char buffer[5] = {};
  ImTextCharToUtf8(buffer, code_point);
  return buffer;
}

bool pressed(int glfw_key) { return ImGui::IsKeyPressed(glfw_key, /*repeat=*/true); }

bool is_high_surrogate(ImWchar c) { return c >= 0xD800 && c <= 0xDBFF; }
bool is_low_surrogate(ImWchar c) { return c >= 0xDC00 && c <= 0xDFFF; }

// Draws text like ImDrawList::AddText, except that characters the atlas cannot show come from
// ExtraGlyphs. ImGui measures each of them as one U+FFFD cell, so they are drawn in that cell.
void draw_text(ImDrawList* draw_list, ImFont* font, float font_size, ImVec2 position, ImU32 color,
               std::string_view text) {
  const float scale = font_size / font->FontSize;
  const float baseline = font->Ascent * scale;
  std::size_t plain_start = 0;
  float plain_x = position.x;
  float x = position.x;
  std::size_t offset = 0;
  while (offset < text.size()) {
    std::size_t length = 1;
    const char32_t code_point = static_cast<unsigned char>(text[offset]) < 0x80
                                    ? static_cast<char32_t>(text[offset])
                                    : editor::decode_utf8(text, offset, &length);
    const ImWchar measured = static_cast<ImWchar>(code_point > 0xFFFF ? 0xFFFD : code_point);
    const float advance = font->GetCharAdvance(measured) * scale;
    if (code_point >= 0x80 && drawn_as_extra_glyph(font, code_point)) {
      if (offset > plain_start) {
        draw_list->AddText(font, font_size, ImVec2(plain_x, position.y), color, text.data() + plain_start,
                           text.data() + offset);
      }
      extra_glyphs().draw(draw_list, code_point, x, position.y, baseline, color);
      plain_start = offset + length;
      plain_x = x + advance;
    }
    x += advance;
    offset += length;
  }
  if (plain_start < text.size()) {
    draw_list->AddText(font, font_size, ImVec2(plain_x, position.y), color, text.data() + plain_start,
                       text.data() + text.size());
  }
}

}  // namespace

void wrapped_text(std::string_view text, ImU32 color) {
  ImFont* font = ImGui::GetFont();
  const float font_size = ImGui::GetFontSize();
  const float scale = font_size / font->FontSize;
  const float width = std::max(ImGui::GetContentRegionAvail().x, font_size * 4);
  const float line_height = ImGui::GetTextLineHeight();
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  ImVec2 position = ImGui::GetCursorScreenPos();
  const ImVec2 start = position;
  std::size_t line_start = 0;
  while (line_start <= text.size()) {
    std::size_t paragraph_end = text.find('\n', line_start);
    if (paragraph_end == std::string_view::npos) paragraph_end = text.size();
    const char* wrap =
        font->CalcWordWrapPositionA(scale, text.data() + line_start, text.data() + paragraph_end, width);
    std::size_t line_end = static_cast<std::size_t>(wrap - text.data());
    if (line_end <= line_start && line_start < paragraph_end) line_end = next_code_point(text, line_start);
    draw_text(draw_list, font, font_size, position, color, text.substr(line_start, line_end - line_start));
    position.y += line_height;
    line_start = line_end;
    while (line_start < paragraph_end && text[line_start] == ' ') ++line_start;
    if (line_start >= paragraph_end) {
      if (paragraph_end >= text.size()) break;
      line_start = paragraph_end + 1;
    }
  }
  ImGui::Dummy(ImVec2(width, position.y - start.y));
}

std::size_t TextView::to_shown(std::size_t document_offset) const {
  return document_offset < pending_at_ ? document_offset : document_offset + pending_length_;
}

std::size_t TextView::to_document(std::size_t shown_offset) const {
  if (shown_offset <= pending_at_) return shown_offset;
  if (shown_offset < pending_at_ + pending_length_) return pending_at_;
  return shown_offset - pending_length_;
}

const std::string& TextView::update_shown(const Document& document, const std::string& pending_text) {
  if (shown_revision_ != document.revision() || shown_pending_at_ != pending_at_ || shown_pending_ != pending_text) {
    shown_ = document.text();
    shown_.insert(pending_at_, pending_text);
    shown_revision_ = document.revision();
    shown_pending_at_ = pending_at_;
    shown_pending_ = pending_text;
  }
  return shown_;
}

void TextView::layout(const std::string& shown, float wrap_width, ImFont* font, float font_size) {
  lines_.clear();
  layout_paragraphs(shown, 0, shown.size(), wrap_width, font, font_size, lines_);
}

void TextView::layout_paragraphs(const std::string& shown, std::size_t begin, std::size_t end, float wrap_width,
                                 ImFont* font, float font_size, std::vector<VisualLine>& lines) const {
  const float scale = font_size / font->FontSize;
  const char* base = shown.data();
  std::size_t paragraph_start = begin;
  while (true) {
    std::size_t paragraph_end = shown.find('\n', paragraph_start);
    if (paragraph_end == std::string::npos) paragraph_end = shown.size();
    std::size_t line_start = paragraph_start;
    if (line_start == paragraph_end) lines.push_back({line_start, line_start});
    while (line_start < paragraph_end) {
      const char* wrap = font->CalcWordWrapPositionA(scale, base + line_start, base + paragraph_end, wrap_width);
      std::size_t line_end = static_cast<std::size_t>(wrap - base);
      // A word wider than the line still advances by at least one code point.
      if (line_end <= line_start) line_end = next_code_point(shown, line_start);
      // Spaces at a wrap stay on the line they follow, as in other editors.
      while (line_end < paragraph_end && (shown[line_end] == ' ' || shown[line_end] == '\t')) ++line_end;
      lines.push_back({line_start, line_end});
      line_start = line_end;
    }
    if (paragraph_end >= end) break;
    paragraph_start = paragraph_end + 1;
  }
}

void TextView::relayout_pending(const std::string& shown, const std::string& document_text, std::size_t old_length,
                                float wrap_width, ImFont* font, float font_size) {
  // Only the paragraphs around the pending text change, and the lines after them move by the
  // change in its length.
  const std::size_t paragraph_start = pending_at_ == 0 ? 0 : document_text.rfind('\n', pending_at_ - 1) + 1;
  std::size_t document_end = document_text.find('\n', pending_at_);
  if (document_end == std::string::npos) document_end = document_text.size();
  const std::size_t old_end = document_end + old_length;
  const std::size_t new_end = document_end + pending_length_;

  auto starts_before = [](const VisualLine& line, std::size_t offset) { return line.start < offset; };
  const auto first = std::lower_bound(lines_.begin(), lines_.end(), paragraph_start, starts_before);
  const auto last = std::lower_bound(first, lines_.end(), old_end + 1, starts_before);
  std::vector<VisualLine> replaced;
  layout_paragraphs(shown, paragraph_start, new_end, wrap_width, font, font_size, replaced);
  for (auto line = last; line != lines_.end(); ++line) {
    line->start = line->start - old_length + pending_length_;
    line->end = line->end - old_length + pending_length_;
  }
  const auto at = lines_.erase(first, last);
  lines_.insert(at, replaced.begin(), replaced.end());
}

std::size_t TextView::line_of(std::size_t shown_offset) const {
  // Returns the first line whose end is at or after the offset. An offset on a soft wrap
  // belongs to the next line, so the caret is drawn at that line's start.
  for (std::size_t i = 0; i < lines_.size(); ++i) {
    const bool soft_wrap_end = i + 1 < lines_.size() && lines_[i + 1].start == lines_[i].end;
    if (shown_offset < lines_[i].end || (shown_offset == lines_[i].end && !soft_wrap_end)) return i;
  }
  return lines_.empty() ? 0 : lines_.size() - 1;
}

float TextView::x_of(const std::string& shown, std::size_t shown_offset, ImFont* font, float font_size) const {
  const VisualLine& line = lines_[line_of(shown_offset)];
  const std::size_t end = std::clamp(shown_offset, line.start, line.end);
  return font->CalcTextSizeA(font_size, FLT_MAX, 0.0f, shown.data() + line.start, shown.data() + end).x;
}

std::size_t TextView::offset_at_x(const std::string& shown, const VisualLine& line, float x, ImFont* font,
                                  float font_size) const {
  const float scale = font_size / font->FontSize;
  float left = 0.0f;
  std::size_t offset = line.start;
  while (offset < line.end) {
    std::size_t length = 1;
    const char32_t code_point = editor::decode_utf8(shown, offset, &length);
    // ImGui measures a character above U+FFFF as U+FFFD.
    const float advance = font->GetCharAdvance(static_cast<ImWchar>(code_point > 0xFFFF ? 0xFFFD : code_point)) * scale;
    if (x < left + advance * 0.5f) break;
    left += advance;
    offset += std::max<std::size_t>(length, 1);
  }
  // A caret after trailing wrap spaces would sit on the next line; keep it on this one.
  const bool soft_wrap = &line != &lines_.back() && (&line + 1)->start == line.end;
  if (soft_wrap && offset == line.end && offset > line.start) {
    offset = line.end - 1;
    while (offset > line.start && is_continuation_byte(shown[offset])) --offset;
  }
  return offset;
}

void TextView::handle_mouse(Document& document, const std::string& shown, std::size_t hovered_offset) {
  const ImGuiIO& io = ImGui::GetIO();
  const std::size_t position = to_document(hovered_offset);
  if (ImGui::IsItemHovered() && ImGui::IsMouseClicked(ImGuiMouseButton_Left)) {
    const int clicks = ImGui::GetMouseClickedCount(ImGuiMouseButton_Left);
    const std::string& text = document.text();
    if (clicks == 2) {
      if (auto word = editor::unit_at(text, position, TextUnit::kWord)) document.set_selection(Selection::of(*word));
    } else if (clicks >= 3) {
      if (auto paragraph = editor::unit_at(text, position, TextUnit::kParagraph)) {
        document.set_selection(Selection::of(*paragraph));
      }
    } else if (io.KeyShift) {
      document.set_selection({document.selection().anchor, position});
      dragging_ = true;
    } else {
      document.set_cursor(position);
      dragging_ = true;
    }
    preferred_x_ = -1.0f;
  }
  if (!ImGui::IsMouseDown(ImGuiMouseButton_Left)) dragging_ = false;
  if (dragging_ && ImGui::IsMouseDragging(ImGuiMouseButton_Left)) {
    document.set_selection({document.selection().anchor, position});
    scroll_to_caret_ = true;
  }
  (void)shown;
}

void TextView::handle_keyboard(Document& document, bool read_only, const std::string& shown, ImFont* font,
                               float font_size, float page_lines) {
  ImGuiIO& io = ImGui::GetIO();
  const bool ctrl = io.KeyCtrl;
  const bool shift = io.KeyShift;
  const Selection selection = document.selection();
  bool vertical_move = false;

  auto move_vertically = [&](int delta_lines) {
    const std::size_t head = to_shown(selection.head);
    const std::size_t line = line_of(head);
    if (preferred_x_ < 0.0f) preferred_x_ = x_of(shown, head, font, font_size);
    const long target = std::clamp(static_cast<long>(line) + delta_lines, 0L, static_cast<long>(lines_.size()) - 1);
    std::size_t offset = offset_at_x(shown, lines_[static_cast<std::size_t>(target)], preferred_x_, font, font_size);
    if (target == static_cast<long>(line) && delta_lines < 0) offset = 0;
    if (target == static_cast<long>(line) && delta_lines > 0) offset = shown.size();
    const std::size_t position = to_document(offset);
    document.set_selection({shift ? selection.anchor : position, position});
    vertical_move = true;
  };
  auto line_edge = [&](bool end) {
    const VisualLine& line = lines_[line_of(to_shown(selection.head))];
    std::size_t offset = end ? line.end : line.start;
    if (end && &line != &lines_.back() && (&line + 1)->start == line.end) {
      offset = line.end;
      while (offset > line.start && (shown[offset - 1] == ' ' || shown[offset - 1] == '\t')) --offset;
    }
    const std::size_t position = to_document(offset);
    document.set_selection({shift ? selection.anchor : position, position});
  };

  if (pressed(GLFW_KEY_LEFT) || pressed(GLFW_KEY_RIGHT)) {
    const bool forward = pressed(GLFW_KEY_RIGHT);
    document.set_selection(editor::move_by_unit(document, ctrl ? TextUnit::kWord : TextUnit::kCharacter, forward, shift));
  } else if (pressed(GLFW_KEY_UP)) {
    move_vertically(-1);
  } else if (pressed(GLFW_KEY_DOWN)) {
    move_vertically(1);
  } else if (pressed(GLFW_KEY_PAGE_UP)) {
    move_vertically(-static_cast<int>(page_lines));
  } else if (pressed(GLFW_KEY_PAGE_DOWN)) {
    move_vertically(static_cast<int>(page_lines));
  } else if (pressed(GLFW_KEY_HOME)) {
    if (ctrl) {
      document.set_selection({shift ? selection.anchor : 0, 0});
    } else {
      line_edge(false);
    }
  } else if (pressed(GLFW_KEY_END)) {
    if (ctrl) {
      document.set_selection({shift ? selection.anchor : document.size(), document.size()});
    } else {
      line_edge(true);
    }
  } else if (ctrl && pressed(GLFW_KEY_A)) {
    document.set_selection({0, document.size()});
  } else if (ctrl && (pressed(GLFW_KEY_C) || pressed(GLFW_KEY_X)) && !selection.empty()) {
    ImGui::SetClipboardText(document.substr(selection.range()).c_str());
    if (pressed(GLFW_KEY_X) && !read_only) document.replace_selection("");
  } else if (!read_only) {
    if (ctrl && pressed(GLFW_KEY_V)) {
      if (const char* clipboard = ImGui::GetClipboardText()) {
        std::string text = clipboard;
        std::erase(text, '\r');
        try {
          document.replace_selection(text);
        } catch (const std::invalid_argument&) {
          // The clipboard held bytes that are not UTF-8; nothing is pasted.
        }
      }
    } else if (pressed(GLFW_KEY_ENTER) || pressed(GLFW_KEY_KP_ENTER)) {
      document.type_text("\n");
    } else if (pressed(GLFW_KEY_TAB) && !ctrl) {
      document.type_text("\t");
    } else if (pressed(GLFW_KEY_BACKSPACE) || pressed(GLFW_KEY_DELETE)) {
      const bool forward = pressed(GLFW_KEY_DELETE);
      if (!selection.empty()) {
        document.replace_selection("");
      } else {
        const std::string& text = document.text();
        const TextUnit unit = ctrl ? TextUnit::kWord : TextUnit::kCharacter;
        const std::size_t other = forward ? editor::next_boundary(text, selection.head, unit)
                                          : editor::previous_boundary(text, selection.head, unit);
        const std::size_t start = std::min(other, selection.head);
        const std::size_t end = std::max(other, selection.head);
        if (end > start) document.erase(start, end - start);
      }
    }
    // Characters: ctrl and alt combinations are shortcuts, not text.
    if (!ctrl && !io.KeyAlt) {
      // The main loop queues a character above U+FFFF as a UTF-16 surrogate pair, because
      // ImWchar has 16 bits. A pair is joined again here, and a lone surrogate is dropped.
      std::string typed;
      const ImVector<ImWchar>& queue = io.InputQueueCharacters;
      for (int i = 0; i < queue.Size; ++i) {
        const ImWchar c = queue[i];
        if (is_high_surrogate(c) && i + 1 < queue.Size && is_low_surrogate(queue[i + 1])) {
          const char32_t code_point = 0x10000 + ((static_cast<char32_t>(c) - 0xD800) << 10) +
                                      (static_cast<char32_t>(queue[i + 1]) - 0xDC00);
          editor::append_utf8(typed, code_point);
          ++i;
        } else if (c >= 0x20 && c != 0x7F && !is_high_surrogate(c) && !is_low_surrogate(c)) {
          typed += encode_utf8(c);
        }
      }
      if (!typed.empty()) document.type_text(typed);
    }
  }
  io.InputQueueCharacters.resize(0);
  if (!vertical_move && document.selection() != selection) preferred_x_ = -1.0f;
}

void TextView::draw(Document& document, const PendingText& pending, bool read_only) {
  ImGuiIO& io = ImGui::GetIO();
  ImFont* font = ImGui::GetFont();
  const float font_size = ImGui::GetFontSize();
  const float line_height = font_size * 1.25f;
  const ImGuiStyle& style = ImGui::GetStyle();

  ImGui::PushStyleColor(ImGuiCol_ChildBg, ImGui::GetColorU32(ImGuiCol_FrameBg));
  ImGui::BeginChild("##text", ImVec2(0, 0), false, ImGuiWindowFlags_NoNavInputs);
  if (focus_requested_) {
    ImGui::SetWindowFocus();
    focus_requested_ = false;
  }
  const bool focused = ImGui::IsWindowFocused();

  pending_at_ = std::min(pending.position, document.size());
  pending_length_ = pending.text.size();
  const std::string& shown = update_shown(document, pending.text);

  const float margin = style.WindowPadding.x;
  const float wrap_width = std::max(ImGui::GetContentRegionAvail().x - 2 * margin - style.ScrollbarSize, font_size * 4);
  const bool same_text_and_width = laid_out_revision_ == document.revision() && laid_out_width_ == wrap_width &&
                                   laid_out_font_size_ == font_size;
  if (same_text_and_width && laid_out_pending_at_ == pending_at_ && laid_out_pending_ != pending.text) {
    relayout_pending(shown, document.text(), laid_out_pending_.size(), wrap_width, font, font_size);
    laid_out_pending_ = pending.text;
  } else if (!same_text_and_width || laid_out_pending_ != pending.text || laid_out_pending_at_ != pending_at_) {
    layout(shown, wrap_width, font, font_size);
    laid_out_revision_ = document.revision();
    laid_out_pending_ = pending.text;
    laid_out_pending_at_ = pending_at_;
    laid_out_width_ = wrap_width;
    laid_out_font_size_ = font_size;
  }

  const float view_height = ImGui::GetWindowHeight();
  const float page_lines = std::max(1.0f, view_height / line_height - 1.0f);
  if (focused) handle_keyboard(document, read_only, shown, font, font_size, page_lines);
  // Keyboard edits change the text; lay it out again before drawing.
  if (laid_out_revision_ != document.revision()) {
    pending_at_ = std::min(pending.position, document.size());
    update_shown(document, pending.text);
    layout(shown, wrap_width, font, font_size);
    laid_out_revision_ = document.revision();
  }

  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float content_height = static_cast<float>(lines_.size()) * line_height + style.WindowPadding.y * 2;
  ImGui::InvisibleButton("##text-area", ImVec2(wrap_width + 2 * margin, std::max(content_height, view_height - 4)));
  const ImVec2 text_origin(origin.x + margin, origin.y + style.WindowPadding.y);

  // The offset under the mouse, for clicks and drags.
  const ImVec2 mouse = io.MousePos;
  const long hovered_line = std::clamp(static_cast<long>((mouse.y - text_origin.y) / line_height), 0L,
                                       static_cast<long>(lines_.size()) - 1);
  const std::size_t hovered_offset =
      offset_at_x(shown, lines_[static_cast<std::size_t>(hovered_line)], mouse.x - text_origin.x, font, font_size);
  handle_mouse(document, shown, hovered_offset);
  if (ImGui::IsItemHovered()) ImGui::SetMouseCursor(ImGuiMouseCursor_TextInput);

  const Selection selection = document.selection();
  if (selection != last_selection_ || document.revision() != last_revision_) {
    scroll_to_caret_ = true;
    last_selection_ = selection;
    last_revision_ = document.revision();
  }

  const std::size_t head = to_shown(selection.head);
  const std::size_t caret_line = line_of(head);
  if (scroll_to_caret_) {
    const float caret_top = static_cast<float>(caret_line) * line_height;
    const float scroll = ImGui::GetScrollY();
    if (caret_top < scroll) ImGui::SetScrollY(caret_top);
    if (caret_top + line_height * 2 > scroll + view_height) ImGui::SetScrollY(caret_top + line_height * 2 - view_height);
    scroll_to_caret_ = false;
  }

  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  const ImU32 text_color = ImGui::GetColorU32(ImGuiCol_Text);
  const ImU32 pending_color = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  const ImU32 selection_color = ImGui::GetColorU32(ImGuiCol_TextSelectedBg);
  const float clip_top = ImGui::GetScrollY() - line_height;
  const float clip_bottom = ImGui::GetScrollY() + view_height + line_height;
  const std::size_t shown_selection_start = to_shown(selection.start());
  const std::size_t shown_selection_end = to_shown(selection.end());
  const std::size_t pending_end = pending_at_ + pending_length_;

  for (std::size_t i = 0; i < lines_.size(); ++i) {
    const float local_y = static_cast<float>(i) * line_height;
    if (local_y < clip_top || local_y > clip_bottom) continue;
    const VisualLine& line = lines_[i];
    const ImVec2 line_origin(text_origin.x, text_origin.y + local_y);
    auto x_at = [&](std::size_t offset) {
      return font->CalcTextSizeA(font_size, FLT_MAX, 0.0f, shown.data() + line.start, shown.data() + offset).x;
    };

    const std::size_t selected_start = std::max(line.start, shown_selection_start);
    const std::size_t selected_end = std::min(line.end, shown_selection_end);
    const bool selection_continues = shown_selection_end > line.end && shown_selection_start <= line.end;
    if (selected_start < selected_end || (selection_continues && selected_start <= line.end)) {
      const float left = x_at(selected_start);
      float right = x_at(selected_end);
      if (selection_continues) right += font_size * 0.3f;  // shows the selected line break
      draw_list->AddRectFilled(ImVec2(line_origin.x + left, line_origin.y),
                               ImVec2(line_origin.x + right, line_origin.y + line_height), selection_color);
    }

    // The line in up to three runs: before, inside and after the pending transcript.
    std::size_t run_start = line.start;
    float x = 0.0f;
    const std::size_t cuts[] = {std::clamp(pending_at_, line.start, line.end), std::clamp(pending_end, line.start, line.end),
                                line.end};
    for (const std::size_t run_end : cuts) {
      if (run_end <= run_start) continue;
      const bool is_pending = run_start >= pending_at_ && run_end <= pending_end && pending_length_ > 0;
      draw_text(draw_list, font, font_size, ImVec2(line_origin.x + x, line_origin.y + (line_height - font_size) * 0.5f),
                is_pending ? pending_color : text_color,
                std::string_view(shown).substr(run_start, run_end - run_start));
      x += font->CalcTextSizeA(font_size, FLT_MAX, 0.0f, shown.data() + run_start, shown.data() + run_end).x;
      run_start = run_end;
    }
    if (i == caret_line) {
      const float caret_x = line_origin.x + x_at(std::clamp(head, line.start, line.end));
      const bool blink_on = !focused || std::fmod(ImGui::GetTime(), 1.2) < 0.8;
      if (blink_on) {
        draw_list->AddRectFilled(ImVec2(caret_x, line_origin.y + 1), ImVec2(caret_x + std::max(1.0f, font_size / 12),
                                 line_origin.y + line_height - 1), text_color);
      }
    }
  }
  ImGui::EndChild();
  ImGui::PopStyleColor();
}

}  // namespace utter::app
