// GGUF reader: maps the file and validates every field against the bytes that remain before
// using it, so hostile or truncated input ends in a GgufError, never in an out-of-bounds read
// or a huge allocation.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <map>

#include "gguf_format.h"
#include "utter/inference/gguf.h"

namespace utter::inference {

using gguf_format::align_up;
using gguf_format::fixed_value_size;
using gguf_format::is_integer_type;

namespace {

// Renders text taken from a file for an error message: printable ASCII stays, every other
// byte becomes \xNN, and very long names are cut so one message stays one line.
std::string escape_name(std::string_view text) {
  constexpr size_t kMaxShown = 120;
  std::string out;
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > kMaxShown) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

std::string_view article_for(GgufValueType type) {
  switch (type) {
    case GgufValueType::I8:
    case GgufValueType::I16:
    case GgufValueType::I32:
    case GgufValueType::I64:
    case GgufValueType::F32:
    case GgufValueType::F64:
    case GgufValueType::ARRAY: return "an";
    default: return "a";
  }
}

// "a string", "an array of i32 (48 entries)".
std::string describe_value(const GgufValue& value) {
  if (value.type == GgufValueType::ARRAY) {
    const auto* array = std::get_if<std::shared_ptr<GgufArray>>(&value.data);
    if (array != nullptr && *array) {
      return fmt::format("an array of {} ({} entries)", gguf_value_type_name((*array)->element_type),
                         (*array)->count);
    }
  }
  return fmt::format("{} {}", article_for(value.type), gguf_value_type_name(value.type));
}

template <typename T>
T load(const std::byte* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

// Reads one raw scalar of an integer type as a signed or unsigned 64-bit value.
struct IntegerValue {
  bool negative = false;
  uint64_t magnitude = 0;  // the value itself when not negative
  int64_t as_signed = 0;
};

IntegerValue decode_integer(GgufValueType type, const std::byte* at) {
  IntegerValue result;
  int64_t s = 0;
  switch (type) {
    case GgufValueType::U8: result.magnitude = load<uint8_t>(at); break;
    case GgufValueType::U16: result.magnitude = load<uint16_t>(at); break;
    case GgufValueType::U32: result.magnitude = load<uint32_t>(at); break;
    case GgufValueType::U64: result.magnitude = load<uint64_t>(at); break;
    case GgufValueType::I8: s = load<int8_t>(at); break;
    case GgufValueType::I16: s = load<int16_t>(at); break;
    case GgufValueType::I32: s = load<int32_t>(at); break;
    case GgufValueType::I64: s = load<int64_t>(at); break;
    default: break;
  }
  if (type == GgufValueType::I8 || type == GgufValueType::I16 || type == GgufValueType::I32 ||
      type == GgufValueType::I64) {
    result.negative = s < 0;
    result.as_signed = s;
    result.magnitude = s < 0 ? 0 : static_cast<uint64_t>(s);
  } else {
    result.as_signed = static_cast<int64_t>(result.magnitude);
  }
  return result;
}

// Names the field being read for error messages. It is formatted only when an error is
// raised, because building a string per array entry would dominate the parse time.
struct Where {
  Where(std::string_view what_in) : what(what_in) {}
  Where(const std::string& what_in) : what(what_in) {}
  Where(const char* what_in) : what(what_in) {}
  Where(std::string_view what_in, std::string_view suffix_in, uint64_t entry_in = kNoEntry)
      : what(what_in), suffix(suffix_in), entry(entry_in) {}

  static constexpr uint64_t kNoEntry = ~uint64_t{0};
  std::string_view what;
  std::string_view suffix;
  uint64_t entry = kNoEntry;

  std::string text() const {
    std::string out(what);
    if (entry != kNoEntry) out += fmt::format(" entry {}", entry);
    out += suffix;
    return out;
  }
};

class Parser {
 public:
  Parser(std::span<const std::byte> bytes, const std::string& name)
      : base_(bytes.data()), size_(bytes.size()), name_(name) {}

  const std::byte* base() const { return base_; }
  uint64_t position() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  [[noreturn]] void fail(uint64_t at, const std::string& problem) const {
    throw GgufError(fmt::format("{}: byte {}: {}", name_, at, problem));
  }

  void need(uint64_t count, const Where& what) const {
    if (count > remaining()) {
      fail(pos_, fmt::format("{} needs {} bytes, but the file ends after {} more ({} bytes in all)",
                             what.text(), count, remaining(), size_));
    }
  }

  template <typename T>
  T read(const Where& what) {
    need(sizeof(T), what);
    const T value = load<T>(base_ + pos_);
    pos_ += sizeof(T);
    return value;
  }

  std::string_view read_string(const Where& what) {
    const uint64_t at = pos_;
    const uint64_t length = read<uint64_t>(what);
    if (length > remaining()) {
      fail(at, fmt::format("{} has length {}, but only {} bytes remain in the file", what.text(), length,
                           remaining()));
    }
    std::string_view text(reinterpret_cast<const char*>(base_ + pos_), length);
    pos_ += length;
    return text;
  }

  GgufValue read_value(uint32_t type_id, int depth, const Where& what) {
    GgufValue value;
    value.type = static_cast<GgufValueType>(type_id);
    const uint64_t at = pos_;
    switch (value.type) {
      case GgufValueType::U8: value.data = uint64_t{read<uint8_t>(what)}; break;
      case GgufValueType::U16: value.data = uint64_t{read<uint16_t>(what)}; break;
      case GgufValueType::U32: value.data = uint64_t{read<uint32_t>(what)}; break;
      case GgufValueType::U64: value.data = read<uint64_t>(what); break;
      case GgufValueType::I8: value.data = int64_t{read<int8_t>(what)}; break;
      case GgufValueType::I16: value.data = int64_t{read<int16_t>(what)}; break;
      case GgufValueType::I32: value.data = int64_t{read<int32_t>(what)}; break;
      case GgufValueType::I64: value.data = read<int64_t>(what); break;
      case GgufValueType::F32: value.data = static_cast<double>(read<float>(what)); break;
      case GgufValueType::F64: value.data = read<double>(what); break;
      case GgufValueType::BOOL: {
        const uint8_t byte = read<uint8_t>(what);
        if (byte > 1) fail(at, fmt::format("{} is a bool with byte value {}, expected 0 or 1", what.text(), byte));
        value.data = byte == 1;
        break;
      }
      case GgufValueType::STRING: value.data = read_string(what); break;
      case GgufValueType::ARRAY: value.data = read_array(depth, what); break;
      default:
        fail(at, fmt::format("{} has value type id {}, which is not a GGUF value type (0 to 12)",
                             what.text(), type_id));
    }
    return value;
  }

 private:
  std::shared_ptr<GgufArray> read_array(int depth, const Where& where) {
    const std::string what = where.text();
    const uint64_t type_at = pos_;
    const uint32_t element_type_id = read<uint32_t>(Where(what, " array element type"));
    const auto element_size = fixed_value_size(element_type_id);
    if (!element_size) {
      fail(type_at, fmt::format("{} is an array of type id {}, which is not a GGUF value type",
                                what, element_type_id));
    }
    if (static_cast<GgufValueType>(element_type_id) == GgufValueType::ARRAY &&
        depth + 1 >= gguf_format::kMaxArrayDepth) {
      fail(type_at, fmt::format("{} nests arrays more than {} levels deep", what,
                                gguf_format::kMaxArrayDepth));
    }
    const uint64_t count_at = pos_;
    const uint64_t count = read<uint64_t>(Where(what, " array length"));

    auto array = std::make_shared<GgufArray>();
    array->element_type = static_cast<GgufValueType>(element_type_id);
    array->count = count;

    // Smallest encoding of one element: strings need their 8-byte length, nested arrays their
    // 4-byte type and 8-byte count. Checking this first keeps a forged count from allocating.
    const uint64_t min_element_bytes =
        *element_size != 0 ? *element_size
                           : (array->element_type == GgufValueType::STRING ? 8 : 12);
    if (count > remaining() / min_element_bytes) {
      fail(count_at, fmt::format("{} array claims {} entries of at least {} bytes each, but only "
                                 "{} bytes remain in the file",
                                 what, count, min_element_bytes, remaining()));
    }

    if (*element_size != 0) {
      const uint64_t bytes = count * *element_size;  // cannot overflow after the check above
      array->raw = std::span<const std::byte>(base_ + pos_, bytes);
      if (array->element_type == GgufValueType::BOOL) {
        for (uint64_t i = 0; i < count; ++i) {
          const auto byte = static_cast<uint8_t>(array->raw[i]);
          if (byte > 1) {
            fail(pos_ + i, fmt::format("{} entry {} is a bool with byte value {}, expected 0 or 1",
                                       what, i, byte));
          }
        }
      }
      pos_ += bytes;
      return array;
    }

    array->elements.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      array->elements.push_back(read_value(element_type_id, depth + 1, Where(what, "", i)));
    }
    return array;
  }

  const std::byte* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& name_;
};

// Everything parsed from one file; GgufFile::State adds the ownership of the mapping.
struct GgufContents {
  std::string display_name;
  uint32_t version = 0;
  uint64_t file_size = 0;
  uint64_t alignment = gguf_format::kDefaultAlignment;
  uint64_t data_offset = 0;
  std::vector<GgufKeyValue> metadata;
  std::map<std::string, size_t, std::less<>> key_index;
  std::vector<GgufTensorInfo> tensors;
  std::map<std::string, size_t, std::less<>> tensor_index;

