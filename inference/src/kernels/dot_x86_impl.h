// x86 dot-product kernels shared by dot_avx2.cpp and dot_avx512.cpp. Each of those files
// includes this header with its own instruction-set flags; everything here has internal
// linkage so the two compiled copies never merge. Define UTTER_DOT_VNNI to 1 to use the
// AVX512_VNNI instructions (vpdpbusd, vpdpwssd), or to 0 for vpmaddubsw + vpmaddwd.
//
// The integer block sums are the same exact integers as in dot_scalar.cpp. K-quant blocks
// are reduced to one integer per block and scaled exactly like the scalar code, so those
// results are bit-identical to it. The 32-element formats keep eight float partial sums per
// row, so their float summation order differs from the scalar code.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/dot.h"
#include "kernels/half.h"

#ifndef UTTER_DOT_VNNI
#error "define UTTER_DOT_VNNI before including dot_x86_impl.h"
#endif

namespace utter::inference::kernels {
namespace {

// fp16 to float with the F16C instruction; exact, so identical to half_to_float.
inline float half_to_float_f16c(uint16_t half) { return _cvtsh_ss(half); }

inline float horizontal_sum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

inline int horizontal_sum(__m256i v) {
  __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  sum = _mm_add_epi32(sum, _mm_unpackhi_epi64(sum, sum));
  sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0xB1));
  return _mm_cvtsi128_si32(sum);
}

// Eight int32 sums of four u8 x s8 products each. The callers keep the unsigned operand at
// most 128 and the signed one within [-127, 127], so vpmaddubsw never saturates and both
// paths give the same exact integers.
inline __m256i mul_sum_u8s8(__m256i u, __m256i s) {
#if UTTER_DOT_VNNI
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

// A vector of int16 factors for accumulate_scaled: `low` for the products of the first 16
// bytes, `high` for those of the last 16.
inline __m256i make_scales(int low, int high) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(high)),
                          _mm_set1_epi16(static_cast<int16_t>(low)));
}

// Returns acc plus, per int32 lane, the four u8 x s8 products of its bytes times the lane's
// factor from make_scales. vpmaddubsw forms the pair sums, which stay within int16 for the
// K-quant levels (at most 2 * 63 * 127). vpdpwssd (VNNI) or vpmaddwd + vpaddd then scales
// and adds them.
inline __m256i accumulate_scaled(__m256i acc, __m256i u, __m256i s, __m256i scales) {
  const __m256i pair_sums = _mm256_maddubs_epi16(u, s);
#if UTTER_DOT_VNNI
  return _mm256_dpwssd_epi32(acc, pair_sums, scales);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pair_sums, scales));
#endif
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 16 bytes of packed nibbles to 32 bytes: low nibbles first, then high nibbles.
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i low = _mm_and_si128(packed, mask);
  const __m128i high = _mm_and_si128(_mm_srli_epi16(packed, 4), mask);
  return _mm256_set_m128i(high, low);
}

// Byte j of the result is 0x10 where bit j of the 32-bit word at `bits` is set, else 0.
inline __m256i expand_bits_to_0x10(const uint8_t* bits) {
  uint32_t word;
  std::memcpy(&word, bits, 4);
  const __m256i replicated = _mm256_set1_epi32(static_cast<int>(word));
  const __m256i byte_select = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                                0x0101010101010101, 0x0000000000000000);
  const __m256i spread = _mm256_shuffle_epi8(replicated, byte_select);
  const __m256i bit_masks = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit_masks), bit_masks);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Signed levels of one block of each 32-element symmetric format.
struct LevelsQ8_0 {
  using Block = BlockQ8_0;
  static __m256i levels(const Block& block) { return load256(block.qs); }
};

struct LevelsQ4_0 {
  using Block = BlockQ4_0;
  static __m256i levels(const Block& block) {
    return _mm256_sub_epi8(unpack_nibbles(block.qs), _mm256_set1_epi8(8));
  }
};

struct LevelsQ5_0 {
  using Block = BlockQ5_0;
  static __m256i levels(const Block& block) {
    const __m256i unsigned_levels =
        _mm256_or_si256(unpack_nibbles(block.qs), expand_bits_to_0x10(block.qh));
    return _mm256_sub_epi8(unsigned_levels, _mm256_set1_epi8(16));
  }
};

