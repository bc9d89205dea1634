// GGUF reader: the reference files read back as their cases.json and configs describe them,
// and every truncation or corrupted field of them is rejected with GgufError.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include "inference/gguf_expectations.h"
#include "utter/inference/gguf.h"

namespace {

using namespace utter::inference;
using gguf_expectations::ExpectedModel;

std::vector<std::byte> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

// ---- an independent header walker, written from the format description only ----

struct ScannedField {
  uint64_t offset = 0;
  int width = 0;  // 4 or 8 bytes
  std::string label;
};

struct ScannedTensor {
  std::string name;
  std::vector<uint64_t> shape;
  uint32_t type = 0;
  uint64_t offset = 0;
  std::vector<ScannedField> fields;
};

struct ScannedFile {
  std::vector<std::string> keys;
  std::vector<ScannedField> fields;  // header and metadata fields
  std::vector<ScannedTensor> tensors;
  uint64_t data_offset = 0;
};

class Scanner {
 public:
  explicit Scanner(const std::vector<std::byte>& bytes) : bytes_(bytes) {}

  ScannedFile scan() {
    ScannedFile file;
    pos_ = 4;
    file.fields.push_back({pos_, 4, "version"});
    pos_ += 4;
    file.fields.push_back({pos_, 8, "tensor count"});
    const uint64_t tensor_count = u64();
    file.fields.push_back({pos_, 8, "metadata count"});
    const uint64_t kv_count = u64();
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < kv_count; ++i) {
      file.fields.push_back({pos_, 8, "key length"});
      const std::string key = str();
      file.keys.push_back(key);
      file.fields.push_back({pos_, 4, key + " type"});
      const uint32_t type = u32();
      if (key == "general.alignment") alignment = u32_at(pos_);
      skip_value(type, key, file.fields);
    }
    for (uint64_t i = 0; i < tensor_count; ++i) {
      ScannedTensor tensor;
      tensor.fields.push_back({pos_, 8, "name length"});
      tensor.name = str();
      tensor.fields.push_back({pos_, 4, tensor.name + " n_dims"});
      const uint32_t n_dims = u32();
      for (uint32_t d = 0; d < n_dims; ++d) {
        tensor.fields.push_back({pos_, 8, tensor.name + " dim " + std::to_string(d)});
        tensor.shape.push_back(u64());
      }
      tensor.fields.push_back({pos_, 4, tensor.name + " type"});
      tensor.type = u32();
      tensor.fields.push_back({pos_, 8, tensor.name + " offset"});
      tensor.offset = u64();
      file.tensors.push_back(std::move(tensor));
    }
    file.data_offset = (pos_ + alignment - 1) / alignment * alignment;
    return file;
  }

 private:
  uint32_t u32_at(uint64_t at) const {
    uint32_t v;
    std::memcpy(&v, bytes_.data() + at, 4);
    return v;
  }
  uint32_t u32() {
    const uint32_t v = u32_at(pos_);
    pos_ += 4;
    return v;
  }
  uint64_t u64() {
    uint64_t v;
    std::memcpy(&v, bytes_.data() + pos_, 8);
    pos_ += 8;
    return v;
  }
  std::string str() {
    const uint64_t length = u64();
    std::string text(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return text;
  }
  void skip_value(uint32_t type, const std::string& key, std::vector<ScannedField>& fields) {
    static const int kSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
      fields.push_back({pos_, 8, key + " string length"});
      str();
    } else if (type == 9) {
      fields.push_back({pos_, 4, key + " element type"});
      const uint32_t element_type = u32();
      fields.push_back({pos_, 8, key + " array count"});
      const uint64_t count = u64();
      for (uint64_t i = 0; i < count; ++i) {
        if (i == 0 && element_type == 8) fields.push_back({pos_, 8, key + " first string length"});
        if (element_type == 8) {
          str();
        } else if (element_type == 9) {
          skip_value(9, key, fields);
        } else {
          pos_ += kSizes[element_type];
        }
      }
    } else {
      pos_ += kSizes[type];
    }
  }

  const std::vector<std::byte>& bytes_;
  uint64_t pos_ = 0;
};

