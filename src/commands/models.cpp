// `utter models`: list the model files utter can see, download a known pair, verify a file,
// and choose the default pair remembered in the settings file.
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands/command_registry.h"
#include "common/downloader.h"
#include "common/model_catalog.h"
#include "common/model_files.h"
#include "common/model_inspection.h"
#include "common/settings.h"

namespace utter::cli {
namespace {

namespace fs = std::filesystem;

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

fs::path absolute_path(const fs::path& path) {
  std::error_code error;
  fs::path result = fs::absolute(path, error);
  return error ? path : result.lexically_normal();
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code error;
  return fs::equivalent(a, b, error);
}

std::optional<ModelFiles> default_model_files() {
  try {
    return find_model_files("", "", false);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The projector the shared lookup pairs with `model`, or an error text when the lookup fails.
fs::path projector_for(const fs::path& model, std::string& lookup_error) {
  try {
    return find_model_files(model.string(), "", false).mmproj;
  } catch (const std::exception& error) {
    lookup_error = error.what();
    return {};
  }
}

std::string normalized_sha256(const std::string& text, const char* option) {
  std::string hex = text;
  std::transform(hex.begin(), hex.end(), hex.begin(), [](unsigned char c) { return std::tolower(c); });
  const bool valid = hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
                       return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                     });
  if (!valid) throw std::runtime_error(fmt::format("{} must be 64 hexadecimal digits, got '{}'", option, text));
  return hex;
}

std::string origin_text(const std::string& origin) {
  if (origin == "settings") return "remembered in the settings file";
  if (origin == "UTTER_MODEL") return "named by UTTER_MODEL";
  if (origin == "models folder") return "first model in the models folder";
  return origin;
}

// ---- list -----------------------------------------------------------------------------------

int run_list() {
  const fs::path folder = default_models_dir();
  const fs::path settings_file = settings_path();
  const Settings settings = Settings::load(settings_file);
  fmt::print("models folder: {}\nsettings file: {}\n", folder.string(), settings_file.string());

  std::vector<fs::path> candidates;
  auto add = [&](const fs::path& path) {
    if (path.empty()) return;
    std::error_code error;
    if (!fs::is_regular_file(path, error)) {
      fmt::print("\nmissing: {} (named in the settings or the environment, but not a file)\n", path.string());
      return;
    }
    for (const auto& known : candidates) {
      if (same_file(known, path)) return;
    }
    candidates.push_back(path);
  };
  add(settings.model);
  add(environment("UTTER_MODEL"));
  for (const auto& path : gguf_files_in(folder, false)) add(path);
  add(settings.mmproj);
  add(environment("UTTER_MMPROJ"));
  for (const auto& path : gguf_files_in(folder, true)) add(path);

  const std::optional<ModelFiles> chosen = default_model_files();
  std::vector<fs::path> paired_projectors;
  int models = 0;
  for (const auto& path : candidates) {
    const ModelFileReport report = inspect_model_file(path, /*full=*/false);
    if (report.kind == ModelFileKind::Projector) continue;  // listed with its model or below
    ++models;
    const bool is_default = chosen && same_file(chosen->model, path);
    fmt::print("\n{} {}{}\n", is_default ? "*" : " ", path.string(),
               is_default ? fmt::format("  (default: {})", origin_text(chosen->model_origin)) : "");
    if (!report.ok()) {
      fmt::print("    unusable ({}): {}\n", report.verdict, report.problem);
      continue;
    }
    fmt::print("    architecture {}, quantization {}, {}, hidden size {}\n", report.architecture, report.quantization,
               format_bytes(report.size), report.hidden_size);
    std::string lookup_error;
    const fs::path mmproj = projector_for(path, lookup_error);
    if (mmproj.empty()) {
      fmt::print("    mmproj: {}\n", lookup_error.empty() ? "none found (text only; audio needs the projector)"
                                                            : lookup_error);
      continue;
    }
    paired_projectors.push_back(mmproj);
    const ModelFileReport projector = inspect_model_file(mmproj, false);
    const std::string mismatch = check_projector_pair(mmproj, report.hidden_size);
    if (mismatch.empty()) {
      fmt::print("    mmproj: {}: matches ({}, hidden size {})\n", mmproj.string(), projector.projector_type,
                 projector.hidden_size);
    } else {
      fmt::print("    mmproj: {}: does not match: {}\n", mmproj.string(), mismatch);
    }
  }

  for (const auto& path : candidates) {
    const bool paired = std::any_of(paired_projectors.begin(), paired_projectors.end(),
                                    [&](const fs::path& p) { return same_file(p, path); });
    if (paired) continue;
    const ModelFileReport report = inspect_model_file(path, false);
    if (report.kind != ModelFileKind::Projector) continue;
    fmt::print("\n  {}\n    audio projector {}, {}, hidden size {}, not paired with a listed model\n", path.string(),
               report.projector_type, format_bytes(report.size), report.hidden_size);
  }

  if (models == 0) {
    fmt::print("\nno model files found. Get Gemma 4 12B and its mmproj with:\n  utter models pull\n");
  }
  return 0;
}

// ---- pull -----------------------------------------------------------------------------------

struct PullOptions {
  std::string name;
  std::string url;
  std::string sha256;
  std::string output_name;
  std::string dir;
  int retries = 3;
  bool no_default = false;
  bool set_default = false;
};

std::string file_name_from_url(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  const auto slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    throw std::runtime_error(fmt::format("cannot take a file name from the URL '{}'; give one with --output", url));
  }
  return name;
}

DownloadResult pull_one(const std::string& url, const fs::path& target, std::optional<uint64_t> size,
                        std::optional<std::string> sha256, int retries) {
  fmt::print("{}\n  from {}\n", target.string(), url);
  std::fflush(stdout);
  DownloadRequest request;
  request.url = url;
  request.target = target;
  request.expected_size = size;
  request.expected_sha256 = sha256;
  request.retries = retries;
  const DownloadResult result = download_file(request);
  if (result.already_present) fmt::print("  already present, {}\n", format_bytes(result.bytes));
  else fmt::print("  downloaded {}\n", format_bytes(result.bytes));
  if (sha256) {
    fmt::print("  SHA-256 verified: {}\n", result.sha256);
  } else {
    fmt::print("  the SHA-256 of this file is unknown, so it could not be verified; computed SHA-256: {}\n",
               result.sha256);
  }
  return result;
}

void remember_default(const fs::path& model, const fs::path& mmproj) {
  const fs::path file = settings_path();
  Settings settings = Settings::load(file);
  settings.model = absolute_path(model).string();
  settings.mmproj = mmproj.empty() ? std::string() : absolute_path(mmproj).string();
  settings.save(file);
  fmt::print("default model set in {}\n", file.string());
}

int report_pair(const fs::path& model, const fs::path& mmproj) {
  const ModelFileReport report = inspect_model_file(model, /*full=*/true);
  if (!report.ok()) {
    fmt::print(stderr, "utter: error: the downloaded model is not usable ({}): {}\n", report.verdict, report.problem);
    return 1;
  }
  if (!mmproj.empty()) {
    const std::string mismatch = check_projector_pair(mmproj, report.hidden_size);
    if (!mismatch.empty()) {
      fmt::print(stderr, "utter: error: the downloaded projector does not fit the model: {}\n", mismatch);
      return 1;
    }
  }
  fmt::print("checked: {} model, {}, hidden size {}{}\n", report.architecture, report.quantization, report.hidden_size,
             mmproj.empty() ? "" : ", projector matches");
  return 0;
}

int run_pull(const PullOptions& options) {
  const fs::path folder = options.dir.empty() ? default_models_dir() : fs::path(options.dir);

  if (!options.url.empty()) {
    if (!options.name.empty()) throw std::runtime_error("give either a catalogue NAME or --url, not both");
    const std::optional<std::string> sha =
        options.sha256.empty() ? std::nullopt : std::optional(normalized_sha256(options.sha256, "--sha256"));
    const fs::path target = folder / (options.output_name.empty() ? file_name_from_url(options.url) : options.output_name);
    pull_one(options.url, target, std::nullopt, sha, options.retries);
    if (options.set_default) {
      std::string lookup_error;
      const fs::path mmproj = projector_for(target, lookup_error);
      if (report_pair(target, mmproj) != 0) return 1;
      remember_default(target, mmproj);
    }
    return 0;
  }
  if (!options.sha256.empty()) throw std::runtime_error("--sha256 applies only to --url downloads");
  if (!options.output_name.empty()) throw std::runtime_error("--output applies only to --url downloads");

  const ModelCatalog catalog = ModelCatalog::load_builtin();
  const CatalogEntry& entry = catalog.find(options.name.empty() ? catalog.default_name : options.name);
  fmt::print("{}: {}\n", entry.name, entry.description);
  const fs::path model = folder / entry.model.file;
  const fs::path mmproj = folder / entry.mmproj.file;
  pull_one(entry.model.url, model, entry.model.size, entry.model.sha256, options.retries);
  pull_one(entry.mmproj.url, mmproj, entry.mmproj.size, entry.mmproj.sha256, options.retries);
  if (report_pair(model, mmproj) != 0) return 1;
  if (!options.no_default) remember_default(model, mmproj);
  return 0;
}

// ---- verify ---------------------------------------------------------------------------------

struct VerifyOptions {
  std::string file;
  std::string mmproj;
  std::string sha256;
  bool no_hash = false;
};

int run_verify(const VerifyOptions& options) {
  const fs::path path = options.file;
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    throw std::runtime_error(fmt::format("'{}' does not exist or is not a file", path.string()));
  }
  const ModelFileReport report = inspect_model_file(path, /*full=*/true);
  fmt::print("{}: {}\n", path.string(), format_bytes(report.size));
  std::vector<std::string> problems;

