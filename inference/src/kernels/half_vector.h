// Products between float vectors and fp16 cache rows, used by attention. The scalar versions
// are the reference. The AVX2 versions (F16C + FMA) sum in a different order, so results
// differ from the reference by float rounding only.
#pragma once

#include <cstdint>

namespace utter::inference::kernels {

// Returns sum of q[i] * half(k[i]) for i in [0, n).
float dot_half_scalar(const float* q, const uint16_t* k, int n);
// acc[i] += weight * half(v[i]) for i in [0, n).
void add_scaled_half_scalar(float weight, const uint16_t* v, float* acc, int n);

// Only call these when the processor has AVX2, FMA and F16C.
float dot_half_avx2(const float* q, const uint16_t* k, int n);
void add_scaled_half_avx2(float weight, const uint16_t* v, float* acc, int n);

}  // namespace utter::inference::kernels