// Bytes per block and elements per block, from the ggml block layouts.
uint64_t expected_tensor_bytes(const std::string& type, uint64_t elements) {
  static const std::map<std::string, std::pair<uint64_t, uint64_t>> kBlocks = {
      {"F32", {1, 4}},      {"F16", {1, 2}},      {"BF16", {1, 2}},    {"Q8_0", {32, 34}},
      {"Q4_0", {32, 18}},   {"Q5_0", {32, 22}},   {"Q4_K", {256, 144}}, {"Q5_K", {256, 176}},
      {"Q6_K", {256, 210}},
  };
  const auto& [block_elements, block_bytes] = kBlocks.at(type);
  return elements / block_elements * block_bytes;
}

class ReferenceFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { models_ = new std::vector<ExpectedModel>(gguf_expectations::reference_models()); }
  static void TearDownTestSuite() {
    delete models_;
    models_ = nullptr;
  }
  // Every file runs the byte-level loops in the sanitized build too: a sanitized parse of the
  // largest reference file takes about half a second.
  static bool small_enough(const ExpectedModel&) { return true; }
  static std::vector<ExpectedModel>* models_;
};

std::vector<ExpectedModel>* ReferenceFiles::models_ = nullptr;

TEST_F(ReferenceFiles, AllTenArePresent) {
  // Four tiny variants, the audio projector and five K-quant variants.
  EXPECT_EQ(models_->size(), 10u);
}

TEST_F(ReferenceFiles, TensorsMatchCasesAndConfig) {
  for (const auto& model : *models_) {
    SCOPED_TRACE(model.path.string());
    const GgufFile file = GgufFile::open(model.path);
    EXPECT_EQ(file.file_size(), model.bytes);
    EXPECT_EQ(file.version(), 3u);
    EXPECT_EQ(file.alignment(), 32u);
    ASSERT_EQ(file.tensors().size(), model.tensors.size());
    if (!model.is_projector) {
      const auto names = gguf_expectations::text_tensor_names(model.hyper);
      EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), model.tensors.size());
      for (const auto& name : names) EXPECT_TRUE(file.find_tensor(name) != nullptr) << name;
    }
    for (const auto& [name, expected] : model.tensors) {
      SCOPED_TRACE(name);
      const GgufTensorInfo* info = file.find_tensor(name);
      ASSERT_NE(info, nullptr);
      EXPECT_EQ(tensor_type_name(info->type), expected.type);
      EXPECT_EQ(info->shape, expected.shape);
      EXPECT_EQ(info->elements, gguf_expectations::element_count(expected.shape));
      EXPECT_EQ(info->bytes, expected_tensor_bytes(expected.type, info->elements));
      EXPECT_EQ(info->offset % 32, 0u);
      EXPECT_LE(file.data_offset() + info->offset + info->bytes, model.bytes);
    }
  }
}

TEST_F(ReferenceFiles, HeaderMatchesIndependentScan) {
  for (const auto& model : *models_) {
    SCOPED_TRACE(model.path.string());
    const auto bytes = read_file(model.path);
    const ScannedFile scanned = Scanner(bytes).scan();
    const GgufFile file = GgufFile::open(model.path);

    ASSERT_EQ(file.metadata().size(), scanned.keys.size());
    for (size_t i = 0; i < scanned.keys.size(); ++i) EXPECT_EQ(file.metadata()[i].key, scanned.keys[i]);
    EXPECT_EQ(file.data_offset(), scanned.data_offset);
    ASSERT_EQ(file.tensors().size(), scanned.tensors.size());
    for (size_t i = 0; i < scanned.tensors.size(); ++i) {
      const auto& info = file.tensors()[i];
      EXPECT_EQ(info.name, scanned.tensors[i].name);
      EXPECT_EQ(info.shape, scanned.tensors[i].shape);
      EXPECT_EQ(static_cast<uint32_t>(info.type), scanned.tensors[i].type);
      EXPECT_EQ(info.offset, scanned.tensors[i].offset);
      // The view points at the same bytes an ordinary file read finds there.
      const uint64_t start = scanned.data_offset + scanned.tensors[i].offset;
      ASSERT_LE(start + info.bytes, bytes.size());
      EXPECT_EQ(std::memcmp(info.data, bytes.data() + start, std::min<uint64_t>(info.bytes, 4096)), 0);
    }
  }
}

