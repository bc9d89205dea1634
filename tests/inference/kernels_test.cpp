// Tests of the tensor kernels: fp16/bf16 conversion, dequantization of hand-built blocks,
// SIMD dot products against the scalar ones, and matmul against a double-precision reference.
#include <gtest/gtest.h>
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/activation_quantize.h"
#include "kernels/blocks.h"
#include "kernels/dot.h"
#include "kernels/half_vector.h"
#include "kernels/matmul.h"
#include "kernels/quantize.h"
#include "ops.h"
#include "thread_pool.h"
#include "utter/inference/tensor_type.h"

namespace utter::inference {
namespace {

using kernels::DotFn;

constexpr TensorType kComputeTypes[] = {
    TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0,
    TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
    TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K,
};

bool is_k_quant(TensorType type) {
  return type == TensorType::Q4_K || type == TensorType::Q5_K || type == TensorType::Q6_K;
}

std::vector<KernelLevel> supported_levels() {
  std::vector<KernelLevel> levels = {KernelLevel::Scalar};
  if (detected_kernel_level() >= KernelLevel::Avx2) levels.push_back(KernelLevel::Avx2);
  if (detected_kernel_level() >= KernelLevel::Avx512) levels.push_back(KernelLevel::Avx512);
  return levels;
}

// Restores the detected kernel level when a test that lowers it ends.
struct KernelLevelGuard {
  ~KernelLevelGuard() { set_kernel_level(detected_kernel_level()); }
};

std::vector<float> random_floats(size_t count, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> values(count);
  for (float& value : values) value = normal(rng);
  return values;
}

std::vector<std::byte> quantized(TensorType type, const std::vector<float>& values) {
  std::vector<std::byte> bytes(*tensor_row_bytes(type, values.size()));
  quantize_row(type, values.data(), bytes.data(), static_cast<int64_t>(values.size()));
  return bytes;
}

std::vector<float> dequantized(TensorType type, const std::byte* data, int64_t n) {
  std::vector<float> values(static_cast<size_t>(n));
  dequantize_row(type, data, values.data(), n);
  return values;
}

template <typename Block>
const std::byte* bytes_of(const Block& block) {
  return reinterpret_cast<const std::byte*>(&block);
}

// ---------------------------------------------------------------------------------------
// fp16 and bf16

TEST(HalfConversion, KnownValues) {
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3C00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xC000);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(0x1p-14f), 0x0400);   // smallest normal
  EXPECT_EQ(fp32_to_fp16(0x1p-24f), 0x0001);   // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7C00);

  EXPECT_EQ(fp16_to_fp32(0x3C00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0x7BFF), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0001), 0x1p-24f);
  EXPECT_EQ(fp16_to_fp32(0x03FF), 1023 * 0x1p-24f);
  EXPECT_EQ(fp16_to_fp32(0x8000), -0.0f);
  EXPECT_TRUE(std::signbit(fp16_to_fp32(0x8000)));
  EXPECT_EQ(fp16_to_fp32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp16_to_fp32(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7E00)));
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7C01)));
}

TEST(HalfConversion, RoundsTiesToEven) {
  // 1 + 2^-11 lies halfway between 0x3C00 and 0x3C01: the even one wins.
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f), 0x3C00);
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3C02);
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);
  // 65520 is halfway between 65504 and 65536 (infinity); 65504's mantissa is odd.
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);
  // Subnormal ties: 2^-25 is halfway between 0 and 2^-24, 3 * 2^-25 between 1 and 2 units.
  EXPECT_EQ(fp32_to_fp16(0x1p-25f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(3 * 0x1p-25f), 0x0002);
  EXPECT_EQ(fp32_to_fp16(0x1p-25f + 0x1p-40f), 0x0001);
  EXPECT_EQ(fp32_to_fp16(0x1p-26f), 0x0000);
  // The largest subnormal rounds up into the smallest normal.
  EXPECT_EQ(fp32_to_fp16(0x1p-14f - 0x1p-26f), 0x0400);
}

TEST(HalfConversion, NanStaysNan) {
  const float quiet = std::numeric_limits<float>::quiet_NaN();
  const float signaling = std::bit_cast<float>(0x7F800001u);
  for (float nan : {quiet, signaling, -quiet}) {
    const uint16_t half = fp32_to_fp16(nan);
    EXPECT_EQ(half & 0x7C00, 0x7C00);
    EXPECT_NE(half & 0x03FF, 0);
    EXPECT_EQ((half & 0x8000) != 0, std::signbit(nan));
  }
}

TEST(HalfConversion, AllHalfValuesRoundTrip) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const auto half = static_cast<uint16_t>(bits);
    const float value = fp16_to_fp32(half);
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(value)))) << "bits " << bits;
      continue;
    }
    ASSERT_EQ(fp32_to_fp16(value), half) << "bits " << bits;
  }
}

__attribute__((target("f16c"))) uint16_t hardware_fp32_to_fp16(float value) {
  return static_cast<uint16_t>(_cvtss_sh(value, _MM_FROUND_TO_NEAREST_INT));
}

