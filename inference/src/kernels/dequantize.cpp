// Expansion of every supported block format into floats, and the exported scalar
// fp16/bf16 conversions.
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/blocks.h"
#include "kernels/half.h"
#include "kernels/quantize.h"
#include "kernels/type_checks.h"

namespace utter::inference {

using namespace kernels;

float fp16_to_fp32(uint16_t half) { return half_to_float(half); }
uint16_t fp32_to_fp16(float value) { return float_to_half(value); }
float bf16_to_fp32(uint16_t bf16) { return bf16_bits_to_float(bf16); }
uint16_t fp32_to_bf16(float value) { return float_to_bf16_bits(value); }

namespace {

void dequantize_q4_0(const BlockQ4_0* blocks, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i, dst += 32) {
    const float d = half_to_float(blocks[i].d);
    for (int j = 0; j < 16; ++j) {
      dst[j] = d * static_cast<float>((blocks[i].qs[j] & 0x0F) - 8);
      dst[j + 16] = d * static_cast<float>((blocks[i].qs[j] >> 4) - 8);
    }
  }
}

void dequantize_q4_1(const BlockQ4_1* blocks, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i, dst += 32) {
    const float d = half_to_float(blocks[i].d);
    const float m = half_to_float(blocks[i].m);
    for (int j = 0; j < 16; ++j) {
      dst[j] = d * static_cast<float>(blocks[i].qs[j] & 0x0F) + m;
      dst[j + 16] = d * static_cast<float>(blocks[i].qs[j] >> 4) + m;
    }
  }
}

uint32_t load_u32(const uint8_t* bytes) {
  uint32_t value;
  std::memcpy(&value, bytes, 4);
  return value;  // the files and the supported processors are little-endian
}

