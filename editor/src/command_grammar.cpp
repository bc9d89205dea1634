// Parsing and matching of the spoken command grammar (assets/voice_commands.json).
#include "utter/editor/assets.h"
#include "utter/editor/text_case.h"
#include "utter/editor/utf8.h"
#include "utter/editor/voice_commands.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace utter::editor {

namespace {

using Element = CommandGrammar::Element;
using Expansions = std::vector<std::vector<Element>>;

// Characters a transcriber puts around words that never change which command was meant.
bool is_edge_punctuation(char32_t c) {
  static const std::u32string marks = U".,!?;:\"'“”‘’«»¿¡()";
  return marks.find(c) != std::u32string::npos;
}

std::string_view strip_edge_punctuation(std::string_view word) {
  while (!word.empty()) {
    std::size_t length = 1;
    if (!is_edge_punctuation(decode_utf8(word, 0, &length))) break;
    word.remove_prefix(length);
  }
  while (!word.empty()) {
    const std::size_t last = previous_code_point(word, word.size());
    if (!is_edge_punctuation(decode_utf8(word, last, nullptr))) break;
    word = word.substr(0, last);
  }
  return word;
}

std::vector<std::string> split_on_space(std::string_view text) {
  std::vector<std::string> words;
  std::istringstream stream{std::string(text)};
  std::string word;
  while (stream >> word) words.push_back(word);
  return words;
}

// Recursive-descent parser for one pattern; each parse returns every linear expansion.
class PatternParser {
 public:
  PatternParser(std::string_view pattern, std::string_view context) : pattern_(pattern), context_(context) {}

  Expansions parse() {
    Expansions result = parse_alternatives();
    skip_spaces();
    if (position_ != pattern_.size()) fail("unexpected '" + std::string(1, pattern_[position_]) + "'");
    return result;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error(std::string(context_) + ": invalid pattern \"" + std::string(pattern_) +
                             "\" at character " + std::to_string(position_) + ": " + why);
  }

  void skip_spaces() {
    while (position_ < pattern_.size() && pattern_[position_] == ' ') ++position_;
  }

  Expansions parse_alternatives() {
    Expansions all = parse_sequence();
    skip_spaces();
    while (position_ < pattern_.size() && pattern_[position_] == '|') {
      ++position_;
      Expansions next = parse_sequence();
      all.insert(all.end(), next.begin(), next.end());
      skip_spaces();
    }
    return all;
  }

  Expansions parse_sequence() {
    Expansions result = {{}};
    bool has_items = false;
    while (true) {
      skip_spaces();
      if (position_ == pattern_.size()) break;
      const char c = pattern_[position_];
      if (c == ')' || c == ']' || c == '|') break;
      const Expansions item = parse_item();
      Expansions combined;
      for (const auto& prefix : result) {
        for (const auto& suffix : item) {
          auto joined = prefix;
          joined.insert(joined.end(), suffix.begin(), suffix.end());
          combined.push_back(std::move(joined));
        }
      }
      result = std::move(combined);
      has_items = true;
    }
    if (!has_items) fail("empty alternative");
    return result;
  }

  Expansions parse_item() {
    const char c = pattern_[position_];
    if (c == '(' || c == '[') {
      ++position_;
      Expansions inner = parse_alternatives();
      const char closing = c == '(' ? ')' : ']';
      if (position_ >= pattern_.size() || pattern_[position_] != closing) {
        fail(std::string("missing '") + closing + "'");
      }
      ++position_;
      if (c == '[') inner.push_back({});
      return inner;
    }
    if (c == '{') {
      const std::size_t end = pattern_.find('}', position_);
      if (end == std::string_view::npos) fail("missing '}'");
      const std::string name(pattern_.substr(position_ + 1, end - position_ - 1));
      position_ = end + 1;
      if (name.starts_with("text:")) {
        if (name.size() == 5) fail("capture without a name");
        return {{Element{Element::Kind::kCapture, name.substr(5)}}};
      }
      if (name.empty()) fail("empty slot name");
      return {{Element{Element::Kind::kSlot, name}}};
    }
    std::size_t end = position_;
    while (end < pattern_.size() && std::string_view(" ()[]{}|").find(pattern_[end]) == std::string_view::npos) {
      ++end;
    }
    std::string word = to_lower(pattern_.substr(position_, end - position_));
    position_ = end;
    return {{Element{Element::Kind::kWord, std::move(word)}}};
  }

  std::string_view pattern_;
  std::string_view context_;
  std::size_t position_ = 0;
};

struct UtteranceWords {
  std::vector<std::string> keys;  // lower case, edge punctuation removed
  std::vector<std::string> raw;   // as transcribed, for captured text
};

UtteranceWords split_utterance(std::string_view utterance) {
  UtteranceWords words;
  for (const std::string& word : split_on_space(utterance)) {
    const std::string_view stripped = strip_edge_punctuation(word);
    if (stripped.empty()) continue;
    words.keys.push_back(to_lower(stripped));
    words.raw.push_back(word);
  }
  return words;
}

}  // namespace

