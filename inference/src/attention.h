// Causal grouped-query attention over the fp16 key/value cache.
#pragma once

#include <cstdint>
#include <vector>

#include "kv_cache.h"

namespace utter::inference {

class ThreadPool;

struct AttentionShape {
  int layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  int64_t window = 0;  // keys visible to a query, itself included; 0 for full attention
  float scale = 1.0f;  // Gemma 4 normalises q and k instead of scaling the scores
};

// For each of `n_tokens` queries at positions first_pos, first_pos + 1, ... computes
// softmax(q . k) . v over the cached keys the query may see, writing n_head * head_dim
// floats per token into `out`. The keys and values of these positions must already be cached.
// Queries are rounded to fp16 before the products, as llama.cpp's fp16 cache path does.
void attend(const AttentionShape& shape, const KvCache& cache, const float* queries, int64_t first_pos,
            int64_t n_tokens, float* out, ThreadPool* pool);

}  // namespace utter::inference
