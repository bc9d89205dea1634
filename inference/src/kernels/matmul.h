// Matrix products straight from quantized weight blocks.
//
// As in llama.cpp's CPU backend, activations are first converted to the weight type's "dot
// type": Q8_0 blocks for Q4_0/Q5_0/Q8_0 weights, Q8_1 for Q4_1/Q5_1, Q8_K for K-quants, F16
// for F16, BF16 for BF16 and F32 for F32. Each output is then an integer or low-precision dot
// product scaled by the block scales. That keeps results within llama.cpp's rounding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "utter/inference/tensor_type.h"

namespace utter::inference {

class ThreadPool;

// A 2-D weight: `rows` rows of `cols` elements each, stored row after row.
struct WeightMatrix {
  TensorType type = TensorType::F32;
  const std::byte* data = nullptr;
  int64_t cols = 0;
  int64_t rows = 0;
  size_t row_bytes = 0;  // bytes of one row in GGUF block layout
  // True when `data` contains rows / 16 strips (kernels/strip_layout.h) rather than rows.
  bool strips = false;
};

enum class KernelLevel { Scalar, Avx2, Avx512 };

// The best level this processor supports, detected once.
KernelLevel detected_kernel_level();
// The level in use; defaults to detected_kernel_level(). Tests lower it to compare paths.
KernelLevel active_kernel_level();
void set_kernel_level(KernelLevel level);  // clamped to what the processor supports
const char* kernel_level_name(KernelLevel level);

// y[t * w.rows + r] = dot(row r of w, x[t * w.cols ...]) for t in [0, n_tokens).
// `pool` may be null for single-threaded use.
void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool);

// Computes the products of 1 to 4 matrices with the same input x, as matmul(*ws[i], x,
// n_tokens, ys[i], pool) for each. Neighbouring matrices in strips of one type and width
// share one quantization of x and one pass of the pool. Others are computed one by one.
void matmul_shared_input(std::span<const WeightMatrix* const> ws, const float* x,
                         int64_t n_tokens, std::span<float* const> ys, ThreadPool* pool);

// One row of `w` dequantized to floats (used for embedding lookups).
void weight_row(const WeightMatrix& w, int64_t row, float* dst);

}  // namespace utter::inference
