#include "utter/editor/text_boundaries.h"

#include "icu_text.h"
#include "utter/editor/utf8.h"

#include <unicode/uchar.h>
#include <unicode/locid.h>
#include <unicode/ubrk.h>

#include <algorithm>

namespace utter::editor {

namespace detail {

std::unique_ptr<icu::BreakIterator> make_break_iterator(BreakKind kind, const Utf8Text& text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Locale& locale = icu::Locale::getRoot();
  std::unique_ptr<icu::BreakIterator> iterator;
  switch (kind) {
    case BreakKind::kCharacter:
      iterator.reset(icu::BreakIterator::createCharacterInstance(locale, status));
      break;
    case BreakKind::kWord:
      iterator.reset(icu::BreakIterator::createWordInstance(locale, status));
      break;
    case BreakKind::kSentence:
      iterator.reset(icu::BreakIterator::createSentenceInstance(locale, status));
      break;
  }
  if (U_FAILURE(status) || !iterator) {
    throw std::runtime_error(std::string("ICU failed to create a break iterator: ") +
                             u_errorName(status) + "; check that the ICU data library is installed");
  }
  iterator->setText(text.get(), status);
  if (U_FAILURE(status)) {
    throw std::runtime_error(std::string("ICU failed to set the break iterator's text: ") +
                             u_errorName(status));
  }
  return iterator;
}

}  // namespace detail

namespace {

bool is_white_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

// True when the segment contains something a person would call a word even though ICU's word
// rules give it no word status: emoji.
bool contains_pictograph(std::string_view text, TextRange range) {
  std::size_t offset = range.start;
  while (offset < range.end) {
    std::size_t length = 1;
    const char32_t c = decode_utf8(text, offset, &length);
    if (u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_EXTENDED_PICTOGRAPHIC)) return true;
    offset += length;
  }
  return false;
}

TextRange trim_white_space(std::string_view text, TextRange range) {
  while (range.start < range.end) {
    std::size_t length = 1;
    if (!is_white_space(decode_utf8(text, range.start, &length))) break;
    range.start += length;
  }
  while (range.end > range.start) {
    const std::size_t previous = previous_code_point(text, range.end);
    if (!is_white_space(decode_utf8(text, previous, nullptr))) break;
    range.end = previous;
  }
  return range;
}

std::vector<TextRange> segments(std::string_view text, detail::BreakKind kind, bool words_only) {
  std::vector<TextRange> out;
  if (text.empty()) return out;
  const detail::Utf8Text utext(text);
  auto iterator = detail::make_break_iterator(kind, utext);
  int32_t start = iterator->first();
  for (int32_t end = iterator->next(); end != icu::BreakIterator::DONE;
       start = end, end = iterator->next()) {
    const TextRange range{static_cast<std::size_t>(start), static_cast<std::size_t>(end)};
    if (words_only && iterator->getRuleStatus() == UBRK_WORD_NONE &&
        !contains_pictograph(text, range)) {
      continue;
    }
    out.push_back(range);
  }
  return out;
}

bool is_blank_line(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

std::vector<TextRange> paragraphs(std::string_view text) {
  std::vector<TextRange> out;
  std::optional<TextRange> current;
  std::size_t line_start = 0;
  while (line_start <= text.size()) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    const std::string_view line = text.substr(line_start, line_end - line_start);
    if (is_blank_line(line)) {
      if (current) out.push_back(trim_white_space(text, *current));
      current.reset();
    } else if (current) {
      current->end = line_end;
    } else {
      current = TextRange{line_start, line_end};
    }
    if (line_end == text.size()) break;
    line_start = line_end + 1;
  }
  if (current) out.push_back(trim_white_space(text, *current));
  return out;
}

}  // namespace

std::vector<TextRange> text_units(std::string_view text, TextUnit unit) {
  switch (unit) {
    case TextUnit::kCharacter:
      return segments(text, detail::BreakKind::kCharacter, false);
    case TextUnit::kWord:
      return segments(text, detail::BreakKind::kWord, true);
    case TextUnit::kSentence: {
      std::vector<TextRange> out;
      for (const TextRange& range : segments(text, detail::BreakKind::kSentence, false)) {
        const TextRange trimmed = trim_white_space(text, range);
        if (!trimmed.empty()) out.push_back(trimmed);
      }
      return out;
    }
    case TextUnit::kParagraph:
      return paragraphs(text);
  }
  return {};
}

