// Row dot products between one weight row and one activation row that is already in the
// weight type's dot type (see dot_type_for). One table per instruction-set level.
#pragma once

#include <cstddef>
#include <cstdint>

#include "utter/inference/tensor_type.h"

namespace utter::inference::kernels {

// Returns the dot product of `n` elements (a whole number of blocks of both formats).
using DotFn = float (*)(const void* weights, const void* activations, int64_t n);

// Computes the dot products of one weight row with `tokens` (1..kMaxDotTokens) activation
// rows that lie `stride` bytes apart, into out[0..tokens). Each result equals what the
// single-row kernel of the same table returns for that activation row.
using DotTokensFn = void (*)(const void* weights, const std::byte* activations, size_t stride,
                             int tokens, int64_t n, float* out);
constexpr int kMaxDotTokens = 4;

struct DotTable {
  DotFn q4_0 = nullptr;  // x Q8_0
  DotFn q4_1 = nullptr;  // x Q8_1
  DotFn q5_0 = nullptr;  // x Q8_0
  DotFn q5_1 = nullptr;  // x Q8_1
  DotFn q8_0 = nullptr;  // x Q8_0
  DotFn q4_k = nullptr;  // x Q8_K
  DotFn q5_k = nullptr;  // x Q8_K
  DotFn q6_k = nullptr;  // x Q8_K
  DotFn f16 = nullptr;   // x F16
  DotFn bf16 = nullptr;  // x BF16
  DotFn f32 = nullptr;   // x F32
  // Multi-row variants; null where the table only has single-row kernels.
  DotTokensFn q4_0_tokens = nullptr;
  DotTokensFn q5_0_tokens = nullptr;
  DotTokensFn q8_0_tokens = nullptr;
  DotTokensFn q4_k_tokens = nullptr;
  DotTokensFn q5_k_tokens = nullptr;
  DotTokensFn q6_k_tokens = nullptr;
};

// The activation format used with weights of `type`; throws std::invalid_argument for a
// type without dot kernels.
TensorType dot_type_for(TensorType type);

// The kernel for `type` in `table`, or nullptr when the table has none.
DotFn find_dot(const DotTable& table, TensorType type);
DotTokensFn find_dot_tokens(const DotTable& table, TensorType type);

// Block accumulation steps shared by every level. They live in dot_scalar.cpp, which is
// compiled without FMA, so the compiler cannot fuse them differently in the SIMD files. This
// keeps the K-quant results of all levels bit-identical.
// Returns sum + d * scaled_sum - dmin * min_sum.
float add_k_block(float sum, float d, int scaled_sum, float dmin, int min_sum);
// Returns sum + d * total.
float add_scaled_block(float sum, float d, int total);

const DotTable& scalar_dot_table();
// Only call these when the processor supports the instruction set (see matmul.cpp).
const DotTable& avx2_dot_table();
// `with_bf16` selects the vdpbf16ps kernel for BF16 rows (requires AVX512_BF16).
const DotTable& avx512_dot_table(bool with_bf16);

}  // namespace utter::inference::kernels
