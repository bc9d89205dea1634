// Portable reference dot products. Integer block sums are exact; each block contributes
// one float term, so the SIMD versions only differ in how those terms are added.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/dot.h"
#include "kernels/half.h"

namespace utter::inference::kernels {
namespace {

uint32_t load_u32(const uint8_t* bytes) {
  uint32_t value;
  std::memcpy(&value, bytes, 4);
  return value;
}

int dot_block32(const int8_t* w, const int8_t* a) {
  int sum = 0;
  for (int j = 0; j < 32; ++j) sum += w[j] * a[j];
  return sum;
}

float dot_q4_0(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const BlockQ4_0*>(weights);
  const auto* a = static_cast<const BlockQ8_0*>(activations);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / 32; ++i) {
    int8_t q[32];
    for (int j = 0; j < 16; ++j) {
      q[j] = static_cast<int8_t>((w[i].qs[j] & 0x0F) - 8);
      q[j + 16] = static_cast<int8_t>((w[i].qs[j] >> 4) - 8);
    }
    const float scale = half_to_float(w[i].d) * half_to_float(a[i].d);
    sum += scale * static_cast<float>(dot_block32(q, a[i].qs));
  }
  return sum;
}

float dot_q4_1(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const BlockQ4_1*>(weights);
  const auto* a = static_cast<const BlockQ8_1*>(activations);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / 32; ++i) {
    int8_t q[32];
    for (int j = 0; j < 16; ++j) {
      q[j] = static_cast<int8_t>(w[i].qs[j] & 0x0F);
      q[j + 16] = static_cast<int8_t>(w[i].qs[j] >> 4);
    }
    const float scale = half_to_float(w[i].d) * half_to_float(a[i].d);
    sum += scale * static_cast<float>(dot_block32(q, a[i].qs)) +
           half_to_float(w[i].m) * half_to_float(a[i].s);
  }
  return sum;
}

float dot_q5_0(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const BlockQ5_0*>(weights);
  const auto* a = static_cast<const BlockQ8_0*>(activations);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / 32; ++i) {
    const uint32_t qh = load_u32(w[i].qh);
    int8_t q[32];
    for (int j = 0; j < 16; ++j) {
      q[j] = static_cast<int8_t>(((w[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4)) - 16);
      q[j + 16] = static_cast<int8_t>(((w[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
    }
    const float scale = half_to_float(w[i].d) * half_to_float(a[i].d);
    sum += scale * static_cast<float>(dot_block32(q, a[i].qs));
  }
  return sum;
}

float dot_q5_1(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const BlockQ5_1*>(weights);
  const auto* a = static_cast<const BlockQ8_1*>(activations);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / 32; ++i) {
    const uint32_t qh = load_u32(w[i].qh);
    int8_t q[32];
    for (int j = 0; j < 16; ++j) {
      q[j] = static_cast<int8_t>((w[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4));
      q[j + 16] = static_cast<int8_t>((w[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
    }
    const float scale = half_to_float(w[i].d) * half_to_float(a[i].d);
    sum += scale * static_cast<float>(dot_block32(q, a[i].qs)) +
           half_to_float(w[i].m) * half_to_float(a[i].s);
  }
  return sum;
}

float dot_q8_0(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const BlockQ8_0*>(weights);
  const auto* a = static_cast<const BlockQ8_0*>(activations);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / 32; ++i) {
    const float scale = half_to_float(w[i].d) * half_to_float(a[i].d);
    sum += scale * static_cast<float>(dot_block32(w[i].qs, a[i].qs));
  }
  return sum;
}

// Sum over the eight sub-blocks of scale * dot(levels, activations) and of
// min * (activation sum); both exact integers.
void k4_integer_sums(const uint8_t* packed_scales, const uint8_t* levels, const BlockQ8_K& a,
                     int& scaled_sum, int& min_sum) {
  scaled_sum = 0;
  min_sum = 0;
  for (int j = 0; j < 8; ++j) {
    uint8_t scale, min;
    unpack_scale_min_k4(packed_scales, j, scale, min);
    int sub = 0;
    for (int l = 0; l < 32; ++l) sub += levels[32 * j + l] * a.qs[32 * j + l];
    scaled_sum += scale * sub;
    min_sum += min * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
  }
}

float dot_q4_k(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const BlockQ4_K*>(weights);
  const auto* a = static_cast<const BlockQ8_K*>(activations);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / 256; ++i) {
    uint8_t levels[256];
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int l = 0; l < 32; ++l) {
        levels[64 * chunk + l] = w[i].qs[32 * chunk + l] & 0x0F;
        levels[64 * chunk + 32 + l] = w[i].qs[32 * chunk + l] >> 4;
      }
    }
    int scaled_sum, min_sum;
    k4_integer_sums(w[i].scales, levels, a[i], scaled_sum, min_sum);
    const float d = half_to_float(w[i].d) * a[i].d;
    const float dmin = half_to_float(w[i].dmin) * a[i].d;
    sum = add_k_block(sum, d, scaled_sum, dmin, min_sum);
  }
  return sum;
}

float dot_q5_k(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const BlockQ5_K*>(weights);
  const auto* a = static_cast<const BlockQ8_K*>(activations);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / 256; ++i) {
    uint8_t levels[256];
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q = w[i].qs[32 * chunk + l];
        const uint8_t qh = w[i].qh[l];
        levels[64 * chunk + l] = static_cast<uint8_t>((q & 0x0F) | (((qh >> (2 * chunk)) & 1) << 4));
        levels[64 * chunk + 32 + l] =
            static_cast<uint8_t>((q >> 4) | (((qh >> (2 * chunk + 1)) & 1) << 4));
      }
    }
    int scaled_sum, min_sum;
    k4_integer_sums(w[i].scales, levels, a[i], scaled_sum, min_sum);
    const float d = half_to_float(w[i].d) * a[i].d;
    const float dmin = half_to_float(w[i].dmin) * a[i].d;
    sum = add_k_block(sum, d, scaled_sum, dmin, min_sum);
  }
  return sum;
}

