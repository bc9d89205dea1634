// Products of one strip of 16 weight rows (see strip_layout.h) with a group of activation
// rows.
//
// The activations of up to 16 tokens are quantized once per batch into a token group that
// interleaves them block by block, so a kernel reaches every token of a block at a fixed
// offset from one pointer.
// - Per block of 32 columns (Q8_0, for Q4_0 and Q8_0 weights), 640 bytes: the 32 int8 quants
//   of tokens 0..15, then their scales as floats, then their offsets (the block's quant sum
//   times -8 for Q4_0 weights, -128 for Q8_0).
// - Per super-block of 256 columns (Q8_K, for Q4_K and Q6_K), 4672 bytes: the 256 quants of
//   tokens 0..15, then their scales as floats, then 32 bytes of sums per token. For Q4_K these
//   are four words of two int16 sums of 32 quants each (sub-blocks 2 q and 2 q + 1, low half
//   first). For Q6_K they are the 16 int16 sums of 16 quants.
#pragma once

#include <cstddef>
#include <cstdint>

#include "utter/inference/tensor_type.h"

namespace utter::inference::kernels {

constexpr int kGroupTokens = 16;

constexpr size_t kGroupQ8_0BlockBytes = kGroupTokens * (32 + 4 + 4);
constexpr size_t kGroupQ8_0Scales = kGroupTokens * 32;
constexpr size_t kGroupQ8_0Offsets = kGroupQ8_0Scales + kGroupTokens * 4;

constexpr size_t kGroupQ8_KBlockBytes = kGroupTokens * (256 + 4 + 32);
constexpr size_t kGroupQ8_KScales = kGroupTokens * 256;
constexpr size_t kGroupQ8_KSums = kGroupQ8_KScales + kGroupTokens * 4;

// Bytes of one token group for `cols` columns of weights of `type` (Q4_0, Q8_0, Q4_K, Q6_K).
inline size_t token_group_bytes(TensorType type, int64_t cols) {
  const bool k_quant = type == TensorType::Q4_K || type == TensorType::Q6_K;
  return k_quant ? static_cast<size_t>(cols / 256) * kGroupQ8_KBlockBytes
                 : static_cast<size_t>(cols / 32) * kGroupQ8_0BlockBytes;
}

// Computes out[t * 16 + r] = dot(row r of the strip, token first + t of the group) for
// t < tokens, with first + tokens <= 16.
using StripFn = void (*)(const std::byte* strip, int64_t cols, const std::byte* group, int first,
                         int tokens, float* out);

// The AVX-512 VNNI kernel for strips of `type`, or null for a type without strips. Only call
// it when the processor has AVX-512 F, BW, VL and VNNI.
StripFn avx512_strip_kernel(TensorType type);

}  // namespace utter::inference::kernels