// Computes the dot products of one weight row with T Q8_0 activation rows `stride` bytes
// apart. Each block is decoded once for all T rows, and each row gets the same operations as
// with T = 1.
template <typename Format, int T>
void dot_symmetric32(const void* weights, const std::byte* activations, size_t stride, int64_t n,
                     float* out) {
  const auto* w = static_cast<const typename Format::Block*>(weights);
  const BlockQ8_0* a[T];
  __m256 acc[T];
  for (int t = 0; t < T; ++t) {
    a[t] = reinterpret_cast<const BlockQ8_0*>(activations + t * stride);
    acc[t] = _mm256_setzero_ps();
  }
  for (int64_t i = 0; i < n / 32; ++i) {
    // Signed products as |q| times the activations with q's sign moved onto them.
    const __m256i q = Format::levels(w[i]);
    const __m256i q_abs = _mm256_sign_epi8(q, q);
    const float dw = half_to_float_f16c(w[i].d);
    for (int t = 0; t < T; ++t) {
      const __m256i sums = mul_sum_u8s8(q_abs, _mm256_sign_epi8(load256(a[t][i].qs), q));
      const __m256 scale = _mm256_set1_ps(dw * half_to_float_f16c(a[t][i].d));
      acc[t] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sums), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = horizontal_sum(acc[t]);
}

float dot_q4_1(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const BlockQ4_1*>(weights);
  const auto* a = static_cast<const BlockQ8_1*>(activations);
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.0f;
  for (int64_t i = 0; i < n / 32; ++i) {
    const __m256i sums = mul_sum_u8s8(unpack_nibbles(w[i].qs), load256(a[i].qs));
    const __m256 scale = _mm256_set1_ps(half_to_float_f16c(w[i].d) * half_to_float_f16c(a[i].d));
    acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sums), acc);
    offsets += half_to_float_f16c(w[i].m) * half_to_float_f16c(a[i].s);
  }
  return horizontal_sum(acc) + offsets;
}

float dot_q5_1(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const BlockQ5_1*>(weights);
  const auto* a = static_cast<const BlockQ8_1*>(activations);
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.0f;
  for (int64_t i = 0; i < n / 32; ++i) {
    const __m256i levels = _mm256_or_si256(unpack_nibbles(w[i].qs), expand_bits_to_0x10(w[i].qh));
    const __m256i sums = mul_sum_u8s8(levels, load256(a[i].qs));
    const __m256 scale = _mm256_set1_ps(half_to_float_f16c(w[i].d) * half_to_float_f16c(a[i].d));
    acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sums), acc);
    offsets += half_to_float_f16c(w[i].m) * half_to_float_f16c(a[i].s);
  }
  return horizontal_sum(acc) + offsets;
}

// Unpacks the eight 6-bit scales and mins of a Q4_K/Q5_K block four at a time, reading the
// 12 bytes as words w0, w1, w2. Scales 0-3 and mins 0-3 are the low six bits of the bytes
// of w0 and w1. Scales 4-7 are the low nibbles of w2 plus the top two bits of w0's bytes,
// and mins 4-7 are the high nibbles of w2 plus the top two bits of w1's bytes.
inline void unpack_k4_scales(const uint8_t* packed_scales, uint8_t* scales, uint8_t* mins) {
  uint32_t words[3];
  std::memcpy(words, packed_scales, 12);
  const uint32_t low_six = 0x3F3F3F3F, low_four = 0x0F0F0F0F, low_two = 0x03030303;
  const uint32_t scale_words[2] = {words[0] & low_six,
                                   (words[2] & low_four) | (((words[0] >> 6) & low_two) << 4)};
  const uint32_t min_words[2] = {words[1] & low_six,
                                 ((words[2] >> 4) & low_four) | (((words[1] >> 6) & low_two) << 4)};
  std::memcpy(scales, scale_words, 8);
  std::memcpy(mins, min_words, 8);
}

// The min term of a Q4_K/Q5_K block: the sum over sub-blocks j of mins[j] times the sum of
// the activations of sub-block j, which is bsums[2 j] + bsums[2 j + 1].
inline int k4_min_sum(const uint8_t* mins, const BlockQ8_K& a) {
  uint64_t packed;
  std::memcpy(&packed, mins, 8);
  const __m128i doubled = _mm_unpacklo_epi8(_mm_cvtsi64_si128(static_cast<int64_t>(packed)),
                                            _mm_cvtsi64_si128(static_cast<int64_t>(packed)));
  const __m256i factors = _mm256_cvtepu8_epi16(doubled);  // m0, m0, m1, m1, ..., m7, m7
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums));
  return horizontal_sum(_mm256_madd_epi16(bsums, factors));
}

// The offset term of a Q6_K block: the sum over its 16 groups of scale times activation sum.
inline int q6_offset_sum(const int8_t* scales, const BlockQ8_K& a) {
  const __m256i factors =
      _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)));
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums));
  return horizontal_sum(_mm256_madd_epi16(bsums, factors));
}