  [[noreturn]] void fail_key(std::string_view key, const std::string& problem) const {
    throw GgufError(fmt::format("{}: metadata key '{}' {}", display_name, escape_name(key), problem));
  }

  const GgufValue& require(std::string_view key) const;
  const GgufArray& require_array(std::string_view key, std::string_view expected) const;
};

}  // namespace

struct GgufFile::State : GgufContents {
  void* mapping = nullptr;
  size_t mapping_size = 0;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (mapping != nullptr) munmap(mapping, mapping_size);
  }
};

namespace {

void parse_header(Parser& parser, GgufContents& state);

}  // namespace

GgufFile::GgufFile(std::unique_ptr<State> state) : state_(std::move(state)) {}
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

GgufFile GgufFile::open(const std::filesystem::path& path) {
  auto state = std::make_unique<State>();
  state->display_name = path.string();
  const std::string& name = state->display_name;

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw GgufError(fmt::format("{}: cannot open: {}", name, std::strerror(errno)));
  }
  struct stat info {};
  if (fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    throw GgufError(fmt::format("{}: cannot read file status: {}", name, std::strerror(error)));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw GgufError(fmt::format("{}: not a regular file; pass the path of a .gguf file", name));
  }
  if (info.st_size == 0) {
    ::close(fd);
    throw GgufError(fmt::format("{}: the file is empty (0 bytes), expected a GGUF header", name));
  }
  const auto size = static_cast<size_t>(info.st_size);
  void* mapping = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_error = errno;
  // The mapping keeps the file contents reachable, so the descriptor is not needed any more.
  ::close(fd);
  if (mapping == MAP_FAILED) {
    throw GgufError(fmt::format("{}: cannot map {} bytes into memory: {}", name, size,
                                std::strerror(map_error)));
  }
  state->mapping = mapping;
  state->mapping_size = size;

  Parser parser(std::span<const std::byte>(static_cast<const std::byte*>(mapping), size), name);
  parse_header(parser, *state);
  return GgufFile(std::move(state));
}

