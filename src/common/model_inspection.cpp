#include "common/model_inspection.h"

#include <fmt/core.h>

#include <map>
#include <optional>
#include <stdexcept>

#include "utter/inference/audio_projector.h"
#include "utter/inference/gguf.h"
#include "utter/inference/model_config.h"
#include "utter/inference/text_model.h"

namespace utter::cli {
namespace {

using inference::GgufError;
using inference::GgufFile;

bool contains(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

// NOTE: the GGUF reader reports a short file only through its message text, so a truncated
// download is recognised by the phrases it uses for data that run past the end of the file.
bool is_truncation_message(const std::string& message) {
  return contains(message, "past the end of the file") || contains(message, "the file ends after") ||
         contains(message, "remain in the file") || contains(message, "too short for the GGUF magic") ||
         contains(message, "bytes follow the header") || contains(message, "bytes follow the metadata");
}

// Names general.file_type as llama.cpp numbers it (its llama_ftype enumeration). This is the
// label people search for, e.g. "Q4_K_M", which no single tensor type shows.
std::string file_type_name(uint32_t file_type) {
  switch (file_type) {
    case 0: return "F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K_S";
    case 12: return "Q3_K_M";
    case 13: return "Q3_K_L";
    case 14: return "Q4_K_S";
    case 15: return "Q4_K_M";
    case 16: return "Q5_K_S";
    case 17: return "Q5_K_M";
    case 18: return "Q6_K";
    case 32: return "BF16";
    default: return {};
  }
}

std::string dominant_matrix_type(const GgufFile& file) {
  std::map<inference::TensorType, uint64_t> bytes_by_type;
  for (const auto& tensor : file.tensors()) {
    if (tensor.shape.size() >= 2) bytes_by_type[tensor.type] += tensor.bytes;
  }
  std::string best = "none";
  uint64_t best_bytes = 0;
  for (const auto& [type, bytes] : bytes_by_type) {
    if (bytes > best_bytes) {
      best = std::string(inference::tensor_type_name(type));
      best_bytes = bytes;
    }
  }
  return best;
}

void inspect_projector(const GgufFile& file, ModelFileReport& report) {
  report.projector_type = std::string(file.get_string_or("clip.audio.projector_type", ""));
  const auto* weight = file.find_tensor("mm.a.input_projection.weight");
  if (weight != nullptr && weight->shape.size() == 2) report.hidden_size = static_cast<int>(weight->shape[1]);
  try {
    inference::AudioProjector::load(report.path, report.hidden_size);
    report.kind = ModelFileKind::Projector;
    report.verdict = "ok";
  } catch (const std::exception& error) {
    report.verdict = "not a Gemma 4 12B audio projector";
    report.problem = error.what();
  }
}

void inspect_text_model(const GgufFile& file, bool full, ModelFileReport& report) {
  try {
    const inference::ModelConfig config = inference::ModelConfig::from_gguf(file);
    report.hidden_size = config.n_embd;
    if (full) inference::TextModel::load(report.path);
    report.kind = ModelFileKind::TextModel;
    report.verdict = "ok";
  } catch (const GgufError& error) {
    report.verdict = is_truncation_message(error.what()) ? "truncated" : "damaged";
    report.problem = error.what();
  } catch (const std::exception& error) {
    const std::string message = error.what();
    report.verdict = contains(message, "E2B") || contains(message, "mixture of experts")
                         ? "an unsupported Gemma 4 size"
                     : contains(message, "tensor '") ? "missing or mis-shaped tensors"
                                                     : "invalid model parameters";
    report.problem = message;
  }
}

}  // namespace

ModelFileReport inspect_model_file(const std::filesystem::path& path, bool full) {
  ModelFileReport report;
  report.path = path;
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  report.size = error ? 0 : static_cast<uint64_t>(size);

  std::optional<GgufFile> file;
  try {
    file.emplace(GgufFile::open(path));
  } catch (const GgufError& failure) {
    const std::string message = failure.what();
    if (is_truncation_message(message)) {
      report.verdict = "truncated";
      report.problem = message + "; the file is incomplete, probably an interrupted download: download it again "
                                 "(`utter models pull` resumes)";
    } else {
      report.verdict = "not a valid GGUF file";
      report.problem = message;
    }
    return report;
  }

  report.architecture = std::string(file->get_string_or("general.architecture", ""));
  try {
    report.quantization = file_type_name(file->get_u32_or("general.file_type", 1000));
  } catch (const GgufError&) {
    report.quantization.clear();  // a file_type stored as another value type, so use the tensors
  }
  if (report.quantization.empty()) report.quantization = dominant_matrix_type(*file);
  if (report.architecture == "clip") {
    inspect_projector(*file, report);
  } else if (report.architecture == "gemma4") {
    inspect_text_model(*file, full, report);
  } else {
    report.verdict = report.architecture == "gemma3" ? "a Gemma 3 model" : "another model family";
    try {
      inference::ModelConfig::from_gguf(*file);
      report.problem = fmt::format("{}: general.architecture is '{}'", path.string(), report.architecture);
    } catch (const std::exception& failure) {
      report.problem = failure.what();
    }
    if (report.architecture != "gemma3") {
      report.problem += fmt::format("; utter runs only Gemma 4 12B, not '{}' models", report.architecture);
    }
  }
  if (report.verdict == "truncated" && !report.problem.empty()) {
    report.problem += "; the file is incomplete, probably an interrupted download: download it again";
  }
  return report;
}

std::string check_projector_pair(const std::filesystem::path& mmproj, int hidden_size) {
  try {
    inference::AudioProjector::load(mmproj, hidden_size);
    return {};
  } catch (const std::exception& error) {
    return error.what();
  }
}

}  // namespace utter::cli
