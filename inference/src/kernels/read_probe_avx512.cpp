// Read-bandwidth probe loop with 512-bit loads. Its result is a figure of merit, not a
// computation.
#include <immintrin.h>

#include <cstdint>

namespace utter::inference::kernels {

// Returns a sum over the 64-bit words [words, words + count) that depends on every word,
// reading 256 bytes per step with four independent 512-bit accumulators. Narrower loops
// leave a core short of the memory bandwidth it can draw.
uint64_t sum_words_avx512(const uint64_t* words, int64_t count) {
  __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                    _mm512_setzero_si512()};
  int64_t i = 0;
  for (; i + 32 <= count; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm512_add_epi64(acc[k], _mm512_loadu_si512(words + i + 8 * k));
    }
  }
  uint64_t sum = static_cast<uint64_t>(_mm512_reduce_add_epi64(
      _mm512_add_epi64(_mm512_add_epi64(acc[0], acc[1]), _mm512_add_epi64(acc[2], acc[3]))));
  for (; i < count; ++i) sum += words[i];
  return sum;
}

}  // namespace utter::inference::kernels