GgufFile GgufFile::parse(std::span<const std::byte> bytes, std::string display_name) {
  auto state = std::make_unique<State>();
  state->display_name = std::move(display_name);
  Parser parser(bytes, state->display_name);
  parse_header(parser, *state);
  return GgufFile(std::move(state));
}

namespace {

void check_version(Parser& parser, uint32_t version) {
  if (version == 2 || version == 3) return;
  if (version == 1) {
    parser.fail(4, "GGUF version 1 is not supported (it stores 32-bit counts); convert the model "
                   "again with a current llama.cpp");
  }
  if ((version & 0xffff) == 0 && version != 0) {
    parser.fail(4, fmt::format("version field is {:#x}; the file looks big-endian, and only "
                               "little-endian GGUF files are supported",
                               version));
  }
  parser.fail(4, fmt::format("GGUF version {} is not supported, expected 2 or 3", version));
}

void read_metadata(Parser& parser, GgufContents& state, uint64_t kv_count) {
  // The smallest entry is an empty key (8 bytes), its type (4) and a one-byte value.
  constexpr uint64_t kMinEntryBytes = 13;
  if (kv_count > parser.remaining() / kMinEntryBytes) {
    parser.fail(16, fmt::format("metadata count {} needs at least {} bytes each, but only {} bytes "
                                "follow the header",
                                kv_count, kMinEntryBytes, parser.remaining()));
  }
  state.metadata.reserve(kv_count);
  for (uint64_t i = 0; i < kv_count; ++i) {
    const uint64_t key_at = parser.position();
    const std::string_view key = parser.read_string(fmt::format("metadata entry {} key", i));
    if (state.key_index.count(key) != 0) {
      parser.fail(key_at, fmt::format("metadata key '{}' appears twice", escape_name(key)));
    }
    const std::string what = fmt::format("metadata key '{}'", escape_name(key));
    const uint32_t type_id = parser.read<uint32_t>(what + " value type");
    GgufValue value = parser.read_value(type_id, 0, what);
    state.key_index.emplace(std::string(key), state.metadata.size());
    state.metadata.push_back(GgufKeyValue{std::string(key), std::move(value)});
  }
}

void read_alignment(GgufContents& state) {
  const auto found = state.key_index.find(gguf_format::kAlignmentKey);
  if (found == state.key_index.end()) return;
  const GgufValue& value = state.metadata[found->second].value;
  uint64_t alignment = 0;
  if (const auto* u = std::get_if<uint64_t>(&value.data); u && is_integer_type(value.type)) {
    alignment = *u;
  } else if (const auto* s = std::get_if<int64_t>(&value.data); s && is_integer_type(value.type)) {
    alignment = *s < 0 ? 0 : static_cast<uint64_t>(*s);
  } else {
    state.fail_key(gguf_format::kAlignmentKey,
                   fmt::format("is {}, expected an unsigned integer", describe_value(value)));
  }
  if (!gguf_format::is_power_of_two(alignment) || alignment > (uint64_t{1} << 30)) {
    state.fail_key(gguf_format::kAlignmentKey,
                   fmt::format("is {}, expected a power of two from 1 to 2^30", alignment));
  }
  state.alignment = alignment;
}

struct TensorFieldOffsets {
  uint64_t info = 0;    // start of the tensor info
  uint64_t offset = 0;  // its data offset field
};

void read_tensor_infos(Parser& parser, GgufContents& state, uint64_t tensor_count,
                       std::vector<TensorFieldOffsets>& fields) {
  // Name length (8), one dimension (4 + 8), type (4) and offset (8).
  constexpr uint64_t kMinInfoBytes = 32;
  if (tensor_count > parser.remaining() / kMinInfoBytes) {
    parser.fail(8, fmt::format("tensor count {} needs at least {} bytes each, but only {} bytes "
                               "follow the metadata",
                               tensor_count, kMinInfoBytes, parser.remaining()));
  }
  state.tensors.reserve(tensor_count);
  fields.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    TensorFieldOffsets field;
    field.info = parser.position();
    const std::string_view name = parser.read_string(fmt::format("tensor {} name", i));
    if (state.tensor_index.count(name) != 0) {
      parser.fail(field.info, fmt::format("tensor name '{}' appears twice", escape_name(name)));
    }
    const std::string what = fmt::format("tensor '{}'", escape_name(name));

    const uint64_t dims_at = parser.position();
    const uint32_t n_dims = parser.read<uint32_t>(what + " dimension count");
    if (n_dims == 0 || n_dims > gguf_format::kMaxDimensions) {
      parser.fail(dims_at, fmt::format("{} has {} dimensions, expected 1 to {}", what, n_dims,
                                       gguf_format::kMaxDimensions));
    }
    GgufTensorInfo info;
    info.name = std::string(name);
    info.shape.resize(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      info.shape[d] = parser.read<uint64_t>(what + " dimension");
    }
    const uint64_t type_at = parser.position();
    const uint32_t type_id = parser.read<uint32_t>(what + " type");
    const auto* traits = tensor_type_traits(type_id);
    if (traits == nullptr) {
      parser.fail(type_at, fmt::format("{} has type id {}, which is not a tensor type this program "
                                       "supports",
                                       what, type_id));
    }
    info.type = traits->type;
    const std::string problem =
        gguf_format::check_tensor_shape(info.type, info.shape, info.elements, info.bytes);
    if (!problem.empty()) parser.fail(dims_at, fmt::format("{} {}", what, problem));

    field.offset = parser.position();
    info.offset = parser.read<uint64_t>(what + " data offset");
    state.tensor_index.emplace(info.name, state.tensors.size());
    state.tensors.push_back(std::move(info));
    fields.push_back(field);
  }
}

