#include "utter/inference/audio_projector.h"

#include <fmt/core.h>

#include <stdexcept>
#include <vector>

#include "kernels/matmul.h"
#include "ops.h"

namespace utter::inference {
namespace {

// The projector normalises each frame with this epsilon; llama.cpp hard-codes it for gemma4ua.
constexpr float kFrameNormEps = 1e-6f;

}  // namespace

AudioProjector::AudioProjector(GgufFile file) : file_(std::move(file)) {}

std::unique_ptr<AudioProjector> AudioProjector::load(const std::filesystem::path& path, int text_embd) {
  std::unique_ptr<AudioProjector> projector(new AudioProjector(GgufFile::open(path)));
  const GgufFile& file = projector->file_;
  const std::string name = file.display_name();

  const std::string_view architecture = file.get_string_or("general.architecture", "");
  if (architecture != "clip") {
    throw std::runtime_error(fmt::format(
        "{}: general.architecture is '{}', expected 'clip' (an mmproj file); pass the text model with -m and its "
        "projector with --mmproj",
        name, architecture));
  }
  if (!file.get_bool_or("clip.has_audio_encoder", false)) {
    throw std::runtime_error(fmt::format("{}: the projector has no audio part (clip.has_audio_encoder is not true)", name));
  }
  const std::string_view projector_type = file.get_string_or("clip.audio.projector_type", "");
  if (projector_type != "gemma4ua") {
    throw std::runtime_error(fmt::format(
        "{}: clip.audio.projector_type is '{}', expected 'gemma4ua' (the Gemma 4 12B unified audio projector)", name,
        projector_type));
  }

  const GgufTensorInfo* weight = file.find_tensor("mm.a.input_projection.weight");
  if (weight == nullptr) {
    throw std::runtime_error(fmt::format("{}: tensor 'mm.a.input_projection.weight' is missing", name));
  }
  if (weight->shape.size() != 2 || weight->shape[0] != kFrameSamples) {
    throw std::runtime_error(fmt::format("{}: tensor 'mm.a.input_projection.weight' must have {} inputs per row",
                                         name, kFrameSamples));
  }
  if (static_cast<int64_t>(weight->shape[1]) != text_embd) {
    throw std::runtime_error(fmt::format(
        "{}: the projector outputs {} values per frame but the text model's hidden size is {}; the two files are "
        "not a pair",
        name, weight->shape[1], text_embd));
  }
  if (!tensor_type_traits(weight->type).can_compute) {
    throw std::runtime_error(fmt::format("{}: tensor 'mm.a.input_projection.weight' has type {}, which utter cannot "
                                         "compute with",
                                         name, tensor_type_name(weight->type)));
  }
  projector->projection_ = weight;
  projector->n_embd_ = text_embd;
  return projector;
}

void AudioProjector::project(std::span<const float> samples, std::span<float> out) const {
  if (samples.size() % kFrameSamples != 0) {
    throw std::invalid_argument(fmt::format("audio input of {} samples is not a whole number of {}-sample frames",
                                            samples.size(), kFrameSamples));
  }
  const int64_t n_frames = static_cast<int64_t>(samples.size() / kFrameSamples);
  if (out.size() != static_cast<size_t>(n_frames * n_embd_)) {
    throw std::invalid_argument("audio projection output has the wrong size");
  }
  std::vector<float> normalised(samples.begin(), samples.end());
  for (int64_t f = 0; f < n_frames; ++f) rms_norm(normalised.data() + f * kFrameSamples, kFrameSamples, kFrameNormEps);

  WeightMatrix matrix;
  matrix.type = projection_->type;
  matrix.data = projection_->data;
  matrix.cols = kFrameSamples;
  matrix.rows = n_embd_;
  matrix.row_bytes = static_cast<size_t>(projection_->bytes / n_embd_);
  matmul(matrix, normalised.data(), n_frames, out.data(), nullptr);
}

}  // namespace utter::inference
