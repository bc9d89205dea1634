// Kernel-level dispatch, matrix products and row lookups.
#include "kernels/matmul.h"

#include <cpuid.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/activation_quantize.h"
#include "kernels/blocks.h"
#include "kernels/dot.h"
#include "kernels/quantize.h"
#include "kernels/strip_kernels.h"
#include "kernels/strip_layout.h"
#include "kernels/type_checks.h"
#include "thread_pool.h"

namespace utter::inference {

using namespace kernels;

namespace kernels {

TensorType dot_type_for(TensorType type) {
  switch (type) {
    case TensorType::Q4_0:
    case TensorType::Q5_0:
    case TensorType::Q8_0:
      return TensorType::Q8_0;
    case TensorType::Q4_1:
    case TensorType::Q5_1:
      return TensorType::Q8_1;
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
      return TensorType::Q8_K;
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::F32:
      return type;
    default:
      break;
  }
  throw std::invalid_argument("matmul: no dot-product kernel for weight type " +
                              std::string(tensor_type_name(type)) +
                              "; supported are F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, "
                              "Q4_K, Q5_K and Q6_K");
}

DotFn find_dot(const DotTable& table, TensorType type) {
  switch (type) {
    case TensorType::Q4_0: return table.q4_0;
    case TensorType::Q4_1: return table.q4_1;
    case TensorType::Q5_0: return table.q5_0;
    case TensorType::Q5_1: return table.q5_1;
    case TensorType::Q8_0: return table.q8_0;
    case TensorType::Q4_K: return table.q4_k;
    case TensorType::Q5_K: return table.q5_k;
    case TensorType::Q6_K: return table.q6_k;
    case TensorType::F16: return table.f16;
    case TensorType::BF16: return table.bf16;
    case TensorType::F32: return table.f32;
    default: return nullptr;
  }
}

DotTokensFn find_dot_tokens(const DotTable& table, TensorType type) {
  switch (type) {
    case TensorType::Q4_0: return table.q4_0_tokens;
    case TensorType::Q5_0: return table.q5_0_tokens;
    case TensorType::Q8_0: return table.q8_0_tokens;
    case TensorType::Q4_K: return table.q4_k_tokens;
    case TensorType::Q5_K: return table.q5_k_tokens;
    case TensorType::Q6_K: return table.q6_k_tokens;
    default: return nullptr;
  }
}

}  // namespace kernels

namespace {

struct CpuFeatures {
  bool avx2 = false;
  // F, BW, VL and VNNI, plus DQ because dot_avx512.cpp is compiled with -mavx512dq.
  bool avx512 = false;
  bool avx512_bf16 = false;  // vdpbf16ps
};

// F16C from CPUID leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports does not know "f16c".
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

CpuFeatures detect_cpu_features() {
  CpuFeatures features;
  __builtin_cpu_init();
  features.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
  features.avx512 = features.avx2 && __builtin_cpu_supports("avx512f") &&
                    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
  features.avx512_bf16 = features.avx512 && __builtin_cpu_supports("avx512bf16");
  return features;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect_cpu_features();
  return features;
}

// UTTER_KERNEL_LEVEL=scalar|avx2|avx512 lowers the starting level, so every path can be run
// on one machine; a level above what the processor has is clamped to the detected one.
KernelLevel starting_kernel_level() {
  const KernelLevel detected = detected_kernel_level();
  const char* requested = std::getenv("UTTER_KERNEL_LEVEL");
  if (requested == nullptr || *requested == '\0') return detected;
  for (KernelLevel level : {KernelLevel::Scalar, KernelLevel::Avx2, KernelLevel::Avx512}) {
    if (std::strcmp(requested, kernel_level_name(level)) == 0) return std::min(level, detected);
  }
  throw std::invalid_argument(std::string("UTTER_KERNEL_LEVEL is '") + requested +
                              "'; use scalar, avx2 or avx512, or leave it unset");
}

std::atomic<int>& active_level_storage() {
  static std::atomic<int> level{static_cast<int>(starting_kernel_level())};
  return level;
}

const DotTable& table_for(KernelLevel level) {
  switch (level) {
    case KernelLevel::Avx512: return avx512_dot_table(cpu_features().avx512_bf16);
    case KernelLevel::Avx2: return avx2_dot_table();
    case KernelLevel::Scalar: break;
  }
  return scalar_dot_table();
}

// Loop blocking for multi-token products. The weight rows of one tile stay in the L2 cache
// while every token passes over them, so weights are read from memory once and each
// activation row once per tile. kTileBytes sizes the tile to fit an L2 of 1 MiB or more
// next to the activations. Within a tile, kTokenTile activation rows are reused across the
// tile's rows. kRowGrain is the smallest piece of rows handed to a thread.
// NOTE: this row path serves the types without strips (F32, F16, BF16, Q4_1, Q5_0, Q5_1,
// Q5_K) and every type below AVX-512; it runs several times slower than the strip kernels.
constexpr size_t kTileBytes = 512 * 1024;
constexpr int64_t kRowGrain = 16;
constexpr int64_t kTokenTile = 8;

// A single token reads each weight byte once, so its product streams from memory. Asking
// for the row a few rows ahead keeps more lines in flight than the hardware prefetcher does.
constexpr int64_t kPrefetchRows = 4;

inline void prefetch_row(const std::byte* row, size_t bytes) {
  for (size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(row + offset, 0, 0);
}

int64_t row_tile_for(size_t row_bytes) {
  const int64_t rows = static_cast<int64_t>(kTileBytes / std::max<size_t>(row_bytes, 1));
  return std::max<int64_t>(kRowGrain, rows / kRowGrain * kRowGrain);
}

// Strip products take the batch in tiles of this many tokens, so that a tile of quantized
// activations stays in the L2 cache while every strip of a thread passes over it.
constexpr int64_t kStripTokenTile = 128;

// The activations of a batch, quantized once: as token groups for the strip kernels, or as
// plain rows for the row kernels of the slow path.
struct StripBatch {
  std::vector<std::byte> data;
  size_t unit_bytes = 0;  // bytes of one token group, or of one row
};

// Writes token `slot` of a group from its quantized row.
void scatter_into_group(TensorType weight_type, const std::byte* row, int64_t cols, int slot,
                        std::byte* group) {
  if (weight_type == TensorType::Q4_0 || weight_type == TensorType::Q8_0) {
    const int32_t offset_per_quant = weight_type == TensorType::Q4_0 ? -8 : -128;
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
    for (int64_t b = 0; b < cols / kBlock32; ++b) {
      std::byte* block = group + static_cast<size_t>(b) * kGroupQ8_0BlockBytes;
      std::memcpy(block + 32 * slot, blocks[b].qs, 32);
      const float scale = fp16_to_fp32(blocks[b].d);
      std::memcpy(block + kGroupQ8_0Scales + 4 * slot, &scale, 4);
      int32_t sum = 0;
      for (int8_t q : blocks[b].qs) sum += q;
      const int32_t offset = offset_per_quant * sum;
      std::memcpy(block + kGroupQ8_0Offsets + 4 * slot, &offset, 4);
    }
    return;
  }
  const auto* blocks = reinterpret_cast<const BlockQ8_K*>(row);
  for (int64_t b = 0; b < cols / kBlock256; ++b) {
    std::byte* block = group + static_cast<size_t>(b) * kGroupQ8_KBlockBytes;
    std::memcpy(block + 256 * slot, blocks[b].qs, 256);
    std::memcpy(block + kGroupQ8_KScales + 4 * slot, &blocks[b].d, 4);
    std::byte* sums = block + kGroupQ8_KSums + 32 * slot;
    if (weight_type == TensorType::Q6_K) {
      std::memcpy(sums, blocks[b].bsums, 32);
      continue;
    }
    for (int q = 0; q < 4; ++q) {
      const int16_t* bsums = blocks[b].bsums + 4 * q;
      const auto first = static_cast<uint16_t>(bsums[0] + bsums[1]);
      const auto second = static_cast<uint16_t>(bsums[2] + bsums[3]);
      const uint32_t word = first | (static_cast<uint32_t>(second) << 16);
      std::memcpy(sums + 4 * q, &word, 4);
    }
  }
}

void prepare_strip_batch(TensorType weight_type, const float* x, int64_t n_tokens, int64_t cols,
                         bool as_groups, StripBatch& batch, ThreadPool* pool) {
  const TensorType activation_type = dot_type_for(weight_type);
  const size_t row_bytes = *tensor_row_bytes(activation_type, static_cast<uint64_t>(cols));
  const int64_t n_units = as_groups ? (n_tokens + kGroupTokens - 1) / kGroupTokens : n_tokens;
  batch.unit_bytes = as_groups ? token_group_bytes(weight_type, cols) : row_bytes;
  batch.data.resize(batch.unit_bytes * static_cast<size_t>(n_units));

  auto quantize_units = [&](int64_t begin, int64_t end, int) {
    if (!as_groups) {
      for (int64_t t = begin; t < end; ++t) {
        quantize_activation_row(activation_type, x + t * cols,
                                batch.data.data() + static_cast<size_t>(t) * row_bytes, cols);
      }
      return;
    }
    thread_local std::vector<std::byte> row;
    row.resize(row_bytes);
    for (int64_t g = begin; g < end; ++g) {
      std::byte* group = batch.data.data() + static_cast<size_t>(g) * batch.unit_bytes;
      for (int64_t t = g * kGroupTokens; t < std::min(n_tokens, (g + 1) * kGroupTokens); ++t) {
        quantize_activation_row(activation_type, x + t * cols, row.data(), cols);
        scatter_into_group(weight_type, row.data(), cols, static_cast<int>(t % kGroupTokens),
                           group);
      }
    }
  };
  if (pool != nullptr && n_units > 1) {
    pool->parallel_for(n_units, 1, quantize_units);
  } else {
    quantize_units(0, n_units, 0);
  }
}

// True when the strip kernels can take these matrices in one pass over a shared input: all
// in strips of one type and width. Q4_K and Q6_K differ in the sums their token groups carry.
bool can_share_strip_pass(std::span<const WeightMatrix* const> ws) {
  for (const WeightMatrix* w : ws) {
    if (!w->strips || w->type != ws[0]->type || w->cols != ws[0]->cols) return false;
  }
  return true;
}

// ys[i] for matrices ws[i] stored as strips, all of one type and width, from one input. Their
// strips form one range that the threads split, so the batch is quantized once and the pool
// synchronizes once. At the AVX-512 level the strip kernels run. Below it, each strip is
// restored to rows and the row kernels of that level run, as a slow reference path.
void strip_matmul(std::span<const WeightMatrix* const> ws, const float* x, int64_t n_tokens,
                  std::span<float* const> ys, ThreadPool* pool) {
  const WeightMatrix& first = *ws[0];
  const KernelLevel level = active_kernel_level();
  const StripFn kernel = level == KernelLevel::Avx512 ? avx512_strip_kernel(first.type) : nullptr;
  // The workers must see the caller's batch, not their own thread_local one.
  thread_local StripBatch caller_batch;
  StripBatch& batch = caller_batch;
  prepare_strip_batch(first.type, x, n_tokens, first.cols, kernel != nullptr, batch, pool);
  const size_t bytes_per_strip = strip_bytes(first.type, first.cols);
  const DotFn dot = find_dot(table_for(level), first.type);

  // strip_starts[i] is the index of the first strip of matrix i in the shared range.
  constexpr size_t kMaxShared = 4;
  int64_t strip_starts[kMaxShared + 1] = {0};
  for (size_t i = 0; i < ws.size(); ++i) {
    strip_starts[i + 1] = strip_starts[i] + ws[i]->rows / kStripRows;
  }
  const int64_t n_strips = strip_starts[ws.size()];

  auto restore_and_compute = [&](const WeightMatrix& w, float* y, int64_t s) {
    thread_local std::vector<std::byte> restored;
    restored.resize(w.row_bytes * kStripRows);
    for (int64_t r = 0; r < kStripRows; ++r) {
      unpack_strip_row(w.type, w.data, w.cols, s * kStripRows + r,
                       restored.data() + r * w.row_bytes);
    }
    for (int64_t t = 0; t < n_tokens; ++t) {
      const std::byte* activations = batch.data.data() + t * batch.unit_bytes;
      for (int64_t r = 0; r < kStripRows; ++r) {
        y[t * w.rows + s * kStripRows + r] =
            dot(restored.data() + r * w.row_bytes, activations, w.cols);
      }
    }
  };

  auto compute_strips = [&](int64_t strip_begin, int64_t strip_end, int) {
    alignas(64) float out[kStripRows * kGroupTokens];
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kStripTokenTile) {
      const int64_t t_end = std::min(t0 + kStripTokenTile, n_tokens);
      size_t matrix = 0;
      for (int64_t global = strip_begin; global < strip_end; ++global) {
        while (global >= strip_starts[matrix + 1]) ++matrix;
        const WeightMatrix& w = *ws[matrix];
        float* y = ys[matrix];
        const int64_t s = global - strip_starts[matrix];
        if (kernel == nullptr) {
          if (t0 == 0) restore_and_compute(w, y, s);
          continue;
        }
        const std::byte* strip = w.data + static_cast<size_t>(s) * bytes_per_strip;
        for (int64_t t = t0; t < t_end; t += kGroupTokens) {
          const int count = static_cast<int>(std::min<int64_t>(kGroupTokens, t_end - t));
          const std::byte* group =
              batch.data.data() + static_cast<size_t>(t / kGroupTokens) * batch.unit_bytes;
          kernel(strip, w.cols, group, 0, count, out);
          for (int k = 0; k < count; ++k) {
            std::memcpy(y + (t + k) * w.rows + s * kStripRows, out + kStripRows * k,
                        sizeof(float) * kStripRows);
          }
        }
      }
    }
  };

  if (pool == nullptr || pool->size() == 1) {
    compute_strips(0, n_strips, 0);
  } else {
    pool->parallel_for(n_strips, 1, compute_strips);
  }
}

void check_weight(const WeightMatrix& w, const char* caller) {
  if (w.data == nullptr && w.rows > 0) {
    throw std::invalid_argument(std::string(caller) + ": weight matrix has no data");
  }
  if (w.rows < 0 || w.cols < 0) {
    throw std::invalid_argument(std::string(caller) + ": negative weight shape " +
                                std::to_string(w.rows) + " x " + std::to_string(w.cols));
  }
  checked_block_count(w.type, w.cols, caller);
  const auto needed = tensor_row_bytes(w.type, static_cast<uint64_t>(w.cols));
  if (!needed || w.row_bytes < *needed) {
    throw std::invalid_argument(std::string(caller) + ": row_bytes " +
                                std::to_string(w.row_bytes) + " is less than the " +
                                std::to_string(needed.value_or(0)) + " bytes of " +
                                std::to_string(w.cols) + " " +
                                std::string(tensor_type_name(w.type)) + " elements");
  }
}

}  // namespace

KernelLevel detected_kernel_level() {
  const CpuFeatures& features = cpu_features();
  if (features.avx512) return KernelLevel::Avx512;
  if (features.avx2) return KernelLevel::Avx2;
  return KernelLevel::Scalar;
}

KernelLevel active_kernel_level() {
  return static_cast<KernelLevel>(active_level_storage().load(std::memory_order_relaxed));
}

void set_kernel_level(KernelLevel level) {
  const KernelLevel clamped = std::min(level, detected_kernel_level());
  active_level_storage().store(static_cast<int>(clamped), std::memory_order_relaxed);
}

const char* kernel_level_name(KernelLevel level) {
  switch (level) {
    case KernelLevel::Scalar: return "scalar";
    case KernelLevel::Avx2: return "avx2";
    case KernelLevel::Avx512: return "avx512";
  }
  return "unknown";
}

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool) {
  check_weight(w, "matmul");
  if (n_tokens < 0) {
    throw std::invalid_argument("matmul: negative token count " + std::to_string(n_tokens));
  }
  if (n_tokens == 0 || w.rows == 0) return;
  if (w.strips) {
    if (!has_strip_layout(w.type, w.rows, w.cols)) {
      throw std::invalid_argument("matmul: a " + std::to_string(w.rows) + " x " +
                                  std::to_string(w.cols) + " " +
                                  std::string(tensor_type_name(w.type)) +
                                  " matrix is marked as strips but has no strip layout");
    }
    const WeightMatrix* matrices[] = {&w};
    float* outputs[] = {y};
    strip_matmul(matrices, x, n_tokens, outputs, pool);
    return;
  }

  const TensorType activation_type = dot_type_for(w.type);
  checked_block_count(activation_type, w.cols, "matmul");
  const DotTable& table = table_for(active_kernel_level());
  const DotFn dot = find_dot(table, w.type);
  const DotTokensFn dot_tokens = find_dot_tokens(table, w.type);

  // F32 weights use the activations as they are; every other type gets one converted copy
  // per token, made once and shared by all rows.
  const std::byte* activations = reinterpret_cast<const std::byte*>(x);
  size_t activation_row_bytes = static_cast<size_t>(w.cols) * sizeof(float);
  thread_local std::vector<std::byte> scratch;
  if (activation_type != TensorType::F32) {
    activation_row_bytes = *tensor_row_bytes(activation_type, static_cast<uint64_t>(w.cols));
    scratch.resize(activation_row_bytes * static_cast<size_t>(n_tokens));
    for (int64_t t = 0; t < n_tokens; ++t) {
      quantize_activation_row(activation_type, x + t * w.cols,
                              scratch.data() + t * activation_row_bytes, w.cols);
    }
    activations = scratch.data();
  }

  const int64_t row_tile = row_tile_for(w.row_bytes);

  // Computes y for rows [row_begin, row_end) and all tokens. The multi-token kernels decode
  // each weight block once for up to kMaxDotTokens tokens and give the same results as `dot`.
  auto compute_rows = [&](int64_t row_begin, int64_t row_end, int) {
    float results[kMaxDotTokens];
    for (int64_t tile = row_begin; tile < row_end; tile += row_tile) {
      const int64_t tile_end = std::min(tile + row_tile, row_end);
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
        const int64_t t_end = std::min(t0 + kTokenTile, n_tokens);
        for (int64_t r = tile; r < tile_end; ++r) {
          const std::byte* row = w.data + static_cast<size_t>(r) * w.row_bytes;
          if (dot_tokens != nullptr && t_end - t0 > 1) {
            for (int64_t t = t0; t < t_end; t += kMaxDotTokens) {
              const int count = static_cast<int>(std::min<int64_t>(kMaxDotTokens, t_end - t));
              dot_tokens(row, activations + static_cast<size_t>(t) * activation_row_bytes,
                         activation_row_bytes, count, w.cols, results);
              for (int k = 0; k < count; ++k) y[(t + k) * w.rows + r] = results[k];
            }
            continue;
          }
          if (t_end - t0 == 1 && r + kPrefetchRows < tile_end) {
            prefetch_row(row + kPrefetchRows * w.row_bytes, w.row_bytes);
          }
          for (int64_t t = t0; t < t_end; ++t) {
            y[t * w.rows + r] =
                dot(row, activations + static_cast<size_t>(t) * activation_row_bytes, w.cols);
          }
        }
      }
    }
  };

  if (pool == nullptr || pool->size() == 1) {
    compute_rows(0, w.rows, 0);
  } else {
    pool->parallel_for(w.rows, kRowGrain, compute_rows);
  }
}