void dequantize_q5_0(const BlockQ5_0* blocks, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i, dst += 32) {
    const float d = half_to_float(blocks[i].d);
    const uint32_t qh = load_u32(blocks[i].qh);
    for (int j = 0; j < 16; ++j) {
      const int lo = ((blocks[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4)) - 16;
      const int hi = ((blocks[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
      dst[j] = d * static_cast<float>(lo);
      dst[j + 16] = d * static_cast<float>(hi);
    }
  }
}

void dequantize_q5_1(const BlockQ5_1* blocks, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i, dst += 32) {
    const float d = half_to_float(blocks[i].d);
    const float m = half_to_float(blocks[i].m);
    const uint32_t qh = load_u32(blocks[i].qh);
    for (int j = 0; j < 16; ++j) {
      const int lo = (blocks[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
      const int hi = (blocks[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      dst[j] = d * static_cast<float>(lo) + m;
      dst[j + 16] = d * static_cast<float>(hi) + m;
    }
  }
}

void dequantize_q8_0(const BlockQ8_0* blocks, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i, dst += 32) {
    const float d = half_to_float(blocks[i].d);
    for (int j = 0; j < 32; ++j) dst[j] = d * static_cast<float>(blocks[i].qs[j]);
  }
}

void dequantize_q8_1(const BlockQ8_1* blocks, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i, dst += 32) {
    const float d = half_to_float(blocks[i].d);
    for (int j = 0; j < 32; ++j) dst[j] = d * static_cast<float>(blocks[i].qs[j]);
  }
}

void dequantize_q4_k(const BlockQ4_K* blocks, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const float d = half_to_float(blocks[i].d);
    const float dmin = half_to_float(blocks[i].dmin);
    const uint8_t* q = blocks[i].qs;
    for (int chunk = 0; chunk < 4; ++chunk, q += 32) {
      uint8_t scale_lo, min_lo, scale_hi, min_hi;
      unpack_scale_min_k4(blocks[i].scales, 2 * chunk, scale_lo, min_lo);
      unpack_scale_min_k4(blocks[i].scales, 2 * chunk + 1, scale_hi, min_hi);
      const float d_lo = d * scale_lo, m_lo = dmin * min_lo;
      const float d_hi = d * scale_hi, m_hi = dmin * min_hi;
      for (int l = 0; l < 32; ++l) *dst++ = d_lo * static_cast<float>(q[l] & 0x0F) - m_lo;
      for (int l = 0; l < 32; ++l) *dst++ = d_hi * static_cast<float>(q[l] >> 4) - m_hi;
    }
  }
}

void dequantize_q5_k(const BlockQ5_K* blocks, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const float d = half_to_float(blocks[i].d);
    const float dmin = half_to_float(blocks[i].dmin);
    const uint8_t* q = blocks[i].qs;
    const uint8_t* qh = blocks[i].qh;
    for (int chunk = 0; chunk < 4; ++chunk, q += 32) {
      uint8_t scale_lo, min_lo, scale_hi, min_hi;
      unpack_scale_min_k4(blocks[i].scales, 2 * chunk, scale_lo, min_lo);
      unpack_scale_min_k4(blocks[i].scales, 2 * chunk + 1, scale_hi, min_hi);
      const float d_lo = d * scale_lo, m_lo = dmin * min_lo;
      const float d_hi = d * scale_hi, m_hi = dmin * min_hi;
      for (int l = 0; l < 32; ++l) {
        const int value = (q[l] & 0x0F) + (((qh[l] >> (2 * chunk)) & 1) << 4);
        *dst++ = d_lo * static_cast<float>(value) - m_lo;
      }
      for (int l = 0; l < 32; ++l) {
        const int value = (q[l] >> 4) + (((qh[l] >> (2 * chunk + 1)) & 1) << 4);
        *dst++ = d_hi * static_cast<float>(value) - m_hi;
      }
    }
  }
}

void dequantize_q6_k(const BlockQ6_K* blocks, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const float d = half_to_float(blocks[i].d);
    for (int half = 0; half < 2; ++half, dst += 128) {
      const uint8_t* ql = blocks[i].ql + 64 * half;
      const uint8_t* qh = blocks[i].qh + 32 * half;
      const int8_t* scales = blocks[i].scales + 8 * half;
      for (int l = 0; l < 32; ++l) {
        const int group = l / 16;
        const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        dst[l] = d * static_cast<float>(scales[group]) * static_cast<float>(q1);
        dst[l + 32] = d * static_cast<float>(scales[group + 2]) * static_cast<float>(q2);
        dst[l + 64] = d * static_cast<float>(scales[group + 4]) * static_cast<float>(q3);
        dst[l + 96] = d * static_cast<float>(scales[group + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void dequantize_q8_k(const BlockQ8_K* blocks, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i, dst += 256) {
    for (int j = 0; j < 256; ++j) dst[j] = blocks[i].d * static_cast<float>(blocks[i].qs[j]);
  }
}

}  // namespace

void dequantize_row(TensorType type, const std::byte* src, float* dst, int64_t n) {
  const int64_t blocks = checked_block_count(type, n, "dequantize_row");
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16: {
      const auto* halves = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(halves[i]);
      return;
    }
    case TensorType::BF16: {
      const auto* values = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_bits_to_float(values[i]);
      return;
    }
    case TensorType::Q4_0:
      return dequantize_q4_0(reinterpret_cast<const BlockQ4_0*>(src), dst, blocks);
    case TensorType::Q4_1:
      return dequantize_q4_1(reinterpret_cast<const BlockQ4_1*>(src), dst, blocks);
    case TensorType::Q5_0:
      return dequantize_q5_0(reinterpret_cast<const BlockQ5_0*>(src), dst, blocks);
    case TensorType::Q5_1:
      return dequantize_q5_1(reinterpret_cast<const BlockQ5_1*>(src), dst, blocks);
    case TensorType::Q8_0:
      return dequantize_q8_0(reinterpret_cast<const BlockQ8_0*>(src), dst, blocks);
    case TensorType::Q8_1:
      return dequantize_q8_1(reinterpret_cast<const BlockQ8_1*>(src), dst, blocks);
    case TensorType::Q4_K:
      return dequantize_q4_k(reinterpret_cast<const BlockQ4_K*>(src), dst, blocks);
    case TensorType::Q5_K:
      return dequantize_q5_k(reinterpret_cast<const BlockQ5_K*>(src), dst, blocks);
    case TensorType::Q6_K:
      return dequantize_q6_k(reinterpret_cast<const BlockQ6_K*>(src), dst, blocks);
    case TensorType::Q8_K:
      return dequantize_q8_k(reinterpret_cast<const BlockQ8_K*>(src), dst, blocks);
    default:
      break;
  }
  throw std::invalid_argument("dequantize_row: tensor type " +
                              std::string(tensor_type_name(type)) +
                              " is not supported; convert the model to F16, BF16, Q4_0, "
                              "Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K or Q6_K");
}

}  // namespace utter::inference
