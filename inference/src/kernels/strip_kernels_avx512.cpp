// AVX-512 VNNI products of weight strips with activation rows.
//
// Every kernel forms, per block and per row, the same exact integer sum as the row kernels.
// The weights enter vpdpbusd as unsigned levels, and the offset that makes them signed is
// taken out through the activation sums (8 per level for Q4_0, 128 for Q8_0, 32 for Q6_K).
// Q4_K's minimum is a term of its own. Each integer sum is then scaled in float as in the row
// kernels, so only the order of the float additions differs.

// GCC 12 reports -Wuninitialized inside avx512fintrin.h itself, for the undefined vectors
// its intrinsics start from; the warning is about the header, not this file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <cstring>

#include "kernels/blocks.h"
#include "kernels/strip_kernels.h"
#include "kernels/strip_layout.h"

namespace utter::inference::kernels {
namespace {

inline __m512i broadcast_word(const void* p) {
  int32_t word;
  std::memcpy(&word, p, 4);
  return _mm512_set1_epi32(word);
}

inline __m512i load512(const uint8_t* p) { return _mm512_loadu_si512(p); }

inline __m512 load_scales(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

inline void store_rows(const __m512* acc, int tokens, float* out) {
  for (int t = 0; t < tokens; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

// Every product streams its weights from memory on the first pass over a strip. Asking for
// the lines a little ahead keeps more of them in flight than the hardware prefetcher alone.
constexpr int kPrefetchBytes = 1024;

inline void prefetch_ahead(const uint8_t* p, size_t bytes) {
  for (size_t offset = 0; offset < bytes; offset += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchBytes + offset), _MM_HINT_T0);
  }
}

template <int T>
void strip_q4_0(const std::byte* strip, int64_t cols, const std::byte* group, int first,
                float* out) {
  const auto* base = reinterpret_cast<const uint8_t*>(strip);
  const auto* tokens = reinterpret_cast<const uint8_t*>(group);
  const int64_t n_blocks = cols / kBlock32;
  const __m512i low_mask = _mm512_set1_epi8(0x0F);
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const Block32Offsets at = block32_offsets(b, n_blocks, kQ4_0StripQuantBytes);
    const uint8_t* quants = base + at.quants;
    prefetch_ahead(quants, kQ4_0StripQuantBytes + 32);
    __m512i low[4], high[4];
    for (int j = 0; j < 4; ++j) {
      const __m512i raw = load512(quants + 64 * j);
      low[j] = _mm512_and_si512(raw, low_mask);
      high[j] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low_mask);
    }
    const __m512 weight_scales = load_scales(base + at.scales);
    const uint8_t* block = tokens + static_cast<size_t>(b) * kGroupQ8_0BlockBytes;
    const uint8_t* qs = block + 32 * first;
    const auto* scales = reinterpret_cast<const float*>(block + kGroupQ8_0Scales) + first;
    const auto* offsets = reinterpret_cast<const int32_t*>(block + kGroupQ8_0Offsets) + first;
    if constexpr (T == 1) {
      for (int t = 0; t < T; ++t) {
        __m512i sum = _mm512_set1_epi32(offsets[t]);
        // One token has no other chains to overlap with, so it splits its own in two.
        __m512i sum_high = _mm512_setzero_si512();
        for (int j = 0; j < 4; ++j) {
          sum = _mm512_dpbusd_epi32(sum, low[j], broadcast_word(qs + 4 * j));
          sum_high = _mm512_dpbusd_epi32(sum_high, high[j], broadcast_word(qs + 16 + 4 * j));
        }
        sum = _mm512_add_epi32(sum, sum_high);
        const __m512 scale = _mm512_mul_ps(weight_scales, _mm512_set1_ps(scales[t]));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), scale, acc[t]);
      }
    }
    if constexpr (T > 1) {
      // Several tokens: the inner loop runs over tokens, so neighbouring instructions belong
      // to independent chains and the core can issue them back to back.
      constexpr int kChunk = T < 8 ? T : 8;
      for (int t0 = 0; t0 < T; t0 += kChunk) {
        __m512i sums[kChunk];
        for (int t = 0; t < kChunk; ++t) sums[t] = _mm512_set1_epi32(offsets[t0 + t]);
        for (int j = 0; j < 4; ++j) {
          for (int t = 0; t < kChunk; ++t) {
            sums[t] = _mm512_dpbusd_epi32(sums[t], low[j],
                                          broadcast_word(qs + 32 * (t0 + t) + 4 * j));
          }
          for (int t = 0; t < kChunk; ++t) {
            sums[t] = _mm512_dpbusd_epi32(sums[t], high[j],
                                          broadcast_word(qs + 32 * (t0 + t) + 16 + 4 * j));
          }
        }
        for (int t = 0; t < kChunk; ++t) {
          const __m512 scale = _mm512_mul_ps(weight_scales, _mm512_set1_ps(scales[t0 + t]));
          acc[t0 + t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[t]), scale, acc[t0 + t]);
        }
      }
    }
  }
  store_rows(acc, T, out);
}