// Unsigned 4-bit (Q4_K) or 5-bit (Q5_K) levels of the two sub-blocks of chunk `chunk`.
struct LevelsQ4_K {
  using Block = BlockQ4_K;
  static void levels(const Block& block, int chunk, __m256i& low, __m256i& high) {
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    const __m256i q = load256(block.qs + 32 * chunk);
    low = _mm256_and_si256(q, low_mask);
    high = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
  }
};

struct LevelsQ5_K {
  using Block = BlockQ5_K;
  static void levels(const Block& block, int chunk, __m256i& low, __m256i& high) {
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    const __m256i fifth_bit = _mm256_set1_epi8(0x10);
    const __m256i q = load256(block.qs + 32 * chunk);
    const __m256i qh = load256(block.qh);
    const __m256i bit_low = _mm256_set1_epi8(static_cast<char>(1 << (2 * chunk)));
    const __m256i bit_high = _mm256_set1_epi8(static_cast<char>(2 << (2 * chunk)));
    const __m256i fifth_low =
        _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_low), bit_low), fifth_bit);
    const __m256i fifth_high =
        _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_high), bit_high), fifth_bit);
    low = _mm256_or_si256(_mm256_and_si256(q, low_mask), fifth_low);
    high = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask), fifth_high);
  }
};

// Q4_K/Q5_K rows times T Q8_K activation rows `stride` bytes apart, decoding each block once.
template <typename Format, int T>
void dot_k4(const void* weights, const std::byte* activations, size_t stride, int64_t n,
            float* out) {
  const auto* w = static_cast<const typename Format::Block*>(weights);
  const BlockQ8_K* a[T];
  float sums[T];
  for (int t = 0; t < T; ++t) {
    a[t] = reinterpret_cast<const BlockQ8_K*>(activations + t * stride);
    sums[t] = 0.0f;
  }
  for (int64_t i = 0; i < n / 256; ++i) {
    uint8_t scales[8], mins[8];
    unpack_k4_scales(w[i].scales, scales, mins);
    __m256i acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
    for (int chunk = 0; chunk < 4; ++chunk) {
      __m256i low, high;
      Format::levels(w[i], chunk, low, high);
      const __m256i scale_low = make_scales(scales[2 * chunk], scales[2 * chunk]);
      const __m256i scale_high = make_scales(scales[2 * chunk + 1], scales[2 * chunk + 1]);
      for (int t = 0; t < T; ++t) {
        const int8_t* act = a[t][i].qs + 64 * chunk;
        acc[t] = accumulate_scaled(acc[t], low, load256(act), scale_low);
        acc[t] = accumulate_scaled(acc[t], high, load256(act + 32), scale_high);
      }
    }
    const float dw = half_to_float_f16c(w[i].d);
    const float dmin_w = half_to_float_f16c(w[i].dmin);
    for (int t = 0; t < T; ++t) {
      sums[t] = add_k_block(sums[t], dw * a[t][i].d, horizontal_sum(acc[t]), dmin_w * a[t][i].d,
                            k4_min_sum(mins, a[t][i]));
    }
  }
  for (int t = 0; t < T; ++t) out[t] = sums[t];
}

// Q6_K rows times T Q8_K activation rows. Levels are used unsigned (0..63), and the -32
// offset is applied once per group through the activation sums.
template <int T>
void dot_q6_k_rows(const void* weights, const std::byte* activations, size_t stride, int64_t n,
                   float* out) {
  const auto* w = static_cast<const BlockQ6_K*>(weights);
  const BlockQ8_K* a[T];
  float sums[T];
  for (int t = 0; t < T; ++t) {
    a[t] = reinterpret_cast<const BlockQ8_K*>(activations + t * stride);
    sums[t] = 0.0f;
  }
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  for (int64_t i = 0; i < n / 256; ++i) {
    __m256i acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const __m256i ql0 = load256(w[i].ql + 64 * half);
      const __m256i ql1 = load256(w[i].ql + 64 * half + 32);
      const __m256i qh = load256(w[i].qh + 32 * half);
      const __m256i levels[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, low_mask),
                          _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4)),
          _mm256_or_si256(_mm256_and_si256(ql1, low_mask),
                          _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0C)), 2)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_mask),
                          _mm256_and_si256(qh, _mm256_set1_epi8(0x30))),
          _mm256_or_si256(
              _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_mask),
              _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(static_cast<char>(0xC0))),
                                2)),
      };
      const int8_t* scales = w[i].scales + 8 * half;
      for (int k = 0; k < 4; ++k) {
        const __m256i factors = make_scales(scales[2 * k], scales[2 * k + 1]);
        for (int t = 0; t < T; ++t) {
          const __m256i act = load256(a[t][i].qs + 128 * half + 32 * k);
          acc[t] = accumulate_scaled(acc[t], levels[k], act, factors);
        }
      }
    }
    const float dw = half_to_float_f16c(w[i].d);
    for (int t = 0; t < T; ++t) {
      const int total = horizontal_sum(acc[t]) - 32 * q6_offset_sum(w[i].scales, a[t][i]);
      sums[t] = add_scaled_block(sums[t], dw * a[t][i].d, total);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = sums[t];
}

