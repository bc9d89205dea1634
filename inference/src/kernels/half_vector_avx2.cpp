#include <immintrin.h>

#include "kernels/half_vector.h"
#include "kernels/quantize.h"

namespace utter::inference::kernels {

float dot_half_avx2(const float* q, const uint16_t* k, int n) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i)));
    const __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i + 8)));
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), k0, acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), k1, acc1);
  }
  __m256 acc = _mm256_add_ps(acc0, acc1);
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  float result = _mm_cvtss_f32(sum);
  for (; i < n; ++i) result += q[i] * fp16_to_fp32(k[i]);
  return result;
}

void add_scaled_half_avx2(float weight, const uint16_t* v, float* acc, int n) {
  const __m256 w = _mm256_set1_ps(weight);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 values = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
    _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(w, values, _mm256_loadu_ps(acc + i)));
  }
  for (; i < n; ++i) acc[i] += weight * fp16_to_fp32(v[i]);
}

}  // namespace utter::inference::kernels