template <int T>
void strip_q8_0(const std::byte* strip, int64_t cols, const std::byte* group, int first,
                float* out) {
  const auto* base = reinterpret_cast<const uint8_t*>(strip);
  const auto* tokens = reinterpret_cast<const uint8_t*>(group);
  const int64_t n_blocks = cols / kBlock32;
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const Block32Offsets at = block32_offsets(b, n_blocks, kQ8_0StripQuantBytes);
    const uint8_t* quants = base + at.quants;
    prefetch_ahead(quants, kQ8_0StripQuantBytes + 32);
    __m512i levels[8];
    for (int j = 0; j < 8; ++j) levels[j] = load512(quants + 64 * j);
    const __m512 weight_scales = load_scales(base + at.scales);
    const uint8_t* block = tokens + static_cast<size_t>(b) * kGroupQ8_0BlockBytes;
    const uint8_t* qs = block + 32 * first;
    const auto* scales = reinterpret_cast<const float*>(block + kGroupQ8_0Scales) + first;
    const auto* offsets = reinterpret_cast<const int32_t*>(block + kGroupQ8_0Offsets) + first;
    for (int t = 0; t < T; ++t) {
      __m512i sum = _mm512_set1_epi32(offsets[t]);
      if (T == 1) {
        __m512i sum_odd = _mm512_setzero_si512();
        for (int j = 0; j < 8; j += 2) {
          sum = _mm512_dpbusd_epi32(sum, levels[j], broadcast_word(qs + 4 * j));
          sum_odd = _mm512_dpbusd_epi32(sum_odd, levels[j + 1], broadcast_word(qs + 4 * j + 4));
        }
        sum = _mm512_add_epi32(sum, sum_odd);
      } else {
        for (int j = 0; j < 8; ++j) {
          sum = _mm512_dpbusd_epi32(sum, levels[j], broadcast_word(qs + 32 * t + 4 * j));
        }
      }
      const __m512 scale = _mm512_mul_ps(weight_scales, _mm512_set1_ps(scales[t]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), scale, acc[t]);
    }
  }
  store_rows(acc, T, out);
}

// The scale of sub-block s of each row, one per int32 lane.
inline __m512i q4_k_scale(const uint8_t* part, int s) {
  const __m512i bytes = _mm512_cvtepu8_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(part + kQ4_KStripScales + 16 * s)));
  return _mm512_and_si512(bytes, _mm512_set1_epi32(63));
}

