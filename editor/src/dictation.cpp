#include "utter/editor/dictation.h"

#include "utter/editor/assets.h"
#include "utter/editor/text_case.h"
#include "utter/editor/utf8.h"

#include <nlohmann/json.hpp>
#include <unicode/uchar.h>
#include <unicode/uscript.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace utter::editor {

namespace {

MarkSpacing parse_spacing(const std::string& name, std::string_view source_name) {
  static const std::unordered_map<std::string, MarkSpacing> names = {
      {"closing", MarkSpacing::kClosing},   {"opening", MarkSpacing::kOpening},
      {"joining", MarkSpacing::kJoining},   {"spaced", MarkSpacing::kSpaced},
      {"line_break", MarkSpacing::kLineBreak}};
  const auto it = names.find(name);
  if (it == names.end()) {
    throw std::runtime_error(std::string(source_name) + ": invalid spacing \"" + name +
                             "\"; expected closing, opening, joining, spaced or line_break");
  }
  return it->second;
}

// Lower case with single spaces between words.
std::string normalize_phrase(std::string_view phrase) {
  std::string lower = to_lower(phrase);
  std::string out;
  std::istringstream words(lower);
  std::string word;
  while (words >> word) {
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

bool is_ascii_punctuation_to_strip(char c) {
  return c == '.' || c == ',' || c == '!' || c == '?' || c == ';' || c == ':';
}

// A spoken word as the model wrote it, with the lower-case form used for matching and any
// trailing punctuation the model attached ("Comma," is matched as "comma").
struct SpokenWord {
  std::string raw;
  std::string key;
  int line_breaks_before = 0;
};

std::vector<SpokenWord> split_words(std::string_view utterance) {
  std::vector<SpokenWord> words;
  int pending_line_breaks = 0;
  std::size_t i = 0;
  while (i < utterance.size()) {
    const char c = utterance[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (c == '\n') ++pending_line_breaks;
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < utterance.size() && utterance[end] != ' ' && utterance[end] != '\t' &&
           utterance[end] != '\r' && utterance[end] != '\n') {
      ++end;
    }
    SpokenWord word;
    word.raw = std::string(utterance.substr(i, end - i));
    std::string_view trimmed = word.raw;
    while (!trimmed.empty() && is_ascii_punctuation_to_strip(trimmed.back())) trimmed.remove_suffix(1);
    word.key = to_lower(trimmed.empty() ? std::string_view(word.raw) : trimmed);
    word.line_breaks_before = words.empty() ? 0 : std::min(pending_line_breaks, 2);
    pending_line_breaks = 0;
    words.push_back(std::move(word));
    i = end;
  }
  return words;
}

// The text being built by render(), with the spacing state between items.
class RenderedText {
 public:
  void add_word(std::string_view word) {
    if (!out_.empty() && space_pending_) out_ += ' ';
    out_ += capitalize_next_ ? capitalize_first_letter(word) : std::string(word);
    space_pending_ = true;
    capitalize_next_ = false;
  }

  void add_mark(const PunctuationMark& mark) {
    switch (mark.spacing) {
      case MarkSpacing::kClosing:
        out_ += mark.text;
        space_pending_ = true;
        break;
      case MarkSpacing::kOpening:
        if (!out_.empty() && space_pending_) out_ += ' ';
        out_ += mark.text;
        space_pending_ = false;
        break;
      case MarkSpacing::kJoining:
        out_ += mark.text;
        space_pending_ = false;
        break;
      case MarkSpacing::kSpaced:
        if (!out_.empty()) out_ += ' ';
        out_ += mark.text;
        space_pending_ = true;
        break;
      case MarkSpacing::kLineBreak:
        out_ += mark.text;
        space_pending_ = false;
        capitalize_next_ = true;
        break;
    }
    if (mark.ends_sentence) capitalize_next_ = true;
  }

  void add_line_breaks(int count) {
    out_.append(static_cast<std::size_t>(count), '\n');
    space_pending_ = false;
  }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  bool space_pending_ = false;
  bool capitalize_next_ = false;
};

}  // namespace

SpokenPunctuation SpokenPunctuation::parse(std::string_view json_text, std::string_view source_name) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& error) {
    throw std::runtime_error(std::string(source_name) + ": invalid JSON: " + error.what());
  }
  SpokenPunctuation table;
  try {
    for (const auto& word : json.value("literal_words", nlohmann::json::array())) {
      table.literal_words_.push_back(normalize_phrase(word.get<std::string>()));
    }
    const auto& marks = json.at("marks");
    for (std::size_t i = 0; i < marks.size(); ++i) {
      const auto& entry = marks[i];
      PunctuationMark mark;
      for (const auto& phrase : entry.at("phrases")) {
        const std::string normalized = normalize_phrase(phrase.get<std::string>());
        if (normalized.empty()) {
          throw std::runtime_error(std::string(source_name) + ": marks[" + std::to_string(i) +
                                   "] has an empty phrase");
        }
        const std::size_t word_count =
            static_cast<std::size_t>(std::count(normalized.begin(), normalized.end(), ' ')) + 1;
        table.longest_phrase_words_ = std::max(table.longest_phrase_words_, word_count);
        mark.phrases.push_back(normalized);
      }
      mark.text = entry.at("text").get<std::string>();
      if (mark.phrases.empty() || mark.text.empty()) {
        throw std::runtime_error(std::string(source_name) + ": marks[" + std::to_string(i) +
                                 "] needs at least one phrase and a non-empty text");
      }
      mark.spacing = parse_spacing(entry.at("spacing").get<std::string>(), source_name);
      mark.ends_sentence = entry.value("ends_sentence", false);
      table.marks_.push_back(std::move(mark));
    }
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(std::string(source_name) + ": invalid punctuation table: " + error.what());
  }
  return table;
}

