// Replays the minimized fuzzing corpus (and every crasher kept as a regression file) through
// the GGUF reader: each file must either parse or raise GgufError.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "utter/inference/gguf.h"

namespace {

using namespace utter::inference;

std::vector<std::byte> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::byte> bytes(chars.size());
  if (!chars.empty()) std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

// Calls every accessor on every key and reads every tensor byte, like the fuzz target, so the
// sanitized build checks the views as well as the parse.
uint64_t touch_everything(const GgufFile& file) {
  uint64_t sum = 0;
  for (const auto& entry : file.metadata()) {
    const std::string_view key = entry.key;
    const auto attempt = [&](auto&& accessor) {
      try {
        accessor();
      } catch (const GgufError&) {
      }
    };
    attempt([&] { sum += file.get_string(key).size(); });
    attempt([&] { sum += file.get_u32(key); });
    attempt([&] { sum += static_cast<uint64_t>(file.get_i64(key)); });
    attempt([&] { sum += static_cast<uint64_t>(file.get_f32(key) != 0.0f); });
    attempt([&] { sum += file.get_bool(key); });
    attempt([&] { sum += file.get_string_array(key).size(); });
    attempt([&] { sum += file.get_int_array(key).size(); });
    attempt([&] { sum += file.get_f32_array(key).size(); });
    attempt([&] { sum += file.get_bool_array(key).size(); });
  }
  for (const auto& tensor : file.tensors()) {
    for (uint64_t i = 0; i < tensor.bytes; ++i) sum += static_cast<uint8_t>(tensor.data[i]);
  }
  return sum;
}

TEST(GgufCorpus, EveryFileParsesOrRaisesGgufError) {
  const std::filesystem::path folder = std::filesystem::path(UTTER_SOURCE_DIR) / "tests" / "corpus" / "gguf";
  ASSERT_TRUE(std::filesystem::is_directory(folder)) << folder;
  int accepted = 0;
  int rejected = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    SCOPED_TRACE(entry.path().filename().string());
    const auto bytes = read_file(entry.path());
    try {
      const GgufFile file = GgufFile::parse(bytes, entry.path().filename().string());
      (void)touch_everything(file);
      ++accepted;
    } catch (const GgufError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(entry.path().filename().string() + ": ", 0), 0u) << e.what();
      ++rejected;
    }
  }
  // The corpus contains both kinds, so an empty or one-sided folder means it was lost or damaged.
  EXPECT_GT(accepted, 10);
  EXPECT_GT(rejected, 10);
}

}  // namespace
