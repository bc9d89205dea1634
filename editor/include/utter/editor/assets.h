// Locating the files the program ships in assets/ (prompts, tables, fonts).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace utter::editor {

// Returns the assets folder: the environment variable UTTER_ASSETS_DIR when it is set and
// not empty, otherwise the folder compiled in at build time.
std::filesystem::path assets_dir();

// Returns assets_dir() / relative_path; throws std::runtime_error naming the full path and
// the environment variable to set when the file does not exist.
std::filesystem::path asset_path(std::string_view relative_path);

// Reads a whole asset file as bytes; throws std::runtime_error when it cannot be read.
std::string read_asset(std::string_view relative_path);

}  // namespace utter::editor