void locate_tensor_data(Parser& parser, GgufContents& state, const std::byte* base,
                        const std::vector<TensorFieldOffsets>& fields) {
  const auto data_offset = align_up(parser.position(), state.alignment);
  const uint64_t file_size = state.file_size;
  if (!data_offset || (*data_offset > file_size && !state.tensors.empty())) {
    parser.fail(parser.position(),
                fmt::format("the tensor data section would start past the end of the file ({} "
                            "bytes) after padding to {} bytes",
                            file_size, state.alignment));
  }
  state.data_offset = *data_offset;
  const uint64_t data_bytes = file_size >= *data_offset ? file_size - *data_offset : 0;

  for (size_t i = 0; i < state.tensors.size(); ++i) {
    GgufTensorInfo& info = state.tensors[i];
    const std::string name = escape_name(info.name);
    if (info.offset % state.alignment != 0) {
      parser.fail(fields[i].offset,
                  fmt::format("tensor '{}' data offset {} is not a multiple of the alignment {}",
                              name, info.offset, state.alignment));
    }
    if (info.offset > data_bytes || info.bytes > data_bytes - info.offset) {
      parser.fail(fields[i].offset,
                  fmt::format("tensor '{}' data (offset {}, {} bytes) runs past the end of the "
                              "file ({} bytes)",
                              name, info.offset, info.bytes, file_size));
    }
    info.data = base + *data_offset + info.offset;
  }
}