__attribute__((target("f16c"))) float hardware_fp16_to_fp32(uint16_t half) {
  return _cvtsh_ss(half);
}

// Rounds |value| to fp16 by searching the sorted table of all finite non-negative halves:
// a second method, independent of the bit manipulation under test.
uint16_t reference_fp32_to_fp16(float value) {
  static const std::vector<double> halves = [] {
    std::vector<double> table;
    for (uint32_t bits = 0; bits <= 0x7BFF; ++bits) {
      table.push_back(static_cast<double>(fp16_to_fp32(static_cast<uint16_t>(bits))));
    }
    return table;
  }();
  const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  const double magnitude = std::fabs(static_cast<double>(value));
  if (magnitude >= 65520.0) return sign | 0x7C00;  // at or past the tie with 2^16
  const auto above = std::upper_bound(halves.begin(), halves.end(), magnitude);
  const auto below = above - 1;
  auto chosen = below;
  if (above != halves.end()) {
    const double to_below = magnitude - *below;
    const double to_above = *above - magnitude;
    const bool below_is_even = ((below - halves.begin()) & 1) == 0;
    if (to_above < to_below || (to_above == to_below && !below_is_even)) chosen = above;
  }
  return static_cast<uint16_t>(sign | (chosen - halves.begin()));
}

TEST(HalfConversion, MatchesSecondMethodOnRandomFloats) {
  std::mt19937 rng(7);
  const bool has_f16c = __builtin_cpu_supports("f16c");
  // Random bit patterns cover every exponent; the narrow band adds many subnormal-half and
  // rounding cases.
  for (int i = 0; i < 400'000; ++i) {
    const uint32_t bits = (i % 2 == 0) ? rng() : (0x33000000u + rng() % 0x14000000u);
    const float value = std::bit_cast<float>(bits);
    if (std::isnan(value)) continue;
    ASSERT_EQ(fp32_to_fp16(value), reference_fp32_to_fp16(value)) << std::hex << "bits " << bits;
    if (has_f16c) {
      ASSERT_EQ(fp32_to_fp16(value), hardware_fp32_to_fp16(value)) << std::hex << "bits " << bits;
    }
  }
}

TEST(HalfConversion, MatchesF16cWhereAvailable) {
  if (!__builtin_cpu_supports("f16c")) {
    // Without F16C the second method above is the only cross-check.
    SUCCEED();
    return;
  }
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const float expected = hardware_fp16_to_fp32(static_cast<uint16_t>(bits));
    if (std::isnan(expected)) continue;
    ASSERT_EQ(std::bit_cast<uint32_t>(fp16_to_fp32(static_cast<uint16_t>(bits))),
              std::bit_cast<uint32_t>(expected));
  }
}

TEST(Bf16Conversion, KnownValuesAndTies) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(fp32_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(bf16_to_fp32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_fp32(0x4049), std::bit_cast<float>(0x40490000u));
  // 1 + 2^-8 is halfway between 0x3F80 and 0x3F81: ties go to the even mantissa.
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F808001u)), 0x3F81);
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  // A signaling NaN whose payload sits in the dropped bits must not become infinity.
  const uint16_t nan = fp32_to_bf16(std::bit_cast<float>(0x7F800001u));
  EXPECT_TRUE(std::isnan(bf16_to_fp32(nan)));
  EXPECT_NE(nan & 0x0040, 0);
}

// ---------------------------------------------------------------------------------------
// Dequantization of hand-built blocks (expected values computed by hand from the layouts)

TEST(Dequantize, Q4_0Block) {
  kernels::BlockQ4_0 block{};
  block.d = 0x3800;  // 0.5
  std::memset(block.qs, 0x88, sizeof(block.qs));
  block.qs[0] = 0x1F;  // element 0: 15 - 8, element 16: 1 - 8
  block.qs[1] = 0x80;  // element 1: 0 - 8, element 17: 8 - 8
  const auto values = dequantized(TensorType::Q4_0, bytes_of(block), 32);
  EXPECT_EQ(values[0], 3.5f);
  EXPECT_EQ(values[16], -3.5f);
  EXPECT_EQ(values[1], -4.0f);
  EXPECT_EQ(values[17], 0.0f);
  EXPECT_EQ(values[5], 0.0f);
}

TEST(Dequantize, Q4_1Block) {
  kernels::BlockQ4_1 block{};
  block.d = 0x3800;  // 0.5
  block.m = 0xBC00;  // -1
  block.qs[0] = 0x1F;
  const auto values = dequantized(TensorType::Q4_1, bytes_of(block), 32);
  EXPECT_EQ(values[0], 6.5f);   // 0.5 * 15 - 1
  EXPECT_EQ(values[16], -0.5f); // 0.5 * 1 - 1
  EXPECT_EQ(values[1], -1.0f);
}

