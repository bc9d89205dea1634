// Loading checks: a file that is not a Gemma 4 text model, or lacks or mis-shapes a tensor,
// is rejected with a message naming the file and the key or tensor at fault.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "support/reference_cases.h"
#include "utter/inference/gguf.h"
#include "utter/inference/text_model.h"

namespace {

using namespace utter::inference;
using utter::testing::testdata_path;

struct Edits {
  std::function<bool(const std::string& key, GgufValue& value)> metadata;  // false drops the key
  std::string drop_tensor;
  std::string halve_rows_of;  // keeps only the first half of this matrix's rows
};

// Copies the kquant reference model (1,024-token vocabulary, so it is quick) with edits.
std::filesystem::path write_edited_copy(const std::string& name, const Edits& edits) {
  const GgufFile source = GgufFile::open(testdata_path("reference-kquant/kquant-f32.gguf"));
  const auto path = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(getpid()) + ".gguf");
  GgufWriter writer(path, static_cast<uint32_t>(source.alignment()));
  for (const auto& entry : source.metadata()) {
    if (entry.key == "general.alignment") continue;
    GgufValue value = entry.value;
    if (edits.metadata && !edits.metadata(entry.key, value)) continue;
    writer.add_metadata(entry.key, value);
  }
  for (const auto& tensor : source.tensors()) {
    if (tensor.name == edits.drop_tensor) continue;
    std::vector<uint64_t> shape = tensor.shape;
    if (tensor.name == edits.halve_rows_of) shape[1] /= 2;
    writer.add_tensor_info(tensor.name, tensor.type, shape);
  }
  writer.write_header();
  for (const auto& tensor : source.tensors()) {
    if (tensor.name == edits.drop_tensor) continue;
    const uint64_t bytes = tensor.name == edits.halve_rows_of ? tensor.bytes / 2 : tensor.bytes;
    writer.write_tensor_data(std::span<const std::byte>(tensor.data, bytes));
  }
  writer.finish();
  return path;
}

std::string load_error(const std::filesystem::path& path) {
  try {
    TextModel::load(path);
  } catch (const std::exception& error) {
    std::filesystem::remove(path);
    return error.what();
  }
  std::filesystem::remove(path);
  return "(loaded without error)";
}

void expect_contains(const std::string& message, const std::string& part) {
  EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nexpected to contain: " << part;
}

TEST(TextModelLoad, UnchangedCopyLoads) {
  const auto path = write_edited_copy("unchanged", {});
  EXPECT_EQ(load_error(path), "(loaded without error)");
}

TEST(TextModelLoad, RejectsOtherArchitecture) {
  Edits edits;
  edits.metadata = [](const std::string& key, GgufValue& value) {
    if (key == "general.architecture") value = gguf_make_string("llama");
    return true;
  };
  const std::string message = load_error(write_edited_copy("llama", edits));
  expect_contains(message, "llama-");
  expect_contains(message, "general.architecture is 'llama', expected 'gemma4'");
}

TEST(TextModelLoad, NamesGemma3Files) {
  Edits edits;
  edits.metadata = [](const std::string& key, GgufValue& value) {
    if (key == "general.architecture") value = gguf_make_string("gemma3");
    return true;
  };
  expect_contains(load_error(write_edited_copy("gemma3", edits)), "Gemma 3");
}

TEST(TextModelLoad, RejectsProjectorFileAsTextModel) {
  expect_contains([&] {
    try {
      TextModel::load(testdata_path("reference/tiny-mmproj-f32.gguf"));
    } catch (const std::exception& error) {
      return std::string(error.what());
    }
    return std::string();
  }(), "--mmproj");
}

TEST(TextModelLoad, NamesMissingTensor) {
  Edits edits;
  edits.drop_tensor = "blk.1.ffn_up.weight";
  const std::string message = load_error(write_edited_copy("missing-tensor", edits));
  expect_contains(message, "missing-tensor-");
  expect_contains(message, "tensor 'blk.1.ffn_up.weight' is missing");
}

TEST(TextModelLoad, NamesMisShapedTensor) {
  // The kquant model: hidden 256, 4 heads of 64 on sliding layers, so attn_q is [256, 256].
  Edits edits;
  edits.halve_rows_of = "blk.0.attn_q.weight";
  const std::string message = load_error(write_edited_copy("bad-shape", edits));
  expect_contains(message, "tensor 'blk.0.attn_q.weight' has shape [256, 128], expected [256, 256]");
}

TEST(TextModelLoad, NamesMissingKey) {
  Edits edits;
  edits.metadata = [](const std::string& key, GgufValue&) { return key != "gemma4.block_count"; };
  expect_contains(load_error(write_edited_copy("missing-key", edits)), "gemma4.block_count");
}

TEST(TextModelLoad, RejectsPerLayerArrayOfWrongLength) {
  Edits edits;
  edits.metadata = [](const std::string& key, GgufValue& value) {
    if (key == "gemma4.attention.head_count_kv") value = gguf_make_i32_array({2, 2, 1});
    return true;
  };
  const std::string message = load_error(write_edited_copy("short-array", edits));
  expect_contains(message, "gemma4.attention.head_count_kv");
  expect_contains(message, "3 entries");
}

}  // namespace
