// A Gemma 4 text model loaded from a GGUF file: its configuration, tokenizer and weights.
// The weights stay in the memory-mapped file; nothing is copied.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "utter/inference/gguf.h"
#include "utter/inference/model_config.h"
#include "utter/inference/tokenizer.h"

namespace utter::inference {

struct ModelWeights;

class TextModel {
 public:
  // Maps and validates the file; throws std::runtime_error (GgufError for a damaged file)
  // naming the file and the tensor or key at fault.
  static std::unique_ptr<TextModel> load(const std::filesystem::path& path);
  ~TextModel();

  const ModelConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const GgufFile& file() const { return file_; }
  const ModelWeights& weights() const { return *weights_; }

  // The type most of the weight bytes are stored in, e.g. "Q4_0", for messages and `bench`.
  std::string dominant_weight_type() const;
  // The file's quantization format as llama.cpp names it (general.file_type, e.g. "Q4_K_M"),
  // or dominant_weight_type() when the key is absent or unknown.
  std::string weight_format() const;
  // Seconds TextModel::load took, rearranging the weights included.
  double load_seconds() const { return load_seconds_; }
  // True when the matrices were rearranged into strips for the AVX-512 kernels.
  bool weights_in_strips() const { return weights_in_strips_; }

 private:
  explicit TextModel(GgufFile file);

  GgufFile file_;
  ModelConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ModelWeights> weights_;
  double load_seconds_ = 0.0;
  bool weights_in_strips_ = false;
};

}  // namespace utter::inference
