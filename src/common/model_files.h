// Finding the model files every program uses: the text model GGUF and its audio projector.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace utter::cli {

struct ModelFiles {
  std::filesystem::path model;
  std::filesystem::path mmproj;  // empty when not needed or not found
  std::string model_origin;      // source of the model path: "-m", "UTTER_MODEL", "settings" or "models folder"
};

// The default models folder: $UTTER_MODELS_DIR, else $XDG_DATA_HOME/utter/models, else
// ~/.local/share/utter/models.
std::filesystem::path default_models_dir();

// True for file names that mark an audio/vision projector ("mmproj-..." or "...-mmproj...").
bool is_projector_name(const std::filesystem::path& path);

// The .gguf files of one kind (projectors or not) in a folder, sorted by name.
std::vector<std::filesystem::path> gguf_files_in(const std::filesystem::path& folder, bool projectors);

// Resolves the files in this order: the paths given on the command line, the environment
// variables UTTER_MODEL and UTTER_MMPROJ, the default pair remembered in the settings file
// (`utter models use` and `utter models pull` set it), then the default models folder.
// Throws std::runtime_error saying where it looked and how to get the files when one is missing.
ModelFiles find_model_files(const std::string& model_option, const std::string& mmproj_option, bool need_mmproj);

}  // namespace utter::cli