void parse_header(Parser& parser, GgufContents& state) {
  state.file_size = parser.remaining();
  if (parser.remaining() < 4) {
    parser.fail(0, fmt::format("the file is {} bytes, too short for the GGUF magic",
                               parser.remaining()));
  }
  const uint32_t magic = parser.read<uint32_t>("magic");
  if (magic != gguf_format::kMagic) {
    parser.fail(0, fmt::format("the file does not start with the GGUF magic (found bytes "
                               "{:02x} {:02x} {:02x} {:02x}); is this a GGUF model file?",
                               magic & 0xff, (magic >> 8) & 0xff, (magic >> 16) & 0xff,
                               magic >> 24));
  }
  const uint32_t version = parser.read<uint32_t>("version");
  check_version(parser, version);
  state.version = version;
  const uint64_t tensor_count = parser.read<uint64_t>("tensor count");
  const uint64_t kv_count = parser.read<uint64_t>("metadata count");

  read_metadata(parser, state, kv_count);
  read_alignment(state);
  std::vector<TensorFieldOffsets> fields;
  read_tensor_infos(parser, state, tensor_count, fields);
  locate_tensor_data(parser, state, parser.base(), fields);
}

}  // namespace

const std::string& GgufFile::display_name() const { return state_->display_name; }
uint32_t GgufFile::version() const { return state_->version; }
uint64_t GgufFile::file_size() const { return state_->file_size; }
uint64_t GgufFile::alignment() const { return state_->alignment; }
uint64_t GgufFile::data_offset() const { return state_->data_offset; }
const std::vector<GgufKeyValue>& GgufFile::metadata() const { return state_->metadata; }
const std::vector<GgufTensorInfo>& GgufFile::tensors() const { return state_->tensors; }

