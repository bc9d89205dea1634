#include "utter/inference/inference_context.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include "attention.h"
#include "kernels/half_vector.h"
#include "kernels/matmul.h"
#include "kernels/quantize.h"
#include "kv_cache.h"
#include "model_weights.h"
#include "ops.h"
#include "thread_pool.h"
#include "utter/inference/text_model.h"

namespace utter::inference {

// Per-batch activations, sized once for the largest batch and layer.
struct InferenceContext::Scratch {
  std::vector<float> x;         // residual stream, n_batch x n_embd
  std::vector<float> normed;    // normalised input of a sub-block
  std::vector<float> q;         // n_batch x (n_head * head_dim)
  std::vector<float> k;         // n_batch x (n_head_kv * head_dim)
  std::vector<float> v;
  std::vector<float> attn_out;  // n_batch x (n_head * head_dim)
  std::vector<float> proj;      // n_batch x n_embd
  std::vector<float> gate;      // n_batch x n_ff
  std::vector<float> up;
  std::vector<RopeTable> rope;  // one per layer
};

InferenceContext::InferenceContext(const TextModel& model, ContextOptions options)
    : model_(model), options_(options) {
  const ModelConfig& config = model.config();
  if (options_.threads <= 0) options_.threads = std::max(1u, std::thread::hardware_concurrency());
  options_.max_batch = std::clamp(options_.max_batch, 1, 4096);
  pool_ = std::make_unique<ThreadPool>(options_.threads);
  cache_ = std::make_unique<KvCache>(config, options_.max_batch, options_.kv_cache_budget_bytes);

  int64_t max_q = 0;
  int64_t max_kv = 0;
  int64_t max_ff = 0;
  for (const auto& layer : config.layers) {
    max_q = std::max<int64_t>(max_q, int64_t{layer.n_head} * layer.head_dim);
    max_kv = std::max<int64_t>(max_kv, int64_t{layer.n_head_kv} * layer.head_dim);
    max_ff = std::max<int64_t>(max_ff, layer.n_ff);
  }
  const int64_t batch = options_.max_batch;
  scratch_ = std::make_unique<Scratch>();
  scratch_->x.resize(batch * config.n_embd);
  scratch_->normed.resize(batch * config.n_embd);
  scratch_->q.resize(batch * max_q);
  scratch_->k.resize(batch * max_kv);
  scratch_->v.resize(batch * max_kv);
  scratch_->attn_out.resize(batch * max_q);
  scratch_->proj.resize(batch * config.n_embd);
  scratch_->gate.resize(batch * max_ff);
  scratch_->up.resize(batch * max_ff);
  for (const auto& layer : config.layers) {
    std::vector<float> factors;
    if (!layer.sliding) factors = model.weights().rope_freqs;
    scratch_->rope.emplace_back(layer.head_dim, layer.rope_base, std::move(factors));
  }
}

InferenceContext::~InferenceContext() = default;

int64_t InferenceContext::max_positions() const { return cache_->max_positions(); }
uint64_t InferenceContext::kv_cache_bytes() const { return cache_->allocated_bytes(); }
int InferenceContext::threads() const { return pool_->size(); }

void InferenceContext::embed_tokens(std::span<const int32_t> tokens, float* rows) const {
  const ModelConfig& config = model_.config();
  const float scale = std::sqrt(static_cast<float>(config.n_embd));
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= config.n_vocab) {
      throw std::out_of_range("token id " + std::to_string(tokens[i]) + " is outside the vocabulary (0.." +
                              std::to_string(config.n_vocab - 1) + ")");
    }
    float* row = rows + i * config.n_embd;
    weight_row(model_.weights().token_embd, tokens[i], row);
    for (int d = 0; d < config.n_embd; ++d) row[d] *= scale;
  }
}

std::span<const float> InferenceContext::decode(std::span<const int32_t> tokens) {
  if (tokens.empty()) return {};
  const int n_embd = model_.config().n_embd;
  for (int32_t token : tokens) {
    if (token < 0 || token >= model_.config().n_vocab) {
      throw std::out_of_range("token id " + std::to_string(token) + " is outside the vocabulary (0.." +
                              std::to_string(model_.config().n_vocab - 1) + ")");
    }
  }
  cache_->reserve(position() + static_cast<int64_t>(tokens.size()));

  std::vector<float> rows;
  for (size_t begin = 0; begin < tokens.size(); begin += options_.max_batch) {
    const size_t count = std::min<size_t>(options_.max_batch, tokens.size() - begin);
    rows.resize(count * n_embd);
    embed_tokens(tokens.subspan(begin, count), rows.data());
    const bool last = begin + count == tokens.size();
    run_batch(rows.data(), static_cast<int64_t>(count), last);
    for (size_t i = 0; i < count; ++i) history_.push_back(tokens[begin + i]);
  }
  return logits_;
}

