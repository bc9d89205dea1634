// Deterministic pseudo-random values for test-model weights.
//
// Every tensor row gets its own generator, seeded from the user's seed, the tensor name and
// the row index, so the values never depend on how rows are split across threads or on
// which other tensors the model contains.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace utter::test_model {

// SplitMix64 finaliser: a bijective 64-bit mix with good avalanche behaviour.
inline uint64_t mix64(uint64_t value) {
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
  return value ^ (value >> 31);
}

// 64-bit FNV-1a hash of a tensor name.
inline uint64_t hash_name(std::string_view name) {
  uint64_t hash = 0xCBF29CE484222325ULL;
  for (char c : name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001B3ULL;
  }
  return hash;
}

// SplitMix64 sequence: fast, passes BigCrush, and seeding costs nothing.
class RowRandom {
 public:
  RowRandom(uint64_t seed, std::string_view tensor_name, uint64_t row)
      : state_(mix64(mix64(seed ^ hash_name(tensor_name)) + row)) {}

  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    return mix64(state_);
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Approximately standard normal: the sum of four 16-bit uniforms (Irwin-Hall), centred and
  // scaled to unit variance. It costs one generator call, and its values are bounded by
  // +-sqrt(12) = +-3.46, which keeps random test weights free of rare huge outliers.
  float normal() {
    const uint64_t bits = next();
    const uint32_t sum = static_cast<uint32_t>(bits & 0xFFFF) +
                         static_cast<uint32_t>((bits >> 16) & 0xFFFF) +
                         static_cast<uint32_t>((bits >> 32) & 0xFFFF) +
                         static_cast<uint32_t>(bits >> 48);
    // Four uniforms on {0..65535}: mean 4 * 32767.5, variance 4 * (65536^2 - 1) / 12.
    constexpr float kMean = 131070.0f;
    constexpr float kInverseStd = 2.6428998e-5f;  // 1 / sqrt((65536^2 - 1) / 3)
    return (static_cast<float>(sum) - kMean) * kInverseStd;
  }

  void fill_normal(std::span<float> values, float mean, float std_dev) {
    for (float& value : values) value = mean + std_dev * normal();
  }

  void fill_uniform(std::span<float> values, float low, float high) {
    for (float& value : values) {
      value = low + (high - low) * static_cast<float>(uniform());
    }
  }

 private:
  uint64_t state_;
};

}  // namespace utter::test_model
