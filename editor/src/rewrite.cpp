#include "utter/editor/rewrite.h"

#include "utter/editor/assets.h"

#include <stdexcept>

namespace utter::editor {

namespace {

constexpr std::string_view kInstructionPlaceholder = "{instruction}";
constexpr std::string_view kTextPlaceholder = "{text}";

// Text files end with a newline that is not part of the prompt.
std::string without_final_newline(std::string text) {
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// Removes one wrapper (a code fence or a quote pair) around the whole of text.
std::string_view strip_wrapper(std::string_view text, std::string_view original) {
  if (text.starts_with("```") && text.ends_with("```") && text.size() >= 6 &&
      !trim(original).starts_with("```")) {
    std::string_view inner = text.substr(3, text.size() - 6);
    // The fence's first line may name a language ("```markdown").
    const std::size_t newline = inner.find('\n');
    if (newline != std::string_view::npos && inner.substr(0, newline).find(' ') == std::string_view::npos) {
      inner.remove_prefix(newline + 1);
    }
    return trim(inner);
  }
  static const std::pair<std::string_view, std::string_view> quote_pairs[] = {
      {"\"", "\""}, {"“", "”"}, {"«", "»"}, {"'", "'"}};
  const std::string_view trimmed_original = trim(original);
  for (const auto& [open, close] : quote_pairs) {
    if (text.size() >= open.size() + close.size() && text.starts_with(open) && text.ends_with(close) &&
        !(trimmed_original.starts_with(open) && trimmed_original.ends_with(close))) {
      const std::string_view inner = text.substr(open.size(), text.size() - open.size() - close.size());
      // "a" and "b" has quotes inside, not around: keep it.
      if (inner.find(close) != std::string_view::npos) continue;
      return trim(inner);
    }
  }
  return text;
}

}  // namespace

void RewritePromptTemplate::validate() const {
  for (const std::string_view placeholder : {kInstructionPlaceholder, kTextPlaceholder}) {
    const std::size_t first = user.find(placeholder);
    if (first == std::string::npos) {
      throw std::invalid_argument("rewrite user template has no " + std::string(placeholder) + " placeholder");
    }
    if (user.find(placeholder, first + 1) != std::string::npos) {
      throw std::invalid_argument("rewrite user template has " + std::string(placeholder) + " more than once");
    }
  }
}

RewritePromptTemplate RewritePromptTemplate::load_default() {
  RewritePromptTemplate templates{without_final_newline(read_asset("prompts/rewrite_system.txt")),
                                  without_final_newline(read_asset("prompts/rewrite_user.txt"))};
  try {
    templates.validate();
  } catch (const std::invalid_argument& error) {
    throw std::runtime_error(asset_path("prompts/rewrite_user.txt").string() + ": " + error.what());
  }
  return templates;
}

RewritePrompt build_rewrite_prompt(const RewriteRequest& request, const RewritePromptTemplate& templates) {
  templates.validate();
  RewritePrompt prompt;
  prompt.system = templates.system;
  const std::string& user = templates.user;
  std::size_t position = 0;
  while (position < user.size()) {
    const std::size_t instruction_at = user.find(kInstructionPlaceholder, position);
    const std::size_t text_at = user.find(kTextPlaceholder, position);
    const std::size_t next = std::min(instruction_at, text_at);
    if (next == std::string::npos) {
      prompt.user.append(user, position);
      break;
    }
    prompt.user.append(user, position, next - position);
    if (next == instruction_at) {
      prompt.user.append(trim(request.instruction));
      position = next + kInstructionPlaceholder.size();
    } else {
      prompt.user.append(request.text);
      position = next + kTextPlaceholder.size();
    }
  }
  return prompt;
}

RewritePrompt build_rewrite_prompt(const RewriteRequest& request) {
  return build_rewrite_prompt(request, RewritePromptTemplate::load_default());
}

std::string clean_rewrite_output(std::string_view reply, std::string_view original) {
  const std::string_view body = strip_wrapper(trim(reply), original);
  std::size_t leading = 0;
  while (leading < original.size() && is_space(original[leading])) ++leading;
  std::size_t trailing = 0;
  while (trailing < original.size() - leading && is_space(original[original.size() - 1 - trailing])) ++trailing;
  std::string out(original.substr(0, leading));
  out.append(body);
  out.append(original.substr(original.size() - trailing));
  return out;
}

}  // namespace utter::editor
