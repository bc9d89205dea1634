// Inline fp16 and bf16 conversions for the kernels' inner loops. The exported
// fp16_to_fp32 and friends in quantize.h call these.
#pragma once

#include <bit>
#include <cstdint>

namespace utter::inference::kernels {

inline float half_to_float(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000) << 16;
  const uint32_t exponent = (half >> 10) & 0x1F;
  const uint32_t mantissa = half & 0x3FF;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

inline uint16_t float_to_half(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t magnitude = bits & 0x7FFFFFFF;

  if (magnitude > 0x7F800000u) {
    // NaN: keep the top payload bits and force the quiet bit so it stays a NaN.
    return static_cast<uint16_t>(sign | 0x7E00 | ((magnitude >> 13) & 0x3FF));
  }
  if (magnitude >= 0x477FF000u) {
    // At or above 65520, halfway between 65504 and 65536, everything rounds to infinity.
    return static_cast<uint16_t>(sign | 0x7C00);
  }
  if (magnitude >= 0x38800000u) {
    // Normal half: rebias the exponent, then round the 13 dropped bits to nearest even.
    // A carry out of the mantissa correctly bumps the exponent.
    uint32_t half = ((magnitude >> 23) - 112) << 10 | ((magnitude >> 13) & 0x3FF);
    const uint32_t dropped = magnitude & 0x1FFF;
    if (dropped > 0x1000 || (dropped == 0x1000 && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  // Subnormal half (or zero): the value in units of 2^-24 is mantissa * 2^(exponent - 126).
  const uint32_t exponent = magnitude >> 23;
  const uint32_t shift = 126 - exponent;  // at least 14 here
  if (shift > 24) return sign;            // below half of 2^-24: rounds to zero
  const uint32_t mantissa = (magnitude & 0x7FFFFF) | 0x800000;
  uint32_t half = mantissa >> shift;
  const uint32_t dropped = mantissa & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  if (dropped > halfway || (dropped == halfway && (half & 1))) ++half;
  return static_cast<uint16_t>(sign | half);
}

inline float bf16_bits_to_float(uint16_t bf16) {
  return std::bit_cast<float>(static_cast<uint32_t>(bf16) << 16);
}

inline uint16_t float_to_bf16_bits(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7FFFFFFF) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  return static_cast<uint16_t>((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
}

}  // namespace utter::inference::kernels
