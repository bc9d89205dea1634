// Grapheme, word, sentence and paragraph boundaries of UTF-8 text, from ICU's break rules, so
// that accents, emoji sequences, CJK and right-to-left text move and select as people expect.
// Offsets are byte offsets into the UTF-8 text.
#pragma once

#include "utter/editor/document.h"

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace utter::editor {

enum class TextUnit {
  kCharacter,  // a user-perceived character (extended grapheme cluster)
  kWord,       // letters, digits, ideographs or emoji; not spaces or punctuation
  kSentence,   // a sentence without its trailing spaces and line breaks
  kParagraph,  // a run of non-blank lines; blank lines separate paragraphs
};

// The nearest unit boundary after offset (text.size() at the end) and before it (0 at the
// start). For words these are the edges of words, so that motion skips spaces.
std::size_t next_boundary(std::string_view text, std::size_t offset, TextUnit unit);
std::size_t previous_boundary(std::string_view text, std::size_t offset, TextUnit unit);

// Every unit in text, in order. Throws std::runtime_error when ICU cannot create its break
// iterator (for example when its data is missing).
std::vector<TextRange> text_units(std::string_view text, TextUnit unit);

// The unit that contains offset or touches it from the left or right, so a cursor right after
// a word is "in" that word. Nothing when offset is between units (e.g. among spaces).
std::optional<TextRange> unit_at(std::string_view text, std::size_t offset, TextUnit unit);
// The last unit that ends at or before offset, and the first unit that starts at or after it.
// A cursor inside a word therefore skips that word in both directions.
std::optional<TextRange> unit_before(std::string_view text, std::size_t offset, TextUnit unit);
std::optional<TextRange> unit_after(std::string_view text, std::size_t offset, TextUnit unit);

// The selection after one cursor step by unit (arrow keys, with control for words). With
// extend the anchor stays and the head moves (shift). Without it, a non-empty selection first
// collapses to its start (backward) or end (forward), as text editors do.
Selection move_by_unit(const Document& document, TextUnit unit, bool forward, bool extend);

}  // namespace utter::editor
