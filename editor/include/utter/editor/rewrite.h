// The one thing the editor needs from a language model: rewriting text by an instruction.
#pragma once

#include <functional>
#include <string>

namespace utter::editor {

struct RewriteRequest {
  std::string instruction;  // what the person said, e.g. "make this more formal"
  std::string text;         // the selection, or the current paragraph when nothing is selected
};

// Returns the rewritten text; throws std::exception on failure. Implemented by the program on
// top of the inference engine, and by a fake in tests.
using RewriteFunction = std::function<std::string(const RewriteRequest&)>;

}  // namespace utter::editor
