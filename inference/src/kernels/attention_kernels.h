// Attention products of the query heads that share one key/value head with the fp16 cache
// rows they may see. Only call these when the processor has AVX-512 F and the head size is a
// multiple of 16.
#pragma once

#include <cstdint>

namespace utter::inference::kernels {

// scores[g * score_stride + j] = sum over d of queries[g][d] * half(keys[j][d]), for g < heads
// and j < n_keys.
void attention_scores_avx512(const float* const* queries, int heads, const uint16_t* const* keys,
                             int64_t n_keys, int head_dim, float* scores, int64_t score_stride);

// outs[g][d] = sum over j of weights[g * weight_stride + j] * half(values[j][d]), for g < heads
// and d < head_dim.
void attention_values_avx512(const float* weights, int64_t weight_stride, int heads,
                             const uint16_t* const* values, int64_t n_values, int head_dim,
                             float* const* outs);

}  // namespace utter::inference::kernels