// The mins of sub-blocks 2 q and 2 q + 1 of each row as int16 pairs, put together from their
// low nibbles and the two bits above each scale.
inline __m512i q4_k_min_pairs(const uint8_t* part, int q) {
  const __m128i nibble_mask = _mm_set1_epi8(0x0F);
  const __m128i nibbles =
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(part + kQ4_KStripMinBits + 16 * q));
  const __m128i low_first = _mm_and_si128(nibbles, nibble_mask);
  const __m128i low_second = _mm_and_si128(_mm_srli_epi16(nibbles, 4), nibble_mask);
  const __m128i top_mask = _mm_set1_epi8(0x03);
  const __m128i top_first = _mm_and_si128(
      _mm_srli_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(
                         part + kQ4_KStripScales + 16 * (2 * q))), 6), top_mask);
  const __m128i top_second = _mm_and_si128(
      _mm_srli_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(
                         part + kQ4_KStripScales + 16 * (2 * q + 1))), 6), top_mask);
  const __m128i first = _mm_or_si128(low_first, _mm_slli_epi16(top_first, 4));
  const __m128i second = _mm_or_si128(low_second, _mm_slli_epi16(top_second, 4));
  // Bytes in row order, each row's pair side by side: first 0, second 0, first 1, ...
  const __m256i pairs = _mm256_set_m128i(_mm_unpackhi_epi8(first, second),
                                         _mm_unpacklo_epi8(first, second));
  return _mm512_cvtepu8_epi16(pairs);
}

template <int T>
void strip_q4_k(const std::byte* strip, int64_t cols, const std::byte* group, int first,
                float* out) {
  const auto* base = reinterpret_cast<const uint8_t*>(strip);
  const auto* tokens = reinterpret_cast<const uint8_t*>(group);
  const __m512i low_mask = _mm512_set1_epi8(0x0F);
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < cols / kBlock256; ++b) {
    const uint8_t* part = base + static_cast<size_t>(b) * kQ4_KStripBlockBytes;
    prefetch_ahead(part, kQ4_KStripBlockBytes);
    const uint8_t* block = tokens + static_cast<size_t>(b) * kGroupQ8_KBlockBytes;
    const uint8_t* qs = block + 256 * first;
    __m512i total[T];
    for (int t = 0; t < T; ++t) total[t] = _mm512_setzero_si512();
    if constexpr (T <= 2) {
      // Few tokens: both nibbles of each load are used at once, so every byte is loaded once.
      // Chunk c holds sub-blocks 2 c (low nibbles) and 2 c + 1 (high nibbles) of each row.
      for (int c = 0; c < 4; ++c) {
        const uint8_t* quants = part + 512 * c;
        __m512i low[8], high[8];
        for (int j = 0; j < 8; ++j) {
          const __m512i raw = load512(quants + 64 * j);
          low[j] = _mm512_and_si512(raw, low_mask);
          high[j] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low_mask);
        }
        const __m512i scale_low = q4_k_scale(part, 2 * c);
        const __m512i scale_high = q4_k_scale(part, 2 * c + 1);
        for (int t = 0; t < T; ++t) {
          const uint8_t* q = qs + 256 * t + 64 * c;
          __m512i sum_low = _mm512_setzero_si512();
          __m512i sum_high = _mm512_setzero_si512();
          for (int j = 0; j < 8; ++j) {
            sum_low = _mm512_dpbusd_epi32(sum_low, low[j], broadcast_word(q + 4 * j));
            sum_high = _mm512_dpbusd_epi32(sum_high, high[j], broadcast_word(q + 32 + 4 * j));
          }
          total[t] = _mm512_add_epi32(total[t], _mm512_mullo_epi32(sum_low, scale_low));
          total[t] = _mm512_add_epi32(total[t], _mm512_mullo_epi32(sum_high, scale_high));
        }
      }
    } else {
      // More tokens: one sub-block at a time, which leaves registers for their sums.
      for (int s = 0; s < 8; ++s) {
        const uint8_t* quants = part + 512 * (s / 2);
        const int shift = 4 * (s % 2);
        __m512i levels[8];
        for (int j = 0; j < 8; ++j) {
          levels[j] = _mm512_and_si512(
              _mm512_srl_epi16(load512(quants + 64 * j), _mm_cvtsi32_si128(shift)), low_mask);
        }
        const __m512i scale = q4_k_scale(part, s);
        for (int t = 0; t < T; ++t) {
          const uint8_t* q = qs + 256 * t + 32 * s;
          __m512i sum_even = _mm512_setzero_si512();
          __m512i sum_odd = _mm512_setzero_si512();
          for (int j = 0; j < 8; j += 2) {
            sum_even = _mm512_dpbusd_epi32(sum_even, levels[j], broadcast_word(q + 4 * j));
            sum_odd = _mm512_dpbusd_epi32(sum_odd, levels[j + 1], broadcast_word(q + 4 * j + 4));
          }
          total[t] = _mm512_add_epi32(
              total[t], _mm512_mullo_epi32(_mm512_add_epi32(sum_even, sum_odd), scale));
        }
      }
    }
    const __m512 d = load_scales(part + kQ4_KStripD);
    const __m512 dmin = load_scales(part + kQ4_KStripDmin);
    __m512i mins[4];
    for (int q = 0; q < 4; ++q) mins[q] = q4_k_min_pairs(part, q);
    const auto* scales = reinterpret_cast<const float*>(block + kGroupQ8_KScales) + first;
    const uint8_t* sums = block + kGroupQ8_KSums + 32 * first;
    for (int t = 0; t < T; ++t) {
      __m512i min_sum = _mm512_setzero_si512();
      for (int q = 0; q < 4; ++q) {
        min_sum = _mm512_dpwssd_epi32(min_sum, mins[q], broadcast_word(sums + 32 * t + 4 * q));
      }
      const __m512 activation_scale = _mm512_set1_ps(scales[t]);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total[t]), _mm512_mul_ps(d, activation_scale),
                               acc[t]);
      acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(min_sum),
                                _mm512_mul_ps(dmin, activation_scale), acc[t]);
    }
  }
  store_rows(acc, T, out);
}

