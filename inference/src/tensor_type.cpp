#include "utter/inference/tensor_type.h"

#include <array>

namespace utter::inference {
namespace {

constexpr std::array<TensorTypeTraits, 15> kTraits = {{
    {TensorType::F32, "F32", 1, 4, true},
    {TensorType::F16, "F16", 1, 2, true},
    {TensorType::Q4_0, "Q4_0", 32, 18, true},
    {TensorType::Q4_1, "Q4_1", 32, 20, true},
    {TensorType::Q5_0, "Q5_0", 32, 22, true},
    {TensorType::Q5_1, "Q5_1", 32, 24, true},
    {TensorType::Q8_0, "Q8_0", 32, 34, true},
    {TensorType::Q8_1, "Q8_1", 32, 36, false},
    {TensorType::Q2_K, "Q2_K", 256, 84, false},
    {TensorType::Q3_K, "Q3_K", 256, 110, false},
    {TensorType::Q4_K, "Q4_K", 256, 144, true},
    {TensorType::Q5_K, "Q5_K", 256, 176, true},
    {TensorType::Q6_K, "Q6_K", 256, 210, true},
    {TensorType::Q8_K, "Q8_K", 256, 292, false},
    {TensorType::BF16, "BF16", 1, 2, true},
}};

}  // namespace

const TensorTypeTraits* tensor_type_traits(uint32_t type_id) {
  for (const auto& traits : kTraits) {
    if (static_cast<uint32_t>(traits.type) == type_id) return &traits;
  }
  return nullptr;
}

const TensorTypeTraits& tensor_type_traits(TensorType type) {
  // Every enumerator has an entry, so the lookup cannot fail for a valid TensorType.
  return *tensor_type_traits(static_cast<uint32_t>(type));
}

std::string_view tensor_type_name(TensorType type) { return tensor_type_traits(type).name; }

std::optional<TensorType> tensor_type_from_name(std::string_view name) {
  for (const auto& traits : kTraits) {
    if (traits.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size(); ++i) {
      char c = name[i];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (c != traits.name[i]) {
        same = false;
        break;
      }
    }
    if (same) return traits.type;
  }
  return std::nullopt;
}

std::optional<uint64_t> tensor_row_bytes(TensorType type, uint64_t elements) {
  const auto& traits = tensor_type_traits(type);
  if (elements % traits.block_elements != 0) return std::nullopt;
  const uint64_t blocks = elements / traits.block_elements;
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(blocks, static_cast<uint64_t>(traits.block_bytes), &bytes)) {
    return std::nullopt;
  }
  return bytes;
}

}  // namespace utter::inference
