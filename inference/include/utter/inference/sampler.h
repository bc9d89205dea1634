// Picks the next token from a row of logits.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace utter::inference {

struct SamplingParams {
  float temperature = 0.0f;  // 0 selects greedy decoding
  int top_k = 0;             // keep the k most likely tokens; 0 keeps all
  float top_p = 1.0f;        // keep the smallest set of tokens whose probability reaches top_p
  float min_p = 0.0f;        // drop tokens less likely than min_p times the most likely one
  uint64_t seed = 0;         // the same seed and logits give the same tokens
  std::vector<int32_t> suppressed_tokens;  // never chosen (their logits count as -inf)
};

// Greedy decoding takes the largest logit after suppression, the lowest id on ties. Otherwise
// the steps run in this order: suppression, top-k, softmax at the temperature, top-p, min-p,
// then one draw from a std::mt19937_64 seeded with `seed`. NaN logits count as -inf.
class Sampler {
 public:
  // Throws std::invalid_argument for a negative or non-finite temperature, a negative top_k,
  // top_p outside (0, 1] or min_p outside [0, 1].
  explicit Sampler(SamplingParams params);

  // Throws std::invalid_argument when `logits` is empty or every token is excluded.
  int32_t sample(std::span<const float> logits);

  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
    double probability;
  };

  int32_t sample_greedy(std::span<const float> logits) const;
  void collect_candidates(std::span<const float> logits);
  void keep_top(size_t count);
  double uniform();

  SamplingParams params_;
  std::mt19937_64 generator_;
  std::vector<uint8_t> suppressed_mask_;
  std::vector<Candidate> candidates_;
};

}  // namespace utter::inference
