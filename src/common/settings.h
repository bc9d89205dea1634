// The user's settings, kept as JSON in $XDG_CONFIG_HOME/utter/settings.json (default
// ~/.config/utter/settings.json): the chosen model pair and the desktop app's choices.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace utter::cli {

struct Settings {
  std::string model;   // path of the default text model GGUF; empty when none was chosen
  std::string mmproj;  // path of its audio projector GGUF; empty when none was chosen
  std::string input_device;             // capture device name; empty means the system default
  std::string push_to_talk_hotkey;      // e.g. "Ctrl+Space"; empty means none
  std::string toggle_dictation_hotkey;  // e.g. "Ctrl+Alt+D"; empty means none
  bool hands_free = false;              // start and stop dictation on voice activity
  std::string language;                 // BCP 47 tag such as "en"; empty means any language

  // Keys this version does not know, written back unchanged so newer programs keep theirs.
  nlohmann::json unknown_keys = nlohmann::json::object();

  // Reads the file; a missing file gives the defaults. Throws std::runtime_error naming the
  // file and the key when the JSON is invalid or a value has the wrong type.
  static Settings load(const std::filesystem::path& path);

  // Writes atomically: a temporary file in the same folder, fsync, then rename over `path`,
  // so a crash leaves either the old or the new file. Creates the folder when needed.
  void save(const std::filesystem::path& path) const;
};

// $XDG_CONFIG_HOME/utter/settings.json, else ~/.config/utter/settings.json.
std::filesystem::path settings_path();

}  // namespace utter::cli
