// Writes small GGUF files that exercise every metadata value type, nested arrays, several
// tensor types and alignments, plus truncated copies of them. They seed the GGUF fuzzer.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "utter/inference/gguf.h"

namespace {

using namespace utter::inference;

void write_model(const std::filesystem::path& path, uint32_t alignment, int variant) {
  GgufWriter writer(path, alignment);
  writer.add_metadata("general.architecture", gguf_make_string("gemma4"));
  writer.add_metadata("gemma4.block_count", gguf_make_u32(2 + variant));
  writer.add_metadata("seed.i32", gguf_make_i32(-7 * variant));
  writer.add_metadata("seed.u64", gguf_make_u64(uint64_t{1} << 40));
  writer.add_metadata("seed.f32", gguf_make_f32(0.5f));
  writer.add_metadata("seed.bool", gguf_make_bool(variant % 2 == 0));
  writer.add_metadata("seed.u8", GgufValue{GgufValueType::U8, uint64_t{200}, nullptr});
  writer.add_metadata("seed.i8", GgufValue{GgufValueType::I8, int64_t{-100}, nullptr});
  writer.add_metadata("seed.u16", GgufValue{GgufValueType::U16, uint64_t{60000}, nullptr});
  writer.add_metadata("seed.i16", GgufValue{GgufValueType::I16, int64_t{-30000}, nullptr});
  writer.add_metadata("seed.i64", GgufValue{GgufValueType::I64, int64_t{-5}, nullptr});
  writer.add_metadata("seed.f64", GgufValue{GgufValueType::F64, 2.25, nullptr});
  writer.add_metadata("seed.tokens", gguf_make_string_array({"<pad>", "<eos>", "a", "\xff\xfe", ""}));
  writer.add_metadata("seed.kv", gguf_make_i32_array({2, 2, 1}));
  writer.add_metadata("seed.scores", gguf_make_f32_array({-1000.0f, 1.5f}));
  writer.add_metadata("seed.pattern", gguf_make_bool_array({true, true, false}));
  writer.add_metadata("seed.nested",
                      gguf_make_array(GgufValueType::ARRAY,
                                      {gguf_make_i32_array({1, 2}), gguf_make_i32_array({})}));

  const TensorType types[] = {TensorType::F32, TensorType::F16, TensorType::Q8_0,
                              TensorType::Q4_K, TensorType::BF16};
  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<uint64_t> shape;
  };
  std::vector<Tensor> tensors = {
      {"token_embd.weight", types[variant % 5], {256, 2}},
      {"blk.0.attn_norm.weight", TensorType::F32, {8}},
      {"blk.0.attn_q.weight", TensorType::Q4_0, {32, 2, 1, 1}},
  };
  for (const auto& tensor : tensors) writer.add_tensor_info(tensor.name, tensor.type, tensor.shape);
  writer.write_header();
  for (const auto& tensor : tensors) {
    uint64_t elements = 1;
    for (auto d : tensor.shape) elements *= d;
    const uint64_t row_bytes = *tensor_row_bytes(tensor.type, tensor.shape[0]);
    std::vector<std::byte> data(row_bytes * (elements / tensor.shape[0]));
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 31 + variant);
    writer.write_tensor_data(data);
  }
  writer.finish();
}

std::vector<char> read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Write small GGUF files to seed the GGUF fuzzer"};
  std::filesystem::path folder;
  app.add_option("folder", folder, "Output folder (created if missing)")->required();
  CLI11_PARSE(app, argc, argv);

  try {
    std::filesystem::create_directories(folder);
    int written = 0;
    for (int variant = 0; variant < 5; ++variant) {
      const uint32_t alignment = variant == 3 ? 64 : (variant == 4 ? 1 : 32);
      const auto path = folder / fmt::format("seed-{}.gguf", variant);
      write_model(path, alignment, variant);
      ++written;
      if (variant > 1) continue;
      // Truncated copies give the fuzzer a head start on the end-of-input checks.
      const auto bytes = read_all(path);
      for (int part = 1; part < 8; ++part) {
        const size_t length = bytes.size() * part / 8;
        std::ofstream out(folder / fmt::format("seed-{}-cut-{}.gguf", variant, length),
                          std::ios::binary);
        out.write(bytes.data(), static_cast<std::streamsize>(length));
        ++written;
      }
    }
    fmt::print("wrote {} files to {}\n", written, folder.string());
  } catch (const std::exception& e) {
    fmt::print(stderr, "utter-make-gguf-seeds: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