  // The hash: from --sha256, else from the catalogue entry with this file name.
  std::optional<std::string> expected_sha;
  std::optional<uint64_t> expected_size;
  if (!options.sha256.empty()) {
    expected_sha = normalized_sha256(options.sha256, "--sha256");
  } else if (const CatalogFile* known = ModelCatalog::load_builtin().find_file(path.filename().string())) {
    expected_sha = known->sha256;
    expected_size = known->size;
  }
  if (expected_size && report.size != *expected_size) {
    problems.push_back(fmt::format("the file has {} bytes but the published file has {}{}", report.size,
                                   *expected_size,
                                   report.size < *expected_size ? " (truncated: an interrupted download?)" : ""));
  } else if (expected_sha && !options.no_hash) {
    fmt::print(stderr, "  computing the SHA-256 of {} (--no-hash skips this)\n", format_bytes(report.size));
    const std::string sha = sha256_of_file(path);
    if (sha == *expected_sha) {
      fmt::print("  SHA-256 matches the published value {}\n", sha);
    } else {
      problems.push_back(fmt::format("SHA-256 is {}, expected {}: the file is damaged or a different version", sha,
                                     *expected_sha));
    }
  } else if (!expected_sha) {
    fmt::print("  no published SHA-256 is known for this file name, so the hash was not checked\n");
  }

