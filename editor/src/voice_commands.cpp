// Execution of matched voice commands on a document.
#include "utter/editor/voice_commands.h"

#include "utter/editor/dictation.h"
#include "utter/editor/text_boundaries.h"
#include "utter/editor/text_case.h"
#include "utter/editor/utf8.h"

#include <unicode/uchar.h>
#include <unicode/uscript.h>

#include <functional>

namespace utter::editor {

namespace {

char32_t fold(char32_t c) {
  return static_cast<char32_t>(u_foldCase(static_cast<UChar32>(c), U_FOLD_CASE_DEFAULT));
}

bool is_word_character(char32_t c) {
  if (!u_isalnum(static_cast<UChar32>(c))) return false;
  // Scripts without spaces have no word edges to check, so every match there counts as whole.
  UErrorCode status = U_ZERO_ERROR;
  const UScriptCode script = uscript_getScript(static_cast<UChar32>(c), &status);
  return !(U_SUCCESS(status) && (script == USCRIPT_HAN || script == USCRIPT_HIRAGANA ||
                                 script == USCRIPT_KATAKANA || script == USCRIPT_THAI));
}

bool is_whole_word(std::string_view text, TextRange range) {
  if (range.start > 0 &&
      is_word_character(decode_utf8(text, previous_code_point(text, range.start), nullptr))) {
    return false;
  }
  return range.end >= text.size() || !is_word_character(decode_utf8(text, range.end, nullptr));
}

std::string describe_unit(const std::string& direction, const std::string& unit) {
  if (direction == "previous") return "previous " + unit;
  if (direction == "next") return "next " + unit;
  return unit;
}

std::optional<TextRange> find_unit(const Document& document, const std::string& direction,
                                   TextUnit unit) {
  const std::string& text = document.text();
  const Selection selection = document.selection();
  if (direction == "previous") return unit_before(text, selection.start(), unit);
  if (direction == "next") return unit_after(text, selection.end(), unit);
  if (auto range = unit_at(text, selection.head, unit)) return range;
  if (auto range = unit_before(text, selection.head, unit)) return range;
  return unit_after(text, selection.head, unit);
}

TextUnit parse_unit(const std::string& name) {
  if (name == "sentence") return TextUnit::kSentence;
  if (name == "paragraph") return TextUnit::kParagraph;
  return TextUnit::kWord;
}

// The range "that" names: the selection, else the last dictated utterance.
std::optional<TextRange> resolve_that(const Document& document, const CommandContext& context) {
  if (!document.selection().empty()) return document.selection().range();
  if (context.last_insertion && !context.last_insertion->empty() &&
      context.last_insertion->end <= document.size()) {
    return context.last_insertion;
  }
  return std::nullopt;
}

// The text in quotes, shortened to about 40 bytes at a code point boundary.
std::string quote_for_message(std::string_view text) {
  constexpr std::size_t kMaxBytes = 40;
  std::string quoted = "\"";
  if (text.size() <= kMaxBytes) {
    quoted.append(text);
  } else {
    std::size_t cut = kMaxBytes;
    while (cut > 0 && is_utf8_continuation(static_cast<unsigned char>(text[cut]))) --cut;
    quoted.append(text.substr(0, cut));
    quoted.append("…");
  }
  quoted.append("\"");
  return quoted;
}

CommandOutcome succeeded(std::string message) { return {true, std::move(message)}; }
CommandOutcome failed(std::string message) { return {false, std::move(message)}; }

const char* const kNothingSelected =
    "Nothing is selected and there is no recent dictation; select some text first";

// Widens a range about to be deleted by one neighbouring space, so that deleting a word from
// "a word here" leaves "a here" and not "a  here".
TextRange absorb_one_space(const Document& document, TextRange range) {
  const char before = range.start > 0 ? document.substr(range.start - 1, 1)[0] : '\n';
  const char after = range.end < document.size() ? document.substr(range.end, 1)[0] : '\n';
  const bool after_closes = std::string_view(",.;:!?)]}'\"\n").find(after) != std::string_view::npos;
  if (before == ' ' && (after == ' ' || after_closes)) return {range.start - 1, range.end};
  if (before == '\n' && after == ' ') return {range.start, range.end + 1};
  return range;
}

CommandOutcome transform_that(Document& document, const CommandContext& context,
                              const std::function<std::string(std::string_view)>& transform,
                              const std::string& label) {
  const auto target = resolve_that(document, context);
  if (!target) return failed(kNothingSelected);
  const std::string changed = transform(document.substr(*target));
  Document::Transaction transaction(document, label);
  document.replace(*target, changed);
  document.set_selection({target->start, target->start + changed.size()});
  return succeeded(label);
}

TextRange trim_spaces(const Document& document, TextRange range) {
  const std::string text = document.substr(range);
  const std::size_t first = text.find_first_not_of(" \t\n");
  if (first == std::string::npos) return {range.start, range.start};
  const std::size_t last = text.find_last_not_of(" \t\n");
  return {range.start + first, range.start + last + 1};
}

// Wraps the target in a Markdown emphasis marker, or removes the marker when it is already
// around the target.
CommandOutcome toggle_emphasis(Document& document, const CommandContext& context,
                               const std::string& marker, const std::string& label) {
  const auto resolved = resolve_that(document, context);
  if (!resolved) return failed(kNothingSelected);
  const TextRange target = trim_spaces(document, *resolved);
  if (target.empty()) return failed("The selection has only spaces; select some words first");
  const std::size_t width = marker.size();
  const bool wrapped = target.start >= width && document.substr(target.start - width, width) == marker &&
                       document.substr(target.end, width) == marker &&
                       // "**bold**" is not italic: the byte beyond an italic marker must differ.
                       (width == 2 || target.start < 2 || document.substr(target.start - 2, 1) != "*" ||
                        document.substr(target.end + 1, 1) != "*");
  Document::Transaction transaction(document, label);
  if (wrapped) {
    document.erase(target.end, width);
    document.erase(target.start - width, width);
    document.set_selection({target.start - width, target.end - width});
    return succeeded("Removed " + label);
  }
  document.insert(target.end, marker);
  document.insert(target.start, marker);
  document.set_selection({target.start + width, target.end + width});
  return succeeded(label);
}

CommandOutcome go_to_unit_edge(Document& document, const VoiceCommand& command) {
  const std::string unit_name = command.argument("unit");
  const std::string direction = command.argument("direction");
  const auto range = find_unit(document, direction, parse_unit(unit_name));
  if (!range) return failed("No " + describe_unit(direction, unit_name) + " to go to");
  const bool to_start = command.argument("place") == "start";
  document.set_cursor(to_start ? range->start : range->end);
  return succeeded(std::string("Moved to the ") + (to_start ? "start" : "end") + " of the " +
                   describe_unit(direction, unit_name));
}

CommandOutcome insert_break(Document& document, std::string_view text, const std::string& label) {
  const InsertionPlan plan = plan_insertion(document, document.selection().range(), text);
  Document::Transaction transaction(document, label);
  document.set_selection(Selection::of(plan.range));
  document.replace_selection(plan.text);
  return succeeded(label);
}

CommandOutcome replace_text(Document& document, const VoiceCommand& command) {
  const std::string find = command.argument("find");
  std::string replacement = command.argument("replacement");
  if (find.empty()) return failed("Say which text to replace, as in \"replace tea with coffee\"");
  const auto found = find_nearest(document.text(), find, document.selection().head);
  if (!found) return failed(quote_for_message(find) + " was not found");
  // Keep a capital the replaced text had at the start of a sentence.
  const std::string original = document.substr(*found);
  const char32_t first = decode_utf8(original, 0, nullptr);
  if (!replacement.empty() && u_isupper(static_cast<UChar32>(first)) &&
      !u_isupper(static_cast<UChar32>(decode_utf8(replacement, 0, nullptr)))) {
    replacement = capitalize_first_letter(replacement);
  }
  Document::Transaction transaction(document, "Replace");
  document.replace(*found, replacement);
  document.set_cursor(found->start + replacement.size());
  return succeeded("Replaced " + quote_for_message(original) + " with " + quote_for_message(replacement));
}

}  // namespace

std::vector<TextRange> find_case_insensitive(std::string_view text, std::string_view needle) {
  std::vector<TextRange> matches;
  std::u32string folded_needle;
  for (std::size_t i = 0; i < needle.size();) {
    std::size_t length = 1;
    folded_needle += fold(decode_utf8(needle, i, &length));
    i += length;
  }
  if (folded_needle.empty()) return matches;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t first_length = 1;
    const char32_t first = fold(decode_utf8(text, start, &first_length));
    if (first == folded_needle[0]) {
      std::size_t offset = start + first_length;
      std::size_t k = 1;
      while (k < folded_needle.size() && offset < text.size()) {
        std::size_t length = 1;
        if (fold(decode_utf8(text, offset, &length)) != folded_needle[k]) break;
        offset += length;
        ++k;
      }
      if (k == folded_needle.size()) {
        matches.push_back({start, offset});
        start = offset;
        continue;
      }
    }
    start += first_length;
  }
  return matches;
}