namespace {

std::optional<TextRange> first_unit_ending_after(std::string_view text, std::size_t offset, TextUnit unit) {
  for (const TextRange& range : text_units(text, unit)) {
    if (range.end > offset) return range;
  }
  return std::nullopt;
}

std::optional<TextRange> last_unit_starting_before(std::string_view text, std::size_t offset, TextUnit unit) {
  std::optional<TextRange> found;
  for (const TextRange& range : text_units(text, unit)) {
    if (range.start >= offset) break;
    found = range;
  }
  return found;
}

std::optional<TextRange> unit_at_in(std::string_view text, std::size_t offset, TextUnit unit) {
  std::optional<TextRange> touching;
  for (const TextRange& range : text_units(text, unit)) {
    if (range.start <= offset && offset < range.end) return range;
    if (range.end == offset) touching = range;
    if (range.start == offset && !touching) return range;
    if (range.start > offset) break;
  }
  return touching;
}

std::optional<TextRange> unit_before_in(std::string_view text, std::size_t offset, TextUnit unit) {
  std::optional<TextRange> found;
  for (const TextRange& range : text_units(text, unit)) {
    if (range.end > offset) break;
    found = range;
  }
  return found;
}

std::optional<TextRange> unit_after_in(std::string_view text, std::size_t offset, TextUnit unit) {
  for (const TextRange& range : text_units(text, unit)) {
    if (range.start >= offset) return range;
  }
  return std::nullopt;
}

// The side of the offset a search looks at. An empty result in the window only means "none"
// when the window reaches the end of the text on that side.
enum class SearchSide { kAround, kBefore, kAfter };

using UnitSearch = std::optional<TextRange> (*)(std::string_view, std::size_t, TextUnit);

// Runs search on a window of whole lines around offset instead of the whole text. ICU's
// grapheme, word and sentence rules always break at a line feed, so units never cross a line
// and the window gives the same result as the whole text. This keeps cursor motion and commands
// fast in documents of many megabytes. Paragraphs are found by a plain scan of the whole text.
std::optional<TextRange> search_near(std::string_view text, std::size_t offset, TextUnit unit, UnitSearch search,
                                     SearchSide side) {
  constexpr std::size_t kWindowBytes = 64 * 1024;
  offset = std::min(offset, text.size());
  if (unit == TextUnit::kParagraph || text.size() <= 2 * kWindowBytes) return search(text, offset, unit);

  const std::size_t from = offset > kWindowBytes ? offset - kWindowBytes : 0;
  const std::size_t to = std::min(text.size(), offset + kWindowBytes);
  std::size_t window_start = 0;
  if (from > 0) {
    const std::size_t line_feed = text.rfind('\n', from);
    window_start = line_feed == std::string_view::npos ? 0 : line_feed + 1;
  }
  std::size_t window_end = text.size();
  if (to < text.size()) {
    const std::size_t line_feed = text.find('\n', to);
    window_end = line_feed == std::string_view::npos ? text.size() : line_feed;
  }

  const std::string_view window = text.substr(window_start, window_end - window_start);
  if (auto range = search(window, offset - window_start, unit)) {
    return TextRange{range->start + window_start, range->end + window_start};
  }
  const bool window_reaches_side = (side == SearchSide::kBefore && window_start == 0) ||
                                   (side == SearchSide::kAfter && window_end == text.size()) ||
                                   side == SearchSide::kAround;
  if (window_reaches_side) return std::nullopt;
  return search(text, offset, unit);
}

}  // namespace

std::size_t next_boundary(std::string_view text, std::size_t offset, TextUnit unit) {
  if (offset >= text.size()) return text.size();
  if (unit == TextUnit::kCharacter) {
    const detail::Utf8Text utext(text);
    auto iterator = detail::make_break_iterator(detail::BreakKind::kCharacter, utext);
    const int32_t next = iterator->following(static_cast<int32_t>(offset));
    return next == icu::BreakIterator::DONE ? text.size() : static_cast<std::size_t>(next);
  }
  const auto range = search_near(text, offset, unit, first_unit_ending_after, SearchSide::kAfter);
  if (!range) return text.size();
  return range->start > offset ? range->start : range->end;
}

std::size_t previous_boundary(std::string_view text, std::size_t offset, TextUnit unit) {
  if (offset == 0) return 0;
  offset = std::min(offset, text.size());
  if (unit == TextUnit::kCharacter) {
    const detail::Utf8Text utext(text);
    auto iterator = detail::make_break_iterator(detail::BreakKind::kCharacter, utext);
    const int32_t previous = iterator->preceding(static_cast<int32_t>(offset));
    return previous == icu::BreakIterator::DONE ? 0 : static_cast<std::size_t>(previous);
  }
  const auto range = search_near(text, offset, unit, last_unit_starting_before, SearchSide::kBefore);
  if (!range) return 0;
  return range->end < offset ? range->end : range->start;
}

Selection move_by_unit(const Document& document, TextUnit unit, bool forward, bool extend) {
  const Selection selection = document.selection();
  if (!extend && !selection.empty()) {
    return Selection::cursor_at(forward ? selection.end() : selection.start());
  }
  const std::string& text = document.text();
  const std::size_t head =
      forward ? next_boundary(text, selection.head, unit) : previous_boundary(text, selection.head, unit);
  return extend ? Selection{selection.anchor, head} : Selection::cursor_at(head);
}

std::optional<TextRange> unit_at(std::string_view text, std::size_t offset, TextUnit unit) {
  return search_near(text, offset, unit, unit_at_in, SearchSide::kAround);
}

std::optional<TextRange> unit_before(std::string_view text, std::size_t offset, TextUnit unit) {
  return search_near(text, offset, unit, unit_before_in, SearchSide::kBefore);
}

std::optional<TextRange> unit_after(std::string_view text, std::size_t offset, TextUnit unit) {
  return search_near(text, offset, unit, unit_after_in, SearchSide::kAfter);
}

}  // namespace utter::editor
