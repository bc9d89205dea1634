// AVX-512 dot products (F, BW, VL, DQ, VNNI; compiled with those flags and chosen at run
// time). The 32-element formats use the shared x86 kernels with vpdpbusd. The K-quant and
// float formats use 512-bit registers, and BF16 uses vdpbf16ps when the processor has
// AVX512_BF16.
#define UTTER_DOT_VNNI 1

// GCC 12 reports -Wuninitialized inside avx512fintrin.h itself, for the undefined vectors
// its intrinsics start from; the warning is about the header, not this file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/dot.h"
#include "kernels/dot_x86_impl.h"

namespace utter::inference::kernels {
namespace {

float dot_f32_512(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const float*>(weights);
  const auto* a = static_cast<const float*>(activations);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16 * k), _mm512_loadu_ps(a + i + 16 * k),
                               acc[k]);
    }
  }
  for (; i + 16 <= n; i += 16) {
    acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(a + i), acc[0]);
  }
  if (i < n) {
    // The tail is loaded under a mask, so nothing past the row is read.
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc[1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w + i), _mm512_maskz_loadu_ps(mask, a + i),
                             acc[1]);
  }
  return _mm512_reduce_add_ps(
      _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

inline __m512 load_f16x16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

inline __m512 load_bf16x16(const uint16_t* p) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

template <__m512 (*Load)(const uint16_t*), float (*ToFloat)(uint16_t)>
float dot_half_512(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const uint16_t*>(weights);
  const auto* a = static_cast<const uint16_t*>(activations);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm512_fmadd_ps(Load(w + i + 16 * k), Load(a + i + 16 * k), acc[k]);
    }
  }
  for (; i + 16 <= n; i += 16) acc[0] = _mm512_fmadd_ps(Load(w + i), Load(a + i), acc[0]);
  float sum = _mm512_reduce_add_ps(
      _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += ToFloat(w[i]) * ToFloat(a[i]);
  return sum;
}

// vdpbf16ps adds pairs of exact bf16 products into float lanes. It treats subnormal inputs
// as zero, which the conversion path does not.
float dot_bf16_dpbf16(const void* weights, const void* activations, int64_t n) {
  const auto* w = static_cast<const uint16_t*>(weights);
  const auto* a = static_cast<const uint16_t*>(activations);
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int k = 0; k < 2; ++k) {
      const __m512i wv = _mm512_loadu_si512(w + i + 32 * k);
      const __m512i av = _mm512_loadu_si512(a + i + 32 * k);
      acc[k] = _mm512_dpbf16_ps(acc[k], reinterpret_cast<const __m512bh&>(wv),
                                reinterpret_cast<const __m512bh&>(av));
    }
  }
  for (; i + 32 <= n; i += 32) {
    const __m512i wv = _mm512_loadu_si512(w + i);
    const __m512i av = _mm512_loadu_si512(a + i);
    acc[0] = _mm512_dpbf16_ps(acc[0], reinterpret_cast<const __m512bh&>(wv),
                              reinterpret_cast<const __m512bh&>(av));
  }
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
  for (; i < n; ++i) sum += bf16_bits_to_float(w[i]) * bf16_bits_to_float(a[i]);
  return sum;
}

// The K-quant kernels below work on 64 levels per instruction: two sub-blocks side by side,
// laid out so that they line up with 64 consecutive activations. They form the same integer
// sums as the 256-bit kernels and finish each block with the same float steps.

inline __m512i join(__m256i low, __m256i high) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
}

inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }

// acc plus the pair sums of u x s scaled by the int16 factors and summed per int32 lane.
inline __m512i accumulate_scaled_512(__m512i acc, __m512i u, __m512i s, __m512i scales) {
  return _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(u, s), scales);
}

// Levels of sub-blocks 2c and 2c+1 of a Q4_K or Q5_K block, in element order.
struct LevelsQ4_K512 {
  using Block = BlockQ4_K;
  static __m512i levels(const Block& block, int chunk) {
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    const __m256i q = load256(block.qs + 32 * chunk);
    return join(_mm256_and_si256(q, low_mask),
                _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask));
  }
};

struct LevelsQ5_K512 {
  using Block = BlockQ5_K;
  static __m512i levels(const Block& block, int chunk) {
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    const __m256i q = load256(block.qs + 32 * chunk);
    const __m512i four_bits =
        join(_mm256_and_si256(q, low_mask), _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask));
    const __m256i qh = load256(block.qh);
    const __m512i bits = join(_mm256_set1_epi8(static_cast<char>(1 << (2 * chunk))),
                              _mm256_set1_epi8(static_cast<char>(2 << (2 * chunk))));
    const __mmask64 fifth = _mm512_test_epi8_mask(join(qh, qh), bits);
    return _mm512_or_si512(four_bits, _mm512_maskz_mov_epi8(fifth, _mm512_set1_epi8(0x10)));
  }
};

