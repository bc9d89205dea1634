// Runs the built utter-make-test-model and checks its files against llama.cpp-written
// reference models, the published 12B shape and the GGUF block layouts.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/quantize.h"
#include "utter/inference/gguf.h"
#include "utter/inference/tensor_type.h"

namespace {

namespace fs = std::filesystem;
using utter::inference::GgufArray;
using utter::inference::GgufFile;
using utter::inference::GgufTensorInfo;
using utter::inference::GgufValue;
using utter::inference::GgufValueType;
using utter::inference::TensorType;

const fs::path kTestData = UTTER_TESTDATA_DIR;
const fs::path kTokenizer = kTestData / "tokenizer" / "gemma-tokenizer.json";
const fs::path kReferenceTiny = kTestData / "reference" / "tiny-f32.gguf";
const fs::path kReferenceMmproj = kTestData / "reference" / "tiny-mmproj-f32.gguf";
const fs::path kReferenceKquant = kTestData / "reference-kquant" / "kquant-f32.gguf";
const fs::path kTool = fs::path(UTTER_TOOLS_DIR) / "utter-make-test-model";

// The shape of the reference kquant model: every row length a multiple of 256, so every
// block type applies.
const std::string kKquantShape =
    "--hidden 256 --layers 5 --pattern SSFSF --heads 4 --kv-heads-swa 2 --kv-heads-full 1 "
    "--head-dim-swa 64 --head-dim-full 128 --ffn 512 --vocab-size 1024";

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t count = 0;
  while ((count = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, count);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

// Compares two metadata values by type and content; returns a description of the first
// difference, or an empty string.
std::string describe_difference(const GgufValue& ours, const GgufValue& reference) {
  if (ours.type != reference.type) {
    return fmt::format("type {} vs {}", utter::inference::gguf_value_type_name(ours.type),
                       utter::inference::gguf_value_type_name(reference.type));
  }
  if (ours.type != GgufValueType::ARRAY) {
    return ours.data == reference.data ? "" : "different value";
  }
  const auto& a = *std::get<std::shared_ptr<GgufArray>>(ours.data);
  const auto& b = *std::get<std::shared_ptr<GgufArray>>(reference.data);
  if (a.element_type != b.element_type) {
    return fmt::format("element type {} vs {}",
                       utter::inference::gguf_value_type_name(a.element_type),
                       utter::inference::gguf_value_type_name(b.element_type));
  }
  if (a.count != b.count) return fmt::format("{} vs {} entries", a.count, b.count);
  if (a.raw.size() != b.raw.size() ||
      (!a.raw.empty() && std::memcmp(a.raw.data(), b.raw.data(), a.raw.size()) != 0)) {
    return "different array bytes";
  }
  if (a.elements.size() != b.elements.size()) return "different element lists";
  for (size_t i = 0; i < a.elements.size(); ++i) {
    const std::string difference = describe_difference(a.elements[i], b.elements[i]);
    if (!difference.empty()) return fmt::format("entry {}: {}", i, difference);
  }
  return "";
}

// Checks that `ours` has the reference's keys in the same order with the same types and
// values, except general.name, plus only the keys in `extra_keys` at the end.
void expect_same_metadata(const GgufFile& ours, const GgufFile& reference,
                          const std::vector<std::string>& extra_keys) {
  const auto& ours_list = ours.metadata();
  const auto& reference_list = reference.metadata();
  ASSERT_EQ(ours_list.size(), reference_list.size() + extra_keys.size());
  for (size_t i = 0; i < reference_list.size(); ++i) {
    const auto& key = reference_list[i].key;
    ASSERT_EQ(ours_list[i].key, key) << "metadata entry " << i;
    if (key == "general.name") {
      EXPECT_EQ(ours_list[i].value.type, GgufValueType::STRING);
      continue;
    }
    EXPECT_EQ(describe_difference(ours_list[i].value, reference_list[i].value), "")
        << "metadata key " << key;
  }
  for (size_t i = 0; i < extra_keys.size(); ++i) {
    EXPECT_EQ(ours_list[reference_list.size() + i].key, extra_keys[i]);
  }
}

// Checks tensor names, order, types, shapes and data offsets against the reference.
void expect_same_tensor_table(const GgufFile& ours, const GgufFile& reference) {
  ASSERT_EQ(ours.tensors().size(), reference.tensors().size());
  for (size_t i = 0; i < reference.tensors().size(); ++i) {
    const GgufTensorInfo& a = ours.tensors()[i];
    const GgufTensorInfo& b = reference.tensors()[i];
    EXPECT_EQ(a.name, b.name) << "tensor " << i;
    EXPECT_EQ(a.type, b.type) << b.name;
    EXPECT_EQ(a.shape, b.shape) << b.name;
    EXPECT_EQ(a.offset, b.offset) << b.name;
  }
}

std::vector<float> tensor_values(const GgufTensorInfo& tensor) {
  std::vector<float> values(tensor.elements);
  utter::inference::dequantize_row(tensor.type, tensor.data, values.data(),
                                   static_cast<int64_t>(tensor.elements));
  return values;
}

struct Moments {
  double mean = 0.0;
  double std_dev = 0.0;
};

Moments moments(const std::vector<float>& values) {
  double sum = 0.0;
  double sum_squares = 0.0;
  for (float value : values) {
    sum += value;
    sum_squares += double{value} * value;
  }
  Moments result;
  result.mean = sum / values.size();
  result.std_dev = std::sqrt(sum_squares / values.size() - result.mean * result.mean);
  return result;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class MakeTestModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    directory_ = fs::temp_directory_path() /
                 fmt::format("utter-make-test-model-{}-{}", getpid(), info->name());
    fs::remove_all(directory_);
    fs::create_directories(directory_);
  }

  void TearDown() override { fs::remove_all(directory_); }

  fs::path path(const std::string& name) const { return directory_ / name; }

  CommandResult make_model(const std::string& arguments,
                           const fs::path& tokenizer = kTokenizer) const {
    return run_command(fmt::format("{} --tokenizer {} {}", shell_quote(kTool.string()),
                                   shell_quote(tokenizer.string()), arguments));
  }

  fs::path directory_;
};

TEST_F(MakeTestModelTest, TinyPresetMatchesReferenceLayout) {
  const fs::path model = path("tiny.gguf");
  const fs::path mmproj = path("tiny-mmproj.gguf");
  const auto result = make_model(fmt::format(
      "--preset tiny --type F32 --embedding-type F16 --seed 11 -o {} --mmproj {}",
      shell_quote(model.string()), shell_quote(mmproj.string())));
  ASSERT_EQ(result.exit_code, 0) << result.output;

  const GgufFile ours = GgufFile::open(model);
  const GgufFile reference = GgufFile::open(kReferenceTiny);
  expect_same_metadata(ours, reference, {"tokenizer.chat_template"});
  expect_same_tensor_table(ours, reference);

  const std::string_view chat_template = ours.get_string("tokenizer.chat_template");
  for (const char* marker : {"<|turn>", "<turn|>", "<|channel>thought", "<|audio|>"}) {
    EXPECT_NE(chat_template.find(marker), std::string_view::npos) << marker;
  }

  const GgufFile ours_mmproj = GgufFile::open(mmproj);
  const GgufFile reference_mmproj = GgufFile::open(kReferenceMmproj);
  expect_same_metadata(ours_mmproj, reference_mmproj, {});
  expect_same_tensor_table(ours_mmproj, reference_mmproj);
}

TEST_F(MakeTestModelTest, TinyWeightsFollowRecipe) {
  const fs::path model = path("tiny.gguf");
  const fs::path mmproj = path("tiny-mmproj.gguf");
  const auto result = make_model(fmt::format(
      "--preset tiny --type F32 --embedding-type F16 --seed 3 -o {} --mmproj {}",
      shell_quote(model.string()), shell_quote(mmproj.string())));
  ASSERT_EQ(result.exit_code, 0) << result.output;

  std::ifstream config_stream(kTestData / "reference" / "tiny-config.json");
  const nlohmann::json config = nlohmann::json::parse(config_stream);
  const GgufFile ours = GgufFile::open(model);
  const GgufFile reference = GgufFile::open(kReferenceTiny);

  const Moments embedding = moments(tensor_values(ours.tensor("token_embd.weight")));
  EXPECT_NEAR(embedding.mean, 0.0, 0.002);
  EXPECT_NEAR(embedding.std_dev, config["emb_std"].get<double>(), 0.003);

  for (const auto& tensor : ours.tensors()) {
    if (tensor.name == "token_embd.weight" || tensor.name == "rope_freqs.weight") continue;
    const Moments stats = moments(tensor_values(tensor));
    if (tensor.shape.size() == 2) {
      EXPECT_NEAR(stats.mean, 0.0, 0.005) << tensor.name;
      EXPECT_NEAR(stats.std_dev, config["w_std"].get<double>(), 0.004) << tensor.name;
    } else if (ends_with(tensor.name, "q_norm.weight") || ends_with(tensor.name, "k_norm.weight")) {
      EXPECT_NEAR(stats.mean, config["qk_norm_mean"].get<double>(), 0.03) << tensor.name;
    } else if (ends_with(tensor.name, "layer_output_scale.weight")) {
      EXPECT_GT(stats.mean, 0.5) << tensor.name;
      EXPECT_LE(stats.mean, 1.0) << tensor.name;
    } else {
      EXPECT_NEAR(stats.mean, 1.0, 0.06) << tensor.name;
      EXPECT_NEAR(stats.std_dev, config["norm_std"].get<double>(), 0.04) << tensor.name;
    }
  }

  // rope_freqs is not random: it must hold exactly the reference's values.
  const GgufTensorInfo& rope = ours.tensor("rope_freqs.weight");
  const GgufTensorInfo& reference_rope = reference.tensor("rope_freqs.weight");
  ASSERT_EQ(rope.bytes, reference_rope.bytes);
  EXPECT_EQ(std::memcmp(rope.data, reference_rope.data, rope.bytes), 0);

  // The projector's spread should match the reference projector's.
  const GgufFile ours_mmproj = GgufFile::open(mmproj);
  const GgufFile reference_mmproj = GgufFile::open(kReferenceMmproj);
  const Moments projector = moments(tensor_values(ours_mmproj.tensor("mm.a.input_projection.weight")));
  const Moments reference_projector =
      moments(tensor_values(reference_mmproj.tensor("mm.a.input_projection.weight")));
  EXPECT_NEAR(projector.std_dev, reference_projector.std_dev, 0.1 * reference_projector.std_dev);
}

TEST_F(MakeTestModelTest, SameSeedGivesIdenticalBytes) {
  auto make = [&](const std::string& name, const std::string& options) {
    const auto result = make_model(fmt::format("--preset tiny --vocab-size 1024 {} -o {} --mmproj {}",
                                               options, shell_quote(path(name).string()),
                                               shell_quote(path(name + ".mmproj").string())));
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return std::pair{read_bytes(path(name)), read_bytes(path(name + ".mmproj"))};
  };
  const auto first = make("first.gguf", "--seed 5");
  const auto again = make("again.gguf", "--seed 5");
  const auto one_thread = make("one_thread.gguf", "--seed 5 --threads 1");
  const auto other_seed = make("other.gguf", "--seed 6");

  ASSERT_GT(first.first.size(), 1000000u);
  EXPECT_TRUE(first.first == again.first);
  EXPECT_TRUE(first.second == again.second);
  EXPECT_TRUE(first.first == one_thread.first);
  EXPECT_EQ(first.first.size(), other_seed.first.size());
  EXPECT_FALSE(first.first == other_seed.first);
  EXPECT_FALSE(first.second == other_seed.second);
}

struct TypeCase {
  const char* name;
  TensorType type;
  uint64_t block_elements;
  uint64_t block_bytes;
  uint32_t file_type;  // llama.cpp's general.file_type for a file of this type
  double max_std_error;  // quantization noise allowed on top of the recipe's spread
};

// Block geometry from the ggml block definitions and file types from llama.cpp's
// llama_ftype enum (Q4_K: 14 = Q4_K_S).
const TypeCase kTypeCases[] = {
    {"F32", TensorType::F32, 1, 4, 0, 0.003},
    {"F16", TensorType::F16, 1, 2, 1, 0.003},
    {"BF16", TensorType::BF16, 1, 2, 32, 0.003},
    {"Q8_0", TensorType::Q8_0, 32, 34, 7, 0.004},
    {"Q4_0", TensorType::Q4_0, 32, 18, 2, 0.008},
    {"Q4_K", TensorType::Q4_K, 256, 144, 14, 0.008},
    {"Q6_K", TensorType::Q6_K, 256, 210, 18, 0.004},
};

TEST_F(MakeTestModelTest, EveryTypeHasBlockLayoutSizes) {
  const GgufFile kquant_reference = GgufFile::open(kReferenceKquant);
  for (const TypeCase& type_case : kTypeCases) {
    SCOPED_TRACE(type_case.name);
    const fs::path model = path(fmt::format("model-{}.gguf", type_case.name));
    const auto result = make_model(fmt::format("{} --type {} -o {}", kKquantShape,
                                               type_case.name, shell_quote(model.string())));
    ASSERT_EQ(result.exit_code, 0) << result.output;

    const GgufFile ours = GgufFile::open(model);
    EXPECT_EQ(ours.get_u32("general.file_type"), type_case.file_type);
    ASSERT_EQ(ours.tensors().size(), kquant_reference.tensors().size());

    uint64_t expected_end = 0;
    for (size_t i = 0; i < ours.tensors().size(); ++i) {
      const GgufTensorInfo& tensor = ours.tensors()[i];
      const GgufTensorInfo* reference = kquant_reference.find_tensor(tensor.name);
      ASSERT_NE(reference, nullptr) << tensor.name;
      EXPECT_EQ(tensor.shape, reference->shape) << tensor.name;

      uint64_t expected_bytes = 0;
      if (tensor.shape.size() == 2) {
        EXPECT_EQ(tensor.type, type_case.type) << tensor.name;
        expected_bytes = tensor.shape[0] / type_case.block_elements * type_case.block_bytes *
                         tensor.shape[1];
      } else {
        EXPECT_EQ(tensor.type, TensorType::F32) << tensor.name;
        expected_bytes = tensor.shape[0] * 4;
      }
      // Tensors are packed in order, each starting at the next multiple of 32 bytes.
      EXPECT_EQ(tensor.offset, (expected_end + 31) / 32 * 32) << tensor.name;
      expected_end = tensor.offset + expected_bytes;
    }
    EXPECT_EQ(ours.file_size(), ours.data_offset() + expected_end);

    const Moments ffn_down = moments(tensor_values(ours.tensor("blk.4.ffn_down.weight")));
    EXPECT_NEAR(ffn_down.std_dev, 0.05, type_case.max_std_error);
  }
}

// llama-quantize wrote the reference Q4_K_M file, so its per-tensor types are the rule.
TEST_F(MakeTestModelTest, Q4KMMixMatchesLlamaQuantize) {
  const GgufFile reference =
      GgufFile::open(kTestData / "reference-kquant" / "kquant-q4_k_m.gguf");
  const fs::path model = path("model-q4_k_m.gguf");
  const auto result =
      make_model(fmt::format("{} --type Q4_K_M -o {}", kKquantShape, shell_quote(model.string())));
  ASSERT_EQ(result.exit_code, 0) << result.output;

  const GgufFile ours = GgufFile::open(model);
  EXPECT_EQ(ours.get_u32("general.file_type"), reference.get_u32("general.file_type"));
  ASSERT_EQ(ours.tensors().size(), reference.tensors().size());
  int q6_k_matrices = 0;
  for (const GgufTensorInfo& tensor : ours.tensors()) {
    const GgufTensorInfo* expected = reference.find_tensor(tensor.name);
    ASSERT_NE(expected, nullptr) << tensor.name;
    EXPECT_EQ(tensor.type, expected->type) << tensor.name;
    q6_k_matrices += tensor.type == TensorType::Q6_K ? 1 : 0;
  }
  // The embedding, two down projections and one value projection.
  EXPECT_EQ(q6_k_matrices, 4);
}

TEST_F(MakeTestModelTest, CutVocabularyKeepsRealIds) {
  const fs::path model = path("cut.gguf");
  const auto result = make_model(
      fmt::format("--preset tiny --vocab-size 1024 -o {}", shell_quote(model.string())));
  ASSERT_EQ(result.exit_code, 0) << result.output;

  const GgufFile ours = GgufFile::open(model);
  const GgufFile reference = GgufFile::open(kReferenceTiny);
  const auto tokens = ours.get_string_array("tokenizer.ggml.tokens");
  const auto types = ours.get_int_array("tokenizer.ggml.token_type");
  const auto reference_tokens = reference.get_string_array("tokenizer.ggml.tokens");
  const auto reference_types = reference.get_int_array("tokenizer.ggml.token_type");
  ASSERT_EQ(tokens.size(), 1024u);
  ASSERT_EQ(types.size(), 1024u);
  EXPECT_EQ(ours.tensor("token_embd.weight").shape, (std::vector<uint64_t>{64, 1024}));
  EXPECT_EQ(ours.get_f32_array("tokenizer.ggml.scores").size(), 1024u);

  for (size_t id = 0; id < 1017; ++id) {
    EXPECT_EQ(tokens[id], reference_tokens[id]) << "id " << id;
    EXPECT_EQ(types[id], reference_types[id]) << "id " << id;
  }
  const std::vector<std::pair<std::string, int64_t>> media = {
      {"<|image>", 255999}, {"<|audio>", 256000}, {"<|image|>", 258880}, {"<|audio|>", 258881},
      {"<image|>", 258882}, {"<audio|>", 258883}, {"<|video|>", 258884}};
  for (size_t i = 0; i < media.size(); ++i) {
    EXPECT_EQ(tokens[1017 + i], media[i].first);
    EXPECT_EQ(tokens[1017 + i], reference_tokens[media[i].second]);
    EXPECT_EQ(types[1017 + i], 3) << media[i].first;
  }
  EXPECT_EQ(ours.get_int_array("tokenizer.ggml.suppress_tokens"),
            (std::vector<int64_t>{1021, 1022}));

  // The merges kept are the reference merges, in their order, whose parts and result are
  // all tokens of the cut vocabulary.
  const std::set<std::string_view> token_set(tokens.begin(), tokens.end());
  std::vector<std::string_view> expected_merges;
  for (std::string_view merge : reference.get_string_array("tokenizer.ggml.merges")) {
    const size_t split = merge.find(' ', 1);
    const std::string_view left = merge.substr(0, split);
    const std::string_view right = merge.substr(split + 1);
    if (token_set.count(left) && token_set.count(right) &&
        token_set.count(std::string(left) + std::string(right))) {
      expected_merges.push_back(merge);
    }
  }
  EXPECT_FALSE(expected_merges.empty());
  EXPECT_EQ(ours.get_string_array("tokenizer.ggml.merges"), expected_merges);
}

// Tensor shapes of the published Gemma 4 12B text model (ne[0] first): full attention on
// every sixth layer, head size 256 / 512, 8 / 1 key-value heads, no attn_v on full layers.
std::map<std::string, std::vector<uint64_t>> gemma4_12b_shapes(uint64_t vocab_size) {
  std::map<std::string, std::vector<uint64_t>> shapes;
  shapes["token_embd.weight"] = {3840, vocab_size};
  shapes["output_norm.weight"] = {3840};
  shapes["rope_freqs.weight"] = {256};
  for (int layer = 0; layer < 48; ++layer) {
    const bool full = layer % 6 == 5;
    const std::string prefix = fmt::format("blk.{}.", layer);
    shapes[prefix + "attn_norm.weight"] = {3840};
    shapes[prefix + "attn_q.weight"] = {3840, full ? 8192u : 4096u};
    shapes[prefix + "attn_k.weight"] = {3840, full ? 512u : 2048u};
    if (!full) shapes[prefix + "attn_v.weight"] = {3840, 2048};
    shapes[prefix + "attn_output.weight"] = {full ? 8192u : 4096u, 3840};
    shapes[prefix + "attn_q_norm.weight"] = {full ? 512u : 256u};
    shapes[prefix + "attn_k_norm.weight"] = {full ? 512u : 256u};
    shapes[prefix + "post_attention_norm.weight"] = {3840};
    shapes[prefix + "ffn_norm.weight"] = {3840};
    shapes[prefix + "ffn_gate.weight"] = {3840, 15360};
    shapes[prefix + "ffn_up.weight"] = {3840, 15360};
    shapes[prefix + "ffn_down.weight"] = {15360, 3840};
    shapes[prefix + "post_ffw_norm.weight"] = {3840};
    shapes[prefix + "layer_output_scale.weight"] = {1};
  }
  return shapes;
}

// Parameters of the 12B text model with the full vocabulary. Matrices: 40 x 224,133,120
// (sliding layers) + 8 x 241,827,840 (full layers) + 262,144 x 3840 (embedding). Vectors:
// 40 x 15,872 + 8 x 16,384 + 48 layer scales + 3840 (output_norm) + 256 (rope_freqs).
constexpr uint64_t kGemma4_12bParameters = 11'907'350'576;

void expect_12b_shape(const GgufFile& file, uint64_t vocab_size) {
  EXPECT_EQ(file.get_string("general.architecture"), "gemma4");
  EXPECT_EQ(file.get_u32("gemma4.block_count"), 48u);
  EXPECT_EQ(file.get_u32("gemma4.embedding_length"), 3840u);
  EXPECT_EQ(file.get_u32("gemma4.feed_forward_length"), 15360u);
  EXPECT_EQ(file.get_u32("gemma4.attention.head_count"), 16u);
  EXPECT_EQ(file.get_u32("gemma4.attention.key_length"), 512u);
  EXPECT_EQ(file.get_u32("gemma4.attention.key_length_swa"), 256u);
  EXPECT_EQ(file.get_u32("gemma4.attention.sliding_window"), 1024u);
  EXPECT_EQ(file.get_u32("gemma4.context_length"), 262144u);
  EXPECT_EQ(file.get_f32("gemma4.rope.freq_base"), 1e6f);
  EXPECT_EQ(file.get_f32("gemma4.rope.freq_base_swa"), 1e4f);
  EXPECT_EQ(file.get_f32("gemma4.final_logit_softcapping"), 30.0f);

  const auto kv_heads = file.get_int_array("gemma4.attention.head_count_kv");
  const auto sliding = file.get_bool_array("gemma4.attention.sliding_window_pattern");
  ASSERT_EQ(kv_heads.size(), 48u);
  ASSERT_EQ(sliding.size(), 48u);
  for (int layer = 0; layer < 48; ++layer) {
    const bool full = layer % 6 == 5;
    EXPECT_EQ(sliding[layer], !full) << "layer " << layer;
    EXPECT_EQ(kv_heads[layer], full ? 1 : 8) << "layer " << layer;
  }

  const auto expected = gemma4_12b_shapes(vocab_size);
  ASSERT_EQ(file.tensors().size(), 667u);
  ASSERT_EQ(expected.size(), 667u);
  uint64_t parameters = 0;
  for (const auto& tensor : file.tensors()) {
    const auto found = expected.find(tensor.name);
    ASSERT_NE(found, expected.end()) << tensor.name;
    EXPECT_EQ(tensor.shape, found->second) << tensor.name;
    parameters += tensor.elements;
  }
  EXPECT_EQ(parameters, kGemma4_12bParameters - (262144 - vocab_size) * 3840);

  const auto rope = tensor_values(file.tensor("rope_freqs.weight"));
  for (size_t i = 0; i < rope.size(); ++i) {
    EXPECT_EQ(rope[i], i < 64 ? 1.0f : 1e30f) << "rope_freqs[" << i << "]";
  }
}

TEST_F(MakeTestModelTest, Preset12bZeroWeightsHasRealShape) {
  const fs::path cut = path("cut-12b.gguf");
  const fs::path full = path("full-12b.gguf");
  const fs::path mmproj = path("mmproj-12b.gguf");
  auto result = make_model(fmt::format("--preset 12b --type Q4_0 --zero-weights --vocab-size 4096 -o {}",
                                       shell_quote(cut.string())));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  result = make_model(fmt::format("--preset 12b --type Q4_0 --zero-weights -o {} --mmproj {}",
                                  shell_quote(full.string()), shell_quote(mmproj.string())));
  ASSERT_EQ(result.exit_code, 0) << result.output;

  {
    SCOPED_TRACE("vocabulary of 4096");
    const GgufFile file = GgufFile::open(cut);
    expect_12b_shape(file, 4096);
  }
  {
    SCOPED_TRACE("full vocabulary");
    const GgufFile file = GgufFile::open(full);
    expect_12b_shape(file, 262144);
    EXPECT_EQ(file.get_string_array("tokenizer.ggml.tokens").size(), 262144u);

    // Matrix data are zeros; a Q4_0 block of zeros is all zero bytes.
    const GgufTensorInfo& matrix = file.tensor("blk.20.ffn_up.weight");
    const std::byte* begin = matrix.data + matrix.bytes / 2;
    EXPECT_TRUE(std::all_of(begin, begin + 4096, [](std::byte b) { return b == std::byte{0}; }));
  }

  const GgufFile projector = GgufFile::open(mmproj);
  EXPECT_EQ(projector.get_u32("clip.audio.projection_dim"), 3840u);
  EXPECT_EQ(projector.tensor("mm.a.input_projection.weight").shape,
            (std::vector<uint64_t>{640, 3840}));

  const auto inspect = run_command(fmt::format("{} inspect --json {}",
                                               shell_quote(UTTER_BINARY),
                                               shell_quote(full.string())));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  const nlohmann::json document = nlohmann::json::parse(inspect.output);
  EXPECT_EQ(document["summary"]["architecture"].get<std::string>(), "gemma4");
  EXPECT_EQ(document["summary"]["tensor_count"].get<uint64_t>(), 667u);
  EXPECT_EQ(document["summary"]["parameter_count"].get<uint64_t>(), kGemma4_12bParameters);
  bool listed = false;
  for (const auto& tensor : document["tensors"]) {
    if (tensor["name"] == "blk.47.ffn_down.weight") {
      listed = true;
      EXPECT_EQ(tensor["type"].get<std::string>(), "Q4_0");
      EXPECT_EQ(tensor["shape"].get<std::vector<uint64_t>>(), (std::vector<uint64_t>{15360, 3840}));
    }
  }
  EXPECT_TRUE(listed);
}

struct BadInputCase {
  std::string arguments;
  std::string expected_message;
};

TEST_F(MakeTestModelTest, BadOptionsFailWithMessage) {
  const std::vector<BadInputCase> cases = {
      {"--type Q5_K", "--type Q5_K is not supported"},
      {"--embedding-type Q9", "--embedding-type Q9 is not supported"},
      {"--mmproj-type Q8_0", "--mmproj-type Q8_0 is not supported"},
      {"--type Q4_K", "rows of 64 values, which is not a multiple of the Q4_K block size 256"},
      {"--vocab-size 100", "--vocab-size 100 is too small"},
      {"--vocab-size 300000", "--vocab-size 300000 is larger than the tokenizer's 262144 tokens"},
      {"--pattern SXF", "--pattern 'SXF' is invalid"},
      {"--heads 3", "--kv-heads-swa 2 is invalid"},
      {"--head-dim-full 63", "--head-dim-full 63 is invalid"},
      {"--layers 0", "--layers must be at least 1"},
      {"--preset 7b", "--preset 7b is unknown"},
  };
  const fs::path model = path("model.gguf");
  for (const auto& bad : cases) {
    SCOPED_TRACE(bad.arguments);
    const auto result =
        make_model(fmt::format("{} -o {}", bad.arguments, shell_quote(model.string())));
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.output.find(bad.expected_message), std::string::npos) << result.output;
    EXPECT_FALSE(fs::exists(model));
  }
}