namespace {

// A negative fingerprint of an embedding row, so cached audio positions can be compared.
int64_t embedding_fingerprint(const float* row, int n) {
  uint64_t hash = 1469598103934665603ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(row);
  for (size_t i = 0; i < n * sizeof(float); ++i) {
    hash ^= bytes[i];
    hash *= 1099511628211ull;
  }
  return -static_cast<int64_t>(hash >> 1) - 1;
}

}  // namespace

std::span<const float> InferenceContext::decode_embeddings(std::span<const float> rows) {
  const int n_embd = model_.config().n_embd;
  if (rows.size() % n_embd != 0) {
    throw std::invalid_argument("embedding input has " + std::to_string(rows.size()) +
                                " floats, not a multiple of the model width " + std::to_string(n_embd));
  }
  const int64_t n_rows = static_cast<int64_t>(rows.size() / n_embd);
  if (n_rows == 0) return {};
  cache_->reserve(position() + n_rows);
  for (int64_t begin = 0; begin < n_rows; begin += options_.max_batch) {
    const int64_t count = std::min<int64_t>(options_.max_batch, n_rows - begin);
    const float* batch = rows.data() + begin * n_embd;
    run_batch(batch, count, begin + count == n_rows);
    for (int64_t i = 0; i < count; ++i) history_.push_back(embedding_fingerprint(batch + i * n_embd, n_embd));
  }
  return logits_;
}

std::span<const float> InferenceContext::prefill(std::span<const int32_t> prompt) {
  if (prompt.empty()) {
    clear();
    return {};
  }
  size_t common = 0;
  while (common < history_.size() && common < prompt.size() && history_[common] == prompt[common]) ++common;
  // The last prompt token is always recomputed so that its logits exist.
  common = std::min(common, prompt.size() - 1);
  truncate(static_cast<int64_t>(common));
  return decode(prompt.subspan(static_cast<size_t>(position())));
}

int64_t InferenceContext::truncate(int64_t new_end) {
  new_end = std::clamp<int64_t>(new_end, 0, position());
  if (!cache_->can_rewind(position(), new_end)) {
    clear();
    return 0;
  }
  history_.resize(static_cast<size_t>(new_end));
  logits_.clear();
  return new_end;
}

void InferenceContext::clear() {
  history_.clear();
  logits_.clear();
}

