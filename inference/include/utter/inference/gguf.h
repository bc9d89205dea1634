// Reading and writing GGUF files (versions 2 and 3).
//
// GgufFile memory-maps the file and validates the whole header, metadata and tensor table
// before returning; tensor data are views into the mapping, never copies. Every size, count
// and offset is checked against the file, so a truncated or hostile file raises GgufError
// (naming the file, the byte offset and the problem) instead of reading out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "utter/inference/tensor_type.h"

namespace utter::inference {

class GgufError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class GgufValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

std::string_view gguf_value_type_name(GgufValueType type);

// One metadata value. Strings read from a file are views into its mapping (valid while the
// GgufFile lives); values built for writing own their strings through `owned_strings`.
struct GgufArray;
struct GgufValue {
  GgufValueType type = GgufValueType::U8;
  std::variant<uint64_t, int64_t, double, bool, std::string_view, std::shared_ptr<GgufArray>>
      data;
  std::shared_ptr<std::vector<std::string>> owned_strings;  // backing store for built values
};

struct GgufArray {
  GgufValueType element_type = GgufValueType::U8;
  std::vector<GgufValue> elements;  // used for nested arrays and string arrays
  // Scalar numeric arrays are kept as raw little-endian bytes to avoid a GgufValue per element
  // (the tokenizer arrays hold hundreds of thousands of entries).
  std::span<const std::byte> raw;
  std::vector<std::byte> owned_raw;  // backing store for built values
  uint64_t count = 0;
};

struct GgufKeyValue {
  std::string key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string name;
  TensorType type = TensorType::F32;
  std::vector<uint64_t> shape;  // ne[0] first: ne[0] is the contiguous row length
  uint64_t offset = 0;          // relative to the start of the data section
  uint64_t bytes = 0;
  uint64_t elements = 0;
  const std::byte* data = nullptr;  // inside the mapping

  uint64_t row_length() const { return shape.empty() ? 1 : shape[0]; }
  uint64_t row_count() const { return shape.empty() ? 0 : elements / shape[0]; }
};

class GgufFile {
 public:
  // Maps and validates a file; throws GgufError.
  static GgufFile open(const std::filesystem::path& path);
  // Parses a buffer the caller keeps alive (used by the fuzzer and tests); throws GgufError.
  static GgufFile parse(std::span<const std::byte> bytes, std::string display_name);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::string& display_name() const;  // the path as given, used in messages
  uint32_t version() const;
  uint64_t file_size() const;
  uint64_t alignment() const;
  uint64_t data_offset() const;  // absolute byte offset of the data section

  const std::vector<GgufKeyValue>& metadata() const;
  const GgufValue* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed accessors. Each throws GgufError naming the file and key when the key is missing
  // or holds another type. Integer getters accept any integer type whose value fits.
  std::string_view get_string(std::string_view key) const;
  uint32_t get_u32(std::string_view key) const;
  int64_t get_i64(std::string_view key) const;
  float get_f32(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::vector<std::string_view> get_string_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  std::vector<float> get_f32_array(std::string_view key) const;
  std::vector<bool> get_bool_array(std::string_view key) const;

  // The same, returning `fallback` when the key is absent (a key of the wrong type still throws).
  std::string_view get_string_or(std::string_view key, std::string_view fallback) const;
  uint32_t get_u32_or(std::string_view key, uint32_t fallback) const;
  float get_f32_or(std::string_view key, float fallback) const;
  bool get_bool_or(std::string_view key, bool fallback) const;

  const std::vector<GgufTensorInfo>& tensors() const;
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // Throws GgufError naming the file and tensor when it is absent.
  const GgufTensorInfo& tensor(std::string_view name) const;

 private:
  struct State;
  explicit GgufFile(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Builds metadata values for GgufWriter.
GgufValue gguf_make_u32(uint32_t value);
GgufValue gguf_make_i32(int32_t value);
GgufValue gguf_make_u64(uint64_t value);
GgufValue gguf_make_f32(float value);
GgufValue gguf_make_bool(bool value);
GgufValue gguf_make_string(std::string value);
GgufValue gguf_make_string_array(std::vector<std::string> values);
GgufValue gguf_make_i32_array(const std::vector<int32_t>& values);
GgufValue gguf_make_f32_array(const std::vector<float>& values);
GgufValue gguf_make_bool_array(const std::vector<bool>& values);
GgufValue gguf_make_array(GgufValueType element_type, std::vector<GgufValue> elements);

// Writes a GGUF v3 file. Metadata and tensor infos are declared first; then tensor data are
// streamed in declaration order, so a multi-gigabyte model never sits whole in memory.
// Writes go to `path + ".part"`, which is renamed into place only by finish().
class GgufWriter {
 public:
  explicit GgufWriter(std::filesystem::path path, uint32_t alignment = 32);
  ~GgufWriter();  // removes the .part file if finish() was not reached

  void add_metadata(std::string key, GgufValue value);
  void add_tensor_info(std::string name, TensorType type, std::vector<uint64_t> shape);

  // Writes the header; call once after all metadata and tensor infos are added.
  void write_header();
  // Appends the data of the next declared tensor; `bytes` must be exactly its size.
  // May be called several times per tensor with consecutive pieces.
  void write_tensor_data(std::span<const std::byte> bytes);
  // Appends `bytes` zero bytes of tensor data by seeking, leaving a hole in the file where the
  // file system supports sparse files (used to lay out full-size test models cheaply).
  void write_zero_tensor_data(uint64_t bytes);
  // Flushes, checks every tensor was written completely, and renames into place.
  void finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace utter::inference