float dot_q6_k(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const BlockQ6_K*>(weights);
  const auto* a = static_cast<const BlockQ8_K*>(activations);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / 256; ++i) {
    int8_t levels[256];
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = w[i].ql + 64 * half;
      const uint8_t* qh = w[i].qh + 32 * half;
      int8_t* out = levels + 128 * half;
      for (int l = 0; l < 32; ++l) {
        out[l] = static_cast<int8_t>(((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32);
        out[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32);
        out[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        out[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    int total = 0;
    for (int group = 0; group < 16; ++group) {
      int sub = 0;
      for (int l = 0; l < 16; ++l) sub += levels[16 * group + l] * a[i].qs[16 * group + l];
      total += w[i].scales[group] * sub;
    }
    sum = add_scaled_block(sum, half_to_float(w[i].d) * a[i].d, total);
  }
  return sum;
}

// The float formats accumulate in double: products of two fp16 or two bf16 values are
// exact in float, so this is the sum of exact terms rounded once at the end.
float dot_f16(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const uint16_t*>(weights);
  const auto* a = static_cast<const uint16_t*>(activations);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += half_to_float(w[i]) * half_to_float(a[i]);
  return static_cast<float>(sum);
}

float dot_bf16(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const uint16_t*>(weights);
  const auto* a = static_cast<const uint16_t*>(activations);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += bf16_bits_to_float(w[i]) * bf16_bits_to_float(a[i]);
  return static_cast<float>(sum);
}

float dot_f32(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const float*>(weights);
  const auto* a = static_cast<const float*>(activations);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(w[i]) * a[i];
  return static_cast<float>(sum);
}

}  // namespace

float add_k_block(float sum, float d, int scaled_sum, float dmin, int min_sum) {
  return sum + (d * static_cast<float>(scaled_sum) - dmin * static_cast<float>(min_sum));
}

float add_scaled_block(float sum, float d, int total) {
  return sum + d * static_cast<float>(total);
}

const DotTable& scalar_dot_table() {
  static const DotTable table = {dot_q4_0, dot_q4_1, dot_q5_0, dot_q5_1, dot_q8_0, dot_q4_k,
                                 dot_q5_k, dot_q6_k, dot_f16,  dot_bf16, dot_f32};
  return table;
}

}  // namespace utter::inference::kernels