TEST(Dequantize, Q5_0Block) {
  kernels::BlockQ5_0 block{};
  block.d = 0x3400;  // 0.25
  const uint32_t qh = (1u << 0) | (1u << 18);
  std::memcpy(block.qh, &qh, 4);
  block.qs[0] = 0x0F;  // element 0: (15 | 16) - 16 = 15, element 16: 0 - 16
  block.qs[2] = 0x30;  // element 2: 0 - 16, element 18: (3 | 16) - 16 = 3
  const auto values = dequantized(TensorType::Q5_0, bytes_of(block), 32);
  EXPECT_EQ(values[0], 3.75f);
  EXPECT_EQ(values[16], -4.0f);
  EXPECT_EQ(values[2], -4.0f);
  EXPECT_EQ(values[18], 0.75f);
}

TEST(Dequantize, Q5_1Block) {
  kernels::BlockQ5_1 block{};
  block.d = 0x3400;  // 0.25
  block.m = 0x3C00;  // 1
  const uint32_t qh = 1u << 17;
  std::memcpy(block.qh, &qh, 4);
  block.qs[0] = 0x0F;
  block.qs[1] = 0x20;  // element 17: 2 | 16 = 18
  const auto values = dequantized(TensorType::Q5_1, bytes_of(block), 32);
  EXPECT_EQ(values[0], 4.75f);   // 0.25 * 15 + 1
  EXPECT_EQ(values[17], 5.5f);   // 0.25 * 18 + 1
  EXPECT_EQ(values[16], 1.0f);
}

TEST(Dequantize, Q8_0Block) {
  kernels::BlockQ8_0 block{};
  block.d = 0x3800;  // 0.5
  block.qs[0] = -128;
  block.qs[31] = 127;
  block.qs[7] = -3;
  const auto values = dequantized(TensorType::Q8_0, bytes_of(block), 32);
  EXPECT_EQ(values[0], -64.0f);
  EXPECT_EQ(values[31], 63.5f);
  EXPECT_EQ(values[7], -1.5f);
  EXPECT_EQ(values[8], 0.0f);
}

TEST(Dequantize, Q4_KBlock) {
  kernels::BlockQ4_K block{};
  block.d = 0x3C00;     // 1
  block.dmin = 0x3800;  // 0.5
  // Sub-block 0: scale 3, min 2. Sub-block 5: scale 33 = 0b10'0001, min 63 = 0b11'1111,
  // split into low nibbles in byte 9 and top bits in bytes 1 and 5.
  block.scales[0] = 3;
  block.scales[4] = 2;
  block.scales[9] = 0xF1;
  block.scales[1] = 0x80;
  block.scales[5] = 0xC0;
  block.qs[0] = 0x05;   // element 0 (sub-block 0): level 5; element 32 (sub-block 1): 0
  block.qs[64] = 0x70;  // element 128 (sub-block 4): 0; element 160 (sub-block 5): 7
  const auto values = dequantized(TensorType::Q4_K, bytes_of(block), 256);
  EXPECT_EQ(values[0], 14.0f);    // 1 * 3 * 5 - 0.5 * 2
  EXPECT_EQ(values[1], -1.0f);    // 1 * 3 * 0 - 0.5 * 2
  EXPECT_EQ(values[32], 0.0f);    // sub-block 1: scale 0, min 0
  EXPECT_EQ(values[128], 0.0f);   // sub-block 4: scale 0, min 0
  EXPECT_EQ(values[160], 199.5f); // 1 * 33 * 7 - 0.5 * 63
  EXPECT_EQ(values[161], -31.5f);
}

TEST(Dequantize, Q5_KBlock) {
  kernels::BlockQ5_K block{};
  block.d = 0x3C00;     // 1
  block.dmin = 0x3C00;  // 1
  block.scales[2] = 2;  // sub-block 2: scale 2
  block.scales[6] = 1;  // sub-block 2: min 1
  block.scales[3] = 4;  // sub-block 3: scale 4, min 0
  block.qs[32] = 0x31;  // chunk 1: element 64 level 1, element 96 level 3
  block.qh[0] = 0x04 | 0x08;  // fifth bits of element 64 (bit 2) and element 96 (bit 3)
  const auto values = dequantized(TensorType::Q5_K, bytes_of(block), 256);
  EXPECT_EQ(values[64], 33.0f);  // 2 * 17 - 1
  EXPECT_EQ(values[65], -1.0f);  // 2 * 0 - 1
  EXPECT_EQ(values[96], 76.0f);  // 4 * 19
  EXPECT_EQ(values[0], 0.0f);
}

TEST(Dequantize, Q6_KBlock) {
  kernels::BlockQ6_K block{};
  block.d = 0x3800;  // 0.5
  for (int group = 0; group < 16; ++group) block.scales[group] = 1;
  block.scales[0] = 2;
  block.scales[2] = -3;
  block.scales[4] = 1;
  block.ql[0] = 0x05;   // element 0 low bits 5; element 64 low bits 0
  block.qh[0] = 0x02;   // element 0 high bits 2 -> level 37 - 32 = 5
  block.ql[32] = 0x0F;  // element 32: level 15 - 32 = -17
  block.ql[64] = 0x0A;  // second half, element 128: level 10 - 32 = -22 (scale 8 is 1)
  const auto values = dequantized(TensorType::Q6_K, bytes_of(block), 256);
  EXPECT_EQ(values[0], 5.0f);     // 0.5 * 2 * 5
  EXPECT_EQ(values[64], -16.0f);  // 0.5 * 1 * -32
  EXPECT_EQ(values[32], 25.5f);   // 0.5 * -3 * -17
  EXPECT_EQ(values[128], -11.0f); // 0.5 * 1 * -22
}