const GgufValue* GgufFile::find(std::string_view key) const {
  const auto found = state_->key_index.find(key);
  return found == state_->key_index.end() ? nullptr : &state_->metadata[found->second].value;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  const auto found = state_->tensor_index.find(name);
  return found == state_->tensor_index.end() ? nullptr : &state_->tensors[found->second];
}

const GgufTensorInfo& GgufFile::tensor(std::string_view name) const {
  const auto* info = find_tensor(name);
  if (info == nullptr) {
    throw GgufError(fmt::format("{}: tensor '{}' not found ({} tensors in the file)",
                                state_->display_name, escape_name(name), state_->tensors.size()));
  }
  return *info;
}

// ---- typed accessors ----

const GgufValue& GgufContents::require(std::string_view key) const {
  const auto found = key_index.find(key);
  if (found == key_index.end()) fail_key(key, "is missing");
  return metadata[found->second].value;
}

const GgufArray& GgufContents::require_array(std::string_view key,
                                                std::string_view expected) const {
  const GgufValue& value = require(key);
  const auto* array = std::get_if<std::shared_ptr<GgufArray>>(&value.data);
  if (value.type != GgufValueType::ARRAY || array == nullptr || !*array) {
    fail_key(key, fmt::format("is {}, expected {}", describe_value(value), expected));
  }
  return **array;
}

namespace {

// Converts an integer scalar to a signed/unsigned pair; false when the value is no integer.
bool scalar_integer(const GgufValue& value, IntegerValue& out) {
  if (!is_integer_type(value.type)) return false;
  if (const auto* u = std::get_if<uint64_t>(&value.data)) {
    out.magnitude = *u;
    out.negative = false;
    out.as_signed = static_cast<int64_t>(*u);
    return true;
  }
  if (const auto* s = std::get_if<int64_t>(&value.data)) {
    out.as_signed = *s;
    out.negative = *s < 0;
    out.magnitude = *s < 0 ? 0 : static_cast<uint64_t>(*s);
    return true;
  }
  return false;
}

std::string format_integer(const IntegerValue& value) {
  return value.negative ? fmt::format("{}", value.as_signed) : fmt::format("{}", value.magnitude);
}

}  // namespace

std::string_view GgufFile::get_string(std::string_view key) const {
  const GgufValue& value = state_->require(key);
  const auto* text = std::get_if<std::string_view>(&value.data);
  if (value.type != GgufValueType::STRING || text == nullptr) {
    state_->fail_key(key, fmt::format("is {}, expected a string", describe_value(value)));
  }
  return *text;
}

uint32_t GgufFile::get_u32(std::string_view key) const {
  const GgufValue& value = state_->require(key);
  IntegerValue integer;
  if (!scalar_integer(value, integer)) {
    state_->fail_key(key, fmt::format("is {}, expected an unsigned integer", describe_value(value)));
  }
  if (integer.negative || integer.magnitude > std::numeric_limits<uint32_t>::max()) {
    state_->fail_key(key, fmt::format("is {}, which does not fit in an unsigned 32-bit integer",
                                      format_integer(integer)));
  }
  return static_cast<uint32_t>(integer.magnitude);
}

int64_t GgufFile::get_i64(std::string_view key) const {
  const GgufValue& value = state_->require(key);
  IntegerValue integer;
  if (!scalar_integer(value, integer)) {
    state_->fail_key(key, fmt::format("is {}, expected an integer", describe_value(value)));
  }
  if (!integer.negative &&
      integer.magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    state_->fail_key(key, fmt::format("is {}, which does not fit in a signed 64-bit integer",
                                      integer.magnitude));
  }
  return integer.as_signed;
}

float GgufFile::get_f32(std::string_view key) const {
  const GgufValue& value = state_->require(key);
  const auto* number = std::get_if<double>(&value.data);
  if ((value.type != GgufValueType::F32 && value.type != GgufValueType::F64) || number == nullptr) {
    state_->fail_key(key, fmt::format("is {}, expected a float", describe_value(value)));
  }
  return static_cast<float>(*number);
}

