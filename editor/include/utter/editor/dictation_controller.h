// Routes each finished utterance: an exact spoken command runs, in command mode anything else
// is a rewrite instruction for the model, and otherwise the words are dictated at the cursor.
#pragma once

#include "utter/editor/command_mode.h"
#include "utter/editor/dictation.h"
#include "utter/editor/document.h"
#include "utter/editor/rewrite.h"
#include "utter/editor/voice_commands.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace utter::editor {

enum class UtteranceMode {
  kDictation,  // words are text unless the whole utterance is a command
  kCommand,    // words are a command, or else an instruction for the model
};

struct UtteranceResult {
  enum class Kind { kIgnored, kDictated, kCommand, kRewrite };
  Kind kind = Kind::kIgnored;
  bool succeeded = false;
  // A line for the person: what was done or asked, or why nothing happened.
  std::string message;
  // The request sent to the model, for kRewrite, so the person can see what was asked.
  std::optional<RewriteRequest> rewrite;
};

class Dictation {
 public:
  // The document must outlive this object. rewrite may be empty (no model loaded); command
  // mode then reports that for anything the grammar does not cover.
  Dictation(Document& document, SpokenPunctuation punctuation, CommandGrammar grammar,
            RewriteFunction rewrite = {});
  ~Dictation();
  Dictation(const Dictation&) = delete;
  Dictation& operator=(const Dictation&) = delete;

  UtteranceResult handle(std::string_view utterance, UtteranceMode mode = UtteranceMode::kDictation);

  // The range of the last dictated utterance while it is still in the document.
  std::optional<TextRange> last_insertion() const;

  void set_rewrite_function(RewriteFunction rewrite) { rewrite_ = std::move(rewrite); }
  // Called after every utterance that changed the document, e.g. to autosave.
  void set_after_change(std::function<void()> callback) { after_change_ = std::move(callback); }

 private:
  void remember_insertion(TextRange range);
  void forget_insertion();

  Document& document_;
  SpokenPunctuation punctuation_;
  CommandGrammar grammar_;
  RewriteFunction rewrite_;
  std::function<void()> after_change_;
  std::optional<std::pair<Document::MarkerId, Document::MarkerId>> insertion_markers_;
};

}  // namespace utter::editor