TEST(Dequantize, FloatFormats) {
  const uint16_t halves[2] = {0x3C00, 0xC100};  // 1, -2.5
  const auto f16 = dequantized(TensorType::F16, reinterpret_cast<const std::byte*>(halves), 2);
  EXPECT_EQ(f16[0], 1.0f);
  EXPECT_EQ(f16[1], -2.5f);
  const uint16_t bf16[2] = {0x3F80, 0xC020};  // 1, -2.5
  const auto b = dequantized(TensorType::BF16, reinterpret_cast<const std::byte*>(bf16), 2);
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], -2.5f);
  const float floats[2] = {3.25f, -7.0f};
  const auto f = dequantized(TensorType::F32, reinterpret_cast<const std::byte*>(floats), 2);
  EXPECT_EQ(f[0], 3.25f);
  EXPECT_EQ(f[1], -7.0f);
}

TEST(Dequantize, RejectsPartialBlocks) {
  std::vector<std::byte> bytes(64);
  std::vector<float> out(64);
  EXPECT_THROW(dequantize_row(TensorType::Q4_0, bytes.data(), out.data(), 31),
               std::invalid_argument);
  EXPECT_THROW(quantize_row(TensorType::Q4_K, out.data(), bytes.data(), 32),
               std::invalid_argument);
  EXPECT_THROW(dequantize_row(TensorType::Q2_K, bytes.data(), out.data(), 256),
               std::invalid_argument);
}

// ---------------------------------------------------------------------------------------
// Activation quantization (hand-checked rules)

TEST(Quantize, Q8_KUsesSignedMaximum) {
  std::vector<float> x(256, 0.0f);
  x[3] = -2.0f;  // the element of largest magnitude is negative, so it maps to -127
  x[10] = 1.0f;
  x[44] = 0.5f;
  const auto bytes = quantized(TensorType::Q8_K, x);
  kernels::BlockQ8_K block;
  std::memcpy(&block, bytes.data(), sizeof(block));
  // iscale = -127 / -2 = 63.5, so d = 1 / 63.5 and q = nearest(63.5 * x).
  EXPECT_FLOAT_EQ(block.d, 1.0f / 63.5f);
  EXPECT_EQ(block.qs[3], -127);
  EXPECT_EQ(block.qs[10], 64);  // 63.5 rounds to the even 64
  EXPECT_EQ(block.qs[44], 32);  // 31.75
  EXPECT_EQ(block.bsums[0], -127 + 64);
  EXPECT_EQ(block.bsums[2], 32);
  EXPECT_EQ(block.bsums[1], 0);
}

TEST(Quantize, Q8_KClampsOppositeEnd) {
  std::vector<float> x(256, 0.0f);
  x[0] = 1.0f;   // the signed maximum maps to -127 ...
  x[1] = -1.0f;  // ... and its negation to +127, never +128
  const auto bytes = quantized(TensorType::Q8_K, x);
  kernels::BlockQ8_K block;
  std::memcpy(&block, bytes.data(), sizeof(block));
  EXPECT_EQ(block.qs[0], -127);
  EXPECT_EQ(block.qs[1], 127);
  EXPECT_FLOAT_EQ(block.d, -1.0f / 127.0f);
}

TEST(Quantize, Q8_0AndQ4_0Rules) {
  // A maximum of 127 makes d exactly 1, so the ties below are exact. Q8_0 rounds halves
  // away from zero, where round-to-even would give -62 and 0.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = -62.5f;
  x[2] = 0.5f;
  const auto q8 = quantized(TensorType::Q8_0, x);
  kernels::BlockQ8_0 block8;
  std::memcpy(&block8, q8.data(), sizeof(block8));
  EXPECT_EQ(block8.d, 0x3C00);
  EXPECT_EQ(block8.qs[0], 127);
  EXPECT_EQ(block8.qs[1], -63);
  EXPECT_EQ(block8.qs[2], 1);

  std::vector<float> y(32, 0.0f);
  y[0] = -4.0f;  // signed maximum: d = -4 / -8 = 0.5, level 0 (value -8 * 0.5)
  y[1] = 4.0f;   // +8 steps does not fit and clamps to level 15 (value 3.5)
  y[2] = 1.25f;  // 2.5 steps: 2.5 + 8.5 truncates to level 11 (halves round up)
  const auto q4 = quantized(TensorType::Q4_0, y);
  kernels::BlockQ4_0 block4;
  std::memcpy(&block4, q4.data(), sizeof(block4));
  EXPECT_EQ(block4.d, 0x3800);  // d = max / -8 = -4 / -8 = 0.5
  EXPECT_EQ(block4.qs[0] & 0x0F, 0);
  EXPECT_EQ(block4.qs[1] & 0x0F, 15);
  EXPECT_EQ(block4.qs[2] & 0x0F, 11);
  const auto values = dequantized(TensorType::Q4_0, q4.data(), 32);
  EXPECT_EQ(values[0], -4.0f);
  EXPECT_EQ(values[1], 3.5f);
  EXPECT_EQ(values[2], 1.5f);  // 0.5 * (11 - 8)
}

