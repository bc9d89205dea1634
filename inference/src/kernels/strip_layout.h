// Weights rearranged into strips of 16 rows for the AVX-512 matrix products.
//
// In a GGUF file each row is a run of blocks. A 512-bit register has 16 int32 lanes, so a
// strip puts the same four columns of 16 consecutive rows next to each other. One load then
// gives lane r the four weights of row r, and one vpdpbusd with four broadcast activation
// bytes adds those four products into lane r. Sixteen rows advance together with no
// horizontal sums, and the scales of the 16 rows of a block sit together as one vector. The
// strip contains exactly the information of the 16 rows in the same number of bytes, so
// results are those of the row-major kernels up to the order of float additions.
//
// Byte layout of one strip, per block of 32 (Q4_0, Q8_0) or super-block of 256 (Q4_K, Q6_K)
// columns; r is the row within the strip and p the byte within a 4-byte group:
// - Q4_0: 256 quant bytes, byte 64 j + 4 r + p = qs[4 j + p] of row r (j = 0..3), so low
//   nibbles give columns 4 j + p and high nibbles columns 16 + 4 j + p; then the 16 fp16
//   scales. Blocks go in pairs (quants, quants, scales, scales) so that quants stay 64-byte
//   aligned; an odd last block is quants then scales.
// - Q8_0: as Q4_0 with 512 quant bytes (j = 0..7), each stored as q + 128 (unsigned).
// - Q4_K: 2048 quant bytes, byte 512 c + 64 j + 4 r + p = qs[32 c + 4 j + p] of row r; then
//   16 fp16 d, 16 fp16 dmin, 128 scale bytes (byte 16 s + r: the 6-bit scale of sub-block s
//   of row r, with bits 4-5 of its min on top) and 64 bytes of the mins' low bits (byte
//   16 q + r: sub-block 2 q in the low nibble, 2 q + 1 in the high one).
// - Q6_K: the 6-bit levels (0..63) of the 16 columns of sub-block s take 192 bytes at 192 s:
//   64 bytes whose byte 4 r + p holds the low nibbles of columns 16 s + p (low) and
//   16 s + 8 + p (high), 64 bytes likewise for columns 16 s + 4 + p and 16 s + 12 + p, and
//   64 bytes whose bit pairs 0-1, 2-3, 4-5, 6-7 are the top bits of columns 16 s + p,
//   16 s + 4 + p, 16 s + 8 + p and 16 s + 12 + p. Then 256 signed scales (byte 32 q + 2 r + k
//   = scale of sub-block 2 q + k of row r) and 16 fp16 d.
#pragma once

#include <cstddef>
#include <cstdint>

#include "utter/inference/tensor_type.h"

namespace utter::inference::kernels {

constexpr int64_t kStripRows = 16;

// True when a rows x cols matrix of `type` can be stored as strips: a strip format exists
// for the type and rows is a whole number of strips.
bool has_strip_layout(TensorType type, int64_t rows, int64_t cols);

// Bytes of one strip of `cols` columns: 16 times the row size.
size_t strip_bytes(TensorType type, int64_t cols);

// Rearranges `rows` rows that lie `row_bytes` apart in GGUF block layout into rows / 16
// strips, one after another at `dst`. Requires has_strip_layout.
void pack_strips(TensorType type, const std::byte* src, size_t row_bytes, int64_t rows,
                 int64_t cols, std::byte* dst);

// Writes row `row` of a packed matrix back in GGUF block layout (tensor_row_bytes bytes).
void unpack_strip_row(TensorType type, const std::byte* packed, int64_t cols, int64_t row,
                      std::byte* dst);

// Offsets of block `block` of a 32-column format within a strip: its quants and its 16
// fp16 scales. `quant_bytes` is 256 for Q4_0 and 512 for Q8_0.
struct Block32Offsets {
  size_t quants;
  size_t scales;
};
inline Block32Offsets block32_offsets(int64_t block, int64_t n_blocks, size_t quant_bytes) {
  const size_t pair_bytes = 2 * quant_bytes + 64;
  const size_t pair_start = static_cast<size_t>(block / 2) * pair_bytes;
  const size_t second = static_cast<size_t>(block % 2);
  const bool lone_last = block == n_blocks - 1 && n_blocks % 2 == 1;
  if (lone_last) return {pair_start, pair_start + quant_bytes};
  return {pair_start + second * quant_bytes, pair_start + 2 * quant_bytes + second * 32};
}

constexpr size_t kQ4_0StripQuantBytes = 256;
constexpr size_t kQ8_0StripQuantBytes = 512;
// Byte offsets within the strip part of one super-block.
constexpr size_t kQ4_KStripBlockBytes = 2048 + 32 + 32 + 128 + 64;
constexpr size_t kQ4_KStripD = 2048, kQ4_KStripDmin = 2080, kQ4_KStripScales = 2112,
                 kQ4_KStripMinBits = 2240;
constexpr size_t kQ6_KStripSubBlockBytes = 192;
constexpr size_t kQ6_KStripBlockBytes = 16 * kQ6_KStripSubBlockBytes + 256 + 32;
constexpr size_t kQ6_KStripScales = 3072, kQ6_KStripD = 3328;

}  // namespace utter::inference::kernels
