#include "attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/half_vector.h"
#include "kernels/matmul.h"
#include "kernels/quantize.h"
#include "thread_pool.h"

namespace utter::inference {
namespace {

// fp16 -> fp32 by table for the scalar path, which has no conversion instruction.
const float* half_table() {
  static const std::vector<float> table = [] {
    std::vector<float> values(65536);
    for (uint32_t bits = 0; bits < 65536; ++bits) values[bits] = fp16_to_fp32(static_cast<uint16_t>(bits));
    return values;
  }();
  return table.data();
}

}  // namespace

namespace kernels {

float dot_half_scalar(const float* q, const uint16_t* k, int n) {
  const float* half = half_table();
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += q[i] * half[k[i]];
  return sum;
}

void add_scaled_half_scalar(float weight, const uint16_t* v, float* acc, int n) {
  const float* half = half_table();
  for (int i = 0; i < n; ++i) acc[i] += weight * half[v[i]];
}

}  // namespace kernels

void attend(const AttentionShape& shape, const KvCache& cache, const float* queries, int64_t first_pos,
            int64_t n_tokens, float* out, ThreadPool* pool) {
  const int head_dim = shape.head_dim;
  const int group = shape.n_head / shape.n_head_kv;
  const int64_t n_items = n_tokens * shape.n_head;
  const bool simd = active_kernel_level() != KernelLevel::Scalar;
  const auto dot = simd ? kernels::dot_half_avx2 : kernels::dot_half_scalar;
  const auto add_scaled = simd ? kernels::add_scaled_half_avx2 : kernels::add_scaled_half_scalar;

  auto work = [&](int64_t begin, int64_t end, int) {
    // Reused across calls so the token loop does not allocate once the sizes are reached.
    thread_local std::vector<float> query;
    thread_local std::vector<float> scores;
    thread_local std::vector<float> accumulator;
    query.resize(head_dim);
    accumulator.resize(head_dim);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / shape.n_head;
      const int h = static_cast<int>(item % shape.n_head);
      const int kv_head = h / group;
      const int64_t pos = first_pos + t;
      const int64_t oldest = shape.window > 0 ? std::max<int64_t>(0, pos - shape.window + 1) : 0;

      const float* q = queries + (t * shape.n_head + h) * head_dim;
      // The query is rounded to fp16 first, as llama.cpp multiplies it with fp16 keys.
      if (simd) {
        std::copy(q, q + head_dim, query.begin());
        kernels::round_through_half_avx2(query.data(), head_dim);
      } else {
        for (int d = 0; d < head_dim; ++d) query[d] = fp16_to_fp32(fp32_to_fp16(q[d]));
      }

      scores.resize(static_cast<size_t>(pos - oldest + 1));
      float max_score = -std::numeric_limits<float>::infinity();
      for (int64_t j = oldest; j <= pos; ++j) {
        const uint16_t* k = cache.key(shape.layer, j) + kv_head * head_dim;
        const float score = dot(query.data(), k, head_dim) * shape.scale;
        scores[j - oldest] = score;
        max_score = std::max(max_score, score);
      }

      double sum = 0.0;
      for (float& s : scores) {
        s = std::exp(s - max_score);
        sum += s;
      }
      const float inverse_sum = static_cast<float>(1.0 / sum);

      std::fill(accumulator.begin(), accumulator.end(), 0.0f);
      for (int64_t j = oldest; j <= pos; ++j) {
        const uint16_t* v = cache.value(shape.layer, j) + kv_head * head_dim;
        add_scaled(scores[j - oldest], v, accumulator.data(), head_dim);
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