void matmul_shared_input(std::span<const WeightMatrix* const> ws, const float* x,
                         int64_t n_tokens, std::span<float* const> ys, ThreadPool* pool) {
  if (ws.size() != ys.size() || ws.empty() || ws.size() > 4) {
    throw std::invalid_argument("matmul_shared_input: " + std::to_string(ws.size()) +
                                " matrices and " + std::to_string(ys.size()) +
                                " outputs; give 1 to 4 of each");
  }
  // Runs of neighbouring matrices that can share a pass take one; the others go alone.
  size_t begin = 0;
  while (begin < ws.size()) {
    size_t end = begin + 1;
    while (end < ws.size() && can_share_strip_pass(ws.subspan(begin, end + 1 - begin))) ++end;
    if (end - begin == 1 || n_tokens <= 0) {
      for (size_t i = begin; i < end; ++i) matmul(*ws[i], x, n_tokens, ys[i], pool);
    } else {
      for (size_t i = begin; i < end; ++i) {
        check_weight(*ws[i], "matmul_shared_input");
        if (!has_strip_layout(ws[i]->type, ws[i]->rows, ws[i]->cols)) {
          throw std::invalid_argument("matmul_shared_input: a " + std::to_string(ws[i]->rows) +
                                      " x " + std::to_string(ws[i]->cols) +
                                      " matrix is marked as strips but has no strip layout");
        }
      }
      strip_matmul(ws.subspan(begin, end - begin), x, n_tokens, ys.subspan(begin, end - begin),
                   pool);
    }
    begin = end;
  }
}

void weight_row(const WeightMatrix& w, int64_t row, float* dst) {
  check_weight(w, "weight_row");
  if (row < 0 || row >= w.rows) {
    throw std::out_of_range("weight_row: row " + std::to_string(row) + " is outside [0, " +
                            std::to_string(w.rows) + ")");
  }
  if (w.strips) {
    thread_local std::vector<std::byte> restored;
    restored.resize(w.row_bytes);
    unpack_strip_row(w.type, w.data, w.cols, row, restored.data());
    dequantize_row(w.type, restored.data(), dst, w.cols);
    return;
  }
  dequantize_row(w.type, w.data + static_cast<size_t>(row) * w.row_bytes, dst, w.cols);
}

}  // namespace utter::inference
