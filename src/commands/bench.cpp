// `utter bench`: prompt and generation speed of a model, beside the machine limits measured in
// the same run (read bandwidth, int8 multiply-add peak) and the peak resident memory.
#include <fmt/core.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "commands/command_registry.h"
#include "utter/inference/audio_projector.h"
#include "utter/inference/dictation_session.h"
#include "utter/inference/gguf.h"
#include "utter/inference/inference_context.h"
#include "utter/inference/machine_probe.h"
#include "utter/inference/text_model.h"

namespace utter::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::string model_path;
  std::string mmproj_path;
  int threads = 0;
  std::string prompt_sizes = "64,512";
  int gen_tokens = 32;
  int repeat = 3;
  double audio_seconds = 4.0;
  bool json = false;
};

struct Summary {
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
};

Summary summarize(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  Summary summary;
  if (values.empty()) return summary;
  const size_t n = values.size();
  summary.median = n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
  summary.min = values.front();
  summary.max = values.back();
  return summary;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<int> parse_sizes(const std::string& text) {
  std::vector<int> sizes;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (item.empty()) continue;
    size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || value < 1 || value > 8192) {
      throw std::runtime_error("--prompt: '" + item + "' is not a token count between 1 and 8192");
    }
    sizes.push_back(value);
  }
  if (sizes.empty()) throw std::runtime_error("--prompt: give at least one token count, e.g. 64,512");
  return sizes;
}

// Peak resident memory since the last reset_peak_rss(), from VmHWM; getrusage's figure
// covers the whole process life when /proc cannot be read.
double peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;  // in kB
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;  // Linux reports KiB
}

// Resets VmHWM to the current resident size, so the probe buffers do not count.
void reset_peak_rss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
}

// Weight traffic and arithmetic of one position. Every 2-D layer tensor is read and used once,
// and generation also reads the whole output head (the tied embedding) for the logits.
struct ModelCost {
  double layer_bytes = 0.0;
  double layer_ops = 0.0;
  double head_bytes = 0.0;
};

ModelCost model_cost(const inference::TextModel& model) {
  ModelCost cost;
  for (const auto& tensor : model.file().tensors()) {
    if (tensor.shape.size() < 2) continue;
    if (tensor.name.rfind("blk.", 0) == 0) {
      cost.layer_bytes += static_cast<double>(tensor.bytes);
      cost.layer_ops += 2.0 * static_cast<double>(tensor.elements);
    }
  }
  const auto* head = model.file().find_tensor("output.weight");
  if (head == nullptr) head = model.file().find_tensor("token_embd.weight");
  if (head != nullptr) cost.head_bytes = static_cast<double>(head->bytes);
  return cost;
}

