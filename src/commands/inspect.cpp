// `utter inspect FILE.gguf`: prints the metadata, tensor table and a summary of a GGUF file,
// as text or as one JSON document.
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "commands/command_registry.h"
#include "utter/inference/gguf.h"

namespace {

using utter::inference::GgufArray;
using utter::inference::GgufFile;
using utter::inference::GgufValue;
using utter::inference::GgufValueType;

struct InspectOptions {
  std::string path;
  bool json = false;
  bool all = false;
};

// Arrays longer than this are shown as their first entries and a count unless --all is given.
constexpr uint64_t kShownArrayEntries = 8;
// Longer strings (chat templates) are cut in the text output unless --all is given.
constexpr size_t kShownStringBytes = 160;

// Length of the valid UTF-8 sequence starting at text[i], or 0 if the bytes there are not one.
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  size_t length = 0;
  uint32_t min_code_point = 0;
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) {
    length = 2;
    min_code_point = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3;
    min_code_point = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4;
    min_code_point = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  uint32_t code_point = lead & (0x7f >> length);
  for (size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3f);
  }
  const bool surrogate = code_point >= 0xd800 && code_point <= 0xdfff;
  if (code_point < min_code_point || code_point > 0x10ffff || surrogate) return 0;
  return length;
}

// Quotes text from the file for a terminal: valid UTF-8 passes through, control characters
// and invalid bytes become escapes, so a hostile string cannot move the cursor or break lines.
std::string quote_for_terminal(std::string_view text, size_t max_bytes) {
  std::string out = "\"";
  size_t i = 0;
  while (i < text.size() && i < max_bytes) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t length = utf8_sequence_length(text, i);
    if (length == 1 && c >= 0x20 && c != 0x7f) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (length == 1 && c == '\n') {
      out += "\\n";
    } else if (length == 1 && c == '\t') {
      out += "\\t";
    } else if (length > 1) {
      out.append(text.substr(i, length));
      i += length;
      continue;
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
    ++i;
  }
  out.push_back('"');
  if (i < text.size()) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

// Prints a key or tensor name bare when it is plain printable ASCII, quoted otherwise.
std::string display_name(std::string_view text) {
  bool plain = !text.empty() && text.size() <= 256;
  for (const char c : text) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') plain = false;
  }
  return plain ? std::string(text) : quote_for_terminal(text, 256);
}

