// Command-mode rewrites on the inference engine: the rewrite prompt in the chat format, greedy
// decoding, and the reply cleaned for use as a replacement. The desktop app and `utter rewrite`
// both use it, so they send the model the same text.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "utter/editor/rewrite.h"

namespace utter::inference {
class TextModel;
}

namespace utter::cli {

struct RewriterOptions {
  int threads = 0;                                  // 0: one per core
  int max_tokens = 1024;                            // reply tokens at most
  std::uint64_t kv_cache_budget_bytes = 512ull << 20;
};

// The chat text (starting with <bos>) that a rewrite request is sent as.
std::string render_rewrite_chat(const editor::RewritePrompt& prompt);

class ModelRewriter {
 public:
  // Receives each complete UTF-8 piece of the reply; returns false to stop decoding.
  using PieceCallback = std::function<bool(std::string_view piece)>;

  // The model must outlive the rewriter. Throws std::runtime_error when the prompt templates
  // cannot be read.
  explicit ModelRewriter(const inference::TextModel& model, RewriterOptions options = {});
  ModelRewriter(const inference::TextModel& model, RewriterOptions options,
                editor::RewritePromptTemplate templates);

  // Returns the model's raw reply. Each call starts a fresh conversation, so calls from
  // different threads do not share state.
  std::string generate_reply(const editor::RewriteRequest& request, const PieceCallback& on_piece = {}) const;
  // Returns the reply cleaned by clean_rewrite_output for replacing request.text.
  std::string rewrite(const editor::RewriteRequest& request, const PieceCallback& on_piece = {}) const;
  // Wraps rewrite() for the editor's command mode.
  editor::RewriteFunction as_function() const;

 private:
  const inference::TextModel& model_;
  RewriterOptions options_;
  editor::RewritePromptTemplate templates_;
};

}  // namespace utter::cli