const std::vector<std::string>& CommandGrammar::known_actions() {
  static const std::vector<std::string> actions = {
      "select_all", "select_that", "select_unit", "select_text", "delete_that",
      "undo",       "redo",        "capitalize",  "uppercase",   "lowercase",
      "go_to",      "go_to_unit_edge", "new_paragraph", "new_line", "bold",
      "italic",     "replace"};
  return actions;
}

CommandGrammar CommandGrammar::parse(std::string_view json_text, std::string_view source_name) {
  const std::string source(source_name);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& error) {
    throw std::runtime_error(source + ": invalid JSON: " + error.what());
  }
  CommandGrammar grammar;
  try {
    const nlohmann::json slots = json.value("slots", nlohmann::json::object());
    for (const auto& [slot, phrases] : slots.items()) {
      for (const auto& [phrase, value] : phrases.items()) {
        std::vector<std::string> words = split_on_space(to_lower(phrase));
        if (words.empty()) throw std::runtime_error(source + ": slot \"" + slot + "\" has an empty phrase");
        grammar.slots_[slot].emplace_back(std::move(words), value.get<std::string>());
      }
      // Longer phrases first, so "the selection" wins over a shorter phrase it starts with.
      auto& entries = grammar.slots_[slot];
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    }
    const auto& commands = json.at("commands");
    for (std::size_t i = 0; i < commands.size(); ++i) {
      const std::string action = commands[i].at("action").get<std::string>();
      const std::string context = source + ": commands[" + std::to_string(i) + "] (" + action + ")";
      const auto& known = known_actions();
      if (std::find(known.begin(), known.end(), action) == known.end()) {
        throw std::runtime_error(context + ": unknown action \"" + action + "\"");
      }
      for (const auto& pattern_json : commands[i].at("patterns")) {
        const std::string pattern = pattern_json.get<std::string>();
        for (auto& elements : PatternParser(pattern, context).parse()) {
          for (const Element& element : elements) {
            if (element.kind == Element::Kind::kSlot && !grammar.slots_.contains(element.name)) {
              throw std::runtime_error(context + ": pattern \"" + pattern + "\" uses unknown slot {" +
                                       element.name + "}");
            }
          }
          if (elements.empty()) {
            throw std::runtime_error(context + ": pattern \"" + pattern + "\" can match an empty utterance");
          }
          grammar.rules_.push_back(Rule{action, pattern, std::move(elements)});
        }
      }
    }
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(source + ": invalid command grammar: " + error.what());
  }
  return grammar;
}

CommandGrammar CommandGrammar::load(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw std::runtime_error("cannot open command grammar '" + path.string() + "'");
  std::ostringstream contents;
  contents << stream.rdbuf();
  return parse(contents.str(), path.string());
}

CommandGrammar CommandGrammar::load_default() { return load(asset_path("voice_commands.json")); }

namespace {

// Backtracking match of elements[e...] against words[w...]; fills arguments on success.
bool match_elements(const std::vector<Element>& elements, std::size_t e, const UtteranceWords& words,
                    std::size_t w,
                    const std::map<std::string, std::vector<std::pair<std::vector<std::string>, std::string>>>& slots,
                    std::map<std::string, std::string>& arguments) {
  if (e == elements.size()) return w == words.keys.size();
  const Element& element = elements[e];
  switch (element.kind) {
    case Element::Kind::kWord:
      return w < words.keys.size() && words.keys[w] == element.name &&
             match_elements(elements, e + 1, words, w + 1, slots, arguments);
    case Element::Kind::kSlot:
      for (const auto& [phrase, value] : slots.at(element.name)) {
        if (w + phrase.size() > words.keys.size()) continue;
        if (!std::equal(phrase.begin(), phrase.end(), words.keys.begin() + static_cast<std::ptrdiff_t>(w))) continue;
        arguments[element.name] = value;
        if (match_elements(elements, e + 1, words, w + phrase.size(), slots, arguments)) return true;
        arguments.erase(element.name);
      }
      return false;
    case Element::Kind::kCapture:
      for (std::size_t end = w + 1; end <= words.keys.size(); ++end) {
        std::string captured;
        for (std::size_t k = w; k < end; ++k) {
          if (!captured.empty()) captured += ' ';
          captured += words.raw[k];
        }
        arguments[element.name] = std::string(strip_edge_punctuation(captured));
        if (arguments[element.name].empty()) continue;
        if (match_elements(elements, e + 1, words, end, slots, arguments)) return true;
      }
      arguments.erase(element.name);
      return false;
  }
  return false;
}

}  // namespace

std::optional<VoiceCommand> CommandGrammar::match(std::string_view utterance) const {
  const UtteranceWords words = split_utterance(utterance);
  if (words.keys.empty()) return std::nullopt;
  for (const Rule& rule : rules_) {
    std::map<std::string, std::string> arguments;
    if (match_elements(rule.elements, 0, words, 0, slots_, arguments)) {
      return VoiceCommand{rule.action, std::move(arguments)};
    }
  }
  return std::nullopt;
}

}  // namespace utter::editor
