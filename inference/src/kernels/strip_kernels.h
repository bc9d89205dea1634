// Products of one strip of 16 weight rows (see strip_layout.h) with a few activation rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "utter/inference/tensor_type.h"

namespace utter::inference::kernels {

constexpr int kMaxStripTokens = 8;

// Activation rows in the weight type's dot type (Q8_0 for Q4_0 and Q8_0 weights, Q8_K for
// Q4_K and Q6_K), one per token, with sums prepared once per batch.
struct StripActivations {
  const std::byte* rows[kMaxStripTokens] = {};
  // Q8_0: the fp16 scale of each block as a float.
  const float* block_scales[kMaxStripTokens] = {};
  // Q8_0: the sum of the 32 quants of each block. Q4_K: per super-block, four words that
  // each hold two int16 sums of 32 quants (sub-blocks 2 q and 2 q + 1, low half first).
  const int32_t* block_sums[kMaxStripTokens] = {};
};

// Computes out[t * 16 + r] = dot(row r of the strip, activation row t) for t < tokens.
using StripFn = void (*)(const std::byte* strip, int64_t cols, const StripActivations& acts,
                         int tokens, float* out);

struct StripKernel {
  StripFn fn = nullptr;
  int max_tokens = 0;  // tokens per call, at most kMaxStripTokens
};

// The AVX-512 VNNI kernel for strips of `type`; fn is null for a type without strips. Only
// call it when the processor has AVX-512 F, BW, VL and VNNI.
StripKernel avx512_strip_kernel(TensorType type);

}  // namespace utter::inference::kernels
