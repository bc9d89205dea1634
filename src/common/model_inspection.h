// Checking model files and explaining in plain words what is wrong with a bad one, for
// `utter models list` and `utter models verify`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace utter::cli {

enum class ModelFileKind { TextModel, Projector, Unusable };

struct ModelFileReport {
  std::filesystem::path path;
  uint64_t size = 0;
  ModelFileKind kind = ModelFileKind::Unusable;
  std::string architecture;    // general.architecture, when the header could be read
  std::string quantization;    // general.file_type, e.g. "Q4_K_M"; else the type most matrix bytes use
  int hidden_size = 0;         // text model: n_embd; projector: values per output frame
  std::string projector_type;  // projector: clip.audio.projector_type
  std::string verdict;         // a short label: "ok", "truncated", "another model family", ...
  std::string problem;         // the engine's message when the file cannot be used; empty when ok

  bool ok() const { return problem.empty(); }
};

// Opens and checks a file. With `full`, a text model is loaded the way the engine loads it,
// which checks every tensor's presence, shape and type and the tokenizer. Without it, only the
// header and hyper-parameters are checked. A bad file gives a report, never an exception.
ModelFileReport inspect_model_file(const std::filesystem::path& path, bool full);

// Checks that `mmproj` is an audio projector for a text model of hidden size `hidden_size`.
// Returns the engine's message when it is not, and an empty string when the files are a pair.
std::string check_projector_pair(const std::filesystem::path& mmproj, int hidden_size);

}  // namespace utter::cli
