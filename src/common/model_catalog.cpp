#include "common/model_catalog.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "utter/editor/assets.h"

namespace utter::cli {
namespace {

bool is_sha256_hex(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string required_string(const nlohmann::json& object, const char* key, const std::string& where) {
  auto found = object.find(key);
  if (found == object.end() || !found->is_string() || found->get<std::string>().empty()) {
    throw std::runtime_error(fmt::format("{}: \"{}\" is missing or not a non-empty string", where, key));
  }
  return found->get<std::string>();
}

CatalogFile parse_file(const nlohmann::json& object, const std::string& base_url, const std::string& where) {
  if (!object.is_object()) throw std::runtime_error(fmt::format("{}: expected a JSON object", where));
  CatalogFile file;
  file.repository = required_string(object, "repository", where);
  file.revision = required_string(object, "revision", where);
  file.file = required_string(object, "file", where);
  if (auto size = object.find("size"); size != object.end() && !size->is_null()) {
    if (!size->is_number_unsigned()) throw std::runtime_error(fmt::format("{}: \"size\" must be a byte count or null", where));
    file.size = size->get<uint64_t>();
  }
  if (auto sha = object.find("sha256"); sha != object.end() && !sha->is_null()) {
    if (!sha->is_string() || !is_sha256_hex(sha->get<std::string>())) {
      throw std::runtime_error(fmt::format("{}: \"sha256\" must be 64 lower-case hex digits or null", where));
    }
    file.sha256 = sha->get<std::string>();
  }
  file.url = fmt::format("{}/{}/resolve/{}/{}", base_url, file.repository, file.revision, file.file);
  return file;
}

}  // namespace

ModelCatalog ModelCatalog::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read the model catalogue '{}'", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& error) {
    throw std::runtime_error(fmt::format("{}: invalid JSON at byte {}", path.string(), error.byte));
  }
  const std::string where = path.string();
  if (!root.is_object()) throw std::runtime_error(fmt::format("{}: expected a JSON object", where));

  std::string base_url = required_string(root, "base_url", where);
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();

  ModelCatalog catalog;
  catalog.default_name = required_string(root, "default", where);
  auto models = root.find("models");
  if (models == root.end() || !models->is_array()) {
    throw std::runtime_error(fmt::format("{}: \"models\" must be an array", where));
  }
  for (size_t i = 0; i < models->size(); ++i) {
    const nlohmann::json& item = (*models)[i];
    const std::string item_where = fmt::format("{}: models[{}]", where, i);
    if (!item.is_object()) throw std::runtime_error(fmt::format("{}: expected a JSON object", item_where));
    CatalogEntry entry;
    entry.name = required_string(item, "name", item_where);
    entry.description = item.value("description", "");
    entry.quantization = item.value("quantization", "");
    if (!item.contains("model") || !item.contains("mmproj")) {
      throw std::runtime_error(fmt::format("{}: \"model\" and \"mmproj\" are both required", item_where));
    }
    entry.model = parse_file(item["model"], base_url, item_where + ".model");
    entry.mmproj = parse_file(item["mmproj"], base_url, item_where + ".mmproj");
    catalog.entries.push_back(std::move(entry));
  }
  catalog.find(catalog.default_name);  // the default must name an entry
  return catalog;
}

ModelCatalog ModelCatalog::load_builtin() { return load(editor::asset_path("models.json")); }

const CatalogEntry& ModelCatalog::find(const std::string& name) const {
  for (const auto& entry : entries) {
    if (entry.name == name) return entry;
  }
  std::string known;
  for (const auto& entry : entries) known += (known.empty() ? "" : ", ") + entry.name;
  throw std::runtime_error(fmt::format("'{}' is not a model in the catalogue; known names: {} (see `utter models "
                                       "pull --help`, or fetch any file with --url)",
                                       name, known));
}

const CatalogFile* ModelCatalog::find_file(const std::string& file_name) const {
  for (const auto& entry : entries) {
    if (entry.model.file == file_name) return &entry.model;
    if (entry.mmproj.file == file_name) return &entry.mmproj;
  }
  return nullptr;
}

}  // namespace utter::cli