// Adapters from the row kernels above to the DotFn and DotTokensFn signatures.
template <void (*Rows)(const void*, const std::byte*, size_t, int64_t, float*)>
float dot_one(const void* weights, const void* activations, int64_t n) {
  float out;
  Rows(weights, static_cast<const std::byte*>(activations), 0, n, &out);
  return out;
}

template <void (*One)(const void*, const std::byte*, size_t, int64_t, float*),
          void (*Two)(const void*, const std::byte*, size_t, int64_t, float*),
          void (*Three)(const void*, const std::byte*, size_t, int64_t, float*),
          void (*Four)(const void*, const std::byte*, size_t, int64_t, float*)>
void dot_tokens(const void* weights, const std::byte* activations, size_t stride, int tokens,
                int64_t n, float* out) {
  switch (tokens) {
    case 1: return One(weights, activations, stride, n, out);
    case 2: return Two(weights, activations, stride, n, out);
    case 3: return Three(weights, activations, stride, n, out);
    default: return Four(weights, activations, stride, n, out);
  }
}

template <typename Format>
constexpr DotFn dot_symmetric32_one = dot_one<dot_symmetric32<Format, 1>>;
template <typename Format>
constexpr DotTokensFn dot_symmetric32_tokens =
    dot_tokens<dot_symmetric32<Format, 1>, dot_symmetric32<Format, 2>, dot_symmetric32<Format, 3>,
               dot_symmetric32<Format, 4>>;
template <typename Format>
constexpr DotFn dot_k4_one = dot_one<dot_k4<Format, 1>>;
template <typename Format>
constexpr DotTokensFn dot_k4_tokens =
    dot_tokens<dot_k4<Format, 1>, dot_k4<Format, 2>, dot_k4<Format, 3>, dot_k4<Format, 4>>;
constexpr DotFn dot_q6_k_one = dot_one<dot_q6_k_rows<1>>;
constexpr DotTokensFn dot_q6_k_tokens =
    dot_tokens<dot_q6_k_rows<1>, dot_q6_k_rows<2>, dot_q6_k_rows<3>, dot_q6_k_rows<4>>;

// Fills the integer-format entries shared by the AVX2 and AVX-512 tables.
inline void fill_integer_kernels(DotTable& table) {
  table.q4_0 = dot_symmetric32_one<LevelsQ4_0>;
  table.q5_0 = dot_symmetric32_one<LevelsQ5_0>;
  table.q8_0 = dot_symmetric32_one<LevelsQ8_0>;
  table.q4_1 = dot_q4_1;
  table.q5_1 = dot_q5_1;
  table.q4_k = dot_k4_one<LevelsQ4_K>;
  table.q5_k = dot_k4_one<LevelsQ5_K>;
  table.q6_k = dot_q6_k_one;
  table.q4_0_tokens = dot_symmetric32_tokens<LevelsQ4_0>;
  table.q5_0_tokens = dot_symmetric32_tokens<LevelsQ5_0>;
  table.q8_0_tokens = dot_symmetric32_tokens<LevelsQ8_0>;
  table.q4_k_tokens = dot_k4_tokens<LevelsQ4_K>;
  table.q5_k_tokens = dot_k4_tokens<LevelsQ5_K>;
  table.q6_k_tokens = dot_q6_k_tokens;
}

[[maybe_unused]] float dot_f32_256(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const float*>(weights);
  const auto* a = static_cast<const float*>(activations);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8 * k), _mm256_loadu_ps(a + i + 8 * k),
                               acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8) {
    acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(a + i), acc[0]);
  }
  float sum = horizontal_sum(
      _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += w[i] * a[i];
  return sum;
}

inline __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline __m256 load_bf16x8(const uint16_t* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

template <__m256 (*Load)(const uint16_t*), float (*ToFloat)(uint16_t)>
float dot_half_256(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const uint16_t*>(weights);
  const auto* a = static_cast<const uint16_t*>(activations);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_fmadd_ps(Load(w + i + 8 * k), Load(a + i + 8 * k), acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(Load(w + i), Load(a + i), acc[0]);
  float sum = horizontal_sum(
      _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += ToFloat(w[i]) * ToFloat(a[i]);
  return sum;
}

constexpr DotFn dot_f16_256 = dot_half_256<load_f16x8, half_to_float>;
constexpr DotFn dot_bf16_256 = dot_half_256<load_bf16x8, bf16_bits_to_float>;

}  // namespace
}  // namespace utter::inference::kernels
