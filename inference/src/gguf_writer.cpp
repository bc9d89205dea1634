// GGUF v3 writer. The header is written once all metadata and tensor infos are known. Tensor
// data then streams through a small buffer, and each tensor is padded to the alignment as in
// files written by ggml.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "gguf_format.h"
#include "utter/inference/gguf.h"

namespace utter::inference {

using gguf_format::align_up;

namespace {

struct PendingTensor {
  std::string name;
  TensorType type;
  std::vector<uint64_t> shape;
  uint64_t bytes = 0;
  uint64_t offset = 0;  // relative to the data section, filled by write_header()
};

}  // namespace

struct GgufWriter::State {
  std::filesystem::path path;
  std::string part_path;
  uint64_t alignment = gguf_format::kDefaultAlignment;
  std::vector<GgufKeyValue> metadata;
  std::set<std::string, std::less<>> keys;
  std::vector<PendingTensor> tensors;
  std::set<std::string, std::less<>> tensor_names;

  int fd = -1;
  bool header_written = false;
  bool finished = false;
  std::vector<std::byte> buffer;
  uint64_t file_position = 0;  // logical position, including bytes still in `buffer`
  size_t current_tensor = 0;
  uint64_t current_tensor_written = 0;

  [[noreturn]] void fail(const std::string& problem) const {
    throw GgufError(fmt::format("{}: {}", part_path, problem));
  }

  [[noreturn]] void fail_errno(std::string_view action) const {
    fail(fmt::format("{} failed: {}", action, std::strerror(errno)));
  }

  void flush() {
    size_t done = 0;
    while (done < buffer.size()) {
      const ssize_t written = ::write(fd, buffer.data() + done, buffer.size() - done);
      if (written < 0) {
        if (errno == EINTR) continue;
        fail_errno("writing");
      }
      done += static_cast<size_t>(written);
    }
    buffer.clear();
  }

  void append(const void* data, size_t size) {
    constexpr size_t kBufferBytes = size_t{1} << 20;
    const auto* bytes = static_cast<const std::byte*>(data);
    if (buffer.size() + size > kBufferBytes) flush();
    if (size >= kBufferBytes) {
      buffer.assign(bytes, bytes + size);
      flush();
    } else {
      buffer.insert(buffer.end(), bytes, bytes + size);
    }
    file_position += size;
  }

  template <typename T>
  void append_scalar(T value) {
    append(&value, sizeof(T));
  }

  void append_string(std::string_view text) {
    append_scalar<uint64_t>(text.size());
    append(text.data(), text.size());
  }

  void append_zeros(uint64_t count) {
    static constexpr std::byte kZeros[256] = {};
    while (count > 0) {
      const uint64_t piece = count < sizeof(kZeros) ? count : sizeof(kZeros);
      append(kZeros, piece);
      count -= piece;
    }
  }

