// Generates random tensor data row by row and encodes it in the tensor's type on a thread
// pool. The rows go to a GgufWriter one chunk at a time, so memory use stays at one chunk
// buffer whatever the model size.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kernels/quantize.h"
#include "model_shape.h"
#include "random_values.h"
#include "thread_pool.h"
#include "utter/inference/gguf.h"

namespace utter::test_model {

// Tensor-data progress on stderr, redrawn in place at most four times a second and only
// when stderr is a terminal.
class ProgressLine {
 public:
  ProgressLine(std::string label, uint64_t total_bytes)
      : label_(std::move(label)),
        total_bytes_(total_bytes),
        enabled_(isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()) {}

  void advance(uint64_t bytes, const std::string& tensor_name) {
    done_bytes_ += bytes;
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done_bytes_ < total_bytes_ && now - last_draw_ < std::chrono::milliseconds(250)) return;
    last_draw_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double percent = total_bytes_ == 0 ? 100.0 : 100.0 * done_bytes_ / total_bytes_;
    fmt::print(stderr, "\r{}: {:5.1f}% of {:.2f} GB, {:.0f} s, {:<40.40}", label_, percent,
               total_bytes_ / 1e9, seconds, tensor_name);
    std::fflush(stderr);
  }

  void finish() {
    if (enabled_) fmt::print(stderr, "\n");
  }

 private:
  std::string label_;
  uint64_t total_bytes_;
  uint64_t done_bytes_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
};

// Bytes of a whole tensor in its type. The plans were checked by validate_block_sizes.
inline uint64_t tensor_bytes(const TensorPlan& plan) {
  return *inference::tensor_row_bytes(plan.type, plan.row_length()) * plan.row_count();
}

// Fills one row of float values following the plan's distribution.
inline void generate_row(const TensorPlan& plan, uint64_t seed, uint64_t row,
                         std::span<float> values) {
  switch (plan.kind) {
    case ValueKind::kNormal: {
      RowRandom random(seed, plan.name, row);
      random.fill_normal(values, plan.mean_or_low, plan.std_or_high);
      break;
    }
    case ValueKind::kUniform: {
      RowRandom random(seed, plan.name, row);
      random.fill_uniform(values, plan.mean_or_low, plan.std_or_high);
      break;
    }
    case ValueKind::kRopeFreqs:
      for (size_t i = 0; i < values.size(); ++i) {
        values[i] = i < plan.rotated_pairs ? 1.0f : 1e30f;
      }
      break;
  }
}

// Encodes a float row as `type` into `destination`, which has room for exactly one row.
inline void encode_row(TensorType type, std::span<const float> values, std::byte* destination) {
  const auto count = static_cast<int64_t>(values.size());
  switch (type) {
    case TensorType::F32:
      std::memcpy(destination, values.data(), values.size() * sizeof(float));
      break;
    case TensorType::F16:
      for (int64_t i = 0; i < count; ++i) {
        const uint16_t half = inference::fp32_to_fp16(values[i]);
        std::memcpy(destination + 2 * i, &half, 2);
      }
      break;
    case TensorType::BF16:
      for (int64_t i = 0; i < count; ++i) {
        const uint16_t half = inference::fp32_to_bf16(values[i]);
        std::memcpy(destination + 2 * i, &half, 2);
      }
      break;
    default:
      inference::quantize_row(type, values.data(), destination, count);
      break;
  }
}

// Streams the data of every planned tensor, in plan order, to a writer whose header is
// written. With `zero_matrices`, matrix data are written as holes (zero bytes).
class TensorDataWriter {
 public:
  // About this many bytes of encoded rows are produced per round of the thread pool.
  static constexpr uint64_t kChunkBytes = 8u << 20;

  TensorDataWriter(inference::ThreadPool& pool, uint64_t seed, bool zero_matrices)
      : pool_(pool), seed_(seed), zero_matrices_(zero_matrices) {}

  void write_all(const std::vector<TensorPlan>& plans, inference::GgufWriter& writer,
                 ProgressLine& progress) {
    for (const auto& plan : plans) {
      if (zero_matrices_ && plan.is_matrix()) {
        writer.write_zero_tensor_data(tensor_bytes(plan));
        progress.advance(tensor_bytes(plan), plan.name);
      } else {
        write_random(plan, writer, progress);
      }
    }
  }

 private:
  void write_random(const TensorPlan& plan, inference::GgufWriter& writer,
                    ProgressLine& progress) {
    const uint64_t row_length = plan.row_length();
    const uint64_t row_bytes = *inference::tensor_row_bytes(plan.type, row_length);
    const uint64_t rows = plan.row_count();
    const uint64_t chunk_rows = std::max<uint64_t>(1, kChunkBytes / row_bytes);

    chunk_.resize(std::min(rows, chunk_rows) * row_bytes);
    scratch_.resize(pool_.size());
    for (auto& row_values : scratch_) row_values.resize(row_length);

    for (uint64_t first_row = 0; first_row < rows; first_row += chunk_rows) {
      const uint64_t count = std::min(chunk_rows, rows - first_row);
      pool_.parallel_for(static_cast<int64_t>(count), 1,
                         [&](int64_t begin, int64_t end, int thread_index) {
                           std::span<float> values(scratch_[thread_index]);
                           for (int64_t i = begin; i < end; ++i) {
                             generate_row(plan, seed_, first_row + i, values);
                             encode_row(plan.type, values, chunk_.data() + i * row_bytes);
                           }
                         });
      writer.write_tensor_data(std::span<const std::byte>(chunk_.data(), count * row_bytes));
      progress.advance(count * row_bytes, plan.name);
    }
  }

  inference::ThreadPool& pool_;
  uint64_t seed_;
  bool zero_matrices_;
  std::vector<std::byte> chunk_;
  std::vector<std::vector<float>> scratch_;
};

}  // namespace utter::test_model
