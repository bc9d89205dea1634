// libFuzzer target for the GGUF reader: parses the input, then calls every typed accessor on
// every key and reads every byte of every tensor, so the sanitizers see any view that points
// outside the input.
#include <cstddef>
#include <cstdint>
#include <span>

#include "utter/inference/gguf.h"

namespace {

using utter::inference::GgufError;
using utter::inference::GgufFile;

template <typename Accessor>
void call_ignoring_type_errors(Accessor&& accessor) {
  try {
    accessor();
  } catch (const GgufError&) {
    // A key of another type is reported as GgufError; that is the expected outcome here.
  }
}

volatile uint8_t g_sink = 0;

void touch_everything(const GgufFile& file) {
  (void)file.version();
  (void)file.alignment();
  (void)file.data_offset();
  for (const auto& entry : file.metadata()) {
    const std::string_view key = entry.key;
    if (file.find(key) != &entry.value) __builtin_trap();
    call_ignoring_type_errors([&] {
      for (char c : file.get_string(key)) g_sink = g_sink + static_cast<uint8_t>(c);
    });
    call_ignoring_type_errors([&] { (void)file.get_u32(key); });
    call_ignoring_type_errors([&] { (void)file.get_i64(key); });
    call_ignoring_type_errors([&] { (void)file.get_f32(key); });
    call_ignoring_type_errors([&] { (void)file.get_bool(key); });
    call_ignoring_type_errors([&] {
      for (auto text : file.get_string_array(key)) {
        for (char c : text) g_sink = g_sink + static_cast<uint8_t>(c);
      }
    });
    call_ignoring_type_errors([&] { (void)file.get_int_array(key); });
    call_ignoring_type_errors([&] { (void)file.get_f32_array(key); });
    call_ignoring_type_errors([&] { (void)file.get_bool_array(key); });
    call_ignoring_type_errors([&] { (void)file.get_u32_or(key, 0); });
  }
  call_ignoring_type_errors([&] { (void)file.get_u32("no such key"); });
  for (const auto& tensor : file.tensors()) {
    if (file.find_tensor(tensor.name) != &tensor) __builtin_trap();
    (void)file.tensor(tensor.name);
    uint8_t sum = 0;
    for (uint64_t i = 0; i < tensor.bytes; ++i) sum += static_cast<uint8_t>(tensor.data[i]);
    g_sink = g_sink + sum;
    (void)tensor.row_count();
  }
  call_ignoring_type_errors([&] { (void)file.tensor("no such tensor"); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const GgufFile file = GgufFile::parse(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz.gguf");
    touch_everything(file);
  } catch (const GgufError&) {
    // Rejecting malformed input with GgufError is the correct outcome.
  }
  return 0;
}
