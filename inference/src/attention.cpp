#include "attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/quantize.h"
#include "thread_pool.h"

namespace utter::inference {
namespace {

// fp16 -> fp32 by table: the cache is read once per query head, so conversion speed matters.
const float* half_table() {
  static const std::vector<float> table = [] {
    std::vector<float> values(65536);
    for (uint32_t bits = 0; bits < 65536; ++bits) values[bits] = fp16_to_fp32(static_cast<uint16_t>(bits));
    return values;
  }();
  return table.data();
}

}  // namespace

void attend(const AttentionShape& shape, const KvCache& cache, const float* queries, int64_t first_pos,
            int64_t n_tokens, float* out, ThreadPool* pool) {
  const float* half = half_table();
  const int head_dim = shape.head_dim;
  const int group = shape.n_head / shape.n_head_kv;
  const int64_t n_items = n_tokens * shape.n_head;

  auto work = [&](int64_t begin, int64_t end, int) {
    std::vector<float> query(head_dim);
    std::vector<float> scores;
    std::vector<float> accumulator(head_dim);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / shape.n_head;
      const int h = static_cast<int>(item % shape.n_head);
      const int kv_head = h / group;
      const int64_t pos = first_pos + t;
      const int64_t oldest = shape.window > 0 ? std::max<int64_t>(0, pos - shape.window + 1) : 0;

      const float* q = queries + (t * shape.n_head + h) * head_dim;
      for (int d = 0; d < head_dim; ++d) query[d] = half[fp32_to_fp16(q[d])];

      scores.resize(pos - oldest + 1);
      float max_score = -std::numeric_limits<float>::infinity();
      for (int64_t j = oldest; j <= pos; ++j) {
        const uint16_t* k = cache.key(shape.layer, j) + kv_head * head_dim;
        float dot = 0.0f;
        for (int d = 0; d < head_dim; ++d) dot += query[d] * half[k[d]];
        dot *= shape.scale;
        scores[j - oldest] = dot;
        max_score = std::max(max_score, dot);
      }

      double sum = 0.0;
      for (float& s : scores) {
        s = std::exp(s - max_score);
        sum += s;
      }
      const float inverse_sum = static_cast<float>(1.0 / sum);

      std::fill(accumulator.begin(), accumulator.end(), 0.0f);
      for (int64_t j = oldest; j <= pos; ++j) {
        const float weight = scores[j - oldest];
        const uint16_t* v = cache.value(shape.layer, j) + kv_head * head_dim;
        for (int d = 0; d < head_dim; ++d) accumulator[d] += weight * half[v[d]];
      }
      float* o = out + (t * shape.n_head + h) * head_dim;
      for (int d = 0; d < head_dim; ++d) o[d] = accumulator[d] * inverse_sum;
    }
  };

  if (pool != nullptr) {
    pool->parallel_for(n_items, 1, work);
  } else {
    work(0, n_items, 0);
  }
}

}  // namespace utter::inference
