// Facts about the GGUF container shared by the reader, the writer and the value builders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "utter/inference/gguf.h"

namespace utter::inference::gguf_format {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint32_t kWrittenVersion = 3;
inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxDimensions = 4;
// Arrays of arrays are allowed, but deeper nesting than this is rejected so a hostile file
// cannot exhaust the stack through recursion.
inline constexpr int kMaxArrayDepth = 8;
inline constexpr const char* kAlignmentKey = "general.alignment";

// Bytes of one value of a fixed-size type; 0 for STRING and ARRAY; nullopt for unknown ids.
std::optional<uint32_t> fixed_value_size(uint32_t type_id);
bool is_integer_type(GgufValueType type);

// Checks a tensor shape and computes its element count and byte size. Returns an error text
// (without file or offset) or an empty string on success.
std::string check_tensor_shape(TensorType type, const std::vector<uint64_t>& shape,
                               uint64_t& elements, uint64_t& bytes);

inline bool is_power_of_two(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

// Rounds `value` up to a multiple of `alignment` (a power of two); nullopt on overflow.
inline std::optional<uint64_t> align_up(uint64_t value, uint64_t alignment) {
  uint64_t sum = 0;
  if (__builtin_add_overflow(value, alignment - 1, &sum)) return std::nullopt;
  return sum & ~(alignment - 1);
}

}  // namespace utter::inference::gguf_format
