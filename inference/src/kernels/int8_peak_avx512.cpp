// Throughput probe for vpdpbusd. Its result is a figure of merit, not a computation.
#include <immintrin.h>

#include <cstdint>

namespace utter::inference::kernels {

// Runs `iterations` rounds of 8 independent 512-bit VNNI multiply-adds (64 byte products
// each) and returns a value that depends on all of them so the work cannot be dropped.
int64_t int8_peak_avx512(int64_t iterations) {
  const __m512i a = _mm512_set1_epi8(3);
  const __m512i b = _mm512_set1_epi8(-5);
  __m512i acc[8];
  for (auto& value : acc) value = _mm512_setzero_si512();
  for (int64_t i = 0; i < iterations; ++i) {
    for (auto& value : acc) value = _mm512_dpbusd_epi32(value, a, b);
  }
  __m512i total = acc[0];
  for (int k = 1; k < 8; ++k) total = _mm512_add_epi32(total, acc[k]);
  return _mm512_reduce_add_epi32(total);
}

}  // namespace utter::inference::kernels