std::optional<TextRange> find_nearest(std::string_view text, std::string_view needle,
                                      std::size_t position) {
  position = std::min(position, text.size());
  // Most often the phrase was written shortly before the cursor. A whole-word match in the
  // text just before it is the result, so large documents skip the full scan then.
  constexpr std::size_t kNearbyBytes = 64 * 1024;
  if (position > kNearbyBytes) {
    std::size_t nearby_start = position - kNearbyBytes;
    while (nearby_start < position && is_utf8_continuation(static_cast<unsigned char>(text[nearby_start]))) {
      ++nearby_start;
    }
    std::optional<TextRange> last_whole;
    for (const TextRange& range :
         find_case_insensitive(text.substr(nearby_start, position - nearby_start), needle)) {
      const TextRange shifted{range.start + nearby_start, range.end + nearby_start};
      if (is_whole_word(text, shifted)) last_whole = shifted;
    }
    if (last_whole) return last_whole;
  }

  const std::vector<TextRange> all = find_case_insensitive(text, needle);
  std::vector<TextRange> whole;
  for (const TextRange& range : all) {
    if (is_whole_word(text, range)) whole.push_back(range);
  }
  const std::vector<TextRange>& candidates = whole.empty() ? all : whole;
  std::optional<TextRange> before;
  std::optional<TextRange> containing;
  for (const TextRange& range : candidates) {
    if (range.end <= position) {
      before = range;
    } else if (range.start < position) {
      containing = range;
    } else {
      if (before) return before;
      if (containing) return containing;
      return range;
    }
  }
  if (before) return before;
  return containing;
}