void InferenceContext::run_batch(const float* input_rows, int64_t n_rows, bool want_logits) {
  const ModelConfig& config = model_.config();
  const ModelWeights& weights = model_.weights();
  Scratch& s = *scratch_;
  ThreadPool* pool = pool_.get();
  const int64_t n_embd = config.n_embd;
  const int64_t first_pos = position();
  const float eps = config.rms_eps;

  float* x = s.x.data();
  std::memcpy(x, input_rows, sizeof(float) * n_rows * n_embd);

  // Per-token work runs on the pool too when there are several tokens; each token writes
  // only its own rows and cache slots.
  auto for_each_token = [&](const auto& body) {
    if (pool != nullptr && n_rows > 1) {
      pool->parallel_for(n_rows, 1, [&](int64_t begin, int64_t end, int) {
        for (int64_t t = begin; t < end; ++t) body(t);
      });
    } else {
      for (int64_t t = 0; t < n_rows; ++t) body(t);
    }
  };
  const bool f16c = active_kernel_level() != KernelLevel::Scalar;
  auto store_halves = [f16c](const float* src, uint16_t* dst, int64_t n) {
    if (f16c) {
      kernels::floats_to_halves_avx2(src, dst, n);
    } else {
      for (int64_t d = 0; d < n; ++d) dst[d] = fp32_to_fp16(src[d]);
    }
  };

  for (int il = 0; il < config.n_layer; ++il) {
    const LayerConfig& lc = config.layers[il];
    const LayerWeights& lw = weights.layers[il];
    const int64_t head_dim = lc.head_dim;
    const int64_t q_width = lc.n_head * head_dim;
    const int64_t kv_width = lc.n_head_kv * head_dim;

    // Attention block input.
    for_each_token([&](int64_t t) {
      float* row = s.normed.data() + t * n_embd;
      std::memcpy(row, x + t * n_embd, sizeof(float) * n_embd);
      rms_norm_weighted(row, lw.attn_norm, n_embd, eps);
    });

    // Projections. Without a V projection the values are the raw key projection.
    if (lc.has_v_proj) {
      const WeightMatrix* projections[] = {&lw.attn_q, &lw.attn_k, &lw.attn_v};
      float* outputs[] = {s.q.data(), s.k.data(), s.v.data()};
      matmul_shared_input(projections, s.normed.data(), n_rows, outputs, pool);
    } else {
      const WeightMatrix* projections[] = {&lw.attn_q, &lw.attn_k};
      float* outputs[] = {s.q.data(), s.k.data()};
      matmul_shared_input(projections, s.normed.data(), n_rows, outputs, pool);
      std::memcpy(s.v.data(), s.k.data(), sizeof(float) * n_rows * kv_width);
    }

    // Per-head norms and rotary embeddings; keys and values go into the cache.
    for_each_token([&](int64_t t) {
      const int64_t pos = first_pos + t;
      for (int h = 0; h < lc.n_head; ++h) {
        float* q = s.q.data() + t * q_width + h * head_dim;
        rms_norm_weighted(q, lw.attn_q_norm, head_dim, eps);
        s.rope[il].apply(q, pos);
      }
      uint16_t* key_slot = cache_->key(il, pos);
      uint16_t* value_slot = cache_->value(il, pos);
      for (int g = 0; g < lc.n_head_kv; ++g) {
        float* k = s.k.data() + t * kv_width + g * head_dim;
        float* v = s.v.data() + t * kv_width + g * head_dim;
        rms_norm_weighted(k, lw.attn_k_norm, head_dim, eps);
        s.rope[il].apply(k, pos);
        rms_norm(v, head_dim, eps);
        store_halves(k, key_slot + g * head_dim, head_dim);
        store_halves(v, value_slot + g * head_dim, head_dim);
      }
    });

    AttentionShape shape;
    shape.layer = il;
    shape.n_head = lc.n_head;
    shape.n_head_kv = lc.n_head_kv;
    shape.head_dim = lc.head_dim;
    shape.window = lc.sliding ? config.sliding_window : 0;
    attend(shape, *cache_, s.q.data(), first_pos, n_rows, s.attn_out.data(), pool);

    matmul(lw.attn_output, s.attn_out.data(), n_rows, s.proj.data(), pool);
    for_each_token([&](int64_t t) {
      float* y = s.proj.data() + t * n_embd;
      rms_norm_weighted(y, lw.post_attention_norm, n_embd, eps);
      float* row = x + t * n_embd;
      for (int64_t d = 0; d < n_embd; ++d) row[d] += y[d];

      // Feed-forward block input.
      float* normed = s.normed.data() + t * n_embd;
      std::memcpy(normed, row, sizeof(float) * n_embd);
      rms_norm_weighted(normed, lw.ffn_norm, n_embd, eps);
    });

    const WeightMatrix* feed_forward[] = {&lw.ffn_gate, &lw.ffn_up};
    float* feed_forward_outputs[] = {s.gate.data(), s.up.data()};
    matmul_shared_input(feed_forward, s.normed.data(), n_rows, feed_forward_outputs, pool);
    for_each_token([&](int64_t t) {
      float* gate = s.gate.data() + t * lc.n_ff;
      gelu_gated(gate, s.up.data() + t * lc.n_ff, gate, lc.n_ff);
    });
    matmul(lw.ffn_down, s.gate.data(), n_rows, s.proj.data(), pool);
    for_each_token([&](int64_t t) {
      float* y = s.proj.data() + t * n_embd;
      rms_norm_weighted(y, lw.post_ffw_norm, n_embd, eps);
      float* row = x + t * n_embd;
      for (int64_t d = 0; d < n_embd; ++d) row[d] = (row[d] + y[d]) * lw.output_scale;
    });
  }

  if (!want_logits) return;

  // Only the last position's logits are needed: norm it and apply the (tied) output head.
  float* last = s.normed.data();
  std::memcpy(last, x + (n_rows - 1) * n_embd, sizeof(float) * n_embd);
  rms_norm_weighted(last, weights.output_norm, n_embd, eps);
  logits_.resize(config.n_vocab);
  matmul(weights.output, last, 1, logits_.data(), pool);
  if (config.final_logit_softcap > 0.0f) soft_cap(logits_.data(), config.n_vocab, config.final_logit_softcap);
}

}  // namespace utter::inference