TEST(Quantize, AsymmetricFormatsRoundToNearestLevel) {
  // Q4_1/Q5_1 store d = (max - min) / levels and m = min in fp16 and round (x - min) / d to
  // the nearest level. The error is at most half a step plus the fp16 rounding of d (2^-11
  // relative, times up to nmax levels) and of m.
  const auto x = random_floats(32 * 40, 77);
  for (const auto& [type, nmax] : {std::pair{TensorType::Q4_1, 15}, std::pair{TensorType::Q5_1, 31}}) {
    const auto bytes = quantized(type, x);
    const auto values = dequantized(type, bytes.data(), static_cast<int64_t>(x.size()));
    for (size_t b = 0; b < x.size() / 32; ++b) {
      float min = x[32 * b], max = x[32 * b];
      for (size_t j = 0; j < 32; ++j) {
        min = std::min(min, x[32 * b + j]);
        max = std::max(max, x[32 * b + j]);
      }
      const double step = (max - min) / nmax;
      const double bound = 0.5 * step + 0x1p-11 * (nmax * step + std::fabs(min)) + 1e-6;
      for (size_t j = 0; j < 32; ++j) {
        EXPECT_NEAR(values[32 * b + j], x[32 * b + j], bound)
            << tensor_type_name(type) << " block " << b << " element " << j;
      }
    }
    // Re-quantizing the dequantized values gives the same blocks back.
    EXPECT_EQ(quantized(type, values), bytes) << tensor_type_name(type);
  }
}

TEST(Quantize, Q8_0ActivationsRoundToEven) {
  // As for weights, a maximum of 127 makes d exactly 1, but activations round halves to even.
  std::vector<float> x(64, 0.0f);
  x[0] = 127.0f;
  x[1] = -62.5f;
  x[2] = 0.5f;
  x[3] = 1.5f;
  x[32] = -254.0f;  // second block: d = 2
  x[33] = 3.0f;     // 1.5 steps rounds to 2
  std::vector<std::byte> q8(2 * sizeof(kernels::BlockQ8_0));
  kernels::quantize_activation_row(TensorType::Q8_0, x.data(), q8.data(), 64);
  kernels::BlockQ8_0 blocks[2];
  std::memcpy(blocks, q8.data(), sizeof(blocks));
  EXPECT_EQ(blocks[0].d, 0x3C00);
  EXPECT_EQ(blocks[0].qs[1], -62);
  EXPECT_EQ(blocks[0].qs[2], 0);
  EXPECT_EQ(blocks[0].qs[3], 2);
  EXPECT_EQ(blocks[1].d, 0x4000);
  EXPECT_EQ(blocks[1].qs[0], -127);
  EXPECT_EQ(blocks[1].qs[1], 2);

  std::vector<std::byte> q81(2 * sizeof(kernels::BlockQ8_1));
  kernels::quantize_activation_row(TensorType::Q8_1, x.data(), q81.data(), 64);
  kernels::BlockQ8_1 sums[2];
  std::memcpy(sums, q81.data(), sizeof(sums));
  EXPECT_EQ(sums[0].s, fp32_to_fp16(127.0f - 62.0f + 0.0f + 2.0f));  // d = 1
  EXPECT_EQ(sums[1].s, fp32_to_fp16(2.0f * (-127 + 2)));             // d = 2
}

// ---------------------------------------------------------------------------------------
// SIMD dot products against the scalar reference

DotFn dot_at(KernelLevel level, TensorType type) {
  switch (level) {
    case KernelLevel::Scalar: return kernels::find_dot(kernels::scalar_dot_table(), type);
    case KernelLevel::Avx2: return kernels::find_dot(kernels::avx2_dot_table(), type);
    case KernelLevel::Avx512: return kernels::find_dot(kernels::avx512_dot_table(false), type);
  }
  return nullptr;
}