CommandOutcome execute_command(Document& document, const VoiceCommand& command,
                               const CommandContext& context) {
  const std::string& action = command.action;
  if (action == "select_all") {
    document.set_selection({0, document.size()});
    return succeeded("Selected everything");
  }
  if (action == "select_that") {
    const auto target = resolve_that(document, context);
    if (!target) return failed(kNothingSelected);
    document.set_selection(Selection::of(*target));
    return succeeded("Selected the last dictation");
  }
  if (action == "select_unit") {
    const std::string unit_name = command.argument("unit");
    const std::string direction = command.argument("direction");
    const auto range = find_unit(document, direction, parse_unit(unit_name));
    if (!range) return failed("No " + describe_unit(direction, unit_name) + " to select");
    document.set_selection(Selection::of(*range));
    return succeeded("Selected the " + describe_unit(direction, unit_name));
  }
  if (action == "select_text") {
    const std::string target = command.argument("target");
    const auto found = find_nearest(document.text(), target, document.selection().start());
    if (!found) return failed(quote_for_message(target) + " was not found");
    document.set_selection(Selection::of(*found));
    return succeeded("Selected " + quote_for_message(document.substr(*found)));
  }
  if (action == "delete_that") {
    const auto target = resolve_that(document, context);
    if (!target) return failed(kNothingSelected);
    const TextRange range = absorb_one_space(document, *target);
    const std::string removed = document.substr(*target);
    Document::Transaction transaction(document, "Delete");
    document.erase(range.start, range.length());
    document.set_cursor(range.start);
    return succeeded("Deleted " + quote_for_message(removed));
  }
  if (action == "undo") {
    const std::string label = document.undo_label();
    if (!document.undo()) return failed("Nothing to undo");
    return succeeded(label.empty() ? "Undone" : "Undone: " + label);
  }
  if (action == "redo") {
    const std::string label = document.redo_label();
    if (!document.redo()) return failed("Nothing to redo");
    return succeeded(label.empty() ? "Redone" : "Redone: " + label);
  }
  if (action == "capitalize") return transform_that(document, context, capitalize_words, "Capitalize");
  if (action == "uppercase") return transform_that(document, context, to_upper, "All caps");
  if (action == "lowercase") return transform_that(document, context, to_lower, "No caps");
  if (action == "go_to") {
    const bool to_start = command.argument("place") == "start";
    document.set_cursor(to_start ? 0 : document.size());
    return succeeded(to_start ? "Moved to the start" : "Moved to the end");
  }
  if (action == "go_to_unit_edge") return go_to_unit_edge(document, command);
  if (action == "new_paragraph") return insert_break(document, "\n\n", "New paragraph");
  if (action == "new_line") return insert_break(document, "\n", "New line");
  if (action == "bold") return toggle_emphasis(document, context, "**", "Bold");
  if (action == "italic") return toggle_emphasis(document, context, "*", "Italic");
  if (action == "replace") return replace_text(document, command);
  return failed("Unknown command action \"" + action + "\"");
}

}  // namespace utter::editor
