#include "common/model_rewriter.h"

#include <stdexcept>
#include <vector>

#include "utter/inference/chat_prompt.h"
#include "utter/inference/inference_context.h"
#include "utter/inference/sampler.h"
#include "utter/inference/text_model.h"
#include "utter/inference/tokenizer.h"

namespace utter::cli {

std::string render_rewrite_chat(const editor::RewritePrompt& prompt) {
  inference::ChatPromptBuilder chat;
  if (!prompt.system.empty()) chat.add_text(inference::ChatRole::System, prompt.system);
  chat.add_text(inference::ChatRole::User, prompt.user);
  return chat.render();
}

ModelRewriter::ModelRewriter(const inference::TextModel& model, RewriterOptions options)
    : ModelRewriter(model, options, editor::RewritePromptTemplate::load_default()) {}

ModelRewriter::ModelRewriter(const inference::TextModel& model, RewriterOptions options,
                             editor::RewritePromptTemplate templates)
    : model_(model), options_(options), templates_(std::move(templates)) {
  templates_.validate();
}

std::string ModelRewriter::generate_reply(const editor::RewriteRequest& request, const PieceCallback& on_piece) const {
  const inference::Tokenizer& tokenizer = model_.tokenizer();
  const std::string chat = render_rewrite_chat(editor::build_rewrite_prompt(request, templates_));
  const std::vector<int32_t> prompt = tokenizer.encode(chat, /*add_bos=*/false, /*parse_special=*/true);
  if (prompt.empty()) throw std::runtime_error("the rewrite prompt encoded to no tokens");

  inference::ContextOptions context_options;
  context_options.threads = options_.threads;
  context_options.kv_cache_budget_bytes = options_.kv_cache_budget_bytes;
  inference::InferenceContext context(model_, context_options);

  inference::SamplingParams sampling;  // greedy, so the same request gives the same reply
  sampling.suppressed_tokens = tokenizer.suppressed_tokens();
  inference::Sampler sampler(sampling);

  std::string reply;
  inference::Utf8StreamDecoder utf8;
  std::span<const float> logits = context.prefill(prompt);
  for (int i = 0; i < options_.max_tokens; ++i) {
    const int32_t token = sampler.sample(logits);
    if (tokenizer.is_end_of_generation(token)) break;
    const std::string piece = utf8.push(tokenizer.token_piece(token));
    reply += piece;
    if (on_piece && !piece.empty() && !on_piece(piece)) return reply;
    if (i + 1 < options_.max_tokens) logits = context.decode(std::span<const int32_t>(&token, 1));
  }
  const std::string rest = utf8.flush();
  reply += rest;
  if (on_piece && !rest.empty()) on_piece(rest);
  return reply;
}

std::string ModelRewriter::rewrite(const editor::RewriteRequest& request, const PieceCallback& on_piece) const {
  return editor::clean_rewrite_output(generate_reply(request, on_piece), request.text);
}

editor::RewriteFunction ModelRewriter::as_function() const {
  return [this](const editor::RewriteRequest& request) { return rewrite(request); };
}

}  // namespace utter::cli