TEST_F(ReferenceFiles, TextMetadataMatchesConfig) {
  for (const auto& model : *models_) {
    if (model.is_projector) continue;
    SCOPED_TRACE(model.path.string());
    const auto& h = model.hyper;
    const GgufFile file = GgufFile::open(model.path);
    const uint32_t layers = static_cast<uint32_t>(h.sliding.size());

    EXPECT_EQ(file.get_string("general.architecture"), "gemma4");
    EXPECT_EQ(file.get_u32("gemma4.block_count"), layers);
    EXPECT_EQ(file.get_u32("gemma4.embedding_length"), h.n_embd);
    EXPECT_EQ(file.get_u32("gemma4.feed_forward_length"), h.n_ff);
    EXPECT_EQ(file.get_u32("gemma4.attention.head_count"), h.n_head);
    EXPECT_EQ(file.get_u32("gemma4.attention.key_length"), h.head_dim_full);
    EXPECT_EQ(file.get_u32("gemma4.attention.value_length"), h.head_dim_full);
    EXPECT_EQ(file.get_u32("gemma4.attention.key_length_swa"), h.head_dim_swa);
    EXPECT_EQ(file.get_u32("gemma4.attention.value_length_swa"), h.head_dim_swa);
    EXPECT_EQ(file.get_u32("gemma4.attention.sliding_window"), h.n_swa);
    EXPECT_EQ(file.get_u32("gemma4.context_length"), h.n_ctx_train);
    EXPECT_EQ(file.get_u32("gemma4.attention.shared_kv_layers"), 0u);
    EXPECT_EQ(file.get_u32("gemma4.embedding_length_per_layer_input"), 0u);
    EXPECT_FLOAT_EQ(file.get_f32("gemma4.rope.freq_base"), 1e6f);
    EXPECT_FLOAT_EQ(file.get_f32("gemma4.rope.freq_base_swa"), 1e4f);
    EXPECT_FLOAT_EQ(file.get_f32("gemma4.attention.layer_norm_rms_epsilon"), 1e-6f);
    EXPECT_FLOAT_EQ(file.get_f32("gemma4.final_logit_softcapping"), 30.0f);

    std::vector<int64_t> expected_kv;
    for (bool sliding : h.sliding) {
      expected_kv.push_back(static_cast<int64_t>(sliding ? h.n_head_kv_swa : h.n_head_kv_full));
    }
    EXPECT_EQ(file.get_int_array("gemma4.attention.head_count_kv"), expected_kv);
    EXPECT_EQ(file.get_bool_array("gemma4.attention.sliding_window_pattern"), h.sliding);

    EXPECT_EQ(file.get_string("tokenizer.ggml.model"), "gemma4");
    EXPECT_EQ(file.get_string_array("tokenizer.ggml.tokens").size(), h.n_vocab);
    const auto scores = file.get_f32_array("tokenizer.ggml.scores");
    ASSERT_EQ(scores.size(), h.n_vocab);
    EXPECT_EQ(file.get_int_array("tokenizer.ggml.token_type").size(), h.n_vocab);
    EXPECT_EQ(file.get_u32("tokenizer.ggml.bos_token_id"), 2u);
    EXPECT_EQ(file.get_u32("tokenizer.ggml.eos_token_id"), 1u);
    EXPECT_EQ(file.get_u32("tokenizer.ggml.unknown_token_id"), 3u);
    EXPECT_EQ(file.get_u32("tokenizer.ggml.padding_token_id"), 0u);
    EXPECT_TRUE(file.get_bool("tokenizer.ggml.add_bos_token"));
    EXPECT_FALSE(file.get_bool("tokenizer.ggml.add_eos_token"));
    EXPECT_FALSE(file.get_bool("tokenizer.ggml.add_space_prefix"));
    EXPECT_EQ(file.get_int_array("tokenizer.ggml.suppress_tokens"), h.suppress_tokens);
    const auto tokens = file.get_string_array("tokenizer.ggml.tokens");
    EXPECT_EQ(tokens[2], "<bos>");
    EXPECT_EQ(tokens[105], "<|turn>");
    if (model.family == "reference-kquant") {
      EXPECT_EQ(file.get_string_array("tokenizer.ggml.merges").size(), 518u);
    }

    // rope_freqs: 1 for the first quarter of the pairs, 1e30 for the rest.
    const GgufTensorInfo& rope = file.tensor("rope_freqs.weight");
    ASSERT_EQ(rope.type, TensorType::F32);
    const uint64_t pairs = h.head_dim_full / 2;
    for (uint64_t i = 0; i < pairs; ++i) {
      float value;
      std::memcpy(&value, rope.data + i * 4, 4);
      EXPECT_EQ(value, i < pairs / 4 ? 1.0f : 1e30f) << "pair " << i;
    }
  }
}

