// AVX-512 attention products against the fp16 key/value cache, for the query heads that
// share one key/value head. Each cached row is widened once per pass and used by every head,
// with the accumulators in registers.
// GCC 12 reports -Wuninitialized inside avx512fintrin.h itself, for the undefined vectors
// its intrinsics start from; the warning is about the header, not this file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <algorithm>

#include "kernels/attention_kernels.h"

namespace utter::inference::kernels {
namespace {

inline __m512 load_halves(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Heads times KEYS keys per step; the accumulators of all of them stay in registers.
template <int HEADS, int KEYS>
void scores_step(const float* const* queries, const uint16_t* const* keys, int head_dim,
                 float* scores, int64_t score_stride) {
  __m512 acc[HEADS][KEYS];
  for (int g = 0; g < HEADS; ++g) {
    for (int k = 0; k < KEYS; ++k) acc[g][k] = _mm512_setzero_ps();
  }
  for (int d = 0; d < head_dim; d += 16) {
    __m512 key[KEYS];
    for (int k = 0; k < KEYS; ++k) key[k] = load_halves(keys[k] + d);
    for (int g = 0; g < HEADS; ++g) {
      const __m512 query = _mm512_loadu_ps(queries[g] + d);
      for (int k = 0; k < KEYS; ++k) acc[g][k] = _mm512_fmadd_ps(query, key[k], acc[g][k]);
    }
  }
  for (int g = 0; g < HEADS; ++g) {
    for (int k = 0; k < KEYS; ++k) scores[g * score_stride + k] = _mm512_reduce_add_ps(acc[g][k]);
  }
}

template <int HEADS>
void scores_for_heads(const float* const* queries, const uint16_t* const* keys, int64_t n_keys,
                      int head_dim, float* scores, int64_t score_stride) {
  constexpr int kKeys = HEADS >= 8 ? 1 : 8 / HEADS;
  int64_t j = 0;
  for (; j + kKeys <= n_keys; j += kKeys) {
    scores_step<HEADS, kKeys>(queries, keys + j, head_dim, scores + j, score_stride);
  }
  for (; j < n_keys; ++j) {
    scores_step<HEADS, 1>(queries, keys + j, head_dim, scores + j, score_stride);
  }
}

// CHUNKS pieces of 16 output values for every head at once, over all values.
template <int HEADS, int CHUNKS>
void values_step(const float* weights, int64_t weight_stride, const uint16_t* const* values,
                 int64_t n_values, int offset, float* const* outs) {
  __m512 acc[HEADS][CHUNKS];
  for (int g = 0; g < HEADS; ++g) {
    for (int c = 0; c < CHUNKS; ++c) acc[g][c] = _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < n_values; ++j) {
    __m512 value[CHUNKS];
    for (int c = 0; c < CHUNKS; ++c) value[c] = load_halves(values[j] + offset + 16 * c);
    for (int g = 0; g < HEADS; ++g) {
      const __m512 weight = _mm512_set1_ps(weights[g * weight_stride + j]);
      for (int c = 0; c < CHUNKS; ++c) acc[g][c] = _mm512_fmadd_ps(weight, value[c], acc[g][c]);
    }
  }
  for (int g = 0; g < HEADS; ++g) {
    for (int c = 0; c < CHUNKS; ++c) _mm512_storeu_ps(outs[g] + offset + 16 * c, acc[g][c]);
  }
}

template <int HEADS>
void values_for_heads(const float* weights, int64_t weight_stride, const uint16_t* const* values,
                      int64_t n_values, int head_dim, float* const* outs) {
  // Up to 16 accumulators (at most 8 chunks), leaving registers for the widened values.
  constexpr int kChunks = std::min(8, std::max(2, 16 / HEADS));
  int offset = 0;
  for (; offset + 16 * kChunks <= head_dim; offset += 16 * kChunks) {
    values_step<HEADS, kChunks>(weights, weight_stride, values, n_values, offset, outs);
  }
  for (; offset < head_dim; offset += 16) {
    values_step<HEADS, 1>(weights, weight_stride, values, n_values, offset, outs);
  }
}

}  // namespace

void attention_scores_avx512(const float* const* queries, int heads, const uint16_t* const* keys,
                             int64_t n_keys, int head_dim, float* scores, int64_t score_stride) {
  switch (heads) {
    case 1: return scores_for_heads<1>(queries, keys, n_keys, head_dim, scores, score_stride);
    case 2: return scores_for_heads<2>(queries, keys, n_keys, head_dim, scores, score_stride);
    case 4: return scores_for_heads<4>(queries, keys, n_keys, head_dim, scores, score_stride);
    case 8: return scores_for_heads<8>(queries, keys, n_keys, head_dim, scores, score_stride);
    default:
      for (int g = 0; g < heads; ++g) {
        scores_for_heads<1>(queries + g, keys, n_keys, head_dim, scores + g * score_stride,
                            score_stride);
      }
  }
}

void attention_values_avx512(const float* weights, int64_t weight_stride, int heads,
                             const uint16_t* const* values, int64_t n_values, int head_dim,
                             float* const* outs) {
  switch (heads) {
    case 1: return values_for_heads<1>(weights, weight_stride, values, n_values, head_dim, outs);
    case 2: return values_for_heads<2>(weights, weight_stride, values, n_values, head_dim, outs);
    case 4: return values_for_heads<4>(weights, weight_stride, values, n_values, head_dim, outs);
    case 8: return values_for_heads<8>(weights, weight_stride, values, n_values, head_dim, outs);
    default:
      for (int g = 0; g < heads; ++g) {
        values_for_heads<1>(weights + g * weight_stride, weight_stride, values, n_values,
                            head_dim, outs + g);
      }
  }
}

}  // namespace utter::inference::kernels
