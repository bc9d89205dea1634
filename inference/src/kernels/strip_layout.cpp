// Packing rows into strips and restoring them; see strip_layout.h for the byte layouts.
#include "kernels/strip_layout.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/blocks.h"

namespace utter::inference::kernels {
namespace {

// The 6-bit levels of the 256 columns of a Q6_K block, and the inverse.
void q6_k_levels(const BlockQ6_K& block, uint8_t* levels) {
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = block.ql + 64 * half;
    const uint8_t* qh = block.qh + 32 * half;
    uint8_t* out = levels + 128 * half;
    for (int l = 0; l < 32; ++l) {
      out[l] = static_cast<uint8_t>((ql[l] & 0x0F) | ((qh[l] & 0x03) << 4));
      out[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 0x03) << 4));
      out[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 0x03) << 4));
      out[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 0x03) << 4));
    }
  }
}

void q6_k_from_levels(const uint8_t* levels, BlockQ6_K& block) {
  for (int half = 0; half < 2; ++half) {
    uint8_t* ql = block.ql + 64 * half;
    uint8_t* qh = block.qh + 32 * half;
    const uint8_t* in = levels + 128 * half;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((in[l] & 0x0F) | ((in[l + 64] & 0x0F) << 4));
      ql[l + 32] = static_cast<uint8_t>((in[l + 32] & 0x0F) | ((in[l + 96] & 0x0F) << 4));
      qh[l] = static_cast<uint8_t>((in[l] >> 4) | ((in[l + 32] >> 4) << 2) |
                                   ((in[l + 64] >> 4) << 4) | ((in[l + 96] >> 4) << 6));
    }
  }
}

// The inverse of unpack_scale_min_k4 over all eight sub-blocks.
void pack_scale_min_k4(const uint8_t* scales, const uint8_t* mins, uint8_t* packed) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>((scales[j] & 63) | ((scales[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>((mins[j] & 63) | ((mins[j + 4] >> 4) << 6));
    packed[j + 8] = static_cast<uint8_t>((scales[j + 4] & 0x0F) | ((mins[j + 4] & 0x0F) << 4));
  }
}

template <typename Block>
const Block& block_of(const std::byte* src, size_t row_bytes, int64_t row, int64_t block) {
  return reinterpret_cast<const Block*>(src + static_cast<size_t>(row) * row_bytes)[block];
}

void pack_block32_strip(TensorType type, const std::byte* src, size_t row_bytes, int64_t cols,
                        std::byte* strip) {
  const int64_t n_blocks = cols / kBlock32;
  const bool q8 = type == TensorType::Q8_0;
  const size_t quant_bytes = q8 ? kQ8_0StripQuantBytes : kQ4_0StripQuantBytes;
  auto* out = reinterpret_cast<uint8_t*>(strip);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const Block32Offsets at = block32_offsets(b, n_blocks, quant_bytes);
    auto* scales = reinterpret_cast<uint16_t*>(out + at.scales);
    for (int64_t r = 0; r < kStripRows; ++r) {
      const uint8_t* qs;
      if (q8) {
        const auto& block = block_of<BlockQ8_0>(src, row_bytes, r, b);
        scales[r] = block.d;
        qs = reinterpret_cast<const uint8_t*>(block.qs);
      } else {
        const auto& block = block_of<BlockQ4_0>(src, row_bytes, r, b);
        scales[r] = block.d;
        qs = block.qs;
      }
      for (size_t j = 0; j < quant_bytes / 64; ++j) {
        for (int p = 0; p < 4; ++p) {
          const uint8_t value = qs[4 * j + p];
          out[at.quants + 64 * j + 4 * r + p] = q8 ? static_cast<uint8_t>(value ^ 0x80) : value;
        }
      }
    }
  }
}

void unpack_block32_row(TensorType type, const std::byte* strip, int64_t cols, int64_t r,
                        std::byte* dst) {
  const int64_t n_blocks = cols / kBlock32;
  const bool q8 = type == TensorType::Q8_0;
  const size_t quant_bytes = q8 ? kQ8_0StripQuantBytes : kQ4_0StripQuantBytes;
  const auto* in = reinterpret_cast<const uint8_t*>(strip);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const Block32Offsets at = block32_offsets(b, n_blocks, quant_bytes);
    uint16_t scale;
    std::memcpy(&scale, in + at.scales + 2 * r, 2);
    uint8_t* qs;
    if (q8) {
      auto& block = reinterpret_cast<BlockQ8_0*>(dst)[b];
      block.d = scale;
      qs = reinterpret_cast<uint8_t*>(block.qs);
    } else {
      auto& block = reinterpret_cast<BlockQ4_0*>(dst)[b];
      block.d = scale;
      qs = block.qs;
    }
    for (size_t j = 0; j < quant_bytes / 64; ++j) {
      for (int p = 0; p < 4; ++p) {
        const uint8_t value = in[at.quants + 64 * j + 4 * r + p];
        qs[4 * j + p] = q8 ? static_cast<uint8_t>(value ^ 0x80) : value;
      }
    }
  }
}

