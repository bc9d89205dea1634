// Spoken editing commands: a grammar read from assets/voice_commands.json, matched against whole
// utterances, and executed on a document deterministically.
#pragma once

#include "utter/editor/document.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace utter::editor {

// A matched command: its action name and the values of its slots and captured texts, e.g.
// {"select_unit", {{"direction", "previous"}, {"unit", "sentence"}}}.
struct VoiceCommand {
  std::string action;
  std::map<std::string, std::string> arguments;

  std::string argument(const std::string& name) const {
    const auto it = arguments.find(name);
    return it == arguments.end() ? std::string() : it->second;
  }
};

class CommandGrammar {
 public:
  // Parses the grammar; throws std::runtime_error naming the source, the command and the
  // pattern that is invalid (unknown slot, unbalanced brackets, unknown action).
  static CommandGrammar parse(std::string_view json, std::string_view source_name);
  static CommandGrammar load(const std::filesystem::path& path);
  static CommandGrammar load_default();

  // The command that the whole utterance matches, or nothing when it is not a command.
  // Case, surrounding spaces and punctuation the transcriber added at the ends are ignored.
  std::optional<VoiceCommand> match(std::string_view utterance) const;

  // Every action execute_command implements. A grammar may only use these.
  static const std::vector<std::string>& known_actions();

  struct Element {
    enum class Kind { kWord, kSlot, kCapture } kind = Kind::kWord;
    std::string name;  // the word, the slot name or the capture name
  };
  struct Rule {
    std::string action;
    std::string pattern;                // as written, for error messages
    std::vector<Element> elements;      // one expansion of the pattern
  };
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  // Slot name -> (phrase as words -> value).
  std::map<std::string, std::vector<std::pair<std::vector<std::string>, std::string>>> slots_;
  std::vector<Rule> rules_;
};

// The text a command means by "that".
struct CommandContext {
  // The range of the most recent dictated utterance, if it is still known.
  std::optional<TextRange> last_insertion;
};

struct CommandOutcome {
  bool succeeded = false;
  // A short line for the person: what was done, or why nothing was ("No previous sentence").
  std::string message;
};

// Runs a matched command on the document. Every change is one undo step labelled with the
// action. A command that cannot act (nothing selected, text not found) changes nothing, and
// its outcome's message gives the reason.
CommandOutcome execute_command(Document& document, const VoiceCommand& command,
                               const CommandContext& context);

// The ranges where needle occurs in text, in order, compared with simple (one to one)
// Unicode case folding.
std::vector<TextRange> find_case_insensitive(std::string_view text, std::string_view needle);

// The occurrence of needle nearest before position (ending at or before it), else the first
// one after it. Whole-word occurrences are preferred over ones inside a longer word.
std::optional<TextRange> find_nearest(std::string_view text, std::string_view needle,
                                      std::size_t position);

}  // namespace utter::editor