// The signed scales of sub-blocks 2 q and 2 q + 1 of each row as int16 pairs.
inline __m512i q6_k_scale_pairs(const uint8_t* part, int q) {
  return _mm512_cvtepi8_epi16(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(part + kQ6_KStripScales + 32 * q)));
}

// One sub-block's scale per int32 lane, taken from its pair vector.
inline __m512i q6_k_scale(const uint8_t* part, int s) {
  const __m512i pairs = q6_k_scale_pairs(part, s / 2);
  return s % 2 == 0 ? _mm512_srai_epi32(_mm512_slli_epi32(pairs, 16), 16)
                    : _mm512_srai_epi32(pairs, 16);
}

template <int T>
void strip_q6_k(const std::byte* strip, int64_t cols, const std::byte* group, int first,
                float* out) {
  const auto* base = reinterpret_cast<const uint8_t*>(strip);
  const auto* tokens = reinterpret_cast<const uint8_t*>(group);
  const __m512i low_mask = _mm512_set1_epi8(0x0F);
  const __m512i high_mask = _mm512_set1_epi8(0x30);
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < cols / kBlock256; ++b) {
    const uint8_t* part = base + static_cast<size_t>(b) * kQ6_KStripBlockBytes;
    prefetch_ahead(part, kQ6_KStripBlockBytes);
    const uint8_t* block = tokens + static_cast<size_t>(b) * kGroupQ8_KBlockBytes;
    const uint8_t* qs = block + 256 * first;
    __m512i total[T];
    for (int t = 0; t < T; ++t) total[t] = _mm512_setzero_si512();
    for (int sub = 0; sub < 16; ++sub) {
      const uint8_t* bytes = part + kQ6_KStripSubBlockBytes * sub;
      const __m512i nibbles_a = load512(bytes);
      const __m512i nibbles_b = load512(bytes + 64);
      const __m512i high = load512(bytes + 128);
      // Columns 16 sub + 4 i .. 16 sub + 4 i + 3 of each row, for i = 0..3.
      const __m512i levels[4] = {
          _mm512_or_si512(_mm512_and_si512(nibbles_a, low_mask),
                          _mm512_and_si512(_mm512_slli_epi16(high, 4), high_mask)),
          _mm512_or_si512(_mm512_and_si512(nibbles_b, low_mask),
                          _mm512_and_si512(_mm512_slli_epi16(high, 2), high_mask)),
          _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(nibbles_a, 4), low_mask),
                          _mm512_and_si512(high, high_mask)),
          _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(nibbles_b, 4), low_mask),
                          _mm512_and_si512(_mm512_srli_epi16(high, 2), high_mask)),
      };
      const __m512i scale = q6_k_scale(part, sub);
      for (int t = 0; t < T; ++t) {
        const uint8_t* q = qs + 256 * t + 16 * sub;
        __m512i sum = _mm512_setzero_si512();
        for (int i = 0; i < 4; ++i) {
          sum = _mm512_dpbusd_epi32(sum, levels[i], broadcast_word(q + 4 * i));
        }
        total[t] = _mm512_add_epi32(total[t], _mm512_mullo_epi32(sum, scale));
      }
    }
    const __m512 d = load_scales(part + kQ6_KStripD);
    const auto* scales = reinterpret_cast<const float*>(block + kGroupQ8_KScales) + first;
    const uint8_t* group_sums = block + kGroupQ8_KSums + 32 * first;
    __m512i scale_pairs[8];
    for (int q = 0; q < 8; ++q) scale_pairs[q] = q6_k_scale_pairs(part, q);
    for (int t = 0; t < T; ++t) {
      __m512i offset = _mm512_setzero_si512();
      for (int q = 0; q < 8; ++q) {
        offset = _mm512_dpwssd_epi32(offset, scale_pairs[q],
                                     broadcast_word(group_sums + 32 * t + 4 * q));
      }
      const __m512i sum = _mm512_sub_epi32(total[t], _mm512_slli_epi32(offset, 5));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum),
                               _mm512_mul_ps(d, _mm512_set1_ps(scales[t])), acc[t]);
    }
  }
  store_rows(acc, T, out);
}

