#include "ops.h"

#include <cmath>
#include <mutex>

#include "kernels/half_vector.h"
#include "kernels/matmul.h"
#include "kernels/quantize.h"

namespace utter::inference {

void rms_norm(float* x, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) x[i] *= scale;
}

void rms_norm_weighted(float* x, const float* weight, int64_t n, float eps) {
  rms_norm(x, n, eps);
  for (int64_t i = 0; i < n; ++i) x[i] *= weight[i];
}

namespace {

const std::vector<uint16_t>& gelu_table() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> values(65536);
    constexpr double kSqrt2OverPi = 0.79788456080286535587989211986876;
    for (uint32_t bits = 0; bits < 65536; ++bits) {
      const double z = fp16_to_fp32(static_cast<uint16_t>(bits));
      const double gelu = 0.5 * z * (1.0 + std::tanh(kSqrt2OverPi * z * (1.0 + 0.044715 * z * z)));
      values[bits] = fp32_to_fp16(static_cast<float>(gelu));
    }
    return values;
  }();
  return table;
}

// The fp16 table widened to floats, for the vector path's gathers.
const std::vector<float>& gelu_float_table() {
  static const std::vector<float> table = [] {
    const std::vector<uint16_t>& halves = gelu_table();
    std::vector<float> values(halves.size());
    for (size_t i = 0; i < halves.size(); ++i) values[i] = fp16_to_fp32(halves[i]);
    return values;
  }();
  return table;
}

}  // namespace

void gelu_gated(const float* gate, const float* up, float* out, int64_t n) {
  if (active_kernel_level() != KernelLevel::Scalar) {
    kernels::gelu_gated_avx2(gate, up, out, n, gelu_float_table().data());
    return;
  }
  const std::vector<uint16_t>& table = gelu_table();
  for (int64_t i = 0; i < n; ++i) {
    const float z = gate[i];
    float gelu;
    if (z <= -10.0f) {
      gelu = 0.0f;
    } else if (z >= 10.0f) {
      gelu = z;
    } else {
      gelu = fp16_to_fp32(table[fp32_to_fp16(z)]);
    }
    out[i] = gelu * up[i];
  }
}

void soft_cap(float* x, int64_t n, float cap) {
  const float inverse = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * inverse) * cap;
}

RopeTable::RopeTable(int head_dim, float base, std::vector<float> freq_factors)
    : head_dim_(head_dim),
      theta_scale_(std::pow(base, -2.0f / static_cast<float>(head_dim))),
      freq_factors_(std::move(freq_factors)) {}

void RopeTable::apply(float* head, int64_t pos) const {
  // The angle advances by repeated float multiplication, as in ggml, so that long positions
  // round exactly as the reference does.
  const int half = head_dim_ / 2;
  float theta = static_cast<float>(pos);
  for (int i = 0; i < half; ++i) {
    const float factor = freq_factors_.empty() ? 1.0f : freq_factors_[i];
    const float angle = theta / factor;
    const float c = std::cos(angle);
    const float s = std::sin(angle);
    const float a = head[i];
    const float b = head[i + half];
    head[i] = a * c - b * s;
    head[i + half] = a * s + b * c;
    theta *= theta_scale_;
  }
}

}  // namespace utter::inference
