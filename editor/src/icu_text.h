// ICU helpers private to the editor: UTF-8 UText views and break iterators.
#pragma once

#include <unicode/brkiter.h>
#include <unicode/utext.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace utter::editor::detail {

// A UText over UTF-8 bytes; ICU reports its indices as byte offsets into those bytes.
class Utf8Text {
 public:
  explicit Utf8Text(std::string_view text) {
    UErrorCode status = U_ZERO_ERROR;
    text_ = utext_openUTF8(nullptr, text.data(), static_cast<int64_t>(text.size()), &status);
    if (U_FAILURE(status)) {
      throw std::runtime_error(std::string("ICU failed to open UTF-8 text: ") + u_errorName(status));
    }
  }
  ~Utf8Text() { utext_close(text_); }
  Utf8Text(const Utf8Text&) = delete;
  Utf8Text& operator=(const Utf8Text&) = delete;
  UText* get() const { return text_; }

 private:
  UText* text_ = nullptr;
};

enum class BreakKind { kCharacter, kWord, kSentence };

// A break iterator of the root locale set on text; text must outlive it.
std::unique_ptr<icu::BreakIterator> make_break_iterator(BreakKind kind, const Utf8Text& text);

}  // namespace utter::editor::detail
