// What the reference GGUF files must contain, derived without the GGUF reader: the tensor
// names and types listed in each folder's cases.json and the shapes implied by the
// hyper-parameters (tiny-config.json, kquant-config.json). Shared by the reader test and the
// `utter inspect` test.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace gguf_expectations {

struct ExpectedTensor {
  std::string type;
  std::vector<uint64_t> shape;
};

struct Hyperparameters {
  uint64_t n_embd = 0;
  std::vector<bool> sliding;  // per layer
  uint64_t n_head = 0;
  uint64_t n_head_kv_swa = 0;
  uint64_t n_head_kv_full = 0;
  uint64_t head_dim_swa = 0;
  uint64_t head_dim_full = 0;
  uint64_t n_ff = 0;
  uint64_t n_swa = 0;
  uint64_t n_ctx_train = 0;
  uint64_t n_vocab = 0;
  std::vector<int64_t> suppress_tokens;
};

struct ExpectedModel {
  std::string family;  // "reference" or "reference-kquant"
  std::filesystem::path path;
  uint64_t bytes = 0;
  bool is_projector = false;
  Hyperparameters hyper;
  std::map<std::string, ExpectedTensor> tensors;
};

inline std::filesystem::path testdata_dir() { return UTTER_TESTDATA_DIR; }

inline nlohmann::json load_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return nlohmann::json::parse(in);
}

inline Hyperparameters read_hyperparameters(const nlohmann::json& config) {
  Hyperparameters h;
  h.n_embd = config.at("n_embd");
  for (const auto& layer : config.at("layers")) h.sliding.push_back(layer == "sliding");
  h.n_head = config.at("n_head");
  h.n_head_kv_swa = config.at("n_head_kv_swa");
  h.n_head_kv_full = config.at("n_head_kv_full");
  h.head_dim_swa = config.at("head_dim_swa");
  h.head_dim_full = config.at("head_dim_full");
  h.n_ff = config.at("n_ff");
  h.n_swa = config.at("n_swa");
  h.n_ctx_train = config.at("n_ctx_train");
  h.n_vocab = config.at("n_vocab");
  return h;
}

// Shape of a text-model tensor in ggml order (row length first), from the layer table:
// sliding layers use head_dim_swa and n_head_kv_swa, full layers head_dim_full and
// n_head_kv_full, and only sliding layers have attn_v.
inline std::vector<uint64_t> text_tensor_shape(const Hyperparameters& h, const std::string& name) {
  const uint64_t d = h.n_embd;
  if (name == "token_embd.weight") return {d, h.n_vocab};
  if (name == "output_norm.weight") return {d};
  if (name == "rope_freqs.weight") return {h.head_dim_full / 2};
  const size_t dot = name.find('.', 4);
  const size_t layer = std::stoul(name.substr(4, dot - 4));
  const std::string part = name.substr(dot + 1);
  const bool sliding = h.sliding.at(layer);
  const uint64_t hd = sliding ? h.head_dim_swa : h.head_dim_full;
  const uint64_t kv = sliding ? h.n_head_kv_swa : h.n_head_kv_full;
  if (part == "attn_norm.weight" || part == "post_attention_norm.weight" ||
      part == "ffn_norm.weight" || part == "post_ffw_norm.weight") {
    return {d};
  }
  if (part == "attn_q.weight") return {d, h.n_head * hd};
  if (part == "attn_k.weight" || part == "attn_v.weight") return {d, kv * hd};
  if (part == "attn_output.weight") return {h.n_head * hd, d};
  if (part == "attn_q_norm.weight" || part == "attn_k_norm.weight") return {hd};
  if (part == "ffn_gate.weight" || part == "ffn_up.weight") return {d, h.n_ff};
  if (part == "ffn_down.weight") return {h.n_ff, d};
  if (part == "layer_output_scale.weight") return {1};
  throw std::runtime_error("no shape rule for tensor " + name);
}

// Every tensor name a text model must have, built from the layer list alone.
inline std::vector<std::string> text_tensor_names(const Hyperparameters& h) {
  std::vector<std::string> names = {"token_embd.weight", "output_norm.weight", "rope_freqs.weight"};
  const char* per_layer[] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                             "attn_q_norm", "attn_k_norm", "post_attention_norm", "ffn_norm",
                             "ffn_gate", "ffn_up", "ffn_down", "post_ffw_norm",
                             "layer_output_scale"};
  for (size_t layer = 0; layer < h.sliding.size(); ++layer) {
    for (const char* part : per_layer) {
      if (std::string(part) == "attn_v" && !h.sliding[layer]) continue;
      names.push_back("blk." + std::to_string(layer) + "." + part + ".weight");
    }
  }
  return names;
}

inline std::vector<ExpectedModel> reference_models() {
  std::vector<ExpectedModel> models;
  for (const std::string family : {"reference", "reference-kquant"}) {
    const auto folder = testdata_dir() / family;
    const auto cases = load_json(folder / "cases.json");
    const auto config = load_json(folder / (family == "reference" ? "tiny-config.json"
                                                                   : "kquant-config.json"));
    Hyperparameters hyper = read_hyperparameters(config);
    if (family == "reference") {
      hyper.suppress_tokens = {258882, 258883};  // <image|>, <audio|> in the real vocabulary
    } else {
      for (const auto& id : config.at("vocab_layout").at("suppress_tokens")) {
        hyper.suppress_tokens.push_back(id);
      }
    }
    for (const auto& [variant, model] : cases.at("models").items()) {
      ExpectedModel expected;
      expected.family = family;
      expected.path = folder / model.at("file").get<std::string>();
      expected.bytes = model.at("bytes");
      expected.hyper = hyper;
      for (const auto& [name, type] : model.at("tensor_types").items()) {
        expected.tensors[name] = {type.get<std::string>(), text_tensor_shape(hyper, name)};
      }
      models.push_back(std::move(expected));
    }
    if (cases.contains("mmproj")) {
      const auto& projector = cases.at("mmproj");
      ExpectedModel expected;
      expected.family = family;
      expected.path = folder / projector.at("file").get<std::string>();
      expected.bytes = projector.at("bytes");
      expected.is_projector = true;
      expected.hyper = hyper;
      for (const auto& [name, description] : projector.at("tensors").items()) {
        // Written as "F32 [640, n_embd]".
        const std::string text = description;
        const std::string type = text.substr(0, text.find(' '));
        const uint64_t inputs = std::stoull(text.substr(text.find('[') + 1));
        expected.tensors[name] = {type, {inputs, hyper.n_embd}};
      }
      models.push_back(std::move(expected));
    }
  }
  return models;
}

inline uint64_t element_count(const std::vector<uint64_t>& shape) {
  uint64_t count = 1;
  for (auto d : shape) count *= d;
  return count;
}

}  // namespace gguf_expectations
