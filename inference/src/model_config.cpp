#include "utter/inference/model_config.h"

#include <fmt/core.h>

#include <stdexcept>

#include "utter/inference/gguf.h"

namespace utter::inference {
namespace {

// A hyper-parameter stored either as one scalar for every layer or as one entry per layer.
std::vector<int64_t> per_layer_ints(const GgufFile& file, const std::string& key, int n_layer) {
  const GgufValue* value = file.find(key);
  if (value == nullptr) {
    throw std::runtime_error(fmt::format("{}: metadata key '{}' is missing", file.display_name(), key));
  }
  if (value->type == GgufValueType::ARRAY) {
    std::vector<int64_t> values = file.get_int_array(key);
    if (static_cast<int>(values.size()) != n_layer) {
      throw std::runtime_error(fmt::format("{}: metadata key '{}' has {} entries, expected one per layer ({})",
                                           file.display_name(), key, values.size(), n_layer));
    }
    return values;
  }
  return std::vector<int64_t>(n_layer, file.get_i64(key));
}

int positive_int(const GgufFile& file, const std::string& key, int64_t value) {
  if (value <= 0 || value > (int64_t{1} << 30)) {
    throw std::runtime_error(fmt::format("{}: metadata key '{}' has the value {}, expected a positive count",
                                         file.display_name(), key, value));
  }
  return static_cast<int>(value);
}

}  // namespace

ModelConfig ModelConfig::from_gguf(const GgufFile& file) {
  ModelConfig config;
  config.architecture = std::string(file.get_string("general.architecture"));
  if (config.architecture != "gemma4") {
    std::string hint = config.architecture == "gemma3"
                           ? " (a Gemma 3 file; utter needs a Gemma 4 model)"
                       : config.architecture == "clip"
                           ? " (this is a multimodal projector file; pass it with --mmproj and give the text model with -m)"
                           : "";
    throw std::runtime_error(fmt::format("{}: general.architecture is '{}', expected 'gemma4'{}",
                                         file.display_name(), config.architecture, hint));
  }
  config.name = std::string(file.get_string_or("general.name", ""));

  const std::string arch = "gemma4.";
  config.n_layer = positive_int(file, arch + "block_count", file.get_i64(arch + "block_count"));
  config.n_embd = positive_int(file, arch + "embedding_length", file.get_i64(arch + "embedding_length"));
  config.n_ctx_train = static_cast<int>(file.get_u32_or(arch + "context_length", 8192));
  config.sliding_window =
      positive_int(file, arch + "attention.sliding_window", file.get_i64(arch + "attention.sliding_window"));
  config.rms_eps = file.get_f32(arch + "attention.layer_norm_rms_epsilon");
  config.final_logit_softcap = file.get_f32_or(arch + "final_logit_softcapping", 0.0f);

  if (file.get_u32_or(arch + "embedding_length_per_layer_input", 0) != 0) {
    throw std::runtime_error(fmt::format(
        "{}: the model uses per-layer input embeddings (a Gemma 4 E2B/E4B file), which utter does not support",
        file.display_name()));
  }
  if (file.get_u32_or(arch + "attention.shared_kv_layers", 0) != 0) {
    throw std::runtime_error(fmt::format(
        "{}: the model shares key/value caches across layers (a Gemma 4 E2B/E4B file), which utter does not support",
        file.display_name()));
  }
  if (file.has(arch + "expert_count")) {
    throw std::runtime_error(fmt::format(
        "{}: the model is a mixture of experts (Gemma 4 26B-A4B), which utter does not support", file.display_name()));
  }

  const std::vector<bool> sliding_pattern = file.get_bool_array(arch + "attention.sliding_window_pattern");
  if (static_cast<int>(sliding_pattern.size()) != config.n_layer) {
    throw std::runtime_error(fmt::format("{}: attention.sliding_window_pattern has {} entries, expected {}",
                                         file.display_name(), sliding_pattern.size(), config.n_layer));
  }
  const auto n_head = per_layer_ints(file, arch + "attention.head_count", config.n_layer);
  const auto n_head_kv = per_layer_ints(file, arch + "attention.head_count_kv", config.n_layer);
  const auto n_ff = per_layer_ints(file, arch + "feed_forward_length", config.n_layer);

  const int head_dim_full = positive_int(file, arch + "attention.key_length", file.get_i64(arch + "attention.key_length"));
  const int head_dim_swa =
      positive_int(file, arch + "attention.key_length_swa", file.get_i64(arch + "attention.key_length_swa"));
  if (file.get_i64(arch + "attention.value_length") != head_dim_full ||
      file.get_i64(arch + "attention.value_length_swa") != head_dim_swa) {
    throw std::runtime_error(fmt::format("{}: key and value head sizes differ, which Gemma 4 does not allow",
                                         file.display_name()));
  }
  const float rope_base_full = file.get_f32(arch + "rope.freq_base");
  const float rope_base_swa = file.get_f32_or(arch + "rope.freq_base_swa", 10000.0f);

  for (int il = 0; il < config.n_layer; ++il) {
    LayerConfig layer;
    layer.sliding = sliding_pattern[il];
    layer.head_dim = layer.sliding ? head_dim_swa : head_dim_full;
    layer.n_head = positive_int(file, arch + "attention.head_count", n_head[il]);
    layer.n_head_kv = positive_int(file, arch + "attention.head_count_kv", n_head_kv[il]);
    layer.n_ff = positive_int(file, arch + "feed_forward_length", n_ff[il]);
    layer.rope_base = layer.sliding ? rope_base_swa : rope_base_full;
    layer.has_v_proj = file.find_tensor(fmt::format("blk.{}.attn_v.weight", il)) != nullptr;
    if (layer.n_head % layer.n_head_kv != 0) {
      throw std::runtime_error(fmt::format("{}: layer {} has {} query heads, not a multiple of its {} key/value heads",
                                           file.display_name(), il, layer.n_head, layer.n_head_kv));
    }
    if (layer.head_dim % 2 != 0) {
      throw std::runtime_error(fmt::format("{}: layer {} has an odd head size {}", file.display_name(), il,
                                           layer.head_dim));
    }
    config.layers.push_back(layer);
  }

  const GgufValue* tokens = file.find("tokenizer.ggml.tokens");
  if (tokens == nullptr) {
    throw std::runtime_error(fmt::format("{}: the tokenizer vocabulary (tokenizer.ggml.tokens) is missing",
                                         file.display_name()));
  }
  config.n_vocab = static_cast<int>(file.get_string_array("tokenizer.ggml.tokens").size());
  return config;
}

int ModelConfig::n_full_layers() const {
  int count = 0;
  for (const auto& layer : layers) count += layer.sliding ? 0 : 1;
  return count;
}

int ModelConfig::n_sliding_layers() const { return n_layer - n_full_layers(); }

}  // namespace utter::inference
