// Float rows to block formats. The weight quantizers follow the rounding rules of ggml's
// reference quantizers (ggml-quants.c, quantize_row_*_ref), including the order of the
// float operations, so that re-quantizing llama.cpp's inputs reproduces its bytes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/activation_quantize.h"
#include "kernels/blocks.h"
#include "kernels/half.h"
#include "kernels/matmul.h"
#include "kernels/quantize.h"
#include "kernels/type_checks.h"

namespace utter::inference {

using namespace kernels;

namespace {

// Rounds to the nearest integer, ties to even (the processor's default rounding mode).
int round_to_int(float value) { return static_cast<int>(std::lrint(value)); }

void quantize_q4_0(const float* x, BlockQ4_0* blocks, int64_t count) {
  for (int64_t i = 0; i < count; ++i, x += 32) {
    // The signed element of largest magnitude maps to -8, so the full range [-8, 7] is used.
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = float_to_half(d);
    for (int j = 0; j < 16; ++j) {
      const int lo = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int hi = std::min(15, static_cast<int>(x[j + 16] * id + 8.5f));
      blocks[i].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void quantize_q4_1(const float* x, BlockQ4_1* blocks, int64_t count) {
  for (int64_t i = 0; i < count; ++i, x += 32) {
    float min = x[0], max = x[0];
    for (int j = 1; j < 32; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = float_to_half(d);
    blocks[i].m = float_to_half(min);
    for (int j = 0; j < 16; ++j) {
      const int lo = std::min(15, static_cast<int>((x[j] - min) * id + 0.5f));
      const int hi = std::min(15, static_cast<int>((x[j + 16] - min) * id + 0.5f));
      blocks[i].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void quantize_q5_0(const float* x, BlockQ5_0* blocks, int64_t count) {
  for (int64_t i = 0; i < count; ++i, x += 32) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = float_to_half(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int lo = std::min(31, static_cast<int>(x[j] * id + 16.5f));
      const int hi = std::min(31, static_cast<int>(x[j + 16] * id + 16.5f));
      blocks[i].qs[j] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
      qh |= static_cast<uint32_t>((lo >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((hi >> 4) & 1) << (j + 16);
    }
    std::memcpy(blocks[i].qh, &qh, 4);
  }
}

void quantize_q5_1(const float* x, BlockQ5_1* blocks, int64_t count) {
  for (int64_t i = 0; i < count; ++i, x += 32) {
    float min = x[0], max = x[0];
    for (int j = 1; j < 32; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = float_to_half(d);
    blocks[i].m = float_to_half(min);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int lo = std::min(31, static_cast<int>((x[j] - min) * id + 0.5f));
      const int hi = std::min(31, static_cast<int>((x[j + 16] - min) * id + 0.5f));
      blocks[i].qs[j] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
      qh |= static_cast<uint32_t>((lo >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((hi >> 4) & 1) << (j + 16);
    }
    std::memcpy(blocks[i].qh, &qh, 4);
  }
}

void quantize_q8_0(const float* x, BlockQ8_0* blocks, int64_t count) {
  for (int64_t i = 0; i < count; ++i, x += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = float_to_half(d);
    // roundf rounds halves away from zero, as the reference quantizer does.
    for (int j = 0; j < 32; ++j) blocks[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

void quantize_q8_1(const float* x, BlockQ8_1* blocks, int64_t count) {
  for (int64_t i = 0; i < count; ++i, x += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = float_to_half(d);
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      blocks[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
      sum += blocks[i].qs[j];
    }
    blocks[i].s = float_to_half(static_cast<float>(sum) * d);
  }
}

void quantize_q8_k(const float* x, BlockQ8_K* blocks, int64_t count) {
  for (int64_t i = 0; i < count; ++i, x += 256) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 256; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    BlockQ8_K& block = blocks[i];
    if (amax == 0.0f) {
      std::memset(&block, 0, sizeof(block));
      continue;
    }
    // The signed maximum maps to -127; the opposite end could reach +128, hence the clamp.
    const float iscale = -127.0f / max;
    for (int j = 0; j < 256; ++j) {
      block.qs[j] = static_cast<int8_t>(std::min(127, round_to_int(iscale * x[j])));
    }
    for (int group = 0; group < 16; ++group) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += block.qs[16 * group + j];
      block.bsums[group] = static_cast<int16_t>(sum);
    }
    block.d = 1.0f / iscale;
  }
}

// Fits x ~ scale * L + min (L in [0, nmax], min <= 0) minimising the weighted squared error:
// a first guess from the range, then `steps + 1` trial grids solved by least squares.
// Returns the scale and stores -min in `negated_min`.
float fit_scale_and_min(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                        float* negated_min, float grid_start, float grid_step, int steps) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, 0);
    *negated_min = -min;
    return 0.0f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = round_to_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    const float diff = scale * L[i] + min - x[i];
    best_error += weights[i] * (diff * diff);
  }
  uint8_t trial[32];
  for (int step = 0; step <= steps; ++step) {
    iscale = (grid_start + grid_step * step + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(0, std::min(nmax, round_to_int(iscale * (x[i] - min))));
      trial[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float determinant = sum_w * sum_l2 - sum_l * sum_l;
    if (determinant > 0) {
      float trial_scale = (sum_w * sum_xl - sum_x * sum_l) / determinant;
      float trial_min = (sum_l2 * sum_x - sum_l * sum_xl) / determinant;
      if (trial_min > 0) {
        trial_min = 0;
        trial_scale = sum_xl / sum_l2;
      }
      float error = 0;
      for (int i = 0; i < n; ++i) {
        const float diff = trial_scale * trial[i] + trial_min - x[i];
        error += weights[i] * (diff * diff);
      }
      if (error < best_error) {
        std::copy(trial, trial + n, L);
        best_error = error;
        scale = trial_scale;
        min = trial_min;
      }
    }
  }
  *negated_min = -min;
  return scale;
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): per-sub-block scale and min fits, quantized to
// 6 bits against the block maxima, then every element re-rounded with the final scales.
// Stores d, dmin and the packed scales in the block and the levels in L[256].
void quantize_k_scales(const float* x, int nmax, float grid_start, int steps, uint16_t& d_out,
                       uint16_t& dmin_out, uint8_t* packed_scales, uint8_t* L) {
  float scales[8], mins[8], weights[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = fit_scale_and_min(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], grid_start,
                                  0.1f, steps);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(packed_scales, 0, 12);
  for (int j = 0; j < 8; ++j) {
    const uint8_t ls = static_cast<uint8_t>(std::min(63, round_to_int(inv_scale * scales[j])));
    const uint8_t lm = static_cast<uint8_t>(std::min(63, round_to_int(inv_min * mins[j])));
    if (j < 4) {
      packed_scales[j] = ls;
      packed_scales[j + 4] = lm;
    } else {
      packed_scales[j + 4] = static_cast<uint8_t>((ls & 0x0F) | ((lm & 0x0F) << 4));
      packed_scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      packed_scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  d_out = float_to_half(max_scale / 63.f);
  dmin_out = float_to_half(max_min / 63.f);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(packed_scales, j, sc, m);
    const float d = half_to_float(d_out) * sc;
    if (d == 0.0f) continue;
    const float dm = half_to_float(dmin_out) * m;
    for (int ii = 0; ii < 32; ++ii) {
      const int l = round_to_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    }
  }
}

void quantize_q4_k(const float* x, BlockQ4_K* blocks, int64_t count) {
  uint8_t L[256];
  for (int64_t i = 0; i < count; ++i, x += 256) {
    BlockQ4_K& block = blocks[i];
    quantize_k_scales(x, 15, -1.0f, 20, block.d, block.dmin, block.scales, L);
    uint8_t* q = block.qs;
    for (int j = 0; j < 256; j += 64, q += 32) {
      for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
  }
}

void quantize_q5_k(const float* x, BlockQ5_K* blocks, int64_t count) {
  uint8_t L[256];
  for (int64_t i = 0; i < count; ++i, x += 256) {
    BlockQ5_K& block = blocks[i];
    quantize_k_scales(x, 31, -0.5f, 15, block.d, block.dmin, block.scales, L);
    std::memset(block.qh, 0, sizeof(block.qh));
    uint8_t* q = block.qs;
    uint8_t bit_lo = 1, bit_hi = 2;
    for (int j = 0; j < 256; j += 64, q += 32) {
      for (int l = 0; l < 32; ++l) {
        int lo = L[j + l], hi = L[j + l + 32];
        if (lo > 15) {
          lo -= 16;
          block.qh[l] |= bit_lo;
        }
        if (hi > 15) {
          hi -= 16;
          block.qh[l] |= bit_hi;
        }
        q[l] = static_cast<uint8_t>(lo | (hi << 4));
      }
      bit_lo = static_cast<uint8_t>(bit_lo << 2);
      bit_hi = static_cast<uint8_t>(bit_hi << 2);
    }
  }
}

// Symmetric fit of 16 values to levels in [-nmax, nmax - 1] with squared weights x^2,
// trying 19 grids around -nmax / max. Returns the scale; L receives the levels plus nmax.
float fit_symmetric_scale(const float* x, int nmax, uint8_t* L) {
  constexpr int n = 16;
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < 1e-15f) {
    std::fill(L, L + n, 0);
    return 0.0f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::max(-nmax, std::min(nmax - 1, round_to_int(iscale * x[i])));
    L[i] = static_cast<uint8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(nmax + 0.1f * step) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(-nmax, std::min(nmax - 1, round_to_int(iscale * x[i])));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = std::max(-nmax, std::min(nmax - 1, round_to_int(iscale * x[i])));
        L[i] = static_cast<uint8_t>(l + nmax);
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

void quantize_q6_k(const float* x, BlockQ6_K* blocks, int64_t count) {
  uint8_t L[256];
  float scales[16];
  for (int64_t i = 0; i < count; ++i, x += 256) {
    BlockQ6_K& block = blocks[i];
    float max_scale = 0, max_abs_scale = 0;
    for (int group = 0; group < 16; ++group) {
      scales[group] = fit_symmetric_scale(x + 16 * group, 32, L + 16 * group);
      if (std::fabs(scales[group]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[group]);
        max_scale = scales[group];
      }
    }
    if (max_abs_scale < 1e-15f) {
      std::memset(&block, 0, sizeof(block));
      continue;
    }
    const float iscale = -128.f / max_scale;
    block.d = float_to_half(1 / iscale);
    for (int group = 0; group < 16; ++group) {
      block.scales[group] =
          static_cast<int8_t>(std::min(127, round_to_int(iscale * scales[group])));
    }
    for (int group = 0; group < 16; ++group) {
      const float d = half_to_float(block.d) * block.scales[group];
      // A group whose scale rounds to zero keeps the levels of its fit, as in the reference.
      if (d == 0.0f) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = std::max(-32, std::min(31, round_to_int(x[16 * group + ii] / d)));
        L[16 * group + ii] = static_cast<uint8_t>(l + 32);
      }
    }
    for (int j = 0; j < 256; j += 128) {
      uint8_t* ql = block.ql + j / 2;
      uint8_t* qh = block.qh + j / 4;
      for (int l = 0; l < 32; ++l) {
        const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0x0F) | ((q3 & 0x0F) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0x0F) | ((q4 & 0x0F) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                                     ((q4 >> 4) << 6));
      }
    }
  }
}

// Q8_0 and Q8_1 activation blocks as llama.cpp's AVX code forms them. Q8_1 blocks also get
// s = d * (sum of levels).
template <typename Block>
void quantize_activations_q8(const float* x, Block* blocks, int64_t count) {
  for (int64_t i = 0; i < count; ++i, x += 32) {
    float max = 0.0f;
    for (int j = 0; j < 32; ++j) max = std::max(max, std::fabs(x[j]));
    const float d = max / 127.f;
    const float id = max != 0.0f ? 127.f / max : 0.0f;
    blocks[i].d = float_to_half(d);
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      blocks[i].qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
      sum += blocks[i].qs[j];
    }
    if constexpr (std::is_same_v<Block, BlockQ8_1>) {
      blocks[i].s = float_to_half(d * static_cast<float>(sum));
    }
  }
}

}  // namespace

namespace kernels {

void quantize_activation_row(TensorType type, const float* src, std::byte* dst, int64_t n) {
  const int64_t blocks = checked_block_count(type, n, "quantize_activation_row");
  if (type == TensorType::Q8_0) {
    if (active_kernel_level() != KernelLevel::Scalar) return quantize_q8_0_avx2(src, dst, blocks);
    quantize_activations_q8(src, reinterpret_cast<BlockQ8_0*>(dst), blocks);
  } else if (type == TensorType::Q8_1) {
    quantize_activations_q8(src, reinterpret_cast<BlockQ8_1*>(dst), blocks);
  } else {
    quantize_row(type, src, dst, n);
  }
}

}  // namespace kernels

void quantize_row(TensorType type, const float* src, std::byte* dst, int64_t n) {
  const int64_t blocks = checked_block_count(type, n, "quantize_row");
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16: {
      auto* halves = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) halves[i] = float_to_half(src[i]);
      return;
    }
    case TensorType::BF16: {
      auto* values = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) values[i] = float_to_bf16_bits(src[i]);
      return;
    }
    case TensorType::Q4_0:
      return quantize_q4_0(src, reinterpret_cast<BlockQ4_0*>(dst), blocks);
    case TensorType::Q4_1:
      return quantize_q4_1(src, reinterpret_cast<BlockQ4_1*>(dst), blocks);
    case TensorType::Q5_0:
      return quantize_q5_0(src, reinterpret_cast<BlockQ5_0*>(dst), blocks);
    case TensorType::Q5_1:
      return quantize_q5_1(src, reinterpret_cast<BlockQ5_1*>(dst), blocks);
    case TensorType::Q8_0:
      return quantize_q8_0(src, reinterpret_cast<BlockQ8_0*>(dst), blocks);
    case TensorType::Q8_1:
      return quantize_q8_1(src, reinterpret_cast<BlockQ8_1*>(dst), blocks);
    case TensorType::Q4_K:
      return quantize_q4_k(src, reinterpret_cast<BlockQ4_K*>(dst), blocks);
    case TensorType::Q5_K:
      return quantize_q5_k(src, reinterpret_cast<BlockQ5_K*>(dst), blocks);
    case TensorType::Q6_K:
      return quantize_q6_k(src, reinterpret_cast<BlockQ6_K*>(dst), blocks);
    case TensorType::Q8_K:
      return quantize_q8_k(src, reinterpret_cast<BlockQ8_K*>(dst), blocks);
    default:
      break;
  }
  throw std::invalid_argument("quantize_row: cannot quantize to tensor type " +
                              std::string(tensor_type_name(type)) +
                              "; supported are F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, "
                              "Q8_1, Q4_K, Q5_K, Q6_K and Q8_K");
}

}  // namespace utter::inference
