#include "utter/editor/dictation_controller.h"

#include "utter/editor/utf8.h"

namespace utter::editor {

Dictation::Dictation(Document& document, SpokenPunctuation punctuation, CommandGrammar grammar,
                     RewriteFunction rewrite)
    : document_(document),
      punctuation_(std::move(punctuation)),
      grammar_(std::move(grammar)),
      rewrite_(std::move(rewrite)) {}

Dictation::~Dictation() { forget_insertion(); }

void Dictation::forget_insertion() {
  if (insertion_markers_) {
    document_.remove_marker(insertion_markers_->first);
    document_.remove_marker(insertion_markers_->second);
    insertion_markers_.reset();
  }
}

void Dictation::remember_insertion(TextRange range) {
  forget_insertion();
  // Text typed right before or after the utterance is not part of it.
  insertion_markers_ = {document_.add_marker(range.start, MarkerGravity::kMoveAfter),
                        document_.add_marker(range.end, MarkerGravity::kStayBefore)};
}

std::optional<TextRange> Dictation::last_insertion() const {
  if (!insertion_markers_) return std::nullopt;
  const TextRange range{document_.marker_position(insertion_markers_->first),
                        document_.marker_position(insertion_markers_->second)};
  if (range.end <= range.start) return std::nullopt;
  return range;
}

UtteranceResult Dictation::handle(std::string_view utterance, UtteranceMode mode) {
  UtteranceResult result;
  if (utterance.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    result.message = "Nothing was heard";
    return result;
  }
  if (const auto invalid = find_invalid_utf8(utterance)) {
    result.message = "The transcript is not valid UTF-8 (invalid byte sequence at offset " +
                     std::to_string(*invalid) + "), so it was not inserted";
    return result;
  }
  const std::uint64_t revision_before = document_.revision();

  if (const auto command = grammar_.match(utterance)) {
    const CommandOutcome outcome = execute_command(document_, *command, CommandContext{last_insertion()});
    result.kind = UtteranceResult::Kind::kCommand;
    result.succeeded = outcome.succeeded;
    result.message = outcome.message;
    // After "delete that" or "undo", "that" no longer names the old utterance.
    if (command->action == "delete_that" || command->action == "undo") forget_insertion();
  } else if (mode == UtteranceMode::kCommand) {
    const RewriteOutcome outcome = rewrite_with(document_, utterance, rewrite_);
    result.kind = UtteranceResult::Kind::kRewrite;
    result.succeeded = outcome.succeeded;
    result.message = outcome.message;
    result.rewrite = outcome.request;
    if (outcome.succeeded) remember_insertion(outcome.result);
  } else {
    const TextRange inserted = insert_dictation(document_, punctuation_, utterance);
    result.kind = UtteranceResult::Kind::kDictated;
    result.succeeded = true;
    result.message = "Dictated";
    if (!inserted.empty()) remember_insertion(inserted);
  }

  if (document_.revision() != revision_before && after_change_) after_change_();
  return result;
}

}  // namespace utter::editor
