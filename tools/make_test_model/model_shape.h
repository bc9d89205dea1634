// The shape of a Gemma 4 text model and the list of tensors that a GGUF file of that shape
// holds, in the order llama.cpp's converter writes them.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "utter/inference/tensor_type.h"

namespace utter::test_model {

using inference::TensorType;

struct ModelShape {
  uint32_t hidden = 0;       // gemma4.embedding_length
  uint32_t layers = 0;       // gemma4.block_count
  std::string pattern;       // layer kinds, 'S' sliding or 'F' full, repeated to fill `layers`
  uint32_t heads = 0;        // query heads on every layer
  uint32_t kv_heads_swa = 0;
  uint32_t kv_heads_full = 0;
  uint32_t head_dim_swa = 0;
  uint32_t head_dim_full = 0;
  uint32_t ffn = 0;          // feed-forward width
  uint32_t window = 0;       // sliding window, in positions including the query's own
  uint32_t context_length = 0;
  float rope_base_swa = 0.0f;
  float rope_base_full = 0.0f;
  // Share of the full layers' rotary pairs that rotate; the other pairs get a rope_freqs
  // divisor of 1e30 ("proportional" RoPE).
  float rope_fraction_full = 0.25f;
  float softcap = 0.0f;
  float rms_eps = 0.0f;

  bool sliding(uint32_t layer) const { return pattern[layer % pattern.size()] == 'S'; }
  uint32_t head_dim(uint32_t layer) const { return sliding(layer) ? head_dim_swa : head_dim_full; }
  uint32_t kv_heads(uint32_t layer) const { return sliding(layer) ? kv_heads_swa : kv_heads_full; }
  uint32_t rotated_pairs_full() const {
    return static_cast<uint32_t>(std::lround(rope_fraction_full * (head_dim_full / 2)));
  }
};

// The shape of the llama.cpp-written reference "tiny" models.
inline ModelShape tiny_shape() {
  ModelShape shape;
  shape.hidden = 64;
  shape.layers = 6;
  shape.pattern = "SSF";
  shape.heads = 4;
  shape.kv_heads_swa = 2;
  shape.kv_heads_full = 1;
  shape.head_dim_swa = 32;
  shape.head_dim_full = 64;
  shape.ffn = 512;
  shape.window = 16;
  shape.context_length = 8192;
  shape.rope_base_swa = 10000.0f;
  shape.rope_base_full = 1000000.0f;
  shape.softcap = 30.0f;
  shape.rms_eps = 1e-6f;
  return shape;
}

// The shape of the published Gemma 4 12B model.
inline ModelShape gemma4_12b_shape() {
  ModelShape shape;
  shape.hidden = 3840;
  shape.layers = 48;
  shape.pattern = "SSSSSF";
  shape.heads = 16;
  shape.kv_heads_swa = 8;
  shape.kv_heads_full = 1;
  shape.head_dim_swa = 256;
  shape.head_dim_full = 512;
  shape.ffn = 15360;
  shape.window = 1024;
  shape.context_length = 262144;
  shape.rope_base_swa = 10000.0f;
  shape.rope_base_full = 1000000.0f;
  shape.softcap = 30.0f;
  shape.rms_eps = 1e-6f;
  return shape;
}

inline std::optional<ModelShape> preset_shape(std::string_view name) {
  if (name == "tiny") return tiny_shape();
  if (name == "12b") return gemma4_12b_shape();
  return std::nullopt;
}

// Throws std::invalid_argument naming the first inconsistent hyper-parameter.
inline void validate_shape(const ModelShape& shape) {
  auto require_positive = [](uint32_t value, std::string_view option) {
    if (value == 0) {
      throw std::invalid_argument(fmt::format("{} must be at least 1", option));
    }
  };
  require_positive(shape.hidden, "--hidden");
  require_positive(shape.layers, "--layers");
  require_positive(shape.heads, "--heads");
  require_positive(shape.kv_heads_swa, "--kv-heads-swa");
  require_positive(shape.kv_heads_full, "--kv-heads-full");
  require_positive(shape.ffn, "--ffn");
  require_positive(shape.window, "--window");
  require_positive(shape.context_length, "--context");

  if (shape.pattern.empty() ||
      shape.pattern.find_first_not_of("SF") != std::string::npos) {
    throw std::invalid_argument(fmt::format(
        "--pattern '{}' is invalid: use one letter per layer, S for sliding-window attention "
        "and F for full attention (for example SSSSSF)",
        shape.pattern));
  }
  for (auto [value, option] : {std::pair{shape.head_dim_swa, "--head-dim-swa"},
                               std::pair{shape.head_dim_full, "--head-dim-full"}}) {
    if (value == 0 || value % 2 != 0) {
      throw std::invalid_argument(
          fmt::format("{} {} is invalid: RoPE needs an even head size of at least 2", option,
                      value));
    }
  }
  for (auto [kv_heads, option] : {std::pair{shape.kv_heads_swa, "--kv-heads-swa"},
                                  std::pair{shape.kv_heads_full, "--kv-heads-full"}}) {
    if (shape.heads % kv_heads != 0) {
      throw std::invalid_argument(fmt::format(
          "{} {} is invalid: the {} query heads must split evenly into key/value head groups",
          option, kv_heads, shape.heads));
    }
  }
  if (!(shape.rope_fraction_full > 0.0f && shape.rope_fraction_full <= 1.0f)) {
    throw std::invalid_argument(fmt::format(
        "--rope-fraction-full {} is invalid: expected a value in (0, 1]",
        shape.rope_fraction_full));
  }
  if (!(shape.rms_eps > 0.0f) || !(shape.rope_base_swa > 0.0f) ||
      !(shape.rope_base_full > 0.0f) || !(shape.softcap >= 0.0f)) {
    throw std::invalid_argument(
        "--eps, --rope-base-swa and --rope-base-full must be positive, --softcap non-negative");
  }
}

// How a tensor's values are drawn.
enum class ValueKind {
  kNormal,    // mean + std * approximately normal values
  kUniform,   // uniform in [low, high)
  kRopeFreqs, // 1.0 for the rotated pairs, 1e30 for the frozen ones (not random)
};

struct TensorPlan {
  std::string name;
  TensorType type = TensorType::F32;
  std::vector<uint64_t> shape;  // ne[0] first
  ValueKind kind = ValueKind::kNormal;
  float mean_or_low = 0.0f;
  float std_or_high = 0.0f;
  uint32_t rotated_pairs = 0;  // for kRopeFreqs