SpokenPunctuation SpokenPunctuation::load(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw std::runtime_error("cannot open punctuation table '" + path.string() + "'");
  std::ostringstream contents;
  contents << stream.rdbuf();
  return parse(contents.str(), path.string());
}

SpokenPunctuation SpokenPunctuation::load_default() {
  return load(asset_path("spoken_punctuation.json"));
}

std::string SpokenPunctuation::render(std::string_view utterance) const {
  const std::vector<SpokenWord> words = split_words(utterance);
  RenderedText out;

  // Finds the longest phrase that starts at word index i; returns its length in words.
  auto match_at = [&](std::size_t i, const PunctuationMark** found) -> std::size_t {
    const std::size_t longest = std::min(longest_phrase_words_, words.size() - i);
    for (std::size_t count = longest; count >= 1; --count) {
      std::string key = words[i].key;
      for (std::size_t k = 1; k < count; ++k) key += ' ' + words[i + k].key;
      for (const PunctuationMark& mark : marks_) {
        if (std::find(mark.phrases.begin(), mark.phrases.end(), key) != mark.phrases.end()) {
          *found = &mark;
          return count;
        }
      }
    }
    return 0;
  };

  std::size_t i = 0;
  while (i < words.size()) {
    if (words[i].line_breaks_before > 0) out.add_line_breaks(words[i].line_breaks_before);
    const bool is_literal_word = std::find(literal_words_.begin(), literal_words_.end(),
                                           words[i].key) != literal_words_.end();
    if (is_literal_word && i + 1 < words.size()) {
      const PunctuationMark* mark = nullptr;
      if (const std::size_t count = match_at(i + 1, &mark); count > 0) {
        for (std::size_t k = 1; k <= count; ++k) out.add_word(words[i + k].raw);
        i += count + 1;
        continue;
      }
    }
    const PunctuationMark* mark = nullptr;
    if (const std::size_t count = match_at(i, &mark); count > 0) {
      out.add_mark(*mark);
      i += count;
      continue;
    }
    out.add_word(words[i].raw);
    ++i;
  }
  return out.take();
}

