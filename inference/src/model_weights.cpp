#include "model_weights.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <cstring>
#include <stdexcept>

namespace utter::inference {
namespace {

std::string shape_text(const std::vector<uint64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

const GgufTensorInfo& require_tensor(const GgufFile& file, const std::string& name,
                                     const std::vector<uint64_t>& expected_shape) {
  const GgufTensorInfo* info = file.find_tensor(name);
  if (info == nullptr) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' is missing (expected shape {})", file.display_name(),
                                         name, shape_text(expected_shape)));
  }
  if (info->shape != expected_shape) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' has shape {}, expected {}", file.display_name(), name,
                                         shape_text(info->shape), shape_text(expected_shape)));
  }
  if (!tensor_type_traits(info->type).can_compute) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' has type {}, which utter cannot compute with",
                                         file.display_name(), name, tensor_type_name(info->type)));
  }
  return *info;
}

const float* require_f32_vector(const GgufFile& file, const std::string& name, uint64_t length) {
  const GgufTensorInfo& info = require_tensor(file, name, {length});
  if (info.type != TensorType::F32) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' has type {}, expected F32", file.display_name(), name,
                                         tensor_type_name(info.type)));
  }
  if (reinterpret_cast<uintptr_t>(info.data) % alignof(float) != 0) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' is not aligned to 4 bytes", file.display_name(), name));
  }
  return reinterpret_cast<const float*>(info.data);
}

WeightMatrix require_matrix(const GgufFile& file, const std::string& name, uint64_t cols, uint64_t rows) {
  const GgufTensorInfo& info = require_tensor(file, name, {cols, rows});
  WeightMatrix matrix;
  matrix.type = info.type;
  matrix.data = info.data;
  matrix.cols = static_cast<int64_t>(cols);
  matrix.rows = static_cast<int64_t>(rows);
  matrix.row_bytes = static_cast<size_t>(info.bytes / rows);
  return matrix;
}

}  // namespace

ModelWeights ModelWeights::bind(const GgufFile& file, const ModelConfig& config) {
  ModelWeights weights;
  const uint64_t n_embd = config.n_embd;
  const uint64_t n_vocab = config.n_vocab;

  weights.token_embd = require_matrix(file, "token_embd.weight", n_embd, n_vocab);
  weights.output = file.find_tensor("output.weight") != nullptr
                       ? require_matrix(file, "output.weight", n_embd, n_vocab)
                       : weights.token_embd;
  weights.output_norm = require_f32_vector(file, "output_norm.weight", n_embd);

  int full_head_dim = 0;
  for (const auto& layer : config.layers) {
    if (!layer.sliding) full_head_dim = layer.head_dim;
  }
  if (full_head_dim > 0 && file.find_tensor("rope_freqs.weight") != nullptr) {
    const float* freqs = require_f32_vector(file, "rope_freqs.weight", full_head_dim / 2);
    weights.rope_freqs.assign(freqs, freqs + full_head_dim / 2);
  }

  for (int il = 0; il < config.n_layer; ++il) {
    const LayerConfig& lc = config.layers[il];
    const uint64_t q_width = static_cast<uint64_t>(lc.n_head) * lc.head_dim;
    const uint64_t kv_width = static_cast<uint64_t>(lc.n_head_kv) * lc.head_dim;
    auto name = [il](const char* suffix) { return fmt::format("blk.{}.{}.weight", il, suffix); };

    LayerWeights layer;
    layer.attn_norm = require_f32_vector(file, name("attn_norm"), n_embd);
    layer.attn_q = require_matrix(file, name("attn_q"), n_embd, q_width);
    layer.attn_k = require_matrix(file, name("attn_k"), n_embd, kv_width);
    if (lc.has_v_proj) layer.attn_v = require_matrix(file, name("attn_v"), n_embd, kv_width);
    layer.attn_output = require_matrix(file, name("attn_output"), q_width, n_embd);
    layer.attn_q_norm = require_f32_vector(file, name("attn_q_norm"), lc.head_dim);
    layer.attn_k_norm = require_f32_vector(file, name("attn_k_norm"), lc.head_dim);
    layer.post_attention_norm = require_f32_vector(file, name("post_attention_norm"), n_embd);
    layer.ffn_norm = require_f32_vector(file, name("ffn_norm"), n_embd);
    layer.ffn_gate = require_matrix(file, name("ffn_gate"), n_embd, lc.n_ff);
    layer.ffn_up = require_matrix(file, name("ffn_up"), n_embd, lc.n_ff);
    layer.ffn_down = require_matrix(file, name("ffn_down"), lc.n_ff, n_embd);
    layer.post_ffw_norm = require_f32_vector(file, name("post_ffw_norm"), n_embd);
    if (file.find_tensor(name("layer_output_scale")) != nullptr) {
      layer.output_scale = *require_f32_vector(file, name("layer_output_scale"), 1);
    }
    weights.layers.push_back(layer);
  }
  return weights;
}

}  // namespace utter::inference
