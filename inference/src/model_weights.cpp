#include "model_weights.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <new>
#include <stdexcept>

#include "kernels/strip_layout.h"
#include "thread_pool.h"

namespace utter::inference {
namespace {

std::string shape_text(const std::vector<uint64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

const GgufTensorInfo& require_tensor(const GgufFile& file, const std::string& name,
                                     const std::vector<uint64_t>& expected_shape) {
  const GgufTensorInfo* info = file.find_tensor(name);
  if (info == nullptr) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' is missing (expected shape {})", file.display_name(),
                                         name, shape_text(expected_shape)));
  }
  if (info->shape != expected_shape) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' has shape {}, expected {}", file.display_name(), name,
                                         shape_text(info->shape), shape_text(expected_shape)));
  }
  if (!tensor_type_traits(info->type).can_compute) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' has type {}, which utter cannot compute with",
                                         file.display_name(), name, tensor_type_name(info->type)));
  }
  return *info;
}

const float* require_f32_vector(const GgufFile& file, const std::string& name, uint64_t length) {
  const GgufTensorInfo& info = require_tensor(file, name, {length});
  if (info.type != TensorType::F32) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' has type {}, expected F32", file.display_name(), name,
                                         tensor_type_name(info.type)));
  }
  if (reinterpret_cast<uintptr_t>(info.data) % alignof(float) != 0) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' is not aligned to 4 bytes", file.display_name(), name));
  }
  return reinterpret_cast<const float*>(info.data);
}

WeightMatrix require_matrix(const GgufFile& file, const std::string& name, uint64_t cols, uint64_t rows) {
  const GgufTensorInfo& info = require_tensor(file, name, {cols, rows});
  WeightMatrix matrix;
  matrix.type = info.type;
  matrix.data = info.data;
  matrix.cols = static_cast<int64_t>(cols);
  matrix.rows = static_cast<int64_t>(rows);
  matrix.row_bytes = static_cast<size_t>(info.bytes / rows);
  return matrix;
}

// Tells the system the file pages under [data, data + bytes) are not needed for now. They stay
// in the page cache and come back if read again, so nothing is lost.
void release_file_pages(const std::byte* data, size_t bytes) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(data) + bytes) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

StripMemory::StripMemory(size_t bytes) : bytes_(bytes) {
  void* region = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) throw std::bad_alloc();
  madvise(region, bytes, MADV_HUGEPAGE);
  data_ = static_cast<std::byte*>(region);
}

StripMemory::~StripMemory() { munmap(data_, bytes_); }

void ModelWeights::move_to_strips(int threads) {
  std::vector<WeightMatrix*> matrices;
  const bool tied_output = output.data == token_embd.data;
  matrices.push_back(&token_embd);
  if (!tied_output) matrices.push_back(&output);
  for (LayerWeights& layer : layers) {
    for (WeightMatrix* m : {&layer.attn_q, &layer.attn_k, &layer.attn_v, &layer.attn_output,
                            &layer.ffn_gate, &layer.ffn_up, &layer.ffn_down}) {
      matrices.push_back(m);
    }
  }
  ThreadPool pool(threads);
  for (WeightMatrix* m : matrices) {
    if (m->data == nullptr || m->strips || !kernels::has_strip_layout(m->type, m->rows, m->cols)) {
      continue;
    }
    const size_t bytes_per_strip = kernels::strip_bytes(m->type, m->cols);
    const int64_t n_strips = m->rows / kernels::kStripRows;
    auto memory = std::make_unique<StripMemory>(bytes_per_strip * static_cast<size_t>(n_strips));
    std::byte* packed = memory->data();
    const WeightMatrix source = *m;
    pool.parallel_for(n_strips, 64, [&](int64_t begin, int64_t end, int) {
      const size_t row_span = source.row_bytes * kernels::kStripRows;
      kernels::pack_strips(source.type, source.data + static_cast<size_t>(begin) * row_span,
                           source.row_bytes, (end - begin) * kernels::kStripRows, source.cols,
                           packed + static_cast<size_t>(begin) * bytes_per_strip);
      release_file_pages(source.data + static_cast<size_t>(begin) * row_span,
                         static_cast<size_t>(end - begin) * row_span);
    });
    m->data = packed;
    m->strips = true;
    strip_memory.push_back(std::move(memory));
  }
  if (tied_output) output = token_embd;
}

ModelWeights ModelWeights::bind(const GgufFile& file, const ModelConfig& config) {
  ModelWeights weights;
  const uint64_t n_embd = config.n_embd;
  const uint64_t n_vocab = config.n_vocab;

  weights.token_embd = require_matrix(file, "token_embd.weight", n_embd, n_vocab);
  weights.output = file.find_tensor("output.weight") != nullptr
                       ? require_matrix(file, "output.weight", n_embd, n_vocab)
                       : weights.token_embd;
  weights.output_norm = require_f32_vector(file, "output_norm.weight", n_embd);

  int full_head_dim = 0;
  for (const auto& layer : config.layers) {
    if (!layer.sliding) full_head_dim = layer.head_dim;
  }
  if (full_head_dim > 0 && file.find_tensor("rope_freqs.weight") != nullptr) {
    const float* freqs = require_f32_vector(file, "rope_freqs.weight", full_head_dim / 2);
    weights.rope_freqs.assign(freqs, freqs + full_head_dim / 2);
  }

  for (int il = 0; il < config.n_layer; ++il) {
    const LayerConfig& lc = config.layers[il];
    const uint64_t q_width = static_cast<uint64_t>(lc.n_head) * lc.head_dim;
    const uint64_t kv_width = static_cast<uint64_t>(lc.n_head_kv) * lc.head_dim;
    auto name = [il](const char* suffix) { return fmt::format("blk.{}.{}.weight", il, suffix); };

    LayerWeights layer;
    layer.attn_norm = require_f32_vector(file, name("attn_norm"), n_embd);
    layer.attn_q = require_matrix(file, name("attn_q"), n_embd, q_width);
    layer.attn_k = require_matrix(file, name("attn_k"), n_embd, kv_width);
    if (lc.has_v_proj) layer.attn_v = require_matrix(file, name("attn_v"), n_embd, kv_width);
    layer.attn_output = require_matrix(file, name("attn_output"), q_width, n_embd);
    layer.attn_q_norm = require_f32_vector(file, name("attn_q_norm"), lc.head_dim);
    layer.attn_k_norm = require_f32_vector(file, name("attn_k_norm"), lc.head_dim);
    layer.post_attention_norm = require_f32_vector(file, name("post_attention_norm"), n_embd);
    layer.ffn_norm = require_f32_vector(file, name("ffn_norm"), n_embd);
    layer.ffn_gate = require_matrix(file, name("ffn_gate"), n_embd, lc.n_ff);
    layer.ffn_up = require_matrix(file, name("ffn_up"), n_embd, lc.n_ff);
    layer.ffn_down = require_matrix(file, name("ffn_down"), lc.n_ff, n_embd);
    layer.post_ffw_norm = require_f32_vector(file, name("post_ffw_norm"), n_embd);
    if (file.find_tensor(name("layer_output_scale")) != nullptr) {
      layer.output_scale = *require_f32_vector(file, name("layer_output_scale"), 1);
    }
    weights.layers.push_back(layer);
  }
  return weights;
}

}  // namespace utter::inference