// Replaces invalid UTF-8 so nlohmann-json can serialise the text; valid text is unchanged.
std::string json_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const size_t length = utf8_sequence_length(text, i);
    if (length == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

// One element of a scalar array, decoded from its little-endian bytes.
GgufValue raw_element(const GgufArray& array, uint64_t index) {
  const std::byte* at = nullptr;
  const auto load = [&](auto sample) {
    decltype(sample) value;
    std::memcpy(&value, at, sizeof(value));
    return value;
  };
  const auto type = array.element_type;
  uint64_t size = 1;
  switch (type) {
    case GgufValueType::U16:
    case GgufValueType::I16: size = 2; break;
    case GgufValueType::U32:
    case GgufValueType::I32:
    case GgufValueType::F32: size = 4; break;
    case GgufValueType::U64:
    case GgufValueType::I64:
    case GgufValueType::F64: size = 8; break;
    default: break;
  }
  GgufValue value;
  value.type = type;
  if ((index + 1) * size > array.raw.size()) return value;
  at = array.raw.data() + index * size;
  switch (type) {
    case GgufValueType::U8: value.data = uint64_t{load(uint8_t{})}; break;
    case GgufValueType::U16: value.data = uint64_t{load(uint16_t{})}; break;
    case GgufValueType::U32: value.data = uint64_t{load(uint32_t{})}; break;
    case GgufValueType::U64: value.data = load(uint64_t{}); break;
    case GgufValueType::I8: value.data = int64_t{load(int8_t{})}; break;
    case GgufValueType::I16: value.data = int64_t{load(int16_t{})}; break;
    case GgufValueType::I32: value.data = int64_t{load(int32_t{})}; break;
    case GgufValueType::I64: value.data = load(int64_t{}); break;
    case GgufValueType::F32: value.data = static_cast<double>(load(float{})); break;
    case GgufValueType::F64: value.data = load(double{}); break;
    case GgufValueType::BOOL: value.data = load(uint8_t{}) != 0; break;
    default: break;
  }
  return value;
}

const GgufArray* array_of(const GgufValue& value) {
  const auto* array = std::get_if<std::shared_ptr<GgufArray>>(&value.data);
  return array != nullptr ? array->get() : nullptr;
}

GgufValue array_element(const GgufArray& array, uint64_t index) {
  if (!array.elements.empty()) return array.elements[index];
  return raw_element(array, index);
}

std::string type_label(const GgufValue& value) {
  const GgufArray* array = array_of(value);
  if (value.type == GgufValueType::ARRAY && array != nullptr) {
    return fmt::format("[{}; {}]", utter::inference::gguf_value_type_name(array->element_type),
                       array->count);
  }
  return std::string(utter::inference::gguf_value_type_name(value.type));
}

std::string format_scalar(const GgufValue& value, bool all) {
  if (const auto* u = std::get_if<uint64_t>(&value.data)) return fmt::format("{}", *u);
  if (const auto* s = std::get_if<int64_t>(&value.data)) return fmt::format("{}", *s);
  if (const auto* d = std::get_if<double>(&value.data)) {
    if (value.type == GgufValueType::F32) return fmt::format("{}", static_cast<float>(*d));
    return fmt::format("{}", *d);
  }
  if (const auto* b = std::get_if<bool>(&value.data)) return *b ? "true" : "false";
  if (const auto* text = std::get_if<std::string_view>(&value.data)) {
    return quote_for_terminal(*text, all ? text->size() : kShownStringBytes);
  }
  return "?";
}

std::string format_value(const GgufValue& value, bool all) {
  const GgufArray* array = array_of(value);
  if (value.type != GgufValueType::ARRAY || array == nullptr) return format_scalar(value, all);
  const uint64_t shown = all ? array->count : std::min(array->count, kShownArrayEntries);
  std::string out = "[";
  for (uint64_t i = 0; i < shown; ++i) {
    if (i != 0) out += ", ";
    out += format_value(array_element(*array, i), all);
  }
  if (shown < array->count) {
    out += fmt::format(" ...] ({} entries)", array->count);
  } else {
    out += "]";
  }
  return out;
}

nlohmann::ordered_json value_to_json(const GgufValue& value, bool all) {
  if (const auto* u = std::get_if<uint64_t>(&value.data)) return *u;
  if (const auto* s = std::get_if<int64_t>(&value.data)) return *s;
  if (const auto* d = std::get_if<double>(&value.data)) {
    if (value.type == GgufValueType::F32) return static_cast<float>(*d);
    return *d;
  }
  if (const auto* b = std::get_if<bool>(&value.data)) return *b;
  if (const auto* text = std::get_if<std::string_view>(&value.data)) return json_safe(*text);
  const GgufArray* array = array_of(value);
  if (array == nullptr) return nullptr;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  const uint64_t shown = all ? array->count : std::min(array->count, kShownArrayEntries);
  for (uint64_t i = 0; i < shown; ++i) list.push_back(value_to_json(array_element(*array, i), all));
  return list;
}

struct TypeTotals {
  uint64_t tensors = 0;
  uint64_t bytes = 0;
  uint64_t parameters = 0;
};

struct Summary {
  std::map<std::string, TypeTotals> per_type;
  uint64_t parameters = 0;
  uint64_t tensor_bytes = 0;
  std::string architecture;
};

Summary summarize(const GgufFile& file) {
  Summary summary;
  for (const auto& tensor : file.tensors()) {
    auto& totals = summary.per_type[std::string(utter::inference::tensor_type_name(tensor.type))];
    ++totals.tensors;
    totals.bytes += tensor.bytes;
    totals.parameters += tensor.elements;
    summary.parameters += tensor.elements;
    summary.tensor_bytes += tensor.bytes;
  }
  const GgufValue* architecture = file.find("general.architecture");
  if (architecture != nullptr) {
    if (const auto* text = std::get_if<std::string_view>(&architecture->data)) {
      summary.architecture = std::string(*text);
    }
  }
  return summary;
}

std::string format_shape(const std::vector<uint64_t>& shape) {
  std::string out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) out += " x ";
    out += fmt::format("{}", shape[i]);
  }
  return out;
}