namespace {

char32_t first_code_point(std::string_view text) {
  return text.empty() ? 0 : decode_utf8(text, 0, nullptr);
}

char32_t last_code_point(std::string_view text) {
  return text.empty() ? 0 : decode_utf8(text, previous_code_point(text, text.size()), nullptr);
}

std::string_view drop_last_code_point(std::string_view text) {
  return text.substr(0, previous_code_point(text, text.size()));
}

bool is_horizontal_space(char32_t c) { return c == U' ' || c == U'\t' || c == 0xA0; }

bool is_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

bool is_closing_mark(char32_t c) {
  static const std::u32string marks = U",.;:!?)]}…%”’»、。，！？：；）」』";
  return marks.find(c) != std::u32string::npos;
}

bool is_opening_mark(char32_t c) {
  static const std::u32string marks = U"([{“‘«¿¡（「『";
  return marks.find(c) != std::u32string::npos;
}

bool is_joining_mark(char32_t c) { return c == U'-' || c == U'/' || c == U'—'; }

bool is_straight_quote(char32_t c) { return c == U'"' || c == U'\''; }

bool is_sentence_end(char32_t c) {
  return c == U'.' || c == U'!' || c == U'?' || c == U'。' || c == U'！' || c == U'？';
}

// Scripts written without spaces between words.
bool is_unspaced_script(char32_t c) {
  if ((c >= 0x3000 && c <= 0x303F) || (c >= 0xFF00 && c <= 0xFFEF)) return true;
  UErrorCode status = U_ZERO_ERROR;
  const UScriptCode script = uscript_getScript(static_cast<UChar32>(c), &status);
  return U_SUCCESS(status) &&
         (script == USCRIPT_HAN || script == USCRIPT_HIRAGANA || script == USCRIPT_KATAKANA ||
          script == USCRIPT_THAI || script == USCRIPT_LAO || script == USCRIPT_KHMER ||
          script == USCRIPT_MYANMAR);
}

// A straight quote at the end of before opens a quotation when nothing but space or opening
// punctuation precedes it.
bool ends_with_opening_quote(std::string_view before) {
  const std::string_view rest = drop_last_code_point(before);
  const char32_t previous = last_code_point(rest);
  return rest.empty() || is_space(previous) || is_opening_mark(previous);
}

// A straight quote at the start of after closes a quotation when no letter or digit follows.
bool starts_with_closing_quote(std::string_view after) {
  std::size_t length = 1;
  decode_utf8(after, 0, &length);
  const std::string_view rest = after.substr(length);
  if (rest.empty()) return true;
  const char32_t next = first_code_point(rest);
  return !u_isalnum(static_cast<UChar32>(next));
}

bool is_sentence_start(std::string_view before) {
  // Opening quotes and brackets and the spaces around them do not change where we are.
  while (!before.empty()) {
    const char32_t c = last_code_point(before);
    if (is_horizontal_space(c) || is_opening_mark(c) ||
        (is_straight_quote(c) && ends_with_opening_quote(before))) {
      before = drop_last_code_point(before);
      continue;
    }
    break;
  }
  if (before.empty()) return true;
  // A closing quote or bracket after the sentence end: He said "Stop." Then ...
  std::string_view end = before;
  while (!end.empty()) {
    const char32_t c = last_code_point(end);
    if (c == U')' || c == U']' || c == U'”' || c == U'’' || c == U'»' || is_straight_quote(c)) {
      end = drop_last_code_point(end);
      continue;
    }
    break;
  }
  const char32_t last = last_code_point(end);
  return last == U'\n' || last == 0x2029 || is_sentence_end(last);
}

std::string_view trim_horizontal_space(std::string_view text) {
  while (!text.empty() && is_horizontal_space(first_code_point(text))) {
    std::size_t length = 1;
    decode_utf8(text, 0, &length);
    text.remove_prefix(length);
  }
  while (!text.empty() && is_horizontal_space(last_code_point(text))) {
    text = drop_last_code_point(text);
  }
  return text;
}

// Up to max_bytes of context before position, cut at a code point boundary.
std::string context_before(const Document& document, std::size_t position, std::size_t max_bytes) {
  const std::size_t start = position > max_bytes ? position - max_bytes : 0;
  std::string before = document.substr(start, position - start);
  std::size_t skip = 0;
  while (skip < before.size() && is_utf8_continuation(static_cast<unsigned char>(before[skip]))) ++skip;
  return before.substr(skip);
}

std::string context_after(const Document& document, std::size_t position, std::size_t max_bytes) {
  std::string after = document.substr(position, max_bytes);
  std::size_t end = after.size();
  if (end < max_bytes) return after;
  // Drop an incomplete code point at the cut.
  const std::size_t last = previous_code_point(after, end);
  std::size_t length = 1;
  decode_utf8(after, last, &length);
  if (last + length > end || find_invalid_utf8(after.substr(last)).has_value()) end = last;
  return after.substr(0, end);
}

}  // namespace

