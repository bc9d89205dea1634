#include "utter/inference/text_model.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "kernels/matmul.h"
#include "model_weights.h"

namespace utter::inference {

namespace {

// Strips pay off only with the AVX-512 kernels, so the kernel level at load time decides.
// UTTER_WEIGHT_STRIPS=0 keeps the file's row layout, to compare the two.
bool use_weight_strips() {
  if (active_kernel_level() != KernelLevel::Avx512) return false;
  const char* setting = std::getenv("UTTER_WEIGHT_STRIPS");
  return setting == nullptr || std::strcmp(setting, "0") != 0;
}

}  // namespace

TextModel::TextModel(GgufFile file) : file_(std::move(file)) {}
TextModel::~TextModel() = default;

std::unique_ptr<TextModel> TextModel::load(const std::filesystem::path& path) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<TextModel> model(new TextModel(GgufFile::open(path)));
  model->config_ = ModelConfig::from_gguf(model->file_);
  model->weights_ = std::make_unique<ModelWeights>(ModelWeights::bind(model->file_, model->config_));
  if (use_weight_strips()) {
    model->weights_->move_to_strips(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    model->weights_in_strips_ = !model->weights_->strip_memory.empty();
  }
  model->tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_gguf(model->file_));
  model->load_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return model;
}

std::string TextModel::dominant_weight_type() const {
  std::map<TensorType, uint64_t> bytes_by_type;
  for (const auto& tensor : file_.tensors()) {
    if (tensor.shape.size() >= 2) bytes_by_type[tensor.type] += tensor.bytes;
  }
  TensorType best = TensorType::F32;
  uint64_t best_bytes = 0;
  for (const auto& [type, bytes] : bytes_by_type) {
    if (bytes > best_bytes) {
      best = type;
      best_bytes = bytes;
    }
  }
  return std::string(tensor_type_name(best));
}

std::string TextModel::weight_format() const {
  // llama.cpp's llama_ftype numbers for the formats its quantizer writes.
  static const std::map<uint32_t, std::string> kFormats = {
      {0, "F32"},     {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},
      {8, "Q5_0"},    {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"},
      {13, "Q3_K_L"}, {14, "Q4_K_S"}, {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"},
      {18, "Q6_K"},   {32, "BF16"}};
  constexpr uint32_t kAbsent = 0xFFFFFFFF;
  const auto found = kFormats.find(file_.get_u32_or("general.file_type", kAbsent));
  return found != kFormats.end() ? found->second : dominant_weight_type();
}

}  // namespace utter::inference
