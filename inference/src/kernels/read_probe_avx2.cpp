// Read-bandwidth probe loop with 256-bit loads. Its result is a figure of merit, not a
// computation.
#include <immintrin.h>

#include <cstdint>

namespace utter::inference::kernels {

// Returns a sum over the 64-bit words [words, words + count) that depends on every word,
// reading 128 bytes per step with four independent 256-bit accumulators. A narrower loop
// leaves a core short of the memory bandwidth it can draw.
uint64_t sum_words_avx2(const uint64_t* words, int64_t count) {
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256()};
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    for (int k = 0; k < 4; ++k) {
      const __m256i value = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + i + 4 * k));
      acc[k] = _mm256_add_epi64(acc[k], value);
    }
  }
  const __m256i total =
      _mm256_add_epi64(_mm256_add_epi64(acc[0], acc[1]), _mm256_add_epi64(acc[2], acc[3]));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), total);
  uint64_t sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i < count; ++i) sum += words[i];
  return sum;
}

}  // namespace utter::inference::kernels