using TokensKernel = void (*)(const std::byte*, int64_t, const std::byte*, int, float*);

// Runs `tokens` tokens as instantiations for 16, 8, 4, 2 and 1 tokens in turn.
template <TokensKernel K1, TokensKernel K2, TokensKernel K4, TokensKernel K8, TokensKernel K16>
void by_tokens(const std::byte* strip, int64_t cols, const std::byte* group, int first,
               int tokens, float* out) {
  int done = 0;
  while (done < tokens) {
    const int left = tokens - done;
    if (left >= 16 && K16 != nullptr) {
      K16(strip, cols, group, first + done, out + 16 * done);
      done += 16;
    } else if (left >= 8 && K8 != nullptr) {
      K8(strip, cols, group, first + done, out + 16 * done);
      done += 8;
    } else if (left >= 4) {
      K4(strip, cols, group, first + done, out + 16 * done);
      done += 4;
    } else if (left >= 2) {
      K2(strip, cols, group, first + done, out + 16 * done);
      done += 2;
    } else {
      K1(strip, cols, group, first + done, out + 16 * done);
      done += 1;
    }
  }
}

}  // namespace

StripFn avx512_strip_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_0:
      return by_tokens<strip_q4_0<1>, strip_q4_0<2>, strip_q4_0<4>, strip_q4_0<8>, nullptr>;
    case TensorType::Q8_0:
      return by_tokens<strip_q8_0<1>, strip_q8_0<2>, strip_q8_0<4>, strip_q8_0<8>, strip_q8_0<16>>;
    case TensorType::Q4_K:
      return by_tokens<strip_q4_k<1>, strip_q4_k<2>, strip_q4_k<4>, strip_q4_k<8>, strip_q4_k<16>>;
    case TensorType::Q6_K:
      return by_tokens<strip_q6_k<1>, strip_q6_k<2>, strip_q6_k<4>, strip_q6_k<8>, strip_q6_k<16>>;
    default:
      return nullptr;
  }
}

}  // namespace utter::inference::kernels