TEST_F(ReferenceFiles, ProjectorMetadataMatchesReadme) {
  for (const auto& model : *models_) {
    if (!model.is_projector) continue;
    const GgufFile file = GgufFile::open(model.path);
    EXPECT_EQ(file.get_string("general.architecture"), "clip");
    EXPECT_TRUE(file.get_bool("clip.has_audio_encoder"));
    EXPECT_EQ(file.get_string("clip.audio.projector_type"), "gemma4ua");
    EXPECT_EQ(file.get_u32("clip.audio.projection_dim"), model.hyper.n_embd);
    EXPECT_EQ(file.get_u32("clip.audio.embedding_length"), 640u);
    EXPECT_EQ(file.get_u32("clip.audio.num_mel_bins"), 128u);
  }
}

TEST_F(ReferenceFiles, EveryTruncationIsRejected) {
  for (const auto& model : *models_) {
    if (!small_enough(model)) continue;
    SCOPED_TRACE(model.path.string());
    const auto bytes = read_file(model.path);
    ASSERT_EQ(bytes.size(), model.bytes);
    for (uint64_t k = 0; k < 64; ++k) {
      const uint64_t length = bytes.size() * k / 64;
      SCOPED_TRACE(length);
      try {
        GgufFile::parse(std::span(bytes.data(), length), "cut.gguf");
        ADD_FAILURE() << "a file cut to " << length << " bytes was accepted";
      } catch (const GgufError& e) {
        EXPECT_EQ(std::string(e.what()).rfind("cut.gguf: ", 0), 0u) << e.what();
      }
    }
  }
}

// Values that no valid count, length, dimension, offset or type id can hold in these files.
std::vector<uint64_t> hostile_values(const ScannedField& field, uint64_t file_size) {
  if (field.width == 4) return {0xFFFFFFFFu, 0x80000000u, 0x7FFFFFFFu};
  return {~uint64_t{0}, uint64_t{1} << 63, file_size + 1, 0xFFFFFFFFu};
}

TEST_F(ReferenceFiles, CorruptedFieldsAreRejected) {
  for (const auto& model : *models_) {
    if (!small_enough(model)) continue;
    SCOPED_TRACE(model.path.string());
    auto bytes = read_file(model.path);
    const ScannedFile scanned = Scanner(bytes).scan();

    // The tiny variants share one metadata block, so its fields are corrupted in the F32 file
    // only. Every variant still gets its own tensor infos corrupted.
    const bool shared_metadata = model.family == "reference" && !model.is_projector &&
                                 model.path.filename() != "tiny-f32.gguf";
    std::vector<ScannedField> fields;
    if (!shared_metadata) fields = scanned.fields;
    // The first, the last and a spread of tensors in between, each with all of its fields.
    const size_t count = scanned.tensors.size();
    for (size_t pick = 0; pick < 6 && pick < count; ++pick) {
      const size_t index = pick == 5 ? count - 1 : pick * count / 5;
      for (const auto& field : scanned.tensors[index].fields) fields.push_back(field);
    }

    int cases = 0;
    for (const auto& field : fields) {
      std::byte saved[8];
      std::memcpy(saved, bytes.data() + field.offset, field.width);
      for (const uint64_t value : hostile_values(field, bytes.size())) {
        std::memcpy(bytes.data() + field.offset, &value, field.width);
        try {
          GgufFile::parse(bytes, "bad.gguf");
          ADD_FAILURE() << field.label << " at byte " << field.offset << " set to " << value
                        << " was accepted";
        } catch (const GgufError& e) {
          EXPECT_EQ(std::string(e.what()).rfind("bad.gguf: ", 0), 0u) << e.what();
        }
        ++cases;
      }
      std::memcpy(bytes.data() + field.offset, saved, field.width);
    }
    EXPECT_GT(cases, shared_metadata ? 50 : 100);
    // The restored copy parses again, so every rejection above came from the one change.
    EXPECT_NO_THROW(GgufFile::parse(bytes, "restored.gguf"));
  }
}

// ---- hand-built files for single rules ----

