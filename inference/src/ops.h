// Element-wise and per-vector operations of the Gemma 4 forward pass, with the rounding
// conventions of llama.cpp's CPU backend (the engine's numerical reference).
#pragma once

#include <cstdint>
#include <vector>

namespace utter::inference {

// x[i] *= 1 / sqrt(mean(x^2) + eps), with the sum of squares accumulated in double.
void rms_norm(float* x, int64_t n, float eps);
// RMS normalisation, then an element-wise product with `weight`.
void rms_norm_weighted(float* x, const float* weight, int64_t n, float eps);

// out[i] = gelu_tanh(gate[i]) * up[i]. The GELU is read from a table indexed by the fp16
// rounding of the input (0 below -10, identity above 10), as llama.cpp computes it.
void gelu_gated(const float* gate, const float* up, float* out, int64_t n);

// x = cap * tanh(x / cap).
void soft_cap(float* x, int64_t n, float cap);

// Cosine and sine tables of NeoX-style rotary embeddings for one head size and base:
// pair i (element i with element i + head_dim/2) turns by pos * base^(-2i/head_dim) / freq[i].
class RopeTable {
 public:
  RopeTable(int head_dim, float base, std::vector<float> freq_factors);
  // Rotates one head vector in place for position `pos`.
  void apply(float* head, int64_t pos) const;

 private:
  int head_dim_;
  float theta_scale_;
  std::vector<float> freq_factors_;  // empty means 1 for every pair
};

}  // namespace utter::inference