void pack_q4_k_strip(const std::byte* src, size_t row_bytes, int64_t cols, std::byte* strip) {
  auto* out = reinterpret_cast<uint8_t*>(strip);
  for (int64_t b = 0; b < cols / kBlock256; ++b) {
    uint8_t* part = out + static_cast<size_t>(b) * kQ4_KStripBlockBytes;
    for (int64_t r = 0; r < kStripRows; ++r) {
      const auto& block = block_of<BlockQ4_K>(src, row_bytes, r, b);
      for (int c = 0; c < 4; ++c) {
        for (int j = 0; j < 8; ++j) {
          std::memcpy(part + 512 * c + 64 * j + 4 * r, block.qs + 32 * c + 4 * j, 4);
        }
      }
      std::memcpy(part + kQ4_KStripD + 2 * r, &block.d, 2);
      std::memcpy(part + kQ4_KStripDmin + 2 * r, &block.dmin, 2);
      for (int s = 0; s < 8; ++s) {
        uint8_t scale, min;
        unpack_scale_min_k4(block.scales, s, scale, min);
        part[kQ4_KStripScales + 16 * s + r] = static_cast<uint8_t>(scale | ((min >> 4) << 6));
        uint8_t& bits = part[kQ4_KStripMinBits + 16 * (s / 2) + r];
        bits = static_cast<uint8_t>(s % 2 == 0 ? (bits & 0xF0) | (min & 0x0F)
                                               : (bits & 0x0F) | ((min & 0x0F) << 4));
      }
    }
  }
}

void unpack_q4_k_row(const std::byte* strip, int64_t cols, int64_t r, std::byte* dst) {
  const auto* in = reinterpret_cast<const uint8_t*>(strip);
  for (int64_t b = 0; b < cols / kBlock256; ++b) {
    const uint8_t* part = in + static_cast<size_t>(b) * kQ4_KStripBlockBytes;
    auto& block = reinterpret_cast<BlockQ4_K*>(dst)[b];
    for (int c = 0; c < 4; ++c) {
      for (int j = 0; j < 8; ++j) {
        std::memcpy(block.qs + 32 * c + 4 * j, part + 512 * c + 64 * j + 4 * r, 4);
      }
    }
    std::memcpy(&block.d, part + kQ4_KStripD + 2 * r, 2);
    std::memcpy(&block.dmin, part + kQ4_KStripDmin + 2 * r, 2);
    uint8_t scales[8], mins[8];
    for (int s = 0; s < 8; ++s) {
      const uint8_t scale_byte = part[kQ4_KStripScales + 16 * s + r];
      const uint8_t bits = part[kQ4_KStripMinBits + 16 * (s / 2) + r];
      scales[s] = scale_byte & 63;
      mins[s] = static_cast<uint8_t>(((s % 2 == 0 ? bits : bits >> 4) & 0x0F) |
                                     ((scale_byte >> 6) << 4));
    }
    pack_scale_min_k4(scales, mins, block.scales);
  }
}

void pack_q6_k_strip(const std::byte* src, size_t row_bytes, int64_t cols, std::byte* strip) {
  auto* out = reinterpret_cast<uint8_t*>(strip);
  uint8_t levels[256];
  for (int64_t b = 0; b < cols / kBlock256; ++b) {
    uint8_t* part = out + static_cast<size_t>(b) * kQ6_KStripBlockBytes;
    for (int64_t r = 0; r < kStripRows; ++r) {
      const auto& block = block_of<BlockQ6_K>(src, row_bytes, r, b);
      q6_k_levels(block, levels);
      for (int sub = 0; sub < 16; ++sub) {
        uint8_t* bytes = part + kQ6_KStripSubBlockBytes * sub;
        const uint8_t* level = levels + 16 * sub;
        for (int p = 0; p < 4; ++p) {
          bytes[4 * r + p] = static_cast<uint8_t>((level[p] & 0x0F) | ((level[8 + p] & 0x0F) << 4));
          bytes[64 + 4 * r + p] =
              static_cast<uint8_t>((level[4 + p] & 0x0F) | ((level[12 + p] & 0x0F) << 4));
          bytes[128 + 4 * r + p] = static_cast<uint8_t>((level[p] >> 4) | ((level[4 + p] >> 4) << 2) |
                                                        ((level[8 + p] >> 4) << 4) |
                                                        ((level[12 + p] >> 4) << 6));
        }
      }
      for (int s = 0; s < 16; ++s) {
        part[kQ6_KStripScales + 32 * (s / 2) + 2 * r + s % 2] = static_cast<uint8_t>(block.scales[s]);
      }
      std::memcpy(part + kQ6_KStripD + 2 * r, &block.d, 2);
    }
  }
}

