#include <immintrin.h>

#include "kernels/half_vector.h"
#include "kernels/quantize.h"

namespace utter::inference::kernels {

void dot_half_many_avx2(const float* const* queries, int count, const uint16_t* k, int n,
                        float* out) {
  __m256 acc[8];
  for (int g = 0; g < count; ++g) acc[g] = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 key = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i)));
    for (int g = 0; g < count; ++g) {
      acc[g] = _mm256_fmadd_ps(_mm256_loadu_ps(queries[g] + i), key, acc[g]);
    }
  }
  for (int g = 0; g < count; ++g) {
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(acc[g]), _mm256_extractf128_ps(acc[g], 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    float result = _mm_cvtss_f32(sum);
    for (int j = i; j < n; ++j) result += queries[g][j] * fp16_to_fp32(k[j]);
    out[g] = result;
  }
}

void add_scaled_half_many_avx2(const float* weights, int count, const uint16_t* v,
                               float* const* accs, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 value =
        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
    for (int g = 0; g < count; ++g) {
      _mm256_storeu_ps(accs[g] + i, _mm256_fmadd_ps(_mm256_set1_ps(weights[g]), value,
                                                    _mm256_loadu_ps(accs[g] + i)));
    }
  }
  for (; i < n; ++i) {
    for (int g = 0; g < count; ++g) accs[g][i] += weights[g] * fp16_to_fp32(v[i]);
  }
}

void floats_to_halves_avx2(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i halves = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), halves);
  }
  for (; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

void round_through_half_avx2(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i halves = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_ps(x + i, _mm256_cvtph_ps(halves));
  }
  for (; i < n; ++i) x[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
}

void gelu_gated_avx2(const float* gate, const float* up, float* out, int64_t n, const float* table) {
  const __m256 low = _mm256_set1_ps(-10.0f);
  const __m256 high = _mm256_set1_ps(10.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 z = _mm256_loadu_ps(gate + i);
    const __m256i index =
        _mm256_cvtepu16_epi32(_mm256_cvtps_ph(z, _MM_FROUND_TO_NEAREST_INT));
    __m256 gelu = _mm256_i32gather_ps(table, index, 4);
    gelu = _mm256_blendv_ps(gelu, z, _mm256_cmp_ps(z, high, _CMP_GE_OQ));
    gelu = _mm256_andnot_ps(_mm256_cmp_ps(z, low, _CMP_LE_OQ), gelu);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(gelu, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) {
    const float z = gate[i];
    float gelu = table[fp32_to_fp16(z)];
    if (z <= -10.0f) gelu = 0.0f;
    if (z >= 10.0f) gelu = z;
    out[i] = gelu * up[i];
  }
}

}  // namespace utter::inference::kernels