template <typename Format, int T>
void dot_k4_512(const void* weights, const std::byte* activations, size_t stride, int64_t n,
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
    __m512i acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_si512();
    for (int chunk = 0; chunk < 4; ++chunk) {
      const __m512i levels = Format::levels(w[i], chunk);
      const __m512i factors = join(_mm256_set1_epi16(scales[2 * chunk]),
                                   _mm256_set1_epi16(scales[2 * chunk + 1]));
      for (int t = 0; t < T; ++t) {
        acc[t] = accumulate_scaled_512(acc[t], levels, load512(a[t][i].qs + 64 * chunk), factors);
      }
    }
    const float dw = half_to_float_f16c(w[i].d);
    const float dmin_w = half_to_float_f16c(w[i].dmin);
    for (int t = 0; t < T; ++t) {
      sums[t] = add_k_block(sums[t], dw * a[t][i].d, _mm512_reduce_add_epi32(acc[t]),
                            dmin_w * a[t][i].d, k4_min_sum(mins, a[t][i]));
    }
  }
  for (int t = 0; t < T; ++t) out[t] = sums[t];
}

template <int T>
void dot_q6_k_512(const void* weights, const std::byte* activations, size_t stride, int64_t n,
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
    __m512i acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_si512();
    for (int half = 0; half < 2; ++half) {
      const __m256i ql0 = load256(w[i].ql + 64 * half);
      const __m256i ql1 = load256(w[i].ql + 64 * half + 32);
      const __m256i qh = load256(w[i].qh + 32 * half);
      // Elements 0..63 and 64..127 of this half, each as one 64-byte vector.
      const __m512i levels[2] = {
          join(_mm256_or_si256(_mm256_and_si256(ql0, low_mask),
                               _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4)),
               _mm256_or_si256(_mm256_and_si256(ql1, low_mask),
                               _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0C)), 2))),
          join(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_mask),
                               _mm256_and_si256(qh, _mm256_set1_epi8(0x30))),
               _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_mask),
                               _mm256_srli_epi16(_mm256_and_si256(
                                                     qh, _mm256_set1_epi8(static_cast<char>(0xC0))),
                                                 2))),
      };
      const int8_t* scales = w[i].scales + 8 * half;
      for (int k = 0; k < 2; ++k) {
        const __m512i factors = join(make_scales(scales[4 * k], scales[4 * k + 1]),
                                     make_scales(scales[4 * k + 2], scales[4 * k + 3]));
        for (int t = 0; t < T; ++t) {
          const __m512i act = load512(a[t][i].qs + 128 * half + 64 * k);
          acc[t] = accumulate_scaled_512(acc[t], levels[k], act, factors);
        }
      }
    }
    const float dw = half_to_float_f16c(w[i].d);
    for (int t = 0; t < T; ++t) {
      const int total =
          _mm512_reduce_add_epi32(acc[t]) - 32 * q6_offset_sum(w[i].scales, a[t][i]);
      sums[t] = add_scaled_block(sums[t], dw * a[t][i].d, total);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = sums[t];
}

constexpr DotFn dot_f16_512 = dot_half_512<load_f16x16, half_to_float>;
constexpr DotFn dot_bf16_512 = dot_half_512<load_bf16x16, bf16_bits_to_float>;

}  // namespace

const DotTable& avx512_dot_table(bool with_bf16) {
  static const DotTable table = [] {
    DotTable kernels;
    fill_integer_kernels(kernels);
    kernels.q4_k = dot_one<dot_k4_512<LevelsQ4_K512, 1>>;
    kernels.q5_k = dot_one<dot_k4_512<LevelsQ5_K512, 1>>;
    kernels.q6_k = dot_one<dot_q6_k_512<1>>;
    kernels.q4_k_tokens =
        dot_tokens<dot_k4_512<LevelsQ4_K512, 1>, dot_k4_512<LevelsQ4_K512, 2>,
                   dot_k4_512<LevelsQ4_K512, 3>, dot_k4_512<LevelsQ4_K512, 4>>;
    kernels.q5_k_tokens =
        dot_tokens<dot_k4_512<LevelsQ5_K512, 1>, dot_k4_512<LevelsQ5_K512, 2>,
                   dot_k4_512<LevelsQ5_K512, 3>, dot_k4_512<LevelsQ5_K512, 4>>;
    kernels.q6_k_tokens =
        dot_tokens<dot_q6_k_512<1>, dot_q6_k_512<2>, dot_q6_k_512<3>, dot_q6_k_512<4>>;
    kernels.f16 = dot_f16_512;
    kernels.bf16 = dot_bf16_512;
    kernels.f32 = dot_f32_512;
    return kernels;
  }();
  static const DotTable table_bf16 = [] {
    DotTable kernels = table;
    kernels.bf16 = dot_bf16_dpbf16;
    return kernels;
  }();
  return with_bf16 ? table_bf16 : table;
}

}  // namespace utter::inference::kernels
