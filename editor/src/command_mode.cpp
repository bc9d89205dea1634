#include "utter/editor/command_mode.h"

#include "utter/editor/text_boundaries.h"

#include <exception>

namespace utter::editor {

std::optional<TextRange> rewrite_target(const Document& document) {
  const Selection selection = document.selection();
  if (!selection.empty()) return selection.range();
  const std::string& text = document.text();
  if (auto paragraph = unit_at(text, selection.head, TextUnit::kParagraph)) return paragraph;
  return unit_before(text, selection.head, TextUnit::kParagraph);
}

std::optional<PendingRewrite> begin_rewrite(Document& document, std::string_view instruction) {
  const auto target = rewrite_target(document);
  if (!target) return std::nullopt;
  PendingRewrite pending;
  pending.request = RewriteRequest{std::string(instruction), document.substr(*target)};
  // Text typed right at either edge while the model runs stays outside the range.
  pending.start_marker = document.add_marker(target->start, MarkerGravity::kMoveAfter);
  pending.end_marker = document.add_marker(target->end, MarkerGravity::kStayBefore);
  return pending;
}

void cancel_rewrite(Document& document, const PendingRewrite& pending) {
  document.remove_marker(pending.start_marker);
  document.remove_marker(pending.end_marker);
}

RewriteOutcome finish_rewrite(Document& document, const PendingRewrite& pending, std::string_view reply) {
  RewriteOutcome outcome;
  outcome.request = pending.request;
  const TextRange range{document.marker_position(pending.start_marker),
                        document.marker_position(pending.end_marker)};
  cancel_rewrite(document, pending);
  if (range.end < range.start || document.substr(range) != pending.request.text) {
    outcome.message = "Rewrite \"" + pending.request.instruction +
                      "\" was not applied because the text changed while the model was working";
    return outcome;
  }
  const std::string replacement = clean_rewrite_output(reply, pending.request.text);
  {
    Document::Transaction transaction(document, "Rewrite: " + pending.request.instruction);
    document.replace(range, replacement);
    document.set_selection({range.start, range.start + replacement.size()});
  }
  outcome.succeeded = true;
  outcome.result = {range.start, range.start + replacement.size()};
  outcome.message = "Rewrote: " + pending.request.instruction;
  return outcome;
}

RewriteOutcome rewrite_with(Document& document, std::string_view instruction, const RewriteFunction& rewrite) {
  auto pending = begin_rewrite(document, instruction);
  if (!pending) {
    RewriteOutcome outcome;
    outcome.request.instruction = std::string(instruction);
    outcome.message = "Nothing to rewrite: select some text or put the cursor in a paragraph";
    return outcome;
  }
  if (!rewrite) {
    cancel_rewrite(document, *pending);
    return RewriteOutcome{false, "No model is loaded for rewriting; load a model first", pending->request, {}};
  }
  std::string reply;
  try {
    reply = rewrite(pending->request);
  } catch (const std::exception& error) {
    cancel_rewrite(document, *pending);
    return RewriteOutcome{false, "Rewrite \"" + pending->request.instruction + "\" failed: " + error.what(),
                          pending->request, {}};
  }
  return finish_rewrite(document, *pending, reply);
}

}  // namespace utter::editor
