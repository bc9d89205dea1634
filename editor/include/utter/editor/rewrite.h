// The one thing the editor needs from a language model: rewriting text by an instruction.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace utter::editor {

struct RewriteRequest {
  std::string instruction;  // the spoken instruction, e.g. "make this more formal"
  std::string text;         // the selection, or the current paragraph when nothing is selected
};

// Returns the rewritten text; throws std::exception on failure. Implemented by the program on
// top of the inference engine, and by a fake in tests.
using RewriteFunction = std::function<std::string(const RewriteRequest&)>;

// The texts of the system turn and the user turn of a rewrite. The engine wraps them in the
// model's chat format; the chat template trims each turn's outer whitespace.
struct RewritePrompt {
  std::string system;
  std::string user;
};

// Templates for the two turns. The user template must contain {instruction} and {text} once
// each; they are replaced in one pass, so braces in the person's text stay as they are.
struct RewritePromptTemplate {
  std::string system;
  std::string user;

  // Reads assets/prompts/rewrite_system.txt and rewrite_user.txt. Throws std::runtime_error
  // when a file is missing or the user template lacks a placeholder.
  static RewritePromptTemplate load_default();
  // Throws std::invalid_argument naming the missing placeholder.
  void validate() const;
};

// Builds the prompt that command mode sends and that `utter rewrite` runs.
RewritePrompt build_rewrite_prompt(const RewriteRequest& request, const RewritePromptTemplate& templates);
RewritePrompt build_rewrite_prompt(const RewriteRequest& request);

// Cleans a model's reply for use as the replacement of original. Drops the reply's outer
// whitespace and a Markdown code fence or one pair of quotes around all of it, unless original
// had them too. The result gets the outer whitespace that original had.
std::string clean_rewrite_output(std::string_view reply, std::string_view original);

}  // namespace utter::editor
