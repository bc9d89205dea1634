// GGUF writer: exact byte layout of a small file, round trips of every value and tensor type,
// byte-identical rewrites of the reference files, and the .part file life cycle.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "inference/gguf_expectations.h"
#include "utter/inference/gguf.h"

namespace {

using namespace utter::inference;

#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kMaxRewriteBytes = 16'000'000;  // the sanitized build copies the small files only
#else
constexpr uint64_t kMaxRewriteBytes = 40'000'000;  // the 52 MB F32 file adds time but no new layout
#endif

std::vector<std::byte> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::byte> bytes(chars.size());
  if (!chars.empty()) std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

class TempFolder {
 public:
  TempFolder() {
    path_ = std::filesystem::temp_directory_path() /
            ("gguf_writer_" + std::to_string(getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() { std::filesystem::remove_all(path_); }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

template <typename T>
void append(std::vector<uint8_t>& out, T value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

TEST(GgufWriter, ByteLayoutMatchesFormat) {
  TempFolder folder;
  const auto path = folder / "small.gguf";
  {
    GgufWriter writer(path);
    writer.add_metadata("a", gguf_make_u32(7));
    writer.add_tensor_info("t", TensorType::F32, {2});
    writer.write_header();
    const float values[2] = {1.0f, -2.0f};
    writer.write_tensor_data(std::as_bytes(std::span(values)));
    writer.finish();
  }
  // Built by hand: magic, version 3, 1 tensor, 1 key; key "a" of type u32 (4) = 7; tensor
  // info "t", 1 dimension of 2, type F32 (0), offset 0; zero padding to 32; the data; and
  // padding of the data to 32.
  std::vector<uint8_t> expected = {'G', 'G', 'U', 'F'};
  append<uint32_t>(expected, 3);
  append<uint64_t>(expected, 1);
  append<uint64_t>(expected, 1);
  append<uint64_t>(expected, 1);
  expected.push_back('a');
  append<uint32_t>(expected, 4);
  append<uint32_t>(expected, 7);
  append<uint64_t>(expected, 1);
  expected.push_back('t');
  append<uint32_t>(expected, 1);
  append<uint64_t>(expected, 2);
  append<uint32_t>(expected, 0);
  append<uint64_t>(expected, 0);
  ASSERT_EQ(expected.size(), 74u);
  expected.resize(96, 0);
  append<float>(expected, 1.0f);
  append<float>(expected, -2.0f);
  expected.resize(128, 0);

  const auto written = read_file(path);
  ASSERT_EQ(written.size(), expected.size());
  EXPECT_EQ(std::memcmp(written.data(), expected.data(), expected.size()), 0);
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".part"));
}

// Sizes of one row of each type: a whole number of blocks.
std::vector<uint64_t> shape_for(TensorType type) {
  const auto& traits = tensor_type_traits(type);
  return {traits.block_elements * 2, 3};
}

void expect_same_value(const GgufValue& a, const GgufValue& b, const std::string& where) {
  ASSERT_EQ(a.type, b.type) << where;
  if (a.type != GgufValueType::ARRAY) {
    EXPECT_TRUE(a.data == b.data) << where;
    return;
  }
  const auto& x = *std::get<std::shared_ptr<GgufArray>>(a.data);
  const auto& y = *std::get<std::shared_ptr<GgufArray>>(b.data);
  ASSERT_EQ(x.element_type, y.element_type) << where;
  ASSERT_EQ(x.count, y.count) << where;
  ASSERT_EQ(x.raw.size(), y.raw.size()) << where;
  if (!x.raw.empty()) {
    EXPECT_EQ(std::memcmp(x.raw.data(), y.raw.data(), x.raw.size()), 0) << where;
  }
  ASSERT_EQ(x.elements.size(), y.elements.size()) << where;
  for (size_t i = 0; i < x.elements.size(); ++i) {
    expect_same_value(x.elements[i], y.elements[i], where + "[" + std::to_string(i) + "]");
  }
}

std::vector<GgufKeyValue> every_value_type() {
  std::vector<GgufKeyValue> values = {
      {"u8", {GgufValueType::U8, uint64_t{255}, nullptr}},
      {"i8", {GgufValueType::I8, int64_t{-128}, nullptr}},
      {"u16", {GgufValueType::U16, uint64_t{65535}, nullptr}},
      {"i16", {GgufValueType::I16, int64_t{-32768}, nullptr}},
      {"u32", gguf_make_u32(4000000000u)},
      {"i32", gguf_make_i32(-2000000000)},
      {"f32", gguf_make_f32(-0.125f)},
      {"bool", gguf_make_bool(true)},
      {"string", gguf_make_string("h\xc3\xa9llo\n\xff")},
      {"empty string", gguf_make_string("")},
      {"u64", gguf_make_u64(~uint64_t{0})},
      {"i64", {GgufValueType::I64, int64_t{-(int64_t{1} << 62)}, nullptr}},
      {"f64", {GgufValueType::F64, 1e300, nullptr}},
      {"strings", gguf_make_string_array({"<pad>", "", "\xe2\x96\x81the", std::string(300, 'x')})},
      {"i32s", gguf_make_i32_array({-1, 0, 7, 2147483647})},
      {"f32s", gguf_make_f32_array({1.5f, -1000.0f})},
      {"bools", gguf_make_bool_array({true, false, true})},
      {"empty i32s", gguf_make_i32_array({})},
      {"u16s", gguf_make_array(GgufValueType::U16, {{GgufValueType::U16, uint64_t{1}, nullptr},
                                                    {GgufValueType::U16, uint64_t{65535}, nullptr}})},
      {"f64s", gguf_make_array(GgufValueType::F64, {{GgufValueType::F64, 0.1, nullptr}})},
      {"nested", gguf_make_array(GgufValueType::ARRAY,
                                 {gguf_make_i32_array({1, 2}), gguf_make_string_array({"a"}),
                                  gguf_make_array(GgufValueType::ARRAY,
                                                  {gguf_make_f32_array({3.0f})})})},
  };
  return values;
}

void round_trip(uint32_t alignment) {
  TempFolder folder;
  const auto path = folder / "round.gguf";
  const auto values = every_value_type();
  std::vector<TensorType> types;
  for (uint32_t id = 0; id < 64; ++id) {
    if (const auto* traits = tensor_type_traits(id)) types.push_back(traits->type);
  }
  ASSERT_EQ(types.size(), 15u);

  std::mt19937 random(alignment);
  std::vector<std::vector<std::byte>> data;
  {
    GgufWriter writer(path, alignment);
    for (const auto& entry : values) writer.add_metadata(entry.key, entry.value);
    for (const auto type : types) {
      const auto shape = shape_for(type);
      writer.add_tensor_info(std::string("t.") + std::string(tensor_type_name(type)), type, shape);
      const uint64_t bytes = *tensor_row_bytes(type, shape[0]) * shape[1];
      std::vector<std::byte> blob(bytes);
      for (auto& b : blob) b = static_cast<std::byte>(random());
      data.push_back(std::move(blob));
    }
    writer.write_header();
    for (const auto& blob : data) {
      // Two pieces, to exercise a tensor written in parts.
      const size_t half = blob.size() / 2;
      writer.write_tensor_data(std::span(blob).first(half));
      writer.write_tensor_data(std::span(blob).subspan(half));
    }
    writer.finish();
  }

  const GgufFile file = GgufFile::open(path);
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.alignment(), alignment);
  EXPECT_EQ(file.data_offset() % alignment, 0u);
  const size_t extra_keys = alignment == 32 ? 0 : 1;  // general.alignment is added when needed
  ASSERT_EQ(file.metadata().size(), values.size() + extra_keys);
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(file.metadata()[i].key, values[i].key);
    expect_same_value(file.metadata()[i].value, values[i].value, values[i].key);
  }
  EXPECT_EQ(file.get_string("string"), "h\xc3\xa9llo\n\xff");
  EXPECT_EQ(file.get_int_array("i32s"), (std::vector<int64_t>{-1, 0, 7, 2147483647}));
  EXPECT_EQ(file.get_bool_array("bools"), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(file.get_f32("f32"), -0.125f);

  ASSERT_EQ(file.tensors().size(), types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    const auto& info = file.tensors()[i];
    SCOPED_TRACE(info.name);
    EXPECT_EQ(info.type, types[i]);
    EXPECT_EQ(info.shape, shape_for(types[i]));
    EXPECT_EQ(info.offset % alignment, 0u);
    ASSERT_EQ(info.bytes, data[i].size());
    EXPECT_EQ(std::memcmp(info.data, data[i].data(), info.bytes), 0);
  }
}

TEST(GgufWriter, RoundTripAlignment32) { round_trip(32); }
TEST(GgufWriter, RoundTripAlignment64) { round_trip(64); }

// Copies every key and tensor of a file through the writer.
void rewrite(const GgufFile& source, const std::filesystem::path& path) {
  GgufWriter writer(path, static_cast<uint32_t>(source.alignment()));
  for (const auto& entry : source.metadata()) writer.add_metadata(entry.key, entry.value);
  for (const auto& tensor : source.tensors()) {
    writer.add_tensor_info(tensor.name, tensor.type, tensor.shape);
  }
  writer.write_header();
  for (const auto& tensor : source.tensors()) {
    writer.write_tensor_data(std::span(tensor.data, tensor.bytes));
  }
  writer.finish();
}

TEST(GgufWriter, ReferenceFilesRewriteByteIdentical) {
  // llama.cpp lays tensors out in info order, each padded to the alignment, the same layout
  // this writer produces, so a copy must equal the original byte for byte.
  TempFolder folder;
  for (const auto& model : gguf_expectations::reference_models()) {
    if (model.bytes > kMaxRewriteBytes) continue;
    SCOPED_TRACE(model.path.string());
    const GgufFile source = GgufFile::open(model.path);
    const auto copy = folder / "copy.gguf";
    rewrite(source, copy);
    const auto original = read_file(model.path);
    const auto written = read_file(copy);
    ASSERT_EQ(written.size(), original.size());
    EXPECT_TRUE(written == original);
    std::filesystem::remove(copy);
  }
}

TEST(GgufWriter, ZeroDataLeavesReadableZeros) {
  TempFolder folder;
  const auto path = folder / "zeros.gguf";
  {
    GgufWriter writer(path);
    writer.add_tensor_info("a", TensorType::F32, {1024, 256});
    writer.add_tensor_info("b", TensorType::Q8_0, {64});
    writer.write_header();
    writer.write_zero_tensor_data(1024 * 256 * 4);
    writer.write_zero_tensor_data(68);
    writer.finish();
  }
  const GgufFile file = GgufFile::open(path);
  const auto& b = file.tensor("b");
  EXPECT_EQ(b.bytes, 68u);
  EXPECT_EQ(file.file_size(), file.data_offset() + 1024 * 256 * 4 + 96);
  for (uint64_t i = 0; i < b.bytes; ++i) EXPECT_EQ(b.data[i], std::byte{0});
  const auto& a = file.tensor("a");
  EXPECT_EQ(a.data[a.bytes - 1], std::byte{0});
}

TEST(GgufWriter, UnfinishedWriterRemovesPart) {
  TempFolder folder;
  const auto path = folder / "unfinished.gguf";
  {
    GgufWriter writer(path);
    writer.add_tensor_info("a", TensorType::F32, {4});
    writer.write_header();
    EXPECT_TRUE(std::filesystem::exists(path.string() + ".part"));
  }
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".part"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(GgufWriter, MisuseIsReported) {
  TempFolder folder;
  const auto path = folder / "misuse.gguf";
  EXPECT_THROW(GgufWriter(path, 48), GgufError);
  GgufWriter writer(path);
  writer.add_metadata("k", gguf_make_u32(1));
  EXPECT_THROW(writer.add_metadata("k", gguf_make_u32(2)), GgufError);
  EXPECT_THROW(writer.add_tensor_info("bad", TensorType::Q4_K, {100}), GgufError);
  EXPECT_THROW(writer.add_tensor_info("bad", TensorType::F32, {}), GgufError);
  writer.add_tensor_info("a", TensorType::F32, {4});
  EXPECT_THROW(writer.add_tensor_info("a", TensorType::F32, {4}), GgufError);
  EXPECT_THROW(writer.write_tensor_data(std::vector<std::byte>(16)), GgufError);
  writer.write_header();
  EXPECT_THROW(writer.write_tensor_data(std::vector<std::byte>(20)), GgufError);
  writer.write_tensor_data(std::vector<std::byte>(8));
  try {
    writer.finish();
    ADD_FAILURE() << "finish() accepted a tensor with half of its data";
  } catch (const GgufError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'a' received 8 of its 16 bytes"), std::string::npos)
        << e.what();
  }
}

TEST(GgufWriter, MissingFolderNamesPath) {
  TempFolder folder;
  const auto path = folder / "no such folder" / "x.gguf";
  GgufWriter writer(path);
  try {
    writer.write_header();
    ADD_FAILURE();
  } catch (const GgufError& e) {
    EXPECT_NE(std::string(e.what()).find("x.gguf.part: creating the file failed: No such file"),
              std::string::npos)
        << e.what();
  }
}

TEST(GgufWriter, FullDiskIsReported) {
  // A file size limit makes write() fail with EFBIG, the same path a full disk (ENOSPC) takes.
  TempFolder folder;
  const auto path = folder / "limited.gguf";
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit limited = saved;
  limited.rlim_cur = 64 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string message;
  {
    GgufWriter writer(path);
    writer.add_tensor_info("big", TensorType::F32, {1024, 1024});
    try {
      writer.write_header();
      writer.write_tensor_data(std::vector<std::byte>(4 * 1024 * 1024));
      writer.finish();
    } catch (const GgufError& e) {
      message = e.what();
    }
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous_handler);
  EXPECT_NE(message.find("limited.gguf.part: writing failed: File too large"), std::string::npos)
      << message;
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".part"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(GgufValues, ArrayBuilderChecksElementTypes) {
  EXPECT_THROW(gguf_make_array(GgufValueType::I32, {gguf_make_u32(1)}), GgufError);
  const GgufValue packed = gguf_make_array(GgufValueType::U32, {gguf_make_u32(0x01020304)});
  const auto& array = *std::get<std::shared_ptr<GgufArray>>(packed.data);
  ASSERT_EQ(array.raw.size(), 4u);
  EXPECT_EQ(array.raw[0], std::byte{0x04});  // little-endian
  EXPECT_EQ(array.raw[3], std::byte{0x01});
}

TEST(GgufValues, TypeNames) {
  EXPECT_EQ(gguf_value_type_name(GgufValueType::U8), "u8");
  EXPECT_EQ(gguf_value_type_name(GgufValueType::STRING), "string");
  EXPECT_EQ(gguf_value_type_name(GgufValueType::F64), "f64");
}

}  // namespace