  // Matrices are the 2-D tensors: the ones --type and --zero-weights apply to.
  bool is_matrix() const { return shape.size() >= 2; }
  uint64_t row_length() const { return shape[0]; }
  uint64_t row_count() const {
    uint64_t rows = 1;
    for (size_t i = 1; i < shape.size(); ++i) rows *= shape[i];
    return rows;
  }
};

// Distributions of the random weights. The defaults follow the recipe of the reference tiny
// models: embedding std 0.15, matrix std 0.05, norm weights around 1 with std 0.1 and q/k
// norm weights around 0.35.
struct WeightRecipe {
  float embedding_std = 0.15f;
  float matrix_std = 0.05f;
  float norm_mean = 1.0f;
  float norm_std = 0.1f;
  float qk_norm_mean = 0.35f;
  float qk_norm_std = 0.03f;
  float layer_scale_low = 0.6f;
  float layer_scale_high = 1.0f;
};

inline TensorPlan matrix_plan(std::string name, TensorType type, uint64_t row_length,
                              uint64_t rows, float std_dev) {
  return {std::move(name), type, {row_length, rows}, ValueKind::kNormal, 0.0f, std_dev, 0};
}

inline TensorPlan vector_plan(std::string name, uint64_t length, float mean, float std_dev) {
  return {std::move(name), TensorType::F32, {length}, ValueKind::kNormal, mean, std_dev, 0};
}

// Lists the tensors of a text model in the order of llama.cpp's converter: the embedding,
// each layer's tensors, then output_norm and rope_freqs. Norm weights, layer_output_scale
// and rope_freqs are F32 whatever the matrix type, as in llama.cpp-quantized files.
inline std::vector<TensorPlan> plan_text_tensors(const ModelShape& shape, uint32_t vocab_size,
                                                 TensorType matrix_type,
                                                 TensorType embedding_type,
                                                 const WeightRecipe& recipe) {
  std::vector<TensorPlan> plans;
  const uint64_t hidden = shape.hidden;
  plans.push_back(
      matrix_plan("token_embd.weight", embedding_type, hidden, vocab_size, recipe.embedding_std));

  for (uint32_t layer = 0; layer < shape.layers; ++layer) {
    const std::string prefix = fmt::format("blk.{}.", layer);
    const uint64_t head_dim = shape.head_dim(layer);
    const uint64_t q_width = uint64_t{shape.heads} * head_dim;
    const uint64_t kv_width = uint64_t{shape.kv_heads(layer)} * head_dim;
    const float matrix_std = recipe.matrix_std;

    plans.push_back(vector_plan(prefix + "attn_norm.weight", hidden, recipe.norm_mean,
                                recipe.norm_std));
    plans.push_back(matrix_plan(prefix + "attn_q.weight", matrix_type, hidden, q_width, matrix_std));
    plans.push_back(matrix_plan(prefix + "attn_k.weight", matrix_type, hidden, kv_width, matrix_std));
    // Full-attention layers take the values from the key projection, so they have no attn_v.
    if (shape.sliding(layer)) {
      plans.push_back(
          matrix_plan(prefix + "attn_v.weight", matrix_type, hidden, kv_width, matrix_std));
    }
    plans.push_back(
        matrix_plan(prefix + "attn_output.weight", matrix_type, q_width, hidden, matrix_std));
    plans.push_back(vector_plan(prefix + "attn_q_norm.weight", head_dim, recipe.qk_norm_mean,
                                recipe.qk_norm_std));
    plans.push_back(vector_plan(prefix + "attn_k_norm.weight", head_dim, recipe.qk_norm_mean,
                                recipe.qk_norm_std));
    plans.push_back(vector_plan(prefix + "post_attention_norm.weight", hidden, recipe.norm_mean,
                                recipe.norm_std));
    plans.push_back(
        vector_plan(prefix + "ffn_norm.weight", hidden, recipe.norm_mean, recipe.norm_std));
    plans.push_back(matrix_plan(prefix + "ffn_gate.weight", matrix_type, hidden, shape.ffn, matrix_std));
    plans.push_back(matrix_plan(prefix + "ffn_up.weight", matrix_type, hidden, shape.ffn, matrix_std));
    plans.push_back(matrix_plan(prefix + "ffn_down.weight", matrix_type, shape.ffn, hidden, matrix_std));
    plans.push_back(vector_plan(prefix + "post_ffw_norm.weight", hidden, recipe.norm_mean,
                                recipe.norm_std));
    plans.push_back({prefix + "layer_output_scale.weight", TensorType::F32, {1},
                     ValueKind::kUniform, recipe.layer_scale_low, recipe.layer_scale_high, 0});
  }

  plans.push_back(vector_plan("output_norm.weight", hidden, recipe.norm_mean, recipe.norm_std));
  plans.push_back({"rope_freqs.weight", TensorType::F32, {shape.head_dim_full / 2},
                   ValueKind::kRopeFreqs, 0.0f, 0.0f, shape.rotated_pairs_full()});
  return plans;
}

// Applies llama-quantize's Q4_K_M mix to plans made with Q4_K matrices: the value and
// down projections of the layers its "more bits" rule picks (the first and last eighth, and
// every third layer between) become Q6_K. Each rule counts only the layers that have the tensor.
inline void apply_q4_k_m_mix(std::vector<TensorPlan>& plans) {
  auto count_of = [&](std::string_view suffix) {
    int count = 0;
    for (const TensorPlan& plan : plans) count += plan.name.ends_with(suffix) ? 1 : 0;
    return count;
  };
  auto more_bits = [](int index, int count) {
    return index < count / 8 || index >= 7 * count / 8 || (index - count / 8) % 3 == 2;
  };
  for (std::string_view suffix : {std::string_view(".attn_v.weight"), std::string_view(".ffn_down.weight")}) {
    const int count = count_of(suffix);
    int index = 0;
    for (TensorPlan& plan : plans) {
      if (!plan.name.ends_with(suffix)) continue;
      if (more_bits(index, count)) plan.type = TensorType::Q6_K;
      ++index;
    }
  }
}

// Frame size of the gemma4ua audio projector: 640 samples (40 ms at 16 kHz) per embedding.
inline constexpr uint64_t kAudioFrameSamples = 640;

// The audio projector's one matrix. Its std 1/sqrt(640) keeps the projected embeddings near
// unit scale, because each input frame is RMS-normalised.
inline TensorPlan plan_audio_projector(const ModelShape& shape, TensorType type) {
  return matrix_plan("mm.a.input_projection.weight", type, kAudioFrameSamples, shape.hidden,
                     static_cast<float>(1.0 / std::sqrt(double(kAudioFrameSamples))));
}

// Throws std::invalid_argument when a tensor's rows are not a whole number of blocks of its
// type, naming the tensor, the row length and the block size.
inline void validate_block_sizes(const std::vector<TensorPlan>& plans) {
  for (const auto& plan : plans) {
    const auto& traits = inference::tensor_type_traits(plan.type);
    if (plan.row_length() % traits.block_elements != 0) {
      throw std::invalid_argument(fmt::format(
          "tensor {} has rows of {} values, which is not a multiple of the {} block size {}; "
          "choose another --type/--embedding-type or a shape whose row lengths are multiples "
          "of {}",
          plan.name, plan.row_length(), traits.name, traits.block_elements,
          traits.block_elements));
    }
  }
}

// llama.cpp's general.file_type (enum llama_ftype) for a file whose matrices are `type`.
// NOTE: Q4_K maps to 14 (Q4_K_S), the llama.cpp mix closest to "every matrix Q4_K".
inline uint32_t llama_file_type(TensorType type) {
  switch (type) {
    case TensorType::F32: return 0;
    case TensorType::F16: return 1;
    case TensorType::Q4_0: return 2;
    case TensorType::Q8_0: return 7;
    case TensorType::Q4_K: return 14;  // Q4_K_S; the Q4_K_M mix writes 15 itself
    case TensorType::Q6_K: return 18;
    case TensorType::BF16: return 32;
    default:
      throw std::invalid_argument(fmt::format("no llama.cpp file type for tensor type {}",
                                              inference::tensor_type_name(type)));
  }
}

}  // namespace utter::test_model
