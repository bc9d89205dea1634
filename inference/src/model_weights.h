// Views of every Gemma 4 text-model tensor inside the mapped GGUF file, checked for presence,
// shape and type at load time.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "kernels/matmul.h"
#include "utter/inference/gguf.h"
#include "utter/inference/model_config.h"

namespace utter::inference {

struct LayerWeights {
  const float* attn_norm = nullptr;
  WeightMatrix attn_q;
  WeightMatrix attn_k;
  WeightMatrix attn_v;  // type F32 and data null on layers that take V from the K projection
  WeightMatrix attn_output;
  const float* attn_q_norm = nullptr;
  const float* attn_k_norm = nullptr;
  const float* post_attention_norm = nullptr;
  const float* ffn_norm = nullptr;
  WeightMatrix ffn_gate;
  WeightMatrix ffn_up;
  WeightMatrix ffn_down;
  const float* post_ffw_norm = nullptr;
  float output_scale = 1.0f;  // layer_output_scale, 1 when the tensor is absent
};

// Memory of its own for matrices rearranged into strips, returned to the system on
// destruction. Large regions ask for transparent huge pages, which saves TLB misses while
// the weights stream through.
class StripMemory {
 public:
  explicit StripMemory(size_t bytes);
  ~StripMemory();
  StripMemory(const StripMemory&) = delete;
  StripMemory& operator=(const StripMemory&) = delete;
  std::byte* data() const { return data_; }

 private:
  std::byte* data_ = nullptr;
  size_t bytes_ = 0;
};

struct ModelWeights {
  WeightMatrix token_embd;  // n_vocab rows of n_embd
  WeightMatrix output;      // the LM head: token_embd unless the file has output.weight
  const float* output_norm = nullptr;
  std::vector<float> rope_freqs;  // per rotated pair of the full layers (empty: all 1)
  std::vector<LayerWeights> layers;

  // Throws std::runtime_error naming the file and tensor when one is missing, mis-shaped or
  // of a type the engine cannot compute with.
  static ModelWeights bind(const GgufFile& file, const ModelConfig& config);

  // Rearranges every matrix that has a strip layout into strips (kernels/strip_layout.h) in
  // memory of its own, and lets the system drop the file pages they came from, so the
  // weights stay resident once. Only worthwhile where the AVX-512 strip kernels run.
  void move_to_strips(int threads);

  std::vector<std::unique_ptr<StripMemory>> strip_memory;
};

}  // namespace utter::inference