void unpack_q6_k_row(const std::byte* strip, int64_t cols, int64_t r, std::byte* dst) {
  const auto* in = reinterpret_cast<const uint8_t*>(strip);
  uint8_t levels[256];
  for (int64_t b = 0; b < cols / kBlock256; ++b) {
    const uint8_t* part = in + static_cast<size_t>(b) * kQ6_KStripBlockBytes;
    auto& block = reinterpret_cast<BlockQ6_K*>(dst)[b];
    for (int sub = 0; sub < 16; ++sub) {
      const uint8_t* bytes = part + kQ6_KStripSubBlockBytes * sub;
      uint8_t* level = levels + 16 * sub;
      for (int p = 0; p < 4; ++p) {
        const uint8_t first = bytes[4 * r + p];
        const uint8_t second = bytes[64 + 4 * r + p];
        const uint8_t high = bytes[128 + 4 * r + p];
        level[p] = static_cast<uint8_t>((first & 0x0F) | ((high & 0x03) << 4));
        level[4 + p] = static_cast<uint8_t>((second & 0x0F) | (((high >> 2) & 0x03) << 4));
        level[8 + p] = static_cast<uint8_t>((first >> 4) | (((high >> 4) & 0x03) << 4));
        level[12 + p] = static_cast<uint8_t>((second >> 4) | (((high >> 6) & 0x03) << 4));
      }
    }
    q6_k_from_levels(levels, block);
    for (int s = 0; s < 16; ++s) {
      block.scales[s] = static_cast<int8_t>(part[kQ6_KStripScales + 32 * (s / 2) + 2 * r + s % 2]);
    }
    std::memcpy(&block.d, part + kQ6_KStripD + 2 * r, 2);
  }
}

void require_strip_layout(TensorType type, int64_t rows, int64_t cols, const char* caller) {
  if (!has_strip_layout(type, rows, cols)) {
    throw std::invalid_argument(std::string(caller) + ": a " + std::to_string(rows) + " x " +
                                std::to_string(cols) + " " + std::string(tensor_type_name(type)) +
                                " matrix has no strip layout");
  }
}

}  // namespace

bool has_strip_layout(TensorType type, int64_t rows, int64_t cols) {
  if (rows <= 0 || rows % kStripRows != 0 || cols <= 0) return false;
  switch (type) {
    case TensorType::Q4_0:
    case TensorType::Q8_0:
      return cols % kBlock32 == 0;
    case TensorType::Q4_K:
    case TensorType::Q6_K:
      return cols % kBlock256 == 0;
    default:
      return false;
  }
}

size_t strip_bytes(TensorType type, int64_t cols) {
  const auto n = static_cast<size_t>(cols);
  switch (type) {
    case TensorType::Q4_0: return n / kBlock32 * (kQ4_0StripQuantBytes + 32);
    case TensorType::Q8_0: return n / kBlock32 * (kQ8_0StripQuantBytes + 32);
    case TensorType::Q4_K: return n / kBlock256 * kQ4_KStripBlockBytes;
    case TensorType::Q6_K: return n / kBlock256 * kQ6_KStripBlockBytes;
    default: break;
  }
  throw std::invalid_argument("strip_bytes: no strip layout for " +
                              std::string(tensor_type_name(type)));
}

void pack_strips(TensorType type, const std::byte* src, size_t row_bytes, int64_t rows,
                 int64_t cols, std::byte* dst) {
  require_strip_layout(type, rows, cols, "pack_strips");
  const size_t bytes = strip_bytes(type, cols);
  for (int64_t s = 0; s < rows / kStripRows; ++s) {
    const std::byte* rows_in = src + static_cast<size_t>(s * kStripRows) * row_bytes;
    std::byte* strip = dst + static_cast<size_t>(s) * bytes;
    switch (type) {
      case TensorType::Q4_0:
      case TensorType::Q8_0: pack_block32_strip(type, rows_in, row_bytes, cols, strip); break;
      case TensorType::Q4_K: pack_q4_k_strip(rows_in, row_bytes, cols, strip); break;
      default: pack_q6_k_strip(rows_in, row_bytes, cols, strip); break;
    }
  }
}

void unpack_strip_row(TensorType type, const std::byte* packed, int64_t cols, int64_t row,
                      std::byte* dst) {
  require_strip_layout(type, row + 1 + (kStripRows - 1 - row % kStripRows), cols,
                       "unpack_strip_row");
  const std::byte* strip = packed + static_cast<size_t>(row / kStripRows) * strip_bytes(type, cols);
  const int64_t r = row % kStripRows;
  switch (type) {
    case TensorType::Q4_0:
    case TensorType::Q8_0: return unpack_block32_row(type, strip, cols, r, dst);
    case TensorType::Q4_K: return unpack_q4_k_row(strip, cols, r, dst);
    default: return unpack_q6_k_row(strip, cols, r, dst);
  }
}

}  // namespace utter::inference::kernels
