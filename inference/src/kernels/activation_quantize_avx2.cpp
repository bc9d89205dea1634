// Q8_0 activation blocks with AVX2 and F16C, bit-identical to the scalar conversion: the
// maximum does not depend on the order of comparisons, the scale is computed with the same
// float operations, and vcvtps2dq rounds halves to even as nearbyint does.
#include <immintrin.h>

#include "kernels/activation_quantize.h"
#include "kernels/blocks.h"

namespace utter::inference::kernels {

void quantize_q8_0_avx2(const float* x, void* out, int64_t blocks) {
  auto* dst = static_cast<BlockQ8_0*>(out);
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < blocks; ++i, x += 32) {
    __m256 values[4];
    __m256 max = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      values[k] = _mm256_loadu_ps(x + 8 * k);
      max = _mm256_max_ps(max, _mm256_andnot_ps(sign_mask, values[k]));
    }
    __m128 max4 = _mm_max_ps(_mm256_castps256_ps128(max), _mm256_extractf128_ps(max, 1));
    max4 = _mm_max_ps(max4, _mm_movehl_ps(max4, max4));
    max4 = _mm_max_ss(max4, _mm_movehdup_ps(max4));
    const float amax = _mm_cvtss_f32(max4);
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    dst[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);

    const __m256 scale = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(values[k], scale));
    // Packing works within 128-bit lanes; the permute restores the element order.
    const __m256i words = _mm256_packs_epi32(q[0], q[1]);
    const __m256i words_high = _mm256_packs_epi32(q[2], q[3]);
    const __m256i bytes = _mm256_packs_epi16(words, words_high);
    const __m256i ordered =
        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[i].qs), ordered);
  }
}

}  // namespace utter::inference::kernels
