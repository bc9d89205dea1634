// `utter rewrite`: rewrite a text by an instruction with the same prompt as the editor's
// command mode, and print the result.
#include <fmt/core.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "commands/command_registry.h"
#include "common/model_files.h"
#include "common/model_rewriter.h"
#include "utter/inference/text_model.h"

namespace utter::cli {
namespace {

struct RewriteOptions {
  std::string model_path;
  std::string instruction;
  std::string input = "-";
  int max_tokens = 1024;
  int threads = 0;
};

std::string read_input(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("failed to open the text file '" + path + "'; check the path");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int run_rewrite(const RewriteOptions& options) {
  editor::RewriteRequest request;
  request.instruction = options.instruction;
  request.text = read_input(options.input);
  if (request.text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw std::runtime_error("the text to rewrite is empty (read from '" + options.input + "')");
  }

  const ModelFiles files = find_model_files(options.model_path, "", /*need_mmproj=*/false);
  const auto model = inference::TextModel::load(files.model);
  RewriterOptions rewriter_options;
  rewriter_options.max_tokens = options.max_tokens;
  rewriter_options.threads = options.threads;
  const ModelRewriter rewriter(*model, rewriter_options);

  const std::string result = rewriter.rewrite(request);
  std::fwrite(result.data(), 1, result.size(), stdout);
  if (result.empty() || result.back() != '\n') std::fputs("\n", stdout);
  return 0;
}

void setup_rewrite(CLI::App& sub) {
  auto options = std::make_shared<RewriteOptions>();
  sub.add_option("-m,--model", options->model_path, "Gemma 4 text model (.gguf); default: as for every command");
  sub.add_option("-i,--instruction", options->instruction, "What to do with the text, e.g. \"make it formal\"")
      ->required();
  sub.add_option("input", options->input, "Text file to rewrite, or '-' for standard input (the default)");
  sub.add_option("-n,--max-tokens", options->max_tokens, "Reply tokens at most")->check(CLI::Range(1, 1 << 20));
  sub.add_option("-t,--threads", options->threads, "Worker threads (0: one per core)")->check(CLI::NonNegativeNumber);
  sub.callback([options] { run_guarded([&] { return run_rewrite(*options); }); });
}

const bool registered = register_command({"rewrite", "Rewrite a text by a spoken-style instruction", setup_rewrite});

}  // namespace
}  // namespace utter::cli
