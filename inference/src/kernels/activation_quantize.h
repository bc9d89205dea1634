// Conversion of activation rows into the dot type before a matrix product.
#pragma once

#include <cstddef>
#include <cstdint>

#include "utter/inference/tensor_type.h"

namespace utter::inference::kernels {

// Converts one activation row to `type` with the rounding of llama.cpp's x86 CPU backend
// (ggml's AVX quantize_row_q8_0 and quantize_row_q8_1). That differs from quantize_row only
// for Q8_0 and Q8_1: the reciprocal scale is 127 / max rather than 1 / (max / 127), and
// halves round to even rather than away from zero.
void quantize_activation_row(TensorType type, const float* src, std::byte* dst, int64_t n);

// The Q8_0 case of quantize_activation_row for `blocks` blocks into BlockQ8_0 at `out`. Only
// call it when the processor has AVX2 and F16C.
void quantize_q8_0_avx2(const float* x, void* out, int64_t blocks);

}  // namespace utter::inference::kernels
