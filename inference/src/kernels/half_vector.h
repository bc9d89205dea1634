// Products between float vectors and fp16 cache rows, used by attention, and fp16 conversions
// of activations. The scalar versions are the reference. The AVX2 products (F16C + FMA) sum
// in a different order, so they differ from the reference by float rounding only. The
// conversions give identical results.
#pragma once

#include <cstdint>

namespace utter::inference::kernels {

// Returns sum of q[i] * half(k[i]) for i in [0, n).
float dot_half_scalar(const float* q, const uint16_t* k, int n);
// acc[i] += weight * half(v[i]) for i in [0, n).
void add_scaled_half_scalar(float weight, const uint16_t* v, float* acc, int n);

// Only call the functions below when the processor has AVX2, FMA and F16C.

// out[g] = sum of queries[g][i] * half(k[i]) for g < count (at most 8), converting each key
// element once for all queries.
void dot_half_many_avx2(const float* const* queries, int count, const uint16_t* k, int n,
                        float* out);
// accs[g][i] += weights[g] * half(v[i]) for g < count, converting each value element once.
void add_scaled_half_many_avx2(const float* weights, int count, const uint16_t* v,
                               float* const* accs, int n);
// dst[i] = fp16 bits of src[i], rounded to nearest even as fp32_to_fp16 does.
void floats_to_halves_avx2(const float* src, uint16_t* dst, int64_t n);
// x[i] = x[i] rounded to fp16 and widened back.
void round_through_half_avx2(float* x, int64_t n);
// out[i] = gelu(gate[i]) * up[i], where gelu is 0 at or below -10, the identity at or above
// 10, and otherwise table[fp16 bits of gate[i]] (65536 floats).
void gelu_gated_avx2(const float* gate, const float* up, float* out, int64_t n, const float* table);

}  // namespace utter::inference::kernels
