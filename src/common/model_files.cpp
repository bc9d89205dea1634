#include "common/model_files.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "common/settings.h"

namespace utter::cli {
namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

std::filesystem::path require_file(const std::filesystem::path& path, const std::string& description) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    throw std::runtime_error(fmt::format("the {} '{}' does not exist or is not a file", description, path.string()));
  }
  return path;
}

}  // namespace

bool is_projector_name(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  return name.rfind("mmproj", 0) == 0 || name.find("-mmproj") != std::string::npos;
}

std::vector<std::filesystem::path> gguf_files_in(const std::filesystem::path& folder, bool projectors) {
  std::vector<std::filesystem::path> found;
  std::error_code error;
  if (!std::filesystem::is_directory(folder, error)) return found;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".gguf") continue;
    if (is_projector_name(entry.path()) == projectors) found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::filesystem::path default_models_dir() {
  const std::string explicit_dir = environment("UTTER_MODELS_DIR");
  if (!explicit_dir.empty()) return explicit_dir;
  const std::string data_home = environment("XDG_DATA_HOME");
  if (!data_home.empty()) return std::filesystem::path(data_home) / "utter" / "models";
  const std::string home = environment("HOME");
  return std::filesystem::path(home.empty() ? "." : home) / ".local" / "share" / "utter" / "models";
}

ModelFiles find_model_files(const std::string& model_option, const std::string& mmproj_option, bool need_mmproj) {
  ModelFiles files;
  const std::filesystem::path folder = default_models_dir();
  const std::filesystem::path settings_file = settings_path();
  const Settings settings = Settings::load(settings_file);
  bool model_from_settings = false;

  if (!model_option.empty()) {
    files.model = require_file(model_option, "model file given with -m");
    files.model_origin = "-m";
  } else if (const std::string from_env = environment("UTTER_MODEL"); !from_env.empty()) {
    files.model = require_file(from_env, "model file named by UTTER_MODEL");
    files.model_origin = "UTTER_MODEL";
  } else if (!settings.model.empty()) {
    files.model = require_file(settings.model, fmt::format("default model remembered in '{}' (run `utter models use "
                                                           "FILE` or `utter models pull` to choose another)",
                                                           settings_file.string()));
    files.model_origin = "settings";
    model_from_settings = true;
  } else if (auto candidates = gguf_files_in(folder, false); !candidates.empty()) {
    files.model = candidates.front();
    files.model_origin = "models folder";
  } else {
    throw std::runtime_error(fmt::format(
        "no model file found: looked at -m, the UTTER_MODEL environment variable, the settings file '{}' and the "
        "folder '{}'. Download Gemma 4 12B and its mmproj file with `utter models pull`, or pass "
        "-m MODEL.gguf --mmproj MMPROJ.gguf",
        settings_file.string(), folder.string()));
  }

  // A model given by path that is the remembered model still gets the remembered projector.
  std::error_code same_error;
  if (!model_from_settings && !settings.model.empty() &&
      std::filesystem::equivalent(files.model, settings.model, same_error)) {
    model_from_settings = true;
  }

  if (!mmproj_option.empty()) {
    files.mmproj = require_file(mmproj_option, "projector file given with --mmproj");
  } else if (const std::string from_env = environment("UTTER_MMPROJ"); !from_env.empty()) {
    files.mmproj = require_file(from_env, "projector file named by UTTER_MMPROJ");
  } else if (model_from_settings && !settings.mmproj.empty()) {
    // The remembered projector belongs to the remembered model, so it is used only with it.
    files.mmproj = require_file(settings.mmproj, fmt::format("projector remembered in '{}'", settings_file.string()));
  } else {
    // Prefer a projector beside the model, then one in the models folder.
    auto beside = gguf_files_in(files.model.parent_path().empty() ? "." : files.model.parent_path(), true);
    auto in_folder = gguf_files_in(folder, true);
    if (!beside.empty()) {
      files.mmproj = beside.front();
    } else if (!in_folder.empty()) {
      files.mmproj = in_folder.front();
    }
  }
  if (need_mmproj && files.mmproj.empty()) {
    throw std::runtime_error(fmt::format(
        "no audio projector (mmproj) file found: looked at --mmproj, the UTTER_MMPROJ environment variable, the "
        "settings file, the folder of '{}' and '{}'. Audio needs the mmproj GGUF published with the model; get the "
        "pair with `utter models pull` or pass it with --mmproj",
        files.model.string(), folder.string()));
  }
  return files;
}

}  // namespace utter::cli
