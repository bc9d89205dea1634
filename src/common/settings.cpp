#include "common/settings.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace utter::cli {
namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

template <typename T>
void read_key(const std::filesystem::path& path, nlohmann::json& object, const char* key, T& target) {
  auto found = object.find(key);
  if (found == object.end()) return;
  try {
    target = found->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error(fmt::format("{}: the value of \"{}\" has the wrong type ({}); fix or delete the key",
                                         path.string(), key, found->type_name()));
  }
  object.erase(found);
}

void write_all(int fd, const std::string& text, const std::filesystem::path& path) {
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw std::runtime_error(fmt::format("cannot write the settings file '{}': {}", path.string(), std::strerror(errno)));
    }
    written += static_cast<size_t>(n);
  }
}

}  // namespace

std::filesystem::path settings_path() {
  const std::string config_home = environment("XDG_CONFIG_HOME");
  if (!config_home.empty()) return std::filesystem::path(config_home) / "utter" / "settings.json";
  const std::string home = environment("HOME");
  return std::filesystem::path(home.empty() ? "." : home) / ".config" / "utter" / "settings.json";
}

Settings Settings::load(const std::filesystem::path& path) {
  Settings settings;
  std::ifstream in(path, std::ios::binary);
  if (!in) return settings;
  std::stringstream text;
  text << in.rdbuf();

  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& error) {
    throw std::runtime_error(fmt::format("{}: invalid JSON at byte {}; fix the file or delete it to start over",
                                         path.string(), error.byte));
  }
  if (!root.is_object()) {
    throw std::runtime_error(fmt::format("{}: expected a JSON object at the top level", path.string()));
  }

  read_key(path, root, "model", settings.model);
  read_key(path, root, "mmproj", settings.mmproj);
  read_key(path, root, "input_device", settings.input_device);
  read_key(path, root, "hands_free", settings.hands_free);
  read_key(path, root, "language", settings.language);
  if (auto hotkeys = root.find("hotkeys"); hotkeys != root.end()) {
    if (!hotkeys->is_object()) {
      throw std::runtime_error(fmt::format("{}: \"hotkeys\" must be a JSON object", path.string()));
    }
    read_key(path, *hotkeys, "push_to_talk", settings.push_to_talk_hotkey);
    read_key(path, *hotkeys, "toggle_dictation", settings.toggle_dictation_hotkey);
    if (hotkeys->empty()) root.erase(hotkeys);
  }
  settings.unknown_keys = std::move(root);
  return settings;
}

void Settings::save(const std::filesystem::path& path) const {
  nlohmann::json root = unknown_keys.is_object() ? unknown_keys : nlohmann::json::object();
  root["model"] = model;
  root["mmproj"] = mmproj;
  root["input_device"] = input_device;
  root["hands_free"] = hands_free;
  root["language"] = language;
  nlohmann::json& hotkeys = root["hotkeys"];
  if (!hotkeys.is_object()) hotkeys = nlohmann::json::object();
  hotkeys["push_to_talk"] = push_to_talk_hotkey;
  hotkeys["toggle_dictation"] = toggle_dictation_hotkey;
  const std::string text = root.dump(2) + "\n";

  const std::filesystem::path folder = path.parent_path().empty() ? "." : path.parent_path();
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error) {
    throw std::runtime_error(fmt::format("cannot create the settings folder '{}': {}", folder.string(), error.message()));
  }

  std::string temp_name = (folder / (path.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(temp_name.data());
  if (fd < 0) {
    throw std::runtime_error(fmt::format("cannot create a temporary file in '{}': {}", folder.string(), std::strerror(errno)));
  }
  try {
    write_all(fd, text, path);
    if (::fsync(fd) != 0) {
      throw std::runtime_error(fmt::format("cannot flush the settings file '{}' to disk: {}", temp_name, std::strerror(errno)));
    }
    ::fchmod(fd, 0644);
  } catch (...) {
    ::close(fd);
    ::unlink(temp_name.c_str());
    throw;
  }
  ::close(fd);
  if (std::rename(temp_name.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp_name.c_str());
    throw std::runtime_error(fmt::format("cannot replace the settings file '{}': {}", path.string(), std::strerror(saved)));
  }
  // Make the rename itself durable.
  const int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace utter::cli
