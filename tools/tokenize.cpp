// Encodes text with a GGUF's Gemma 4 tokenizer, or decodes token ids, and reports timings.
//
//   utter-tokenize MODEL.gguf --text "Hello"            ids of "Hello" with <bos>
//   utter-tokenize MODEL.gguf --file prompt.txt --raw   ids without <bos> or special parsing
//   utter-tokenize MODEL.gguf --decode "2 9259 236764"  text of the ids
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "utter/inference/gguf.h"
#include "utter/inference/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Processor time of this process, which unlike wall time does not grow when other programs
// compete for the cores.
double cpu_milliseconds() { return 1000.0 * static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("failed to open " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    size_t used = 0;
    long value = 0;
    try {
      value = std::stol(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || value < INT32_MIN || value > INT32_MAX) {
      throw std::runtime_error("invalid token id '" + word + "' in --decode; expected integers");
    }
    ids.push_back(static_cast<int32_t>(value));
  }
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Encode text or decode token ids with a GGUF's Gemma 4 tokenizer"};
  std::string model_path;
  std::string text;
  std::string text_file;
  std::string ids_text;
  bool raw = false;
  bool render_special = false;
  app.add_option("model", model_path, "GGUF file whose vocabulary to use")->required();
  auto* text_option = app.add_option("--text", text, "Text to encode");
  auto* file_option = app.add_option("--file", text_file, "File whose bytes to encode");
  auto* decode_option = app.add_option("--decode", ids_text, "Space-separated token ids to decode");
  text_option->excludes(file_option)->excludes(decode_option);
  file_option->excludes(decode_option);
  app.add_flag("--raw", raw, "Encode without <bos> and without parsing special-token text");
  app.add_flag("--render-special", render_special, "Show control tokens when decoding");
  CLI11_PARSE(app, argc, argv);

  try {
    auto start = Clock::now();
    const auto file = utter::inference::GgufFile::open(model_path);
    const double open_ms = milliseconds_since(start);
    start = Clock::now();
    const double build_cpu_start = cpu_milliseconds();
    const auto tokenizer = utter::inference::Tokenizer::from_gguf(file);
    const double build_ms = milliseconds_since(start);
    const double build_cpu_ms = cpu_milliseconds() - build_cpu_start;
    fmt::print(stderr,
               "opened {} in {:.1f} ms, built a {}-token tokenizer in {:.1f} ms ({:.1f} ms of "
               "processor time)\n",
               model_path, open_ms, tokenizer.size(), build_ms, build_cpu_ms);

    if (!decode_option->empty()) {
      fmt::print("{}\n", tokenizer.decode(parse_ids(ids_text), render_special));
      return 0;
    }
    if (!file_option->empty()) text = read_text_file(text_file);
    start = Clock::now();
    const std::vector<int32_t> ids = tokenizer.encode(text, !raw, !raw);
    const double encode_ms = milliseconds_since(start);
    fmt::print("{}\n", fmt::join(ids, " "));
    fmt::print(stderr, "encoded {} bytes into {} tokens in {:.2f} ms\n", text.size(), ids.size(),
               encode_ms);
  } catch (const std::exception& error) {
    fmt::print(stderr, "utter-tokenize: error: {}\n", error.what());
    return 1;
  }
  return 0;
}