class Bytes {
 public:
  Bytes& u8(uint8_t v) { return raw(&v, 1); }
  Bytes& u32(uint32_t v) { return raw(&v, 4); }
  Bytes& i32(int32_t v) { return raw(&v, 4); }
  Bytes& u64(uint64_t v) { return raw(&v, 8); }
  Bytes& f32(float v) { return raw(&v, 4); }
  Bytes& str(std::string_view text) {
    u64(text.size());
    return raw(text.data(), text.size());
  }
  Bytes& header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    raw("GGUF", 4);
    u32(version);
    u64(tensors);
    return u64(kvs);
  }
  Bytes& pad_to(size_t alignment) {
    while (data_.size() % alignment != 0) data_.push_back(std::byte{0});
    return *this;
  }
  Bytes& zeros(size_t count) {
    data_.resize(data_.size() + count);
    return *this;
  }
  Bytes& raw(const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    data_.insert(data_.end(), b, b + n);
    return *this;
  }
  std::span<const std::byte> span() const { return data_; }
  size_t size() const { return data_.size(); }

 private:
  std::vector<std::byte> data_;
};

std::string parse_error(const Bytes& bytes) {
  try {
    GgufFile::parse(bytes.span(), "t.gguf");
  } catch (const GgufError& e) {
    return e.what();
  }
  return "";
}

// One F32 tensor "w" of `shape` at offset 0 with enough data behind it.
Bytes one_tensor_file(std::vector<uint64_t> shape, uint32_t type = 0, uint64_t offset = 0,
                      size_t data_bytes = 64) {
  Bytes b;
  b.header(1, 0).str("w").u32(static_cast<uint32_t>(shape.size()));
  for (auto d : shape) b.u64(d);
  b.u32(type).u64(offset).pad_to(32).zeros(data_bytes);
  return b;
}

TEST(GgufParse, MinimalFileWithOneTensor) {
  Bytes b;
  b.header(1, 1).str("general.architecture").u32(8).str("gemma4");
  b.str("w").u32(2).u64(2).u64(3).u32(0).u64(0).pad_to(32);
  const size_t data_start = b.size();
  for (int i = 0; i < 6; ++i) b.f32(static_cast<float>(i) + 0.5f);
  const GgufFile file = GgufFile::parse(b.span(), "t.gguf");
  EXPECT_EQ(file.data_offset(), data_start);
  const auto& w = file.tensor("w");
  EXPECT_EQ(w.bytes, 24u);
  EXPECT_EQ(w.row_length(), 2u);
  EXPECT_EQ(w.row_count(), 3u);
  float last;
  std::memcpy(&last, w.data + 20, 4);
  EXPECT_EQ(last, 5.5f);
}

TEST(GgufParse, VersionTwoIsAccepted) {
  Bytes b;
  b.header(0, 1, 2).str("k").u32(4).u32(7);
  const GgufFile file = GgufFile::parse(b.span(), "t.gguf");
  EXPECT_EQ(file.version(), 2u);
  EXPECT_EQ(file.get_u32("k"), 7u);
}

TEST(GgufParse, VersionOneIsRejectedClearly) {
  Bytes b;
  b.header(0, 0, 1);
  EXPECT_NE(parse_error(b).find("version 1 is not supported"), std::string::npos) << parse_error(b);
}

TEST(GgufParse, BigEndianIsRecognised) {
  Bytes b;
  b.header(0, 0, 0x03000000);
  EXPECT_NE(parse_error(b).find("big-endian"), std::string::npos) << parse_error(b);
}

TEST(GgufParse, WrongMagicIsRejected) {
  Bytes b;
  b.raw("GGML", 4).u32(3).u64(0).u64(0);
  EXPECT_NE(parse_error(b).find("t.gguf: byte 0:"), std::string::npos) << parse_error(b);
}

TEST(GgufParse, AlignmentMustBePowerOfTwo) {
  for (uint32_t alignment : {0u, 3u, 48u}) {
    Bytes b;
    b.header(0, 1).str("general.alignment").u32(4).u32(alignment);
    EXPECT_NE(parse_error(b).find("general.alignment"), std::string::npos) << alignment;
  }
  Bytes text;
  text.header(0, 1).str("general.alignment").u32(8).str("32");
  EXPECT_NE(parse_error(text).find("is a string, expected an unsigned integer"), std::string::npos)
      << parse_error(text);
}

