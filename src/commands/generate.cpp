// `utter generate`: run a text prompt through the model and stream the continuation.
#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands/command_registry.h"
#include "utter/inference/chat_prompt.h"
#include "utter/inference/inference_context.h"
#include "utter/inference/sampler.h"
#include "utter/inference/text_model.h"

namespace utter::cli {
namespace {

struct GenerateOptions {
  std::string model_path;
  std::string prompt;
  std::string prompt_file;
  std::string system_prompt;
  bool chat = false;
  int max_tokens = 128;
  float temperature = 0.0f;
  int top_k = 64;
  float top_p = 0.95f;
  float min_p = 0.0f;
  uint64_t seed = 0;
  int threads = 0;
  bool print_ids = false;
  bool ignore_eos = false;
  double kv_budget_mib = 4096;
};

std::string read_prompt_file(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("failed to open the prompt file '" + path + "'");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line += ' ';
    line += std::to_string(ids[i]);
  }
  return line;
}

int run_generate(const GenerateOptions& options) {
  using Clock = std::chrono::steady_clock;
  using namespace utter::inference;

  std::string text = options.prompt_file.empty() ? options.prompt : read_prompt_file(options.prompt_file);
  auto model = TextModel::load(options.model_path);
  const Tokenizer& tokenizer = model->tokenizer();

  std::vector<int32_t> prompt;
  if (options.chat) {
    ChatPromptBuilder chat;
    if (!options.system_prompt.empty()) chat.add_text(ChatRole::System, options.system_prompt);
    chat.add_text(ChatRole::User, text);
    prompt = tokenizer.encode(chat.render(), /*add_bos=*/false, /*parse_special=*/true);
  } else {
    prompt = tokenizer.encode(text, tokenizer.add_bos(), /*parse_special=*/true);
  }
  if (prompt.empty()) throw std::runtime_error("the prompt is empty");

  ContextOptions context_options;
  context_options.threads = options.threads;
  context_options.kv_cache_budget_bytes = static_cast<uint64_t>(options.kv_budget_mib * 1048576.0);
  context_options.max_batch = 64;
  InferenceContext context(*model, context_options);

  SamplingParams sampling;
  sampling.temperature = options.temperature;
  sampling.top_k = options.top_k;
  sampling.top_p = options.top_p;
  sampling.min_p = options.min_p;
  sampling.seed = options.seed;
  sampling.suppressed_tokens = tokenizer.suppressed_tokens();
  Sampler sampler(sampling);

  const auto prompt_start = Clock::now();
  std::span<const float> logits = context.prefill(prompt);
  const double prompt_seconds = std::chrono::duration<double>(Clock::now() - prompt_start).count();

  if (options.print_ids) fmt::print("{}\n", join_ids(prompt));

  std::vector<int32_t> generated;
  Utf8StreamDecoder utf8;
  const auto generation_start = Clock::now();
  for (int i = 0; i < options.max_tokens; ++i) {
    const int32_t token = sampler.sample(logits);
    generated.push_back(token);
    if (!options.ignore_eos && tokenizer.is_end_of_generation(token)) break;
    if (!options.print_ids) {
      std::fputs(utf8.push(tokenizer.token_piece(token)).c_str(), stdout);
      std::fflush(stdout);
    }
    if (i + 1 < options.max_tokens) logits = context.decode(std::span<const int32_t>(&token, 1));
  }
  const double generation_seconds = std::chrono::duration<double>(Clock::now() - generation_start).count();

  if (options.print_ids) {
    fmt::print("{}\n", join_ids(generated));
  } else {
    std::fputs(utf8.flush().c_str(), stdout);
    std::fputs("\n", stdout);
  }
  std::fflush(stdout);

  // The first generated token comes from the prompt's logits, so generation speed counts the
  // decode steps after it.
  const double decode_steps = generated.size() > 1 ? static_cast<double>(generated.size() - 1) : 0.0;
  fmt::print(stderr, "prompt: {} tokens in {:.3f} s ({:.2f} tokens/s)\n", prompt.size(), prompt_seconds,
             prompt.size() / std::max(prompt_seconds, 1e-9));
  fmt::print(stderr, "generation: {} tokens in {:.3f} s ({:.2f} tokens/s), {} threads, {} weights\n",
             generated.size(), generation_seconds, decode_steps / std::max(generation_seconds, 1e-9),
             context.threads(), model->weight_format());
  return 0;
}

void setup_generate(CLI::App& sub) {
  auto options = std::make_shared<GenerateOptions>();
  sub.add_option("-m,--model", options->model_path, "Gemma 4 text model (.gguf)")->required()->check(CLI::ExistingFile);
  auto* prompt = sub.add_option("-p,--prompt", options->prompt, "Prompt text");
  auto* file = sub.add_option("-f,--file", options->prompt_file, "Read the prompt from a file ('-' for stdin)");
  prompt->excludes(file);
  sub.add_flag("--chat", options->chat, "Wrap the prompt in the instruction-tuned chat format");
  sub.add_option("--system", options->system_prompt, "System prompt (with --chat)");
  sub.add_option("-n,--max-tokens", options->max_tokens, "Tokens to generate at most")->check(CLI::Range(1, 1 << 20));
  sub.add_option("--temp", options->temperature, "Sampling temperature; 0 picks the most likely token")
      ->check(CLI::Range(0.0, 100.0));
  sub.add_option("--top-k", options->top_k, "Sample among the k most likely tokens (0: all)")->check(CLI::NonNegativeNumber);
  sub.add_option("--top-p", options->top_p, "Nucleus sampling probability mass")->check(CLI::Range(0.0, 1.0));
  sub.add_option("--min-p", options->min_p, "Drop tokens below this fraction of the top probability")
      ->check(CLI::Range(0.0, 1.0));
  sub.add_option("--seed", options->seed, "Random seed for sampling");
  sub.add_option("-t,--threads", options->threads, "Worker threads (0: one per core)")->check(CLI::NonNegativeNumber);
  sub.add_flag("--ids", options->print_ids,
               "Print the prompt's and the continuation's token ids, one line each, instead of text");
  sub.add_flag("--ignore-eos", options->ignore_eos, "Keep generating after an end-of-turn token");
  sub.add_option("--kv-budget", options->kv_budget_mib, "Key/value cache memory budget in MiB")
      ->check(CLI::Range(1.0, 1e7));
  sub.callback([options, prompt, file] {
    run_guarded([&] {
      if (prompt->count() == 0 && file->count() == 0) throw std::runtime_error("give a prompt with -p TEXT or -f FILE");
      return run_generate(*options);
    });
  });
}

const bool registered = register_command({"generate", "Continue a text prompt with the model", setup_generate});

}  // namespace
}  // namespace utter::cli