int run_bench(const BenchOptions& options) {
  using namespace utter::inference;
  const std::vector<int> prompt_sizes = parse_sizes(options.prompt_sizes);
  const int threads = options.threads > 0 ? options.threads
                                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  // Machine limits first, so their buffers are gone before the model is mapped and the peak
  // resident figure is the engine's own.
  const double bandwidth = measure_read_bandwidth(threads, size_t{256} << 20, 5);
  const double int8_peak = measure_int8_peak(threads, 0.5);
  reset_peak_rss();

  auto model = TextModel::load(options.model_path);
  const ModelConfig& config = model->config();
  const ModelCost cost = model_cost(*model);
  const int max_prompt = *std::max_element(prompt_sizes.begin(), prompt_sizes.end());

  ContextOptions context_options;
  context_options.threads = threads;
  context_options.max_batch = std::min(max_prompt, 4096);
  context_options.kv_cache_budget_bytes = uint64_t{8} << 30;
  InferenceContext context(*model, context_options);

  std::mt19937 random(12345);
  std::uniform_int_distribution<int32_t> token_dist(1000, std::max(1001, config.n_vocab - 1000));
  auto random_tokens = [&](int count) {
    std::vector<int32_t> tokens(static_cast<size_t>(count));
    for (auto& token : tokens) token = token_dist(random);
    return tokens;
  };

  // Warm-up: touches every weight page once and starts the pool's threads.
  {
    const auto tokens = random_tokens(4);
    context.clear();
    context.decode(tokens);
    context.decode(std::span<const int32_t>(tokens.data(), 1));
  }

  nlohmann::json report;
  report["model"] = options.model_path;
  report["weights"] = model->weight_format();
  report["load_seconds"] = model->load_seconds();
  report["weights_in_strips"] = model->weights_in_strips();
  report["file_bytes"] = model->file().file_size();
  report["threads"] = context.threads();
  report["kernel_level"] = active_kernel_level_name();
  report["read_bandwidth_gb_s"] = bandwidth / 1e9;
  report["int8_peak_gop_s"] = int8_peak / 1e9;

  std::vector<std::string> lines;
  auto add_line = [&](const std::string& test, const Summary& s, const std::string& share) {
    lines.push_back(fmt::format("{:<12} {:>10.2f} {:>10.2f} {:>10.2f}   {}", test, s.median, s.min, s.max, share));
  };

  for (int size : prompt_sizes) {
    std::vector<double> rates;
    for (int r = 0; r < options.repeat; ++r) {
      const auto tokens = random_tokens(size);
      context.clear();
      const auto start = Clock::now();
      context.decode(tokens);
      rates.push_back(size / seconds_since(start));
    }
    const Summary s = summarize(rates);
    const double share = s.median * cost.layer_ops / int8_peak;
    add_line(fmt::format("pp{}", size), s, fmt::format("{:.1f} % of int8 peak", 100.0 * share));
    report["prompt"].push_back({{"tokens", size},
                                {"tokens_per_s", s.median},
                                {"min", s.min},
                                {"max", s.max},
                                {"share_of_int8_peak", share}});
  }

  if (options.gen_tokens > 0) {
    std::vector<double> rates;
    for (int r = 0; r < options.repeat; ++r) {
      auto tokens = random_tokens(1);
      context.clear();
      context.decode(tokens);
      const auto start = Clock::now();
      for (int i = 0; i < options.gen_tokens; ++i) {
        const auto logits = context.decode(tokens);
        tokens[0] = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      }
      rates.push_back(options.gen_tokens / seconds_since(start));
    }
    const Summary s = summarize(rates);
    const double share = s.median * (cost.layer_bytes + cost.head_bytes) / bandwidth;
    add_line(fmt::format("tg{}", options.gen_tokens), s, fmt::format("{:.1f} % of read bandwidth", 100.0 * share));
    report["generation"] = {{"tokens", options.gen_tokens},
                            {"tokens_per_s", s.median},
                            {"min", s.min},
                            {"max", s.max},
                            {"bytes_per_token", cost.layer_bytes + cost.head_bytes},
                            {"share_of_read_bandwidth", share}};
  }

  if (!options.mmproj_path.empty()) {
    auto projector = AudioProjector::load(options.mmproj_path, config.n_embd);
    DictationOptions session_options;
    session_options.threads = threads;
    session_options.kv_cache_budget_bytes = uint64_t{2} << 30;
    DictationSession session(*model, *projector, session_options);
    // A tone with a little noise, because the cost does not depend on the audio content.
    std::vector<float> samples(static_cast<size_t>(options.audio_seconds * AudioProjector::kSampleRate));
    std::uniform_real_distribution<float> noise(-0.01f, 0.01f);
    for (size_t i = 0; i < samples.size(); ++i) {
      samples[i] = 0.2f * std::sin(2.0f * 3.14159265f * 220.0f * static_cast<float>(i) / AudioProjector::kSampleRate) +
                   noise(random);
    }
    const double frames = static_cast<double>(samples.size()) / AudioProjector::kFrameSamples;
    std::vector<double> rates;
    for (int r = 0; r < options.repeat; ++r) {
      session.reset();
      session.begin_utterance();
      const auto start = Clock::now();
      session.push_audio(samples);
      rates.push_back(frames / seconds_since(start));
      session.cancel_utterance();
    }
    const Summary s = summarize(rates);
    const double realtime = static_cast<double>(AudioProjector::kSampleRate) / AudioProjector::kFrameSamples;
    add_line("audio", s, fmt::format("{:.2f} x real time", s.median / realtime));
    report["audio"] = {{"seconds", options.audio_seconds},
                       {"frames_per_s", s.median},
                       {"min", s.min},
                       {"max", s.max},
                       {"real_time_factor", s.median / realtime}};
  }

  const double rss = peak_rss_bytes();
  const double budget = static_cast<double>(model->file().file_size()) + static_cast<double>(context.kv_cache_bytes()) +
                        300.0 * 1048576.0;
  report["peak_rss_bytes"] = rss;
  report["kv_cache_bytes"] = context.kv_cache_bytes();
  report["rss_budget_bytes"] = budget;

  if (options.json) {
    fmt::print("{}\n", report.dump(2));
    return 0;
  }
  fmt::print("model: {} ({}, {:.2f} GiB), {} threads, kernels {}{}, loaded in {:.1f} s\n",
             options.model_path, model->weight_format(), model->file().file_size() / 1073741824.0,
             context.threads(), active_kernel_level_name(),
             model->weights_in_strips() ? " with weights in strips" : "", model->load_seconds());
  fmt::print("machine: read bandwidth {:.1f} GB/s, int8 peak {:.0f} GOP/s\n", bandwidth / 1e9, int8_peak / 1e9);
  fmt::print("{:<12} {:>10} {:>10} {:>10}   {}\n", "test", "median", "min", "max", "share of the limit");
  for (const auto& line : lines) fmt::print("{}\n", line);
  fmt::print("(pp and tg in tokens/s, audio in frames/s)\n");
  fmt::print("peak RSS {:.0f} MiB, limit {:.0f} MiB (file + KV cache + 300 MiB)\n", rss / 1048576.0,
             budget / 1048576.0);
  return 0;
}

void setup_bench(CLI::App& sub) {
  auto options = std::make_shared<BenchOptions>();
  sub.add_option("-m,--model", options->model_path, "Gemma 4 text model (.gguf)")->required()->check(CLI::ExistingFile);
  sub.add_option("--mmproj", options->mmproj_path, "Audio projector (.gguf); adds a dictation-path audio test")
      ->check(CLI::ExistingFile);
  sub.add_option("-t,--threads", options->threads, "Worker threads (0: one per core)")->check(CLI::NonNegativeNumber);
  sub.add_option("-p,--prompt", options->prompt_sizes, "Prompt sizes in tokens, comma separated");
  sub.add_option("-n,--gen", options->gen_tokens, "Generated tokens per run (0: skip)")->check(CLI::Range(0, 4096));
  sub.add_option("-r,--repeat", options->repeat, "Runs per test")->check(CLI::Range(1, 100));
  sub.add_option("--audio-seconds", options->audio_seconds, "Audio per dictation-path run")->check(CLI::Range(0.04, 600.0));
  sub.add_flag("--json", options->json, "Print the results as JSON");
  sub.callback([options] { run_guarded([&] { return run_bench(*options); }); });
}

const bool registered =
    register_command({"bench", "Measure prompt and generation speed against the machine's limits", setup_bench});

}  // namespace
}  // namespace utter::cli