  if (!report.ok()) {
    problems.push_back(report.problem);
  } else if (report.kind == ModelFileKind::Projector) {
    fmt::print("  audio projector {}, {} values per frame\n", report.projector_type, report.hidden_size);
  } else {
    fmt::print("  {} text model, quantization {}, hidden size {}: every tensor the engine needs is present\n",
               report.architecture, report.quantization, report.hidden_size);
    std::string lookup_error;
    const fs::path mmproj = options.mmproj.empty() ? projector_for(path, lookup_error) : fs::path(options.mmproj);
    if (mmproj.empty()) {
      fmt::print("  warning: no audio projector (mmproj) found for it{}; it can be used for text (utter generate) "
                 "but not for audio: transcription and dictation need the mmproj published with the model, which "
                 "`utter models pull` downloads\n",
                 lookup_error.empty() ? "" : " (" + lookup_error + ")");
    } else if (const std::string mismatch = check_projector_pair(mmproj, report.hidden_size); !mismatch.empty()) {
      problems.push_back("its projector does not fit: " + mismatch);
    } else {
      fmt::print("  mmproj {} matches\n", mmproj.string());
    }
  }

  if (problems.empty()) {
    fmt::print("verdict: ok\n");
    return 0;
  }
  const std::string verdict = report.ok() ? "bad" : report.verdict;
  fmt::print("verdict: {}\n", verdict);
  for (const auto& problem : problems) fmt::print("  problem: {}\n", problem);
  return 1;
}

// ---- use ------------------------------------------------------------------------------------