  void append_value(const GgufValue& value, const std::string& key);
  void finish_tensor_if_complete();
};

namespace {

// Writes one scalar from the variant in the width its type needs (little-endian host).
bool scalar_bytes(const GgufValue& value, uint8_t (&out)[8], uint32_t& size) {
  const auto fixed = gguf_format::fixed_value_size(static_cast<uint32_t>(value.type));
  if (!fixed || *fixed == 0) return false;
  size = *fixed;
  std::memset(out, 0, sizeof(out));
  if (const auto* u = std::get_if<uint64_t>(&value.data)) {
    std::memcpy(out, u, 8);
  } else if (const auto* s = std::get_if<int64_t>(&value.data)) {
    std::memcpy(out, s, 8);
  } else if (const auto* d = std::get_if<double>(&value.data)) {
    if (value.type == GgufValueType::F32) {
      const float f = static_cast<float>(*d);
      std::memcpy(out, &f, 4);
    } else {
      std::memcpy(out, d, 8);
    }
  } else if (const auto* b = std::get_if<bool>(&value.data)) {
    out[0] = *b ? 1 : 0;
  } else {
    return false;
  }
  return true;
}

}  // namespace

void GgufWriter::State::append_value(const GgufValue& value, const std::string& key) {
  if (value.type == GgufValueType::STRING) {
    const auto* text = std::get_if<std::string_view>(&value.data);
    if (text == nullptr) fail(fmt::format("metadata key '{}' is a string without text", key));
    append_string(*text);
    return;
  }
  if (value.type == GgufValueType::ARRAY) {
    const auto* array = std::get_if<std::shared_ptr<GgufArray>>(&value.data);
    if (array == nullptr || !*array) fail(fmt::format("metadata key '{}' is an array without data", key));
    const GgufArray& items = **array;
    append_scalar<uint32_t>(static_cast<uint32_t>(items.element_type));
    append_scalar<uint64_t>(items.count);
    const auto size = gguf_format::fixed_value_size(static_cast<uint32_t>(items.element_type));
    if (!size) fail(fmt::format("metadata key '{}' has an array of unknown element type", key));
    if (*size != 0) {
      if (items.raw.size() != items.count * *size) {
        fail(fmt::format("metadata key '{}' array holds {} bytes for {} entries of {} bytes", key,
                         items.raw.size(), items.count, *size));
      }
      append(items.raw.data(), items.raw.size());
      return;
    }
    if (items.elements.size() != items.count) {
      fail(fmt::format("metadata key '{}' array holds {} elements but its count is {}", key,
                       items.elements.size(), items.count));
    }
    for (const auto& element : items.elements) {
      if (element.type != items.element_type) {
        fail(fmt::format("metadata key '{}' array mixes {} and {} values", key,
                         gguf_value_type_name(items.element_type),
                         gguf_value_type_name(element.type)));
      }
      append_value(element, key);
    }
    return;
  }
  uint8_t bytes[8];
  uint32_t size = 0;
  if (!scalar_bytes(value, bytes, size)) {
    fail(fmt::format("metadata key '{}' has type id {} with no matching value", key,
                     static_cast<uint32_t>(value.type)));
  }
  append(bytes, size);
}

GgufWriter::GgufWriter(std::filesystem::path path, uint32_t alignment)
    : state_(std::make_unique<State>()) {
  state_->path = std::move(path);
  state_->part_path = state_->path.string() + ".part";
  if (!gguf_format::is_power_of_two(alignment)) {
    throw GgufError(fmt::format("{}: alignment {} is not a power of two", state_->path.string(),
                                alignment));
  }
  state_->alignment = alignment;
}

GgufWriter::~GgufWriter() {
  if (!state_) return;
  if (state_->fd >= 0) ::close(state_->fd);
  if (!state_->finished && state_->fd >= 0) ::unlink(state_->part_path.c_str());
}

void GgufWriter::add_metadata(std::string key, GgufValue value) {
  if (state_->header_written) state_->fail("metadata added after the header was written");
  if (!state_->keys.insert(key).second) {
    state_->fail(fmt::format("metadata key '{}' added twice", key));
  }
  state_->metadata.push_back(GgufKeyValue{std::move(key), std::move(value)});
}

void GgufWriter::add_tensor_info(std::string name, TensorType type, std::vector<uint64_t> shape) {
  if (state_->header_written) state_->fail("tensor info added after the header was written");
  if (tensor_type_traits(static_cast<uint32_t>(type)) == nullptr) {
    state_->fail(fmt::format("tensor '{}' has unknown type id {}", name, static_cast<uint32_t>(type)));
  }
  PendingTensor tensor{std::move(name), type, std::move(shape)};
  uint64_t elements = 0;
  const std::string problem =
      gguf_format::check_tensor_shape(type, tensor.shape, elements, tensor.bytes);
  if (!problem.empty()) state_->fail(fmt::format("tensor '{}' {}", tensor.name, problem));
  if (!state_->tensor_names.insert(tensor.name).second) {
    state_->fail(fmt::format("tensor '{}' added twice", tensor.name));
  }
  state_->tensors.push_back(std::move(tensor));
}

void GgufWriter::write_header() {
  State& s = *state_;
  if (s.header_written) s.fail("write_header() called twice");

  // A reader only learns a non-default alignment from this key, so it is added when missing.
  if (s.keys.count(gguf_format::kAlignmentKey) == 0 && s.alignment != gguf_format::kDefaultAlignment) {
    s.keys.insert(gguf_format::kAlignmentKey);
    s.metadata.push_back(GgufKeyValue{gguf_format::kAlignmentKey,
                                      gguf_make_u32(static_cast<uint32_t>(s.alignment))});
  } else if (s.keys.count(gguf_format::kAlignmentKey) != 0) {
    for (const auto& entry : s.metadata) {
      if (entry.key != gguf_format::kAlignmentKey) continue;
      const auto* value = std::get_if<uint64_t>(&entry.value.data);
      if (value == nullptr || *value != s.alignment) {
        s.fail(fmt::format("metadata key '{}' does not match the writer's alignment {}",
                           gguf_format::kAlignmentKey, s.alignment));
      }
    }
  }

  uint64_t offset = 0;
  for (auto& tensor : s.tensors) {
    tensor.offset = offset;
    const auto padded = align_up(tensor.bytes, s.alignment);
    if (!padded || __builtin_add_overflow(offset, *padded, &offset)) {
      s.fail(fmt::format("tensor '{}' ends beyond 2^64 bytes", tensor.name));
    }
  }

  s.fd = ::open(s.part_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (s.fd < 0) s.fail_errno("creating the file");
  s.header_written = true;

  s.append_scalar<uint32_t>(gguf_format::kMagic);
  s.append_scalar<uint32_t>(gguf_format::kWrittenVersion);
  s.append_scalar<uint64_t>(s.tensors.size());
  s.append_scalar<uint64_t>(s.metadata.size());
  for (const auto& entry : s.metadata) {
    s.append_string(entry.key);
    s.append_scalar<uint32_t>(static_cast<uint32_t>(entry.value.type));
    s.append_value(entry.value, entry.key);
  }
  for (const auto& tensor : s.tensors) {
    s.append_string(tensor.name);
    s.append_scalar<uint32_t>(static_cast<uint32_t>(tensor.shape.size()));
    for (const uint64_t dimension : tensor.shape) s.append_scalar<uint64_t>(dimension);
    s.append_scalar<uint32_t>(static_cast<uint32_t>(tensor.type));
    s.append_scalar<uint64_t>(tensor.offset);
  }
  s.append_zeros(*align_up(s.file_position, s.alignment) - s.file_position);
}

void GgufWriter::State::finish_tensor_if_complete() {
  if (current_tensor_written != tensors[current_tensor].bytes) return;
  append_zeros(*align_up(current_tensor_written, alignment) - current_tensor_written);
  ++current_tensor;
  current_tensor_written = 0;
}

void GgufWriter::write_tensor_data(std::span<const std::byte> bytes) {
  State& s = *state_;
  if (!s.header_written) s.fail("tensor data written before write_header()");
  if (bytes.empty()) return;
  if (s.current_tensor >= s.tensors.size()) {
    s.fail(fmt::format("{} bytes of tensor data written after the last tensor", bytes.size()));
  }
  const PendingTensor& tensor = s.tensors[s.current_tensor];
  if (bytes.size() > tensor.bytes - s.current_tensor_written) {
    s.fail(fmt::format("tensor '{}' takes {} bytes, but {} bytes were written after {}",
                       tensor.name, tensor.bytes, bytes.size(), s.current_tensor_written));
  }
  s.append(bytes.data(), bytes.size());
  s.current_tensor_written += bytes.size();
  s.finish_tensor_if_complete();
}

void GgufWriter::write_zero_tensor_data(uint64_t bytes) {
  State& s = *state_;
  if (!s.header_written) s.fail("tensor data written before write_header()");
  if (bytes == 0) return;
  if (s.current_tensor >= s.tensors.size()) {
    s.fail(fmt::format("{} zero bytes of tensor data written after the last tensor", bytes));
  }
  const PendingTensor& tensor = s.tensors[s.current_tensor];
  if (bytes > tensor.bytes - s.current_tensor_written) {
    s.fail(fmt::format("tensor '{}' takes {} bytes, but {} zero bytes were written after {}",
                       tensor.name, tensor.bytes, bytes, s.current_tensor_written));
  }
  s.flush();
  if (::lseek(s.fd, static_cast<off_t>(bytes), SEEK_CUR) < 0) s.fail_errno("seeking");
  s.file_position += bytes;
  s.current_tensor_written += bytes;
  s.finish_tensor_if_complete();
}

void GgufWriter::finish() {
  State& s = *state_;
  if (s.finished) s.fail("finish() called twice");
  if (!s.header_written) s.fail("finish() called before write_header()");
  if (s.current_tensor < s.tensors.size()) {
    const PendingTensor& tensor = s.tensors[s.current_tensor];
    s.fail(fmt::format("tensor '{}' received {} of its {} bytes before finish()", tensor.name,
                       s.current_tensor_written, tensor.bytes));
  }
  s.flush();
  // A seek past the last written byte leaves the file short until it is extended explicitly.
  if (::ftruncate(s.fd, static_cast<off_t>(s.file_position)) != 0) s.fail_errno("setting the size");
  if (::fsync(s.fd) != 0) s.fail_errno("syncing to disk");
  const int fd = s.fd;
  s.fd = -1;
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(s.part_path.c_str());
    errno = error;
    s.fail_errno("closing");
  }
  std::error_code error;
  std::filesystem::rename(s.part_path, s.path, error);
  if (error) {
    ::unlink(s.part_path.c_str());
    s.fail(fmt::format("renaming to {} failed: {}", s.path.string(), error.message()));
  }
  s.finished = true;
}

}  // namespace utter::inference
