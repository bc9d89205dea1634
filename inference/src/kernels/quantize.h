// Conversions between float rows and the block formats of every supported tensor type.
#pragma once

#include <cstddef>
#include <cstdint>

#include "utter/inference/tensor_type.h"

namespace utter::inference {

float fp16_to_fp32(uint16_t half);
uint16_t fp32_to_fp16(float value);  // round to nearest even
float bf16_to_fp32(uint16_t bf16);
uint16_t fp32_to_bf16(float value);  // round to nearest even, NaN kept quiet

// Expands `n` elements (a whole number of blocks) of `type` into floats.
void dequantize_row(TensorType type, const std::byte* src, float* dst, int64_t n);

// Packs `n` floats (a whole number of blocks) into `type`, with the same block layout and
// rounding rules as ggml's reference quantizers.
void quantize_row(TensorType type, const float* src, std::byte* dst, int64_t n);

}  // namespace utter::inference
