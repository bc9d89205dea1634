// The hyper-parameters of a Gemma 4 text model, read from and checked against a GGUF file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace utter::inference {

class GgufFile;

struct LayerConfig {
  bool sliding = true;     // sliding-window attention (else full attention)
  int head_dim = 0;        // per query, key and value head
  int n_head = 0;          // query heads
  int n_head_kv = 0;       // key/value heads
  int n_ff = 0;            // feed-forward width
  float rope_base = 0.0f;  // RoPE theta
  bool has_v_proj = true;  // full layers of Gemma 4 take V from the K projection
};

struct ModelConfig {
  std::string architecture;  // "gemma4"
  std::string name;          // general.name, if present
  int n_embd = 0;
  int n_layer = 0;
  int n_vocab = 0;
  int n_ctx_train = 0;
  int sliding_window = 0;
  float rms_eps = 1e-6f;
  float final_logit_softcap = 0.0f;  // 0 when the file has none
  std::vector<LayerConfig> layers;

  // Reads and validates the gemma4.* keys; throws std::runtime_error naming the file and
  // the key when one is missing or inconsistent.
  static ModelConfig from_gguf(const GgufFile& file);

  int n_full_layers() const;
  int n_sliding_layers() const;
};

}  // namespace utter::inference
