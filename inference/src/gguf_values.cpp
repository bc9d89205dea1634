// GGUF value types, tensor shape rules and the metadata value builders.
#include <fmt/core.h>

#include <cstring>
#include <limits>

#include "gguf_format.h"
#include "utter/inference/gguf.h"

namespace utter::inference {

std::string_view gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::U8: return "u8";
    case GgufValueType::I8: return "i8";
    case GgufValueType::U16: return "u16";
    case GgufValueType::I16: return "i16";
    case GgufValueType::U32: return "u32";
    case GgufValueType::I32: return "i32";
    case GgufValueType::F32: return "f32";
    case GgufValueType::BOOL: return "bool";
    case GgufValueType::STRING: return "string";
    case GgufValueType::ARRAY: return "array";
    case GgufValueType::U64: return "u64";
    case GgufValueType::I64: return "i64";
    case GgufValueType::F64: return "f64";
  }
  return "unknown";
}

namespace gguf_format {

std::optional<uint32_t> fixed_value_size(uint32_t type_id) {
  switch (static_cast<GgufValueType>(type_id)) {
    case GgufValueType::U8:
    case GgufValueType::I8:
    case GgufValueType::BOOL: return 1;
    case GgufValueType::U16:
    case GgufValueType::I16: return 2;
    case GgufValueType::U32:
    case GgufValueType::I32:
    case GgufValueType::F32: return 4;
    case GgufValueType::U64:
    case GgufValueType::I64:
    case GgufValueType::F64: return 8;
    case GgufValueType::STRING:
    case GgufValueType::ARRAY: return 0;
  }
  return std::nullopt;
}

bool is_integer_type(GgufValueType type) {
  switch (type) {
    case GgufValueType::U8:
    case GgufValueType::I8:
    case GgufValueType::U16:
    case GgufValueType::I16:
    case GgufValueType::U32:
    case GgufValueType::I32:
    case GgufValueType::U64:
    case GgufValueType::I64: return true;
    default: return false;
  }
}

// Rules: 1 to 4 dimensions, each at least 1 (empty tensors are rejected because nothing in a
// model needs them), the element count fits in int64 as ggml stores it, and each row is a
// whole number of quantization blocks.
std::string check_tensor_shape(TensorType type, const std::vector<uint64_t>& shape,
                               uint64_t& elements, uint64_t& bytes) {
  if (shape.empty() || shape.size() > kMaxDimensions) {
    return fmt::format("has {} dimensions, expected 1 to {}", shape.size(), kMaxDimensions);
  }
  constexpr uint64_t kMaxCount = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 || shape[i] > kMaxCount) {
      return fmt::format("dimension {} is {}, expected 1 to {}", i, shape[i], kMaxCount);
    }
    if (__builtin_mul_overflow(count, shape[i], &count) || count > kMaxCount) {
      return "has an element count that overflows 64 bits";
    }
  }
  const auto& traits = tensor_type_traits(type);
  const auto row_bytes = tensor_row_bytes(type, shape[0]);
  if (!row_bytes) {
    return fmt::format("row length {} is not a multiple of the {} block size {}", shape[0],
                       traits.name, traits.block_elements);
  }
  uint64_t total = 0;
  if (__builtin_mul_overflow(*row_bytes, count / shape[0], &total)) {
    return "has a byte size that overflows 64 bits";
  }
  elements = count;
  bytes = total;
  return {};
}

}  // namespace gguf_format

namespace {

template <typename T>
GgufValue make_raw_array(GgufValueType element_type, const T* values, size_t count) {
  auto array = std::make_shared<GgufArray>();
  array->element_type = element_type;
  array->count = count;
  array->owned_raw.resize(count * sizeof(T));
  if (count != 0) std::memcpy(array->owned_raw.data(), values, count * sizeof(T));
  array->raw = array->owned_raw;
  GgufValue value;
  value.type = GgufValueType::ARRAY;
  value.data = std::move(array);
  return value;
}

}  // namespace

GgufValue gguf_make_u32(uint32_t value) {
  return GgufValue{GgufValueType::U32, uint64_t{value}, nullptr};
}

GgufValue gguf_make_i32(int32_t value) {
  return GgufValue{GgufValueType::I32, int64_t{value}, nullptr};
}

