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

// True when the segment holds something a person would call a word even though ICU's word
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

std::size_t next_boundary(std::string_view text, std::size_t offset, TextUnit unit) {
  if (offset >= text.size()) return text.size();
  if (unit == TextUnit::kCharacter) {
    const detail::Utf8Text utext(text);
    auto iterator = detail::make_break_iterator(detail::BreakKind::kCharacter, utext);
    const int32_t next = iterator->following(static_cast<int32_t>(offset));
    return next == icu::BreakIterator::DONE ? text.size() : static_cast<std::size_t>(next);
  }
  for (const TextRange& range : text_units(text, unit)) {
    if (range.end > offset) return range.start > offset ? range.start : range.end;
  }
  return text.size();
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
  const std::vector<TextRange> units = text_units(text, unit);
  for (auto it = units.rbegin(); it != units.rend(); ++it) {
    if (it->start < offset) return it->end < offset ? it->end : it->start;
  }
  return 0;
}

std::optional<TextRange> unit_at(std::string_view text, std::size_t offset, TextUnit unit) {
  std::optional<TextRange> touching;
  for (const TextRange& range : text_units(text, unit)) {
    if (range.start <= offset && offset < range.end) return range;
    if (range.end == offset) touching = range;
    if (range.start == offset && !touching) return range;
    if (range.start > offset) break;
  }
  return touching;
}

std::optional<TextRange> unit_before(std::string_view text, std::size_t offset, TextUnit unit) {
  std::optional<TextRange> found;
  for (const TextRange& range : text_units(text, unit)) {
    if (range.end > offset) break;
    found = range;
  }
  return found;
}

std::optional<TextRange> unit_after(std::string_view text, std::size_t offset, TextUnit unit) {
  for (const TextRange& range : text_units(text, unit)) {
    if (range.start >= offset) return range;
  }
  return std::nullopt;
}

}  // namespace utter::editor
