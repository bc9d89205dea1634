// Downloading one large file over HTTP(S) with libcurl: resumable through a ".part" file,
// checked for free disk space first, verified with SHA-256 before it is renamed into place.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace utter::cli {

struct DownloadRequest {
  std::string url;
  std::filesystem::path target;              // final path; data go to target + ".part" first
  std::optional<uint64_t> expected_size;     // bytes, when known
  std::optional<std::string> expected_sha256;  // lower-case hex, when known
  int retries = 3;  // further attempts, each resuming where the last stopped, after a dropped connection
};

struct DownloadResult {
  std::string sha256;      // of the installed file
  uint64_t bytes = 0;
  bool already_present = false;  // the target existed and matched; nothing was downloaded
};

// Downloads `request.url` to `request.target`. Honours the proxy variables libcurl reads
// (http_proxy, https_proxy, no_proxy) and sends HF_TOKEN or UTTER_HF_TOKEN as a Bearer token
// to Hugging Face hosts only. Throws std::runtime_error with a message that names what failed
// (no network, HTTP status, full disk, checksum mismatch) and what to do next.
DownloadResult download_file(const DownloadRequest& request);

// SHA-256 of a whole file as lower-case hex; `progress` receives (bytes done, bytes total).
std::string sha256_of_file(const std::filesystem::path& path,
                           const std::function<void(uint64_t, uint64_t)>& progress = {});

// "6.98 GB", "512 kB", "17 B": decimal units, as download sizes are usually given.
std::string format_bytes(uint64_t bytes);

}  // namespace utter::cli
