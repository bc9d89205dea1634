#include "attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/attention_kernels.h"
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
  // The query heads that share a key/value head are computed together, so each cached key
  // and value is read and widened once for all of them, in passes of up to 8 heads. A
  // single token with few key/value heads splits them further, so every thread has work.
  constexpr int kMaxPass = 8;
  const int threads = pool != nullptr ? pool->size() : 1;
  int pass = std::min(group, kMaxPass);
  while (pass > 1 && n_tokens * shape.n_head / pass < 4 * threads) pass /= 2;
  while (group % pass != 0) --pass;
  const int64_t passes_per_token = shape.n_head / pass;
  const int64_t n_items = n_tokens * passes_per_token;
  const bool simd = active_kernel_level() != KernelLevel::Scalar;
  const bool wide = active_kernel_level() == KernelLevel::Avx512 && head_dim % 16 == 0;

  auto work = [&](int64_t begin, int64_t end, int) {
    // Reused across calls so the token loop does not allocate once the sizes are reached.
    thread_local std::vector<float> query_rows;
    thread_local std::vector<float> scores;
    thread_local std::vector<float> accumulators;
    thread_local std::vector<const uint16_t*> rows;  // the visible cache rows, oldest first
    query_rows.resize(static_cast<size_t>(pass) * head_dim);
    accumulators.resize(static_cast<size_t>(pass) * head_dim);
    const float* query_pointers[kMaxPass];
    float* accumulator_pointers[kMaxPass];
    float row_scores[kMaxPass];
    for (int g = 0; g < pass; ++g) {
      query_pointers[g] = query_rows.data() + g * head_dim;
      accumulator_pointers[g] = accumulators.data() + g * head_dim;
    }

    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / passes_per_token;
      const int first_head = static_cast<int>(item % passes_per_token) * pass;
      const int kv_head = first_head / group;
      const int64_t pos = first_pos + t;
      const int64_t oldest = shape.window > 0 ? std::max<int64_t>(0, pos - shape.window + 1) : 0;
      const int64_t visible = pos - oldest + 1;

      // The queries are rounded to fp16 first, as llama.cpp multiplies them with fp16 keys.
      for (int g = 0; g < pass; ++g) {
        const float* q = queries + (t * shape.n_head + first_head + g) * head_dim;
        float* rounded = query_rows.data() + g * head_dim;
        if (simd) {
          std::copy(q, q + head_dim, rounded);
          kernels::round_through_half_avx2(rounded, head_dim);
        } else {
          for (int d = 0; d < head_dim; ++d) rounded[d] = fp16_to_fp32(fp32_to_fp16(q[d]));
        }
      }

      // scores[g * visible + j]: head g against the j-th visible key.
      scores.resize(static_cast<size_t>(pass * visible));
      if (wide) {
        rows.resize(static_cast<size_t>(visible));
        for (int64_t j = 0; j < visible; ++j) {
          rows[j] = cache.key(shape.layer, oldest + j) + kv_head * head_dim;
        }
        kernels::attention_scores_avx512(query_pointers, pass, rows.data(), visible, head_dim,
                                         scores.data(), visible);
        if (shape.scale != 1.0f) {
          for (float& score : scores) score *= shape.scale;
        }
      }
      for (int64_t j = 0; j < visible && !wide; ++j) {
        const uint16_t* k = cache.key(shape.layer, oldest + j) + kv_head * head_dim;
        if (simd) {
          kernels::dot_half_many_avx2(query_pointers, pass, k, head_dim, row_scores);
        } else {
          for (int g = 0; g < pass; ++g) {
            row_scores[g] = kernels::dot_half_scalar(query_pointers[g], k, head_dim);
          }
        }
        for (int g = 0; g < pass; ++g) scores[g * visible + j] = row_scores[g] * shape.scale;
      }

      float inverse_sums[kMaxPass];
      for (int g = 0; g < pass; ++g) {
        float* head_scores = scores.data() + g * visible;
        const float max_score = *std::max_element(head_scores, head_scores + visible);
        double sum = 0.0;
        for (int64_t j = 0; j < visible; ++j) {
          head_scores[j] = std::exp(head_scores[j] - max_score);
          sum += head_scores[j];
        }
        inverse_sums[g] = static_cast<float>(1.0 / sum);
      }

      if (wide) {
        for (int64_t j = 0; j < visible; ++j) {
          rows[j] = cache.value(shape.layer, oldest + j) + kv_head * head_dim;
        }
        kernels::attention_values_avx512(scores.data(), visible, pass, rows.data(), visible,
                                         head_dim, accumulator_pointers);
      } else {
        std::fill(accumulators.begin(), accumulators.end(), 0.0f);
      }
      for (int64_t j = 0; j < visible && !wide; ++j) {
        const uint16_t* v = cache.value(shape.layer, oldest + j) + kv_head * head_dim;
        for (int g = 0; g < pass; ++g) row_scores[g] = scores[g * visible + j];
        if (simd) {
          kernels::add_scaled_half_many_avx2(row_scores, pass, v, accumulator_pointers, head_dim);
        } else {
          for (int g = 0; g < pass; ++g) {
            kernels::add_scaled_half_scalar(row_scores[g], v, accumulator_pointers[g], head_dim);
          }
        }
      }
      for (int g = 0; g < pass; ++g) {
        float* o = out + (t * shape.n_head + first_head + g) * head_dim;
        for (int d = 0; d < head_dim; ++d) o[d] = accumulators[g * head_dim + d] * inverse_sums[g];
      }
    }
  };

  if (pool != nullptr) {
    pool->parallel_for(n_items, 1, work);
  } else {
    work(0, n_items, 0);
  }
}

}  // namespace utter::inference