TEST_F(MakeTestModelTest, BadTokenizerFailsWithMessage) {
  const fs::path model = path("model.gguf");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"model\": {\"vocab\": {\"a\": 0, \"b\": 2}}}", "model.vocab has no token with id 1"},
      {"{\"model\": {\"vocab\": {\"a\": 0, \"b\": 0}}}", "token id 0 is used twice"},
      {"{\"model\": {\"merges\": [\"a b\"]}}", "no model.vocab object found"},
      {"{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}", "merge 0 has 1 parts"},
      {"{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1}}}", "the vocabulary has 2 tokens"},
      {"{\"model\": {\"vocab\": {\"a\": 0,", "invalid JSON at byte"},
  };
  for (const auto& [json, expected_message] : cases) {
    SCOPED_TRACE(json);
    const fs::path tokenizer = path("tokenizer.json");
    std::ofstream(tokenizer) << json;
    const auto result = make_model(fmt::format("-o {}", shell_quote(model.string())), tokenizer);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.output.find(expected_message), std::string::npos) << result.output;
    EXPECT_NE(result.output.find(tokenizer.string()), std::string::npos) << result.output;
    EXPECT_FALSE(fs::exists(model));
  }

  const auto missing = make_model(fmt::format("-o {}", shell_quote(model.string())),
                                  path("missing.json"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("cannot open tokenizer file"), std::string::npos)
      << missing.output;
}

}  // namespace
