// The built-in list of published Gemma 4 12B model pairs (assets/models.json) that
// `utter models pull` can download by name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace utter::cli {

struct CatalogFile {
  std::string repository;  // e.g. "google/gemma-4-12B-it-qat-q4_0-gguf"
  std::string revision;    // a commit id, so the size and hash stay valid; or a branch name
  std::string file;        // file name inside the repository
  std::optional<uint64_t> size;   // bytes; absent when not established
  std::optional<std::string> sha256;  // lower-case hex; absent when not established
  std::string url;         // base_url/repository/resolve/revision/file
};

struct CatalogEntry {
  std::string name;
  std::string description;
  std::string quantization;
  CatalogFile model;
  CatalogFile mmproj;
};

struct ModelCatalog {
  std::string default_name;
  std::vector<CatalogEntry> entries;

  // Reads and checks a catalogue file; throws std::runtime_error naming the file and entry.
  static ModelCatalog load(const std::filesystem::path& path);
  // The shipped catalogue: assets/models.json.
  static ModelCatalog load_builtin();

  // Throws std::runtime_error listing the known names when `name` is not one of them.
  const CatalogEntry& find(const std::string& name) const;
  // The catalogue file whose file name is `file_name`, if any (used to look up known hashes).
  const CatalogFile* find_file(const std::string& file_name) const;
};

}  // namespace utter::cli