bool GgufFile::get_bool(std::string_view key) const {
  const GgufValue& value = state_->require(key);
  const auto* flag = std::get_if<bool>(&value.data);
  if (value.type != GgufValueType::BOOL || flag == nullptr) {
    state_->fail_key(key, fmt::format("is {}, expected a bool", describe_value(value)));
  }
  return *flag;
}

std::vector<std::string_view> GgufFile::get_string_array(std::string_view key) const {
  const GgufArray& array = state_->require_array(key, "an array of string");
  if (array.element_type != GgufValueType::STRING) {
    state_->fail_key(key, fmt::format("is an array of {}, expected an array of string",
                                      gguf_value_type_name(array.element_type)));
  }
  std::vector<std::string_view> result;
  result.reserve(array.elements.size());
  for (const auto& element : array.elements) {
    const auto* text = std::get_if<std::string_view>(&element.data);
    result.push_back(text != nullptr ? *text : std::string_view());
  }
  return result;
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  const GgufArray& array = state_->require_array(key, "an array of integers");
  if (!is_integer_type(array.element_type)) {
    state_->fail_key(key, fmt::format("is an array of {}, expected an array of integers",
                                      gguf_value_type_name(array.element_type)));
  }
  const uint32_t size = *fixed_value_size(static_cast<uint32_t>(array.element_type));
  std::vector<int64_t> result;
  result.reserve(array.count);
  for (uint64_t i = 0; i < array.count && (i + 1) * size <= array.raw.size(); ++i) {
    const IntegerValue integer = decode_integer(array.element_type, array.raw.data() + i * size);
    if (!integer.negative &&
        integer.magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      state_->fail_key(key, fmt::format("entry {} is {}, which does not fit in a signed 64-bit "
                                        "integer",
                                        i, integer.magnitude));
    }
    result.push_back(integer.as_signed);
  }
  return result;
}

std::vector<float> GgufFile::get_f32_array(std::string_view key) const {
  const GgufArray& array = state_->require_array(key, "an array of f32");
  std::vector<float> result;
  result.reserve(array.count);
  if (array.element_type == GgufValueType::F32) {
    for (uint64_t i = 0; i < array.count && (i + 1) * 4 <= array.raw.size(); ++i) {
      result.push_back(load<float>(array.raw.data() + i * 4));
    }
  } else if (array.element_type == GgufValueType::F64) {
    for (uint64_t i = 0; i < array.count && (i + 1) * 8 <= array.raw.size(); ++i) {
      result.push_back(static_cast<float>(load<double>(array.raw.data() + i * 8)));
    }
  } else {
    state_->fail_key(key, fmt::format("is an array of {}, expected an array of f32",
                                      gguf_value_type_name(array.element_type)));
  }
  return result;
}

std::vector<bool> GgufFile::get_bool_array(std::string_view key) const {
  const GgufArray& array = state_->require_array(key, "an array of bool");
  if (array.element_type != GgufValueType::BOOL) {
    state_->fail_key(key, fmt::format("is an array of {}, expected an array of bool",
                                      gguf_value_type_name(array.element_type)));
  }
  std::vector<bool> result;
  result.reserve(array.count);
  for (uint64_t i = 0; i < array.count && i < array.raw.size(); ++i) {
    result.push_back(static_cast<uint8_t>(array.raw[i]) != 0);
  }
  return result;
}

std::string_view GgufFile::get_string_or(std::string_view key, std::string_view fallback) const {
  return has(key) ? get_string(key) : fallback;
}

uint32_t GgufFile::get_u32_or(std::string_view key, uint32_t fallback) const {
  return has(key) ? get_u32(key) : fallback;
}

float GgufFile::get_f32_or(std::string_view key, float fallback) const {
  return has(key) ? get_f32(key) : fallback;
}

bool GgufFile::get_bool_or(std::string_view key, bool fallback) const {
  return has(key) ? get_bool(key) : fallback;
}

}  // namespace utter::inference