int run_use(const std::string& model, const std::string& mmproj_option) {
  const ModelFileReport report = inspect_model_file(model, /*full=*/false);
  if (report.kind != ModelFileKind::TextModel) {
    throw std::runtime_error(report.ok() ? fmt::format("'{}' is an audio projector, not a text model; pass the model "
                                                       "and add --mmproj {}",
                                                       model, model)
                                         : fmt::format("'{}' cannot be used ({}): {}", model, report.verdict,
                                                       report.problem));
  }
  std::string lookup_error;
  const fs::path mmproj = mmproj_option.empty() ? projector_for(model, lookup_error) : fs::path(mmproj_option);
  if (!mmproj.empty()) {
    const std::string mismatch = check_projector_pair(mmproj, report.hidden_size);
    if (!mismatch.empty()) throw std::runtime_error("the projector does not fit the model: " + mismatch);
  }
  remember_default(model, mmproj);
  fmt::print("default model: {}\naudio projector: {}\n", absolute_path(model).string(),
             mmproj.empty() ? "none (text only)" : absolute_path(mmproj).string());
  return 0;
}

// ---- command line ---------------------------------------------------------------------------

std::string catalogue_footer() {
  try {
    const ModelCatalog catalog = ModelCatalog::load_builtin();
    std::string text = "Known models:\n";
    for (const auto& entry : catalog.entries) {
      text += fmt::format("  {}{}  {}\n", entry.name, entry.name == catalog.default_name ? " (default)" : "",
                          entry.description);
    }
    return text;
  } catch (const std::exception& error) {
    return std::string("The model catalogue cannot be read: ") + error.what();
  }
}

void setup_models(CLI::App& sub) {
  sub.require_subcommand(1);

  CLI::App* list = sub.add_subcommand("list", "Show the model files utter can see and which pair is the default");
  list->callback([] { run_guarded([] { return run_list(); }); });

  auto pull_options = std::make_shared<PullOptions>();
  CLI::App* pull = sub.add_subcommand("pull", "Download a known model and its mmproj, or any file with --url");
  pull->add_option("name", pull_options->name, "Catalogue name (default: Google's QAT Q4_0 pair)");
  pull->add_option("--url", pull_options->url, "Download this URL instead of a catalogue entry");
  pull->add_option("--sha256", pull_options->sha256, "Expected SHA-256 (hex) of the --url file");
  pull->add_option("--output", pull_options->output_name, "File name for the --url download (default: from the URL)");
  pull->add_option("--dir", pull_options->dir, "Folder to download into (default: the models folder)");
  pull->add_option("--retries", pull_options->retries, "Further attempts after a dropped connection, each resuming")
      ->check(CLI::Range(0, 100));
  pull->add_flag("--no-default", pull_options->no_default, "Do not make the downloaded pair the default");
  pull->add_flag("--set-default", pull_options->set_default, "Make the --url model the default");
  pull->footer(catalogue_footer() +
               "Access tokens: HF_TOKEN or UTTER_HF_TOKEN (sent to Hugging Face only). Proxies: https_proxy, "
               "http_proxy, no_proxy.");
  pull->callback([pull_options] { run_guarded([&] { return run_pull(*pull_options); }); });

  auto verify_options = std::make_shared<VerifyOptions>();
  CLI::App* verify = sub.add_subcommand("verify", "Check a model file and say in plain words what is wrong with it");
  verify->add_option("file", verify_options->file, "The .gguf file to check")->required();
  verify->add_option("--mmproj", verify_options->mmproj, "Check this projector against the model");
  verify->add_option("--sha256", verify_options->sha256, "Expected SHA-256 (hex); default: the catalogue's value");
  verify->add_flag("--no-hash", verify_options->no_hash, "Skip the SHA-256 check");
  verify->callback([verify_options] { run_guarded([&] { return run_verify(*verify_options); }); });

  auto use_model = std::make_shared<std::string>();
  auto use_mmproj = std::make_shared<std::string>();
  CLI::App* use = sub.add_subcommand("use", "Make a model file (and its mmproj) the default pair");
  use->add_option("file", *use_model, "The text model .gguf")->required();
  use->add_option("--mmproj", *use_mmproj, "Its audio projector (default: found beside the model)");
  use->callback([use_model, use_mmproj] { run_guarded([&] { return run_use(*use_model, *use_mmproj); }); });
}

const bool registered = register_command({"models", "List, download, verify and choose model files", setup_models});

}  // namespace
}  // namespace utter::cli
