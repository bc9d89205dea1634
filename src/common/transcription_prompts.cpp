#include "common/transcription_prompts.h"

#include <string_view>

#include "utter/editor/assets.h"

namespace utter::cli {
namespace {

std::string trimmed_asset(std::string_view name) {
  std::string text = editor::read_asset(name);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

std::string default_transcription_system_prompt() { return trimmed_asset("prompts/transcription_system.txt"); }

std::string default_transcription_instruction() { return trimmed_asset("prompts/transcription_instruction.txt"); }

}  // namespace utter::cli