// Sum over elements of |w * a| after both rows are dequantized, plus the |m * s| offset
// terms of the _1 formats: the scale of every rounding error in a dot product.
double magnitude_sum(TensorType type, const std::vector<std::byte>& w,
                     const std::vector<std::byte>& a, int64_t n) {
  const auto wf = dequantized(type, w.data(), n);
  const auto af = dequantized(kernels::dot_type_for(type), a.data(), n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::fabs(static_cast<double>(wf[i]) * af[i]);
  return sum;
}

TEST(DotKernels, SimdMatchesScalar) {
  const int64_t block_counts[] = {1, 2, 3, 7, 13, 33};
  uint32_t seed = 1;
  for (TensorType type : kComputeTypes) {
    const TensorType act_type = kernels::dot_type_for(type);
    const int64_t block = is_k_quant(type) ? 256 : 32;
    for (int64_t blocks : block_counts) {
      // The float formats also get lengths that are not a multiple of the vector width.
      for (int64_t extra : {int64_t{0}, int64_t{5}}) {
        if (extra != 0 && tensor_type_traits(type).block_elements != 1) continue;
        const int64_t n = blocks * block + extra;
        const auto w = quantized(type, random_floats(n, seed++));
        const auto a = quantized(act_type, random_floats(n, seed++, 3.0f));
        const float reference = dot_at(KernelLevel::Scalar, type)(w.data(), a.data(), n);
        // Every path forms the same exact integer (or exact float product) terms and differs
        // only in the order and fusing of float additions. Each addition errs by at most
        // 2^-24 relative, and no term passes through more than n + 16 additions in any path,
        // so |difference| <= 2 * (n + 16) * 2^-24 * sum |w a| (two paths, each that far from
        // the exact sum). The offset terms of Q4_1/Q5_1 are included in sum |w a| because
        // m * s is the sum of m * a over the block.
        const double bound = 2.0 * static_cast<double>(n + 16) * 0x1p-24 *
                             (magnitude_sum(type, w, a, n) + 1e-30);
        for (KernelLevel level : supported_levels()) {
          if (level == KernelLevel::Scalar) continue;
          std::vector<DotFn> variants = {dot_at(level, type)};
          if (level == KernelLevel::Avx512 && __builtin_cpu_supports("avx512bf16")) {
            variants.push_back(kernels::find_dot(kernels::avx512_dot_table(true), type));
          }
          for (DotFn dot : variants) {
            const float value = dot(w.data(), a.data(), n);
            if (is_k_quant(type)) {
              // K-quant kernels reduce each block to the same integers and scale them with
              // the same float operations as the scalar code.
              EXPECT_EQ(value, reference) << tensor_type_name(type) << " n=" << n << " level "
                                          << kernel_level_name(level);
            } else {
              EXPECT_NEAR(value, reference, bound)
                  << tensor_type_name(type) << " n=" << n << " level "
                  << kernel_level_name(level);
            }
          }
        }
      }
    }
  }
}

TEST(DotKernels, MultiTokenMatchesSingle) {
  uint32_t seed = 900;
  int kernels_checked = 0;
  for (TensorType type : kComputeTypes) {
    const TensorType act_type = kernels::dot_type_for(type);
    const int64_t n = is_k_quant(type) ? 3 * 256 : 7 * 32;
    const auto w = quantized(type, random_floats(n, seed++));
    const size_t stride = *tensor_row_bytes(act_type, n);
    std::vector<std::byte> a(stride * kernels::kMaxDotTokens);
    for (int t = 0; t < kernels::kMaxDotTokens; ++t) {
      const auto row = quantized(act_type, random_floats(n, seed++));
      std::memcpy(a.data() + t * stride, row.data(), stride);
    }
    for (KernelLevel level : supported_levels()) {
      const kernels::DotTable& table = level == KernelLevel::Scalar ? kernels::scalar_dot_table()
                                       : level == KernelLevel::Avx2 ? kernels::avx2_dot_table()
                                                                    : kernels::avx512_dot_table(false);
      const kernels::DotTokensFn tokens_fn = kernels::find_dot_tokens(table, type);
      if (tokens_fn == nullptr) continue;
      ++kernels_checked;
      const DotFn single = kernels::find_dot(table, type);
      for (int count = 1; count <= kernels::kMaxDotTokens; ++count) {
        float out[kernels::kMaxDotTokens];
        tokens_fn(w.data(), a.data(), stride, count, n, out);
        for (int t = 0; t < count; ++t) {
          const float expected = single(w.data(), a.data() + t * stride, n);
          EXPECT_EQ(std::bit_cast<uint32_t>(out[t]), std::bit_cast<uint32_t>(expected))
              << tensor_type_name(type) << " level " << kernel_level_name(level) << " tokens "
              << count << " row " << t;
        }
      }
    }
  }
  if (detected_kernel_level() >= KernelLevel::Avx2) {
    EXPECT_GE(kernels_checked, 6);
  }
}

TEST(DotKernels, ExtremeLevelsDoNotSaturate) {
  // Weights at the ends of their ranges times activations of +-127: the largest products
  // the 8-bit paths see. The scalar reference computes them in plain int.
  for (TensorType type : kComputeTypes) {
    if (tensor_type_traits(type).block_elements == 1) continue;
    const int64_t n = is_k_quant(type) ? 512 : 64;
    std::vector<float> wf(n), af(n);
    for (int64_t i = 0; i < n; ++i) {
      wf[i] = (i % 3 == 0) ? -1.0f : 1.0f;
      af[i] = (i % 2 == 0) ? -1.0f : 1.0f;
    }
    const auto w = quantized(type, wf);
    const auto a = quantized(kernels::dot_type_for(type), af);
    const float reference = dot_at(KernelLevel::Scalar, type)(w.data(), a.data(), n);
    const double bound = 2.0 * (n + 16) * 0x1p-24 * magnitude_sum(type, w, a, n);
    for (KernelLevel level : supported_levels()) {
      EXPECT_NEAR(dot_at(level, type)(w.data(), a.data(), n), reference, bound)
          << tensor_type_name(type) << " " << kernel_level_name(level);
    }
  }
}

// ---------------------------------------------------------------------------------------
// matmul

// Largest |x - dequantize(quantize(x))| that the activation format allows for an element of
// a block whose largest magnitude is `block_max`, derived from the format:
// Q8_0/Q8_1: half a step of d = max/127, plus d's fp16 rounding (2^-11 relative) times up to
// 127 steps; Q8_K: half a step of a float d; F16/BF16: half an ulp of the element.
double activation_error_bound(TensorType act_type, float x, float block_max) {
  const double slack = 1e-6 * block_max;  // float rounding of x * (1 / d)
  switch (act_type) {
    case TensorType::Q8_0:
    case TensorType::Q8_1:
      return block_max / 254.0 + block_max * 0x1p-11 + slack;
    case TensorType::Q8_K:
      return block_max / 254.0 + slack;
    case TensorType::F16:
      return std::fabs(x) * 0x1p-11 + 0x1p-25;
    case TensorType::BF16:
      return std::fabs(x) * 0x1p-8;
    default:
      return 0.0;
  }
}

struct MatmulCase {
  WeightMatrix matrix;
  std::vector<std::byte> storage;
  std::vector<float> weights;  // dequantized
};

MatmulCase make_matrix(TensorType type, int64_t rows, int64_t cols, uint32_t seed) {
  MatmulCase c;
  c.matrix.type = type;
  c.matrix.rows = rows;
  c.matrix.cols = cols;
  c.matrix.row_bytes = *tensor_row_bytes(type, cols);
  c.storage = quantized(type, random_floats(rows * cols, seed));
  c.matrix.data = c.storage.data();
  c.weights = dequantized(type, c.storage.data(), rows * cols);
  return c;
}

TEST(Matmul, MatchesDoubleReferenceAtEveryLevel) {
  KernelLevelGuard guard;
  ThreadPool pool(2);
  uint32_t seed = 100;
  for (TensorType type : kComputeTypes) {
    const TensorType act_type = kernels::dot_type_for(type);
    const int64_t act_block = tensor_type_traits(act_type).block_elements;
    const int64_t cols = is_k_quant(type) ? 512 : 96;
    const int64_t rows = 37;
    const MatmulCase c = make_matrix(type, rows, cols, seed++);
    for (int64_t tokens : {int64_t{1}, int64_t{3}, int64_t{17}}) {
      const auto x = random_floats(tokens * cols, seed++, 2.0f);
      for (KernelLevel level : supported_levels()) {
        set_kernel_level(level);
        ASSERT_EQ(active_kernel_level(), level);
        std::vector<float> y(tokens * rows, std::nanf(""));
        matmul(c.matrix, x.data(), tokens, y.data(), &pool);
        for (int64_t t = 0; t < tokens; ++t) {
          const float* xt = x.data() + t * cols;
          for (int64_t r = 0; r < rows; ++r) {
            const float* wr = c.weights.data() + r * cols;
            double exact = 0.0, bound = 0.0, magnitude = 0.0;
            for (int64_t b = 0; b < cols; b += act_block) {
              float block_max = 0.0f;
              for (int64_t i = b; i < b + act_block; ++i) block_max = std::max(block_max, std::fabs(xt[i]));
              for (int64_t i = b; i < b + act_block; ++i) {
                exact += static_cast<double>(wr[i]) * xt[i];
                magnitude += std::fabs(static_cast<double>(wr[i]) * xt[i]);
                bound += std::fabs(wr[i]) * activation_error_bound(act_type, xt[i], block_max);
              }
            }
            // Float accumulation: 2^-24 relative per addition over at most cols + 16 steps.
            bound += (cols + 16) * 0x1p-24 * (magnitude + bound);
            if (act_type == TensorType::Q8_1) {
              // m * s uses s = fp16(d * sum q): 2^-11 relative on at most 32 * 128 d per block.
              bound += 2.0 * cols * 128.0 * 0x1p-11 * 8.0 / 254.0;
            }
            EXPECT_NEAR(y[t * rows + r], exact, bound)
                << tensor_type_name(type) << " tokens=" << tokens << " row " << r << " level "
                << kernel_level_name(level);
          }
        }
      }
    }
  }
}

TEST(Matmul, ThreadCountDoesNotChangeResults) {
  ThreadPool one(1), two(2);
  uint32_t seed = 500;
  for (TensorType type : kComputeTypes) {
    const int64_t cols = is_k_quant(type) ? 256 : 64;
    const int64_t rows = 70;
    const MatmulCase c = make_matrix(type, rows, cols, seed++);
    for (int64_t tokens : {int64_t{1}, int64_t{3}, int64_t{17}}) {
      const auto x = random_floats(tokens * cols, seed++);
      std::vector<float> y_null(tokens * rows), y_one(tokens * rows), y_two(tokens * rows);
      matmul(c.matrix, x.data(), tokens, y_null.data(), nullptr);
      matmul(c.matrix, x.data(), tokens, y_one.data(), &one);
      matmul(c.matrix, x.data(), tokens, y_two.data(), &two);
      for (size_t i = 0; i < y_one.size(); ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(y_one[i]), std::bit_cast<uint32_t>(y_two[i]))
            << tensor_type_name(type) << " tokens=" << tokens << " index " << i;
        ASSERT_EQ(std::bit_cast<uint32_t>(y_one[i]), std::bit_cast<uint32_t>(y_null[i]));
      }
    }
  }
}

