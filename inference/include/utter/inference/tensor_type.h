// The ggml tensor element types that GGUF files use, with their block geometry.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace utter::inference {

// Values are the ggml type ids stored in GGUF tensor infos.
enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
};

struct TensorTypeTraits {
  TensorType type;
  std::string_view name;    // as llama.cpp prints it: "Q4_0", "BF16", ...
  uint32_t block_elements;  // elements per block (1 for plain float types)
  uint32_t block_bytes;     // bytes per block
  bool can_compute;         // the engine has dequantisation and dot-product kernels for it
};

// Returns the traits of a ggml type id, or nullptr for an id this program does not know.
const TensorTypeTraits* tensor_type_traits(uint32_t type_id);
const TensorTypeTraits& tensor_type_traits(TensorType type);

std::string_view tensor_type_name(TensorType type);
std::optional<TensorType> tensor_type_from_name(std::string_view name);

// Bytes of one row of `elements` values; nullopt if `elements` is not a whole number of
// blocks or the size overflows.
std::optional<uint64_t> tensor_row_bytes(TensorType type, uint64_t elements);

}  // namespace utter::inference
