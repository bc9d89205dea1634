// The encoder-free audio input of Gemma 4 ("gemma4ua" projector in the mmproj GGUF): each
// 640-sample frame of 16 kHz audio is RMS-normalised without a weight and multiplied by one
// matrix into the language model's hidden size. One frame becomes one input position.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include "utter/inference/gguf.h"

namespace utter::inference {

class AudioProjector {
 public:
  static constexpr int kFrameSamples = 640;
  static constexpr int kSampleRate = 16000;

  // Maps and validates an mmproj file; `text_embd` is the hidden size of the text model it
  // must match. Throws std::runtime_error naming the file and what is wrong.
  static std::unique_ptr<AudioProjector> load(const std::filesystem::path& path, int text_embd);

  int n_embd() const { return n_embd_; }
  const GgufFile& file() const { return file_; }

  // Projects whole frames: `samples` contains n * 640 values, `out` receives n * n_embd().
  void project(std::span<const float> samples, std::span<float> out) const;

 private:
  explicit AudioProjector(GgufFile file);

  GgufFile file_;
  const GgufTensorInfo* projection_ = nullptr;
  int n_embd_ = 0;
};

}  // namespace utter::inference