TEST(GgufParse, AlignmentMovesDataSection) {
  Bytes b;
  b.header(1, 1).str("general.alignment").u32(4).u32(64);
  b.str("w").u32(1).u64(4).u32(0).u64(0).pad_to(64).zeros(64);
  const GgufFile file = GgufFile::parse(b.span(), "t.gguf");
  EXPECT_EQ(file.alignment(), 64u);
  EXPECT_EQ(file.data_offset() % 64, 0u);
}

TEST(GgufParse, DuplicateKeyIsRejected) {
  Bytes b;
  b.header(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2);
  EXPECT_NE(parse_error(b).find("metadata key 'k' appears twice"), std::string::npos) << parse_error(b);
}

TEST(GgufParse, DuplicateTensorIsRejected) {
  Bytes b;
  b.header(2, 0).str("w").u32(1).u64(8).u32(0).u64(0).str("w").u32(1).u64(8).u32(0).u64(32);
  b.pad_to(32).zeros(64);
  EXPECT_NE(parse_error(b).find("tensor name 'w' appears twice"), std::string::npos) << parse_error(b);
}

TEST(GgufParse, ShapeRulesAreEnforced) {
  EXPECT_NE(parse_error(one_tensor_file({1, 1, 1, 1, 1})).find("5 dimensions"), std::string::npos);
  EXPECT_NE(parse_error(one_tensor_file({})).find("0 dimensions"), std::string::npos);
  EXPECT_NE(parse_error(one_tensor_file({4, 0})).find("dimension 1 is 0"), std::string::npos);
  EXPECT_NE(parse_error(one_tensor_file({uint64_t{1} << 32, uint64_t{1} << 32})).find("overflows"),
            std::string::npos);
  // Q8_0 rows must hold whole blocks of 32.
  EXPECT_NE(parse_error(one_tensor_file({33, 1}, 8)).find("not a multiple"), std::string::npos);
  EXPECT_NE(parse_error(one_tensor_file({4}, 4)).find("type id 4"), std::string::npos);
  EXPECT_NE(parse_error(one_tensor_file({4}, 0, 16)).find("not a multiple of the alignment"),
            std::string::npos);
}

TEST(GgufParse, DataPastEndNamesTensorAndSizes) {
  const std::string error = parse_error(one_tensor_file({32}, 0, 0, 64));
  EXPECT_NE(error.find("tensor 'w' data (offset 0, 128 bytes) runs past the end of the file"),
            std::string::npos)
      << error;
}

TEST(GgufParse, HugeArrayCountDoesNotAllocate) {
  Bytes b;
  b.header(0, 1).str("tokens").u32(9).u32(8).u64(uint64_t{1} << 60).str("a");
  EXPECT_NE(parse_error(b).find("claims 1152921504606846976 entries"), std::string::npos)
      << parse_error(b);
}

TEST(GgufParse, NestedArraysAndDepthLimit) {
  Bytes ok;
  ok.header(0, 1).str("nested").u32(9).u32(9).u64(2);
  ok.u32(5).u64(2).i32(-1).i32(4);
  ok.u32(8).u64(1).str("x");
  const GgufFile file = GgufFile::parse(ok.span(), "t.gguf");
  const auto& outer = std::get<std::shared_ptr<GgufArray>>(file.find("nested")->data);
  ASSERT_EQ(outer->elements.size(), 2u);
  const auto& first = std::get<std::shared_ptr<GgufArray>>(outer->elements[0].data);
  EXPECT_EQ(first->element_type, GgufValueType::I32);
  EXPECT_EQ(first->count, 2u);
  const auto& second = std::get<std::shared_ptr<GgufArray>>(outer->elements[1].data);
  EXPECT_EQ(std::get<std::string_view>(second->elements[0].data), "x");

  Bytes deep;
  deep.header(0, 1).str("deep").u32(9);
  for (int i = 0; i < 20; ++i) deep.u32(9).u64(1);
  deep.u32(4).u64(0);
  EXPECT_NE(parse_error(deep).find("nests arrays more than"), std::string::npos) << parse_error(deep);
}

TEST(GgufParse, BoolMustBeZeroOrOne) {
  Bytes b;
  b.header(0, 1).str("flag").u32(7).u8(2);
  EXPECT_NE(parse_error(b).find("byte value 2"), std::string::npos) << parse_error(b);
}

