// Case changes of UTF-8 text through ICU's full case mappings (ß becomes SS in upper case).
#pragma once

#include <string>
#include <string_view>

namespace utter::editor {

std::string to_upper(std::string_view text);
std::string to_lower(std::string_view text);
// Upper-cases the first letter of every word and leaves the other letters as they are, so
// "iPhone" and "NASA" keep their inner capitals.
std::string capitalize_words(std::string_view text);
// Title-cases the first letter of text (the first cased code point) and leaves the rest.
std::string capitalize_first_letter(std::string_view text);
// Lower-cases the first letter when its word is written "Like this" (one capital, then lower
// case), leaving "I", acronyms and mixed case such as "iPhone" alone.
std::string lowercase_first_word_if_capitalized(std::string_view text);

}  // namespace utter::editor