void print_json(const GgufFile& file, const InspectOptions& options) {
  const Summary summary = summarize(file);
  nlohmann::ordered_json document;
  document["file"] = json_safe(file.display_name());

  nlohmann::ordered_json metadata = nlohmann::ordered_json::array();
  for (const auto& entry : file.metadata()) {
    nlohmann::ordered_json item;
    item["key"] = json_safe(entry.key);
    item["type"] = std::string(utter::inference::gguf_value_type_name(entry.value.type));
    if (const GgufArray* array = array_of(entry.value); array != nullptr) {
      item["element_type"] = std::string(utter::inference::gguf_value_type_name(array->element_type));
      item["count"] = array->count;
      item["truncated"] = !options.all && array->count > kShownArrayEntries;
    }
    item["value"] = value_to_json(entry.value, options.all);
    metadata.push_back(std::move(item));
  }
  document["metadata"] = std::move(metadata);

  nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
  for (const auto& tensor : file.tensors()) {
    tensors.push_back({{"name", json_safe(tensor.name)},
                       {"type", std::string(utter::inference::tensor_type_name(tensor.type))},
                       {"shape", tensor.shape},
                       {"offset", tensor.offset},
                       {"bytes", tensor.bytes},
                       {"elements", tensor.elements}});
  }
  document["tensors"] = std::move(tensors);

  nlohmann::ordered_json per_type = nlohmann::ordered_json::object();
  for (const auto& [name, totals] : summary.per_type) {
    per_type[name] = {{"tensors", totals.tensors},
                      {"bytes", totals.bytes},
                      {"parameters", totals.parameters}};
  }
  document["summary"] = {{"architecture", json_safe(summary.architecture)},
                         {"version", file.version()},
                         {"file_size", file.file_size()},
                         {"alignment", file.alignment()},
                         {"data_offset", file.data_offset()},
                         {"metadata_count", file.metadata().size()},
                         {"tensor_count", file.tensors().size()},
                         {"parameter_count", summary.parameters},
                         {"tensor_bytes", summary.tensor_bytes},
                         {"types", std::move(per_type)}};
  fmt::print("{}\n", document.dump(2));
}

void print_text(const GgufFile& file, const InspectOptions& options) {
  const Summary summary = summarize(file);
  fmt::print("{}: GGUF version {}, {} bytes\n\n", display_name(file.display_name()),
             file.version(), file.file_size());

  fmt::print("Metadata ({} keys):\n", file.metadata().size());
  for (const auto& entry : file.metadata()) {
    fmt::print("  {} {} = {}\n", display_name(entry.key), type_label(entry.value),
               format_value(entry.value, options.all));
  }

  fmt::print("\nTensors ({}):\n", file.tensors().size());
  fmt::print("  {:<40} {:<5} {:<24} {:>14} {:>14}\n", "name", "type", "shape", "offset", "bytes");
  for (const auto& tensor : file.tensors()) {
    fmt::print("  {:<40} {:<5} {:<24} {:>14} {:>14}\n", display_name(tensor.name),
               utter::inference::tensor_type_name(tensor.type), format_shape(tensor.shape),
               tensor.offset, tensor.bytes);
  }

  fmt::print("\nSummary:\n");
  fmt::print("  architecture: {}\n",
             summary.architecture.empty() ? "(none)" : quote_for_terminal(summary.architecture, 256));
  fmt::print("  version: {}\n", file.version());
  fmt::print("  file size: {} bytes\n", file.file_size());
  fmt::print("  alignment: {} bytes (data section at byte {})\n", file.alignment(),
             file.data_offset());
  fmt::print("  tensors: {}, parameters: {}, tensor bytes: {}\n", file.tensors().size(),
             summary.parameters, summary.tensor_bytes);
  for (const auto& [name, totals] : summary.per_type) {
    fmt::print("  {:<5} {:>5} tensors {:>14} parameters {:>14} bytes\n", name, totals.tensors,
               totals.parameters, totals.bytes);
  }
}

int run_inspect(const InspectOptions& options) {
  const GgufFile file = GgufFile::open(options.path);
  if (options.json) {
    print_json(file, options);
  } else {
    print_text(file, options);
  }
  return 0;
}

void setup_inspect(CLI::App& sub) {
  auto options = std::make_shared<InspectOptions>();
  sub.add_option("file", options->path, "GGUF file to describe")->required();
  sub.add_flag("--json", options->json, "Print one JSON document instead of text");
  sub.add_flag("--all", options->all, "Print every array entry and whole strings");
  sub.callback([options] { utter::cli::run_guarded([&] { return run_inspect(*options); }); });
}

const bool registered = utter::cli::register_command(
    {"inspect", "Show the metadata, tensors and size summary of a GGUF file", setup_inspect});

}  // namespace
