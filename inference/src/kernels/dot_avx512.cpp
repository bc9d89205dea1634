// AVX-512 dot products (F, BW, VL, DQ, VNNI; compiled with those flags and chosen at run
// time). The integer formats use the shared x86 kernels with vpdpbusd; the float formats use
// 512-bit registers, and BF16 uses vdpbf16ps when the processor has AVX512_BF16.
#define UTTER_DOT_VNNI 1

// GCC 12's avx512fintrin.h trips -Wuninitialized inside its own _mm512_undefined_* helpers
// (GCC bug 105593); the warning is about the header, not this file.
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

constexpr DotFn dot_f16_512 = dot_half_512<load_f16x16, half_to_float>;
constexpr DotFn dot_bf16_512 = dot_half_512<load_bf16x16, bf16_bits_to_float>;

}  // namespace

const DotTable& avx512_dot_table(bool with_bf16) {
  static const DotTable table = [] {
    DotTable kernels;
    fill_integer_kernels(kernels);
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
