// Dictated text into the document: spoken punctuation and layout words become marks, and the
// result is inserted at the cursor with the spacing and capitals its surroundings call for.
#pragma once

#include "utter/editor/document.h"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace utter::editor {

// Spacing of a punctuation mark against the words around it.
enum class MarkSpacing {
  kClosing,    // "word," : no space before, a space after
  kOpening,    // "(word" : a space before, none after
  kJoining,    // "well-known" : no space on either side
  kSpaced,     // "a – b" : a space on both sides
  kLineBreak,  // a line or paragraph break: no spaces around, a capital after
};

struct PunctuationMark {
  std::vector<std::string> phrases;  // lower case, words separated by single spaces
  std::string text;
  MarkSpacing spacing = MarkSpacing::kClosing;
  bool ends_sentence = false;
};

// The table of spoken punctuation (assets/spoken_punctuation.json).
class SpokenPunctuation {
 public:
  // Parses the table; throws std::runtime_error naming the source and the invalid entry.
  static SpokenPunctuation parse(std::string_view json, std::string_view source_name);
  static SpokenPunctuation load(const std::filesystem::path& path);
  // The table shipped in the assets folder.
  static SpokenPunctuation load_default();

  const std::vector<PunctuationMark>& marks() const { return marks_; }
  const std::vector<std::string>& literal_words() const { return literal_words_; }

  // Turns an utterance such as "hello comma new paragraph literal comma is a word period"
  // into text ("hello,\n\nComma is a word."). Marks the model already wrote stay as written.
  std::string render(std::string_view utterance) const;

 private:
  std::vector<PunctuationMark> marks_;
  std::vector<std::string> literal_words_;
  std::size_t longest_phrase_words_ = 1;
};

// One planned edit: replace range with text; the cursor goes to range.start + text.size().
struct InsertionPlan {
  TextRange range;
  std::string text;
  // Where the dictated words sit inside text, without the spaces added around them.
  std::size_t content_offset = 0;
  std::size_t content_length = 0;
};

// Plans inserting already rendered text in place of range (an empty range is the cursor),
// fitted to the document around it. The rules: no double spaces; no space before closing
// punctuation or after opening punctuation and quotes; no spaces between CJK characters; a
// capital at the start of the document, after a line break or after a sentence end; a
// lower-case first word in the middle of a sentence. Spaces before closing punctuation and a
// line break, and after a line break, are taken out.
InsertionPlan plan_insertion(const Document& document, TextRange range, std::string_view text);

// Renders utterance through punctuation, plans it at the selection and applies it as one undo
// step. Returns the range of the dictated words without the spaces added around them (empty
// when the utterance was blank).
TextRange insert_dictation(Document& document, const SpokenPunctuation& punctuation,
                           std::string_view utterance);

}  // namespace utter::editor
