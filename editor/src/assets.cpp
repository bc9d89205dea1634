#include "utter/editor/assets.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#ifndef UTTER_ASSETS_DIR
#error "UTTER_ASSETS_DIR must be defined by the build"
#endif

namespace utter::editor {

std::filesystem::path assets_dir() {
  const char* from_environment = std::getenv("UTTER_ASSETS_DIR");
  if (from_environment != nullptr && from_environment[0] != '\0') {
    return std::filesystem::path(from_environment);
  }
  return std::filesystem::path(UTTER_ASSETS_DIR);
}

std::filesystem::path asset_path(std::string_view relative_path) {
  std::filesystem::path path = assets_dir() / std::filesystem::path(relative_path);
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    throw std::runtime_error("asset file not found: '" + path.string() +
                             "'; set UTTER_ASSETS_DIR to the folder that contains utter's assets");
  }
  return path;
}

std::string read_asset(std::string_view relative_path) {
  const std::filesystem::path path = asset_path(relative_path);
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (!stream.good() && !stream.eof()) {
    throw std::runtime_error("failed to read asset file '" + path.string() + "'");
  }
  return contents.str();
}

}  // namespace utter::editor