TEST(GgufParse, UnknownValueTypeIsRejected) {
  Bytes b;
  b.header(0, 1).str("k").u32(13).u32(0);
  EXPECT_NE(parse_error(b).find("value type id 13"), std::string::npos) << parse_error(b);
}

TEST(GgufAccessors, IntegerArraysAcceptEveryIntegerType) {
  Bytes b;
  b.header(0, 4);
  b.str("u8").u32(9).u32(0).u64(2).u8(1).u8(255);
  b.str("i16").u32(9).u32(3).u64(1);
  const int16_t minus = -300;
  b.raw(&minus, 2);
  b.str("u32").u32(9).u32(4).u64(1).u32(4000000000u);
  b.str("u64").u32(9).u32(10).u64(1).u64(~uint64_t{0});
  const GgufFile file = GgufFile::parse(b.span(), "t.gguf");
  EXPECT_EQ(file.get_int_array("u8"), (std::vector<int64_t>{1, 255}));
  EXPECT_EQ(file.get_int_array("i16"), (std::vector<int64_t>{-300}));
  EXPECT_EQ(file.get_int_array("u32"), (std::vector<int64_t>{4000000000}));
  EXPECT_THROW(file.get_int_array("u64"), GgufError);
}

TEST(GgufAccessors, ErrorsNameKeyAndTypes) {
  Bytes b;
  b.header(0, 4).str("gemma4.block_count").u32(8).str("six");
  b.str("negative").u32(5).i32(-1);
  b.str("big").u32(10).u64(uint64_t{1} << 40);
  b.str("scale").u32(6).f32(0.25f);
  const GgufFile file = GgufFile::parse(b.span(), "model.gguf");
  try {
    file.get_u32("gemma4.block_count");
    ADD_FAILURE();
  } catch (const GgufError& e) {
    EXPECT_STREQ(e.what(),
                 "model.gguf: metadata key 'gemma4.block_count' is a string, expected an unsigned "
                 "integer");
  }
  try {
    file.get_u32("missing.key");
    ADD_FAILURE();
  } catch (const GgufError& e) {
    EXPECT_STREQ(e.what(), "model.gguf: metadata key 'missing.key' is missing");
  }
  EXPECT_THROW(file.get_u32("negative"), GgufError);
  EXPECT_EQ(file.get_i64("negative"), -1);
  EXPECT_THROW(file.get_u32("big"), GgufError);
  EXPECT_EQ(file.get_i64("big"), int64_t{1} << 40);
  EXPECT_EQ(file.get_f32("scale"), 0.25f);
  EXPECT_THROW(file.get_f32("big"), GgufError);
  EXPECT_THROW(file.get_bool("scale"), GgufError);
  EXPECT_THROW(file.get_string_array("scale"), GgufError);
  EXPECT_EQ(file.get_u32_or("absent", 9), 9u);
  EXPECT_EQ(file.get_f32_or("absent", 1.5f), 1.5f);
  EXPECT_EQ(file.get_string_or("absent", "x"), "x");
  EXPECT_TRUE(file.get_bool_or("absent", true));
  EXPECT_THROW(file.get_u32_or("gemma4.block_count", 1), GgufError);
  EXPECT_THROW(file.tensor("blk.0.attn_q.weight"), GgufError);
}

TEST(GgufOpen, MissingEmptyAndDirectoryFail) {
  const auto folder = std::filesystem::temp_directory_path() / ("gguf_open_" + std::to_string(getpid()));
  std::filesystem::create_directories(folder);
  const auto empty = folder / "empty.gguf";
  std::ofstream(empty).close();
  try {
    GgufFile::open(folder / "absent.gguf");
    ADD_FAILURE();
  } catch (const GgufError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.gguf: cannot open: No such file"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(GgufFile::open(empty), GgufError);
  EXPECT_THROW(GgufFile::open(folder), GgufError);
  std::filesystem::remove_all(folder);
}

TEST(GgufOpen, FileOutlivesMove) {
  const auto models = gguf_expectations::reference_models();
  GgufFile moved = [&] {
    GgufFile file = GgufFile::open(models.back().path);
    return file;
  }();
  EXPECT_GT(moved.get_string("general.architecture").size(), 0u);
  EXPECT_NE(moved.tensors().front().data, nullptr);
}

}  // namespace
