// Measures matmul throughput per weight type, kernel level and thread count.
//
// Single-token products are bound by reading the weights, so they are reported in GB/s of
// weight data. Multi-token products are reported in GOP/s (2 * rows * cols * tokens).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/quantize.h"
#include "kernels/strip_layout.h"
#include "thread_pool.h"
#include "utter/inference/tensor_type.h"

namespace {

using namespace utter::inference;

// Builds a rows x cols matrix of `type` from random weights. Only 64 distinct rows are
// quantized, because the K-quant search is slow, and then repeated. The memory traffic of a
// product is the same as for fully random weights.
std::vector<std::byte> make_weights(TensorType type, int64_t rows, int64_t cols, size_t row_bytes) {
  constexpr int64_t kDistinctRows = 64;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(kDistinctRows * cols);
  for (float& value : values) value = normal(rng);
  std::vector<std::byte> distinct(kDistinctRows * row_bytes);
  for (int64_t r = 0; r < kDistinctRows; ++r) {
    quantize_row(type, values.data() + r * cols, distinct.data() + r * row_bytes, cols);
  }
  std::vector<std::byte> weights(static_cast<size_t>(rows) * row_bytes);
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(weights.data() + r * row_bytes, distinct.data() + (r % kDistinctRows) * row_bytes,
                row_bytes);
  }
  return weights;
}

// Returns the fastest of `repeats` calls, in seconds, after one warm-up call. The minimum
// rather than the median, because other processes on a shared machine only ever add time.
double time_matmul(const WeightMatrix& w, const std::vector<float>& x, int64_t tokens,
                   std::vector<float>& y, ThreadPool* pool, int repeats) {
  matmul(w, x.data(), tokens, y.data(), pool);
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    matmul(w, x.data(), tokens, y.data(), pool);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return *std::min_element(seconds.begin(), seconds.end());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Measure matmul throughput of the tensor kernels"};
  int64_t rows = 4096;
  int64_t cols = 4096;
  int64_t batch_tokens = 16;
  int repeats = 10;
  std::vector<std::string> type_names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0",
                                         "Q5_1", "Q4_K", "Q5_K", "Q6_K"};
  std::vector<int> thread_counts = {1, 2};
  app.add_option("--rows", rows, "Output rows of the weight matrix")->capture_default_str();
  app.add_option("--cols", cols, "Input columns of the weight matrix (multiple of 256)")
      ->capture_default_str();
  app.add_option("--batch", batch_tokens, "Tokens of the multi-token product")->capture_default_str();
  app.add_option("--repeats", repeats, "Timed calls per measurement (the fastest is shown)")
      ->capture_default_str();
  app.add_option("--types", type_names, "Weight types to measure")->capture_default_str();
  app.add_option("--threads", thread_counts, "Thread counts to measure")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (rows <= 0 || cols <= 0 || cols % 256 != 0 || batch_tokens <= 0 || repeats <= 0) {
    fmt::print(stderr,
               "invalid sizes: rows {} and cols {} must be positive, cols a multiple of 256, "
               "batch {} and repeats {} positive\n",
               rows, cols, batch_tokens, repeats);
    return 2;
  }

  std::vector<KernelLevel> levels = {KernelLevel::Scalar};
  if (detected_kernel_level() >= KernelLevel::Avx2) levels.push_back(KernelLevel::Avx2);
  if (detected_kernel_level() >= KernelLevel::Avx512) levels.push_back(KernelLevel::Avx512);

  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(batch_tokens * cols);
  for (float& value : x) value = normal(rng);
  std::vector<float> y(batch_tokens * rows);

  fmt::print("matrix {} x {}, batch {} tokens, fastest of {} calls\n", rows, cols, batch_tokens,
             repeats);
  fmt::print("{:<6} {:<7} {:>7} {:>12} {:>12} {:>14}\n", "type", "level", "threads",
             "1 tok ms", "1 tok GB/s", "batch GOP/s");
  for (const std::string& name : type_names) {
    const auto type = tensor_type_from_name(name);
    if (!type || !tensor_type_traits(*type).can_compute) {
      fmt::print(stderr, "unknown weight type '{}' or one without kernels; use F32, F16, BF16, Q8_0, Q4_0, Q4_1, "
                   "Q5_0, Q5_1, Q4_K, Q5_K or Q6_K\n", name);
      return 2;
    }
    WeightMatrix w;
    w.type = *type;
    w.rows = rows;
    w.cols = cols;
    w.row_bytes = *tensor_row_bytes(*type, cols);
    const std::vector<std::byte> weights = make_weights(*type, rows, cols, w.row_bytes);
    w.data = weights.data();
    const double weight_bytes = static_cast<double>(weights.size());

    for (KernelLevel level : levels) {
      set_kernel_level(level);
      for (int threads : thread_counts) {
        ThreadPool pool(threads);
        // The scalar level is slow, so one timed call keeps the whole run short.
        const int level_repeats = level == KernelLevel::Scalar ? 1 : repeats;
        const double single = time_matmul(w, x, 1, y, &pool, level_repeats);
        const double batch = time_matmul(w, x, batch_tokens, y, &pool, level_repeats);
        const double ops = 2.0 * static_cast<double>(rows) * cols * batch_tokens;
        fmt::print("{:<6} {:<7} {:>7} {:>12.3f} {:>12.2f} {:>14.2f}\n", name,
                   kernel_level_name(level), threads, single * 1e3, weight_bytes / single / 1e9,
                   ops / batch / 1e9);
      }
    }

    // The same weights as strips of 16 rows, as the model loader stores them for AVX-512.
    if (detected_kernel_level() < KernelLevel::Avx512 ||
        !kernels::has_strip_layout(*type, rows, cols)) {
      continue;
    }
    set_kernel_level(KernelLevel::Avx512);
    std::vector<std::byte> strips(kernels::strip_bytes(*type, cols) * (rows / kernels::kStripRows));
    kernels::pack_strips(*type, weights.data(), w.row_bytes, rows, cols, strips.data());
    WeightMatrix packed = w;
    packed.data = strips.data();
    packed.strips = true;
    for (int threads : thread_counts) {
      ThreadPool pool(threads);
      const double single = time_matmul(packed, x, 1, y, &pool, repeats);
      const double batch = time_matmul(packed, x, batch_tokens, y, &pool, repeats);
      const double ops = 2.0 * static_cast<double>(rows) * cols * batch_tokens;
      fmt::print("{:<6} {:<7} {:>7} {:>12.3f} {:>12.2f} {:>14.2f}\n", name, "strips", threads,
                 single * 1e3, weight_bytes / single / 1e9, ops / batch / 1e9);
    }
  }
  return 0;
}