GgufValue gguf_make_u64(uint64_t value) { return GgufValue{GgufValueType::U64, value, nullptr}; }

GgufValue gguf_make_f32(float value) {
  return GgufValue{GgufValueType::F32, static_cast<double>(value), nullptr};
}

GgufValue gguf_make_bool(bool value) { return GgufValue{GgufValueType::BOOL, value, nullptr}; }

GgufValue gguf_make_string(std::string value) {
  auto storage = std::make_shared<std::vector<std::string>>();
  storage->push_back(std::move(value));
  GgufValue result;
  result.type = GgufValueType::STRING;
  result.data = std::string_view(storage->front());
  result.owned_strings = std::move(storage);
  return result;
}

GgufValue gguf_make_string_array(std::vector<std::string> values) {
  // The strings live in one shared vector that is never resized again, so the views the
  // elements hold stay valid however the values are copied or moved.
  auto storage = std::make_shared<std::vector<std::string>>(std::move(values));
  auto array = std::make_shared<GgufArray>();
  array->element_type = GgufValueType::STRING;
  array->count = storage->size();
  array->elements.reserve(storage->size());
  for (const auto& text : *storage) {
    array->elements.push_back(GgufValue{GgufValueType::STRING, std::string_view(text), storage});
  }
  GgufValue result;
  result.type = GgufValueType::ARRAY;
  result.data = std::move(array);
  result.owned_strings = std::move(storage);
  return result;
}

GgufValue gguf_make_i32_array(const std::vector<int32_t>& values) {
  return make_raw_array(GgufValueType::I32, values.data(), values.size());
}

GgufValue gguf_make_f32_array(const std::vector<float>& values) {
  return make_raw_array(GgufValueType::F32, values.data(), values.size());
}

GgufValue gguf_make_bool_array(const std::vector<bool>& values) {
  std::vector<uint8_t> bytes(values.begin(), values.end());
  return make_raw_array(GgufValueType::BOOL, bytes.data(), bytes.size());
}

// Scalar elements are packed into the raw little-endian form the reader produces, so a built
// array and a parsed one look the same to every consumer.
GgufValue gguf_make_array(GgufValueType element_type, std::vector<GgufValue> elements) {
  const auto size = gguf_format::fixed_value_size(static_cast<uint32_t>(element_type));
  if (!size) {
    throw GgufError(fmt::format("array element type id {} is not a GGUF value type",
                                static_cast<uint32_t>(element_type)));
  }
  for (size_t i = 0; i < elements.size(); ++i) {
    if (elements[i].type != element_type) {
      throw GgufError(fmt::format("array element {} is a {}, but the array contains {} values", i,
                                  gguf_value_type_name(elements[i].type),
                                  gguf_value_type_name(element_type)));
    }
  }
  auto array = std::make_shared<GgufArray>();
  array->element_type = element_type;
  array->count = elements.size();
  if (*size == 0) {
    array->elements = std::move(elements);
  } else {
    array->owned_raw.resize(elements.size() * *size);
    std::byte* out = array->owned_raw.data();
    for (const auto& element : elements) {
      uint8_t buffer[8] = {};
      if (const auto* u = std::get_if<uint64_t>(&element.data)) {
        std::memcpy(buffer, u, 8);
      } else if (const auto* s = std::get_if<int64_t>(&element.data)) {
        std::memcpy(buffer, s, 8);
      } else if (const auto* d = std::get_if<double>(&element.data)) {
        if (element_type == GgufValueType::F32) {
          const float f = static_cast<float>(*d);
          std::memcpy(buffer, &f, 4);
        } else {
          std::memcpy(buffer, d, 8);
        }
      } else if (const auto* b = std::get_if<bool>(&element.data)) {
        buffer[0] = *b ? 1 : 0;
      }
      // Little-endian hosts only: the low bytes of the 64-bit value are the narrow value.
      std::memcpy(out, buffer, *size);
      out += *size;
    }
    array->raw = array->owned_raw;
  }
  GgufValue result;
  result.type = GgufValueType::ARRAY;
  result.data = std::move(array);
  return result;
}

}  // namespace utter::inference
