#include "utter/editor/text_case.h"

#include "icu_text.h"
#include "utter/editor/utf8.h"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

namespace utter::editor {

namespace {

icu::UnicodeString to_unicode(std::string_view text) {
  return icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
}

std::string to_utf8(const icu::UnicodeString& text) {
  std::string out;
  text.toUTF8String(out);
  return out;
}

// Byte range of the first letter (cased or not) in text, or npos when there is none.
std::size_t find_first_letter(std::string_view text, std::size_t* length) {
  std::size_t offset = 0;
  while (offset < text.size()) {
    const char32_t c = decode_utf8(text, offset, length);
    if (u_isalpha(static_cast<UChar32>(c))) return offset;
    offset += *length;
  }
  return std::string_view::npos;
}

}  // namespace

std::string to_upper(std::string_view text) {
  return to_utf8(to_unicode(text).toUpper(icu::Locale::getRoot()));
}

std::string to_lower(std::string_view text) {
  return to_utf8(to_unicode(text).toLower(icu::Locale::getRoot()));
}

std::string capitalize_words(std::string_view text) {
  icu::UnicodeString unicode = to_unicode(text);
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> words(
      icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status));
  if (U_FAILURE(status)) {
    throw std::runtime_error(std::string("ICU failed to create a word break iterator: ") +
                             u_errorName(status));
  }
  unicode.toTitle(words.get(), icu::Locale::getRoot(), U_TITLECASE_NO_LOWERCASE);
  return to_utf8(unicode);
}

std::string capitalize_first_letter(std::string_view text) {
  std::size_t length = 0;
  const std::size_t offset = find_first_letter(text, &length);
  if (offset == std::string_view::npos) return std::string(text);
  const char32_t letter = decode_utf8(text, offset, nullptr);
  std::string out(text.substr(0, offset));
  // Full title-case mapping, so that a ligature like "ǆ" becomes "ǅ", not "Ǆ".
  icu::UnicodeString single(static_cast<UChar32>(letter));
  single.toTitle(nullptr, icu::Locale::getRoot(), U_TITLECASE_NO_LOWERCASE | U_TITLECASE_NO_BREAK_ADJUSTMENT);
  out += to_utf8(single);
  out.append(text.substr(offset + length));
  return out;
}

std::string lowercase_first_word_if_capitalized(std::string_view text) {
  std::size_t length = 0;
  const std::size_t offset = find_first_letter(text, &length);
  if (offset == std::string_view::npos) return std::string(text);
  const char32_t first = decode_utf8(text, offset, nullptr);
  if (!u_isupper(static_cast<UChar32>(first)) && !u_istitle(static_cast<UChar32>(first))) {
    return std::string(text);
  }
  // The rest of the word must be lower case, and a one-letter word ("I", "A") stays.
  std::size_t position = offset + length;
  std::size_t letters_after = 0;
  while (position < text.size()) {
    std::size_t next_length = 1;
    const char32_t c = decode_utf8(text, position, &next_length);
    if (!u_isalpha(static_cast<UChar32>(c))) break;
    if (!u_islower(static_cast<UChar32>(c))) return std::string(text);
    ++letters_after;
    position += next_length;
  }
  if (letters_after == 0) return std::string(text);
  std::string out(text.substr(0, offset));
  out += to_lower(text.substr(offset, length));
  out.append(text.substr(offset + length));
  return out;
}

}  // namespace utter::editor
