// Command mode: an instruction about the selection (or the current paragraph) that the command
// grammar does not cover goes to a rewrite function, and its reply replaces the text as one
// undo step labelled with the instruction.
#pragma once

#include "utter/editor/document.h"
#include "utter/editor/rewrite.h"

#include <optional>
#include <string>
#include <string_view>

namespace utter::editor {

// A rewrite waiting for the model. Markers keep its range valid while the document changes.
struct PendingRewrite {
  RewriteRequest request;
  Document::MarkerId start_marker = 0;
  Document::MarkerId end_marker = 0;
};

struct RewriteOutcome {
  bool succeeded = false;
  // Shown to the person, e.g. "Rewrote the selection: make it formal", or why it failed.
  std::string message;
  RewriteRequest request;  // what was asked
  TextRange result;        // where the new text is, when it succeeded
};

// Returns the range a rewrite would act on: the selection, else the paragraph at the cursor
// or the one before it. Returns nothing when the document has no text there.
std::optional<TextRange> rewrite_target(const Document& document);

// Builds the request for instruction and marks its range; nothing when there is no target.
std::optional<PendingRewrite> begin_rewrite(Document& document, std::string_view instruction);

// Replaces the pending range with the cleaned reply as one undo step. Fails without changing
// anything when the text in the range was edited while the model was running. Always removes
// the pending rewrite's markers.
RewriteOutcome finish_rewrite(Document& document, const PendingRewrite& pending, std::string_view reply);

// Drops a pending rewrite (model failed or the person cancelled).
void cancel_rewrite(Document& document, const PendingRewrite& pending);

// begin_rewrite, rewrite and finish_rewrite in one call. An exception from rewrite becomes a
// failed outcome whose message names the instruction and the error.
RewriteOutcome rewrite_with(Document& document, std::string_view instruction, const RewriteFunction& rewrite);

}  // namespace utter::editor