TEST(Matmul, WeightRowMatchesDequantize) {
  const MatmulCase c = make_matrix(TensorType::Q4_K, 5, 512, 9);
  std::vector<float> row(512);
  weight_row(c.matrix, 3, row.data());
  for (int64_t i = 0; i < 512; ++i) EXPECT_EQ(row[i], c.weights[3 * 512 + i]);
  EXPECT_THROW(weight_row(c.matrix, 5, row.data()), std::out_of_range);
  EXPECT_THROW(weight_row(c.matrix, -1, row.data()), std::out_of_range);
}

TEST(Matmul, RejectsInvalidMatrices) {
  MatmulCase c = make_matrix(TensorType::Q8_0, 4, 64, 3);
  std::vector<float> x(64), y(4);
  WeightMatrix bad = c.matrix;
  bad.row_bytes = 10;
  EXPECT_THROW(matmul(bad, x.data(), 1, y.data(), nullptr), std::invalid_argument);
  bad = c.matrix;
  bad.cols = 40;
  EXPECT_THROW(matmul(bad, x.data(), 1, y.data(), nullptr), std::invalid_argument);
  bad = c.matrix;
  bad.type = TensorType::Q2_K;
  bad.cols = 256;
  bad.row_bytes = 84;
  EXPECT_THROW(matmul(bad, x.data(), 1, y.data(), nullptr), std::invalid_argument);
  EXPECT_THROW(matmul(c.matrix, x.data(), -1, y.data(), nullptr), std::invalid_argument);
}