InsertionPlan plan_insertion(const Document& document, TextRange range, std::string_view text) {
  constexpr std::size_t kContextBytes = 256;
  InsertionPlan plan{range, {}};
  const std::string_view content = trim_horizontal_space(text);
  if (content.empty()) return plan;
  std::string before = context_before(document, range.start, kContextBytes);
  std::string after = context_after(document, range.end, kContextBytes);

  const char32_t first = first_code_point(content);
  const char32_t last = last_code_point(content);
  const bool starts_attached = is_closing_mark(first) || is_joining_mark(first) || first == U'\n';

  // Spaces before closing punctuation or a line break are taken out.
  if (starts_attached) {
    std::string_view without_spaces = before;
    while (!without_spaces.empty() && is_horizontal_space(last_code_point(without_spaces))) {
      without_spaces = drop_last_code_point(without_spaces);
    }
    plan.range.start -= before.size() - without_spaces.size();
    before.resize(without_spaces.size());
  }

  // Spaces after a line break would indent the next line, so they go too.
  if (last == U'\n') {
    std::size_t spaces = 0;
    while (spaces < after.size() && (after[spaces] == ' ' || after[spaces] == '\t')) ++spaces;
    plan.range.end += spaces;
    after.erase(0, spaces);
  }

  std::string body(content);
  if (!starts_attached) {
    body = is_sentence_start(before) ? capitalize_first_letter(body)
                                     // NOTE: this also lower-cases a proper noun that starts a
                                     // mid-sentence insertion ("Paris"). The command "cap that"
                                     // restores it.
                                     : lowercase_first_word_if_capitalized(body);
  }

  bool space_before = false;
  if (!before.empty() && !starts_attached) {
    const char32_t previous = last_code_point(before);
    space_before = !is_space(previous) && !is_opening_mark(previous) && !is_joining_mark(previous) &&
                   !(is_straight_quote(previous) && ends_with_opening_quote(before)) &&
                   !is_unspaced_script(previous) && !is_unspaced_script(first);
  }

  bool space_after = false;
  if (!after.empty()) {
    const char32_t next = first_code_point(after);
    space_after = !is_space(next) && !is_closing_mark(next) && !is_joining_mark(next) &&
                  !(is_straight_quote(next) && starts_with_closing_quote(after)) &&
                  !is_opening_mark(last) && !is_joining_mark(last) && last != U'\n' &&
                  !is_unspaced_script(next) &&
                  !is_unspaced_script(last);
  }

  if (space_before) plan.text += ' ';
  plan.content_offset = plan.text.size();
  plan.content_length = body.size();
  plan.text += body;
  if (space_after) plan.text += ' ';
  return plan;
}

TextRange insert_dictation(Document& document, const SpokenPunctuation& punctuation,
                           std::string_view utterance) {
  const std::string rendered = punctuation.render(utterance);
  const InsertionPlan plan = plan_insertion(document, document.selection().range(), rendered);
  // A blank utterance changes nothing, not even a selection it would have replaced.
  if (plan.text.empty()) return TextRange{plan.range.start, plan.range.start};
  Document::Transaction transaction(document, "Dictation");
  document.set_selection(Selection::of(plan.range));
  document.replace_selection(plan.text);
  const std::size_t content_start = plan.range.start + plan.content_offset;
  return TextRange{content_start, content_start + plan.content_length};
}

}  // namespace utter::editor