TEST(KernelLevels, SetLevelIsClamped) {
  KernelLevelGuard guard;
  set_kernel_level(KernelLevel::Scalar);
  EXPECT_EQ(active_kernel_level(), KernelLevel::Scalar);
  set_kernel_level(KernelLevel::Avx512);
  EXPECT_EQ(active_kernel_level(), detected_kernel_level());
  EXPECT_STREQ(kernel_level_name(KernelLevel::Avx2), "avx2");
}

// The SIMD conversions must give the very bytes of the scalar ones, since llama.cpp's
// rounding is the reference: ties, zeros and subnormal-sized values included.
TEST(ActivationQuantize, SimdQ8_0MatchesScalarBytes) {
  if (detected_kernel_level() < KernelLevel::Avx2) GTEST_SKIP() << "no AVX2 on this processor";
  KernelLevelGuard guard;
  std::vector<float> x = random_floats(32 * 40, 21, 3.0f);
  for (int j = 0; j < 32; ++j) x[32 + j] = 0.0f;                    // an all-zero block
  for (int j = 0; j < 32; ++j) x[64 + j] = (j - 16) * 127.0f / 16;  // exact halves after scaling
  for (int j = 0; j < 32; ++j) x[96 + j] = 1e-30f * (j + 1);        // tiny magnitudes
  std::vector<std::byte> scalar(*tensor_row_bytes(TensorType::Q8_0, x.size()));
  std::vector<std::byte> simd(scalar.size());
  set_kernel_level(KernelLevel::Scalar);
  kernels::quantize_activation_row(TensorType::Q8_0, x.data(), scalar.data(), x.size());
  set_kernel_level(KernelLevel::Avx2);
  kernels::quantize_activation_row(TensorType::Q8_0, x.data(), simd.data(), x.size());
  EXPECT_EQ(scalar, simd);
}

TEST(HalfVectors, SimdConversionsMatchScalar) {
  if (detected_kernel_level() < KernelLevel::Avx2) GTEST_SKIP() << "no AVX2 on this processor";
  std::vector<float> x = random_floats(37, 5, 20.0f);
  x[3] = 65504.0f;   // largest fp16
  x[4] = 1e-7f;      // fp16 subnormal
  x[5] = -10.0f;     // GELU cut-off
  x[6] = 10.0f;
  std::vector<uint16_t> halves(x.size());
  kernels::floats_to_halves_avx2(x.data(), halves.data(), static_cast<int64_t>(x.size()));
  std::vector<float> rounded = x;
  kernels::round_through_half_avx2(rounded.data(), static_cast<int64_t>(x.size()));
  std::vector<float> up = random_floats(x.size(), 6), gelu_simd(x.size()), gelu_scalar(x.size());
  {
    KernelLevelGuard guard;
    set_kernel_level(KernelLevel::Scalar);
    gelu_gated(x.data(), up.data(), gelu_scalar.data(), static_cast<int64_t>(x.size()));
    set_kernel_level(KernelLevel::Avx2);
    gelu_gated(x.data(), up.data(), gelu_simd.data(), static_cast<int64_t>(x.size()));
  }
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(halves[i], fp32_to_fp16(x[i])) << "element " << i;
    EXPECT_EQ(rounded[i], fp16_to_fp32(fp32_to_fp16(x[i]))) << "element " << i;
    EXPECT_EQ(gelu_simd[i], gelu_scalar[i]) << "element " << i;
  }
}

}  // namespace
}  // namespace utter::inference
