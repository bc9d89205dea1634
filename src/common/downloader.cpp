#include "common/downloader.h"

#include <curl/curl.h>
#include <fmt/core.h>
#include <openssl/evp.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace utter::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds > 99 * 3600) return "--";
  const auto total = static_cast<long>(seconds + 0.5);
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
  if (total >= 60) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

// One status line on stderr with bytes, rate and time left, drawn only on a terminal.
class TransferLine {
 public:
  explicit TransferLine(std::string label) : label_(std::move(label)), enabled_(stderr_is_terminal()) {}
  ~TransferLine() { clear(); }

  void draw(uint64_t done, std::optional<uint64_t> total, double rate) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (drawn_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    std::string line;
    if (total && *total > 0) {
      const double fraction = std::clamp(static_cast<double>(done) / static_cast<double>(*total), 0.0, 1.0);
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(fraction * kWidth);
      const double left = rate > 0 ? static_cast<double>(*total - std::min(done, *total)) / rate : -1.0;
      line = fmt::format("{} [{}{}] {:3.0f}% {} / {}  {}/s  {} left", label_, std::string(filled, '#'),
                         std::string(kWidth - filled, '-'), fraction * 100.0, format_bytes(done), format_bytes(*total),
                         format_bytes(static_cast<uint64_t>(rate)), format_duration(left));
    } else {
      line = fmt::format("{} {}  {}/s", label_, format_bytes(done), format_bytes(static_cast<uint64_t>(rate)));
    }
    fmt::print(stderr, "\r\033[K{}", line);
    std::fflush(stderr);
    drawn_ = true;
  }

  void clear() {
    if (!drawn_) return;
    fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point last_draw_{};
};

uint64_t file_size_or_zero(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<uint64_t>(size);
}

// Free bytes for an unprivileged user on the file system holding `folder`.
std::optional<uint64_t> free_bytes(const std::filesystem::path& folder) {
  struct statvfs info {};
  if (::statvfs(folder.c_str(), &info) != 0) return std::nullopt;
  return static_cast<uint64_t>(info.f_bavail) * static_cast<uint64_t>(info.f_frsize);
}

std::string disk_full_message(const std::filesystem::path& folder, uint64_t needed, uint64_t available) {
  return fmt::format(
      "not enough free disk space in '{}': the download needs {} more but only {} are free; free some space or "
      "download into another folder with --dir",
      folder.string(), format_bytes(needed), format_bytes(available));
}

std::string url_host(const std::string& url) {
  std::string host;
  CURLU* handle = curl_url();
  if (handle == nullptr) return host;
  if (curl_url_set(handle, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* part = nullptr;
    if (curl_url_get(handle, CURLUPART_HOST, &part, 0) == CURLUE_OK && part != nullptr) {
      host = part;
      curl_free(part);
    }
  }
  curl_url_cleanup(handle);
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  return host;
}

bool is_hugging_face_host(const std::string& host) {
  auto ends_with = [&](const std::string& suffix) {
    return host.size() >= suffix.size() && host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return host == "huggingface.co" || host == "hf.co" || ends_with(".huggingface.co") || ends_with(".hf.co");
}

std::string access_token() {
  std::string token = environment("UTTER_HF_TOKEN");
  if (token.empty()) token = environment("HF_TOKEN");
  return token;
}

std::string http_status_message(long status, const std::string& url) {
  switch (status) {
    case 401:
    case 403:
      return fmt::format(
          "the server refused access to {} (HTTP {}); for a gated Hugging Face repository accept its licence on "
          "the model page and set HF_TOKEN to an access token",
          url, status);
    case 404:
      return fmt::format("the file was not found at {} (HTTP 404); check the URL, or the repository, revision and "
                         "file name in the catalogue",
                         url);
    case 429:
      return fmt::format("the server at {} is rate limiting requests (HTTP 429); wait a few minutes and run the "
                         "command again",
                         url);
    default:
      return fmt::format("the server answered HTTP {} for {}; try again later", status, url);
  }
}

bool is_connection_failure(CURLcode code) {
  return code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY;
}

// A transfer that started and broke off, so resuming can finish it.
bool is_interruption(CURLcode code) {
  return code == CURLE_PARTIAL_FILE || code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR ||
         code == CURLE_OPERATION_TIMEDOUT || code == CURLE_GOT_NOTHING || code == CURLE_HTTP2 ||
         code == CURLE_HTTP2_STREAM;
}

struct Attempt {
  std::FILE* out = nullptr;
  CURL* curl = nullptr;
  std::filesystem::path part;
  std::filesystem::path folder;
  std::string url;
  uint64_t offset = 0;  // bytes in the .part file before this attempt
  uint64_t received = 0;
  std::optional<uint64_t> expected_size;
  std::optional<uint64_t> total;  // offset plus the length the server announced, once known
  bool started = false;
  bool restarted_from_zero = false;
  long http_status = 0;
  std::string abort_reason;  // set when the write callback stops the transfer on purpose
  TransferLine* line = nullptr;
  Clock::time_point start = Clock::now();
};

// Checks the response once, before the first byte is written.
bool begin_body(Attempt& attempt) {
  curl_easy_getinfo(attempt.curl, CURLINFO_RESPONSE_CODE, &attempt.http_status);
  if (attempt.http_status >= 400) {
    attempt.abort_reason = http_status_message(attempt.http_status, attempt.url);
    return false;
  }
  if (attempt.offset > 0 && attempt.http_status == 200) {
    // The server ignored the Range header and sends the whole file again.
    if (std::fflush(attempt.out) != 0 || ::ftruncate(fileno(attempt.out), 0) != 0 ||
        std::fseek(attempt.out, 0, SEEK_SET) != 0) {
      attempt.abort_reason = fmt::format("cannot empty '{}' to restart the download: {}", attempt.part.string(),
                                         std::strerror(errno));
      return false;
    }
    attempt.offset = 0;
    attempt.restarted_from_zero = true;
  }
  curl_off_t announced = -1;
  curl_easy_getinfo(attempt.curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
  if (announced >= 0) {
    attempt.total = attempt.offset + static_cast<uint64_t>(announced);
    if (attempt.expected_size && *attempt.total != *attempt.expected_size) {
      attempt.abort_reason = fmt::format(
          "the server announces {} bytes for {}, but {} bytes are expected; the file on the server differs from the "
          "catalogue",
          *attempt.total, attempt.url, *attempt.expected_size);
      return false;
    }
    if (!attempt.expected_size) {
      const auto available = free_bytes(attempt.folder);
      if (available && static_cast<uint64_t>(announced) > *available) {
        attempt.abort_reason = disk_full_message(attempt.folder, static_cast<uint64_t>(announced), *available);
        return false;
      }
    }
  } else if (attempt.expected_size) {
    attempt.total = attempt.expected_size;
  }
  attempt.started = true;
  return true;
}

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto& attempt = *static_cast<Attempt*>(user);
  const size_t bytes = size * count;
  if (!attempt.started && !begin_body(attempt)) return 0;
  if (std::fwrite(data, 1, bytes, attempt.out) != bytes) {
    const int error = errno;
    if (error == ENOSPC) {
      attempt.abort_reason = fmt::format("the disk holding '{}' is full after {} bytes; free some space and run the "
                                         "command again to resume",
                                         attempt.part.string(), attempt.offset + attempt.received);
    } else {
      attempt.abort_reason = fmt::format("cannot write '{}': {}", attempt.part.string(), std::strerror(error));
    }
    return 0;
  }
  attempt.received += bytes;
  return bytes;
}

int report_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& attempt = *static_cast<Attempt*>(user);
  if (attempt.line != nullptr && attempt.started) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - attempt.start).count();
    const double rate = elapsed > 0.2 ? static_cast<double>(attempt.received) / elapsed : 0.0;
    attempt.line->draw(attempt.offset + attempt.received, attempt.total, rate);
  }
  return 0;
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

enum class AttemptOutcome { Complete, Interrupted, RangeRejected };

AttemptOutcome run_attempt(Attempt& attempt, std::string& failure) {
  static CurlGlobal global;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw std::runtime_error("cannot start libcurl");
  attempt.curl = curl.get();

  curl_slist* headers = nullptr;
  const std::string token = access_token();
  if (!token.empty() && is_hugging_face_host(url_host(attempt.url))) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, curl_slist_free_all);

  char error_text[CURL_ERROR_SIZE] = {};
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, attempt.url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(handle, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(handle, CURLOPT_USERAGENT, "utter/" UTTER_VERSION);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, 30L);
  // A connection below 1 byte per second for a minute counts as broken, and the retry resumes.
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &attempt);
  curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, report_progress);
  curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &attempt);
  if (headers != nullptr) curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  // A plain Range header, because CURLOPT_RESUME_FROM fails outright when the server ignores
  // the range. begin_body() restarts from zero instead.
  const std::string range = fmt::format("{}-", attempt.offset);
  if (attempt.offset > 0) curl_easy_setopt(handle, CURLOPT_RANGE, range.c_str());

  const CURLcode code = curl_easy_perform(handle);
  if (attempt.http_status == 0) curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &attempt.http_status);
  if (attempt.line != nullptr) attempt.line->clear();

  if (!attempt.abort_reason.empty()) throw std::runtime_error(attempt.abort_reason);
  if (attempt.http_status == 416 && attempt.offset > 0) return AttemptOutcome::RangeRejected;
  if (attempt.http_status >= 400) throw std::runtime_error(http_status_message(attempt.http_status, attempt.url));

  const std::string detail = error_text[0] != '\0' ? std::string(error_text) : std::string(curl_easy_strerror(code));
  if (is_connection_failure(code)) {
    throw std::runtime_error(fmt::format(
        "cannot connect to {} ({}); check the network connection, or the proxy set in https_proxy / http_proxy",
        url_host(attempt.url), detail));
  }
  if (is_interruption(code)) {
    failure = detail;
    return AttemptOutcome::Interrupted;
  }
  if (code != CURLE_OK) throw std::runtime_error(fmt::format("downloading {} failed: {}", attempt.url, detail));
  if (!attempt.started && attempt.offset > 0 && attempt.http_status == 206) {
    // An empty 206 reply: nothing was left to send.
    return AttemptOutcome::Complete;
  }
  if (!attempt.started && !begin_body(attempt)) throw std::runtime_error(attempt.abort_reason);
  return AttemptOutcome::Complete;
}

}  // namespace

std::string format_bytes(uint64_t bytes) {
  const double value = static_cast<double>(bytes);
  if (bytes >= 1000ull * 1000 * 1000) return fmt::format("{:.2f} GB", value / 1e9);
  if (bytes >= 1000ull * 1000) return fmt::format("{:.1f} MB", value / 1e6);
  if (bytes >= 1000ull) return fmt::format("{:.0f} kB", value / 1e3);
  return fmt::format("{} B", bytes);
}

std::string sha256_of_file(const std::filesystem::path& path, const std::function<void(uint64_t, uint64_t)>& progress) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot open '{}' to compute its SHA-256", path.string()));
  const uint64_t total = file_size_or_zero(path);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("cannot start a SHA-256 computation (OpenSSL)");
  }
  std::vector<char> buffer(1 << 20);
  uint64_t done = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize got = in.gcount();
    if (got <= 0) break;
    EVP_DigestUpdate(context.get(), buffer.data(), static_cast<size_t>(got));
    done += static_cast<uint64_t>(got);
    if (progress) progress(done, total);
  }
  if (in.bad()) throw std::runtime_error(fmt::format("reading '{}' failed while computing its SHA-256", path.string()));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest, &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

DownloadResult download_file(const DownloadRequest& request) {
  const std::filesystem::path target = request.target;
  const std::filesystem::path folder = target.parent_path().empty() ? "." : target.parent_path();
  const std::filesystem::path part = target.string() + ".part";
  const std::string label = target.filename().string();
  DownloadResult result;

  auto check_hash = [&](const std::filesystem::path& path) {
    TransferLine line(label + " SHA-256");
    const auto start = Clock::now();
    const std::string sha = sha256_of_file(path, [&](uint64_t done, uint64_t total) {
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      line.draw(done, total, elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0);
    });
    line.clear();
    return sha;
  };

  std::error_code error;
  if (std::filesystem::exists(target, error)) {
    const uint64_t size = file_size_or_zero(target);
    if (request.expected_size && size != *request.expected_size) {
      throw std::runtime_error(fmt::format("'{}' already exists but has {} bytes instead of {}; delete it or move it "
                                           "away and run the command again",
                                           target.string(), size, *request.expected_size));
    }
    result.sha256 = check_hash(target);
    if (request.expected_sha256 && result.sha256 != *request.expected_sha256) {
      throw std::runtime_error(fmt::format("'{}' already exists but its SHA-256 is {}, expected {}; delete it and run "
                                           "the command again",
                                           target.string(), result.sha256, *request.expected_sha256));
    }
    result.bytes = size;
    result.already_present = true;
    return result;
  }

  std::filesystem::create_directories(folder, error);
  if (error) {
    throw std::runtime_error(fmt::format("cannot create the folder '{}': {}", folder.string(), error.message()));
  }

  if (request.expected_size) {
    const uint64_t have = file_size_or_zero(part);
    const uint64_t needed = *request.expected_size > have ? *request.expected_size - have : 0;
    const auto available = free_bytes(folder);
    if (available && needed > *available) throw std::runtime_error(disk_full_message(folder, needed, *available));
  }

  const int attempts = std::max(0, request.retries) + 1;
  for (int attempt_number = 1;; ++attempt_number) {
    Attempt attempt;
    attempt.part = part;
    attempt.folder = folder;
    attempt.url = request.url;
    attempt.expected_size = request.expected_size;
    attempt.offset = file_size_or_zero(part);
    if (request.expected_size && attempt.offset > *request.expected_size) {
      std::filesystem::remove(part, error);
      attempt.offset = 0;
    }
    if (request.expected_size && attempt.offset == *request.expected_size) break;  // finished earlier
    if (attempt.offset > 0) {
      fmt::print(stderr, "{}: resuming at byte {} ({})\n", label, attempt.offset, format_bytes(attempt.offset));
    }

    attempt.out = std::fopen(part.c_str(), attempt.offset > 0 ? "r+b" : "wb");
    if (attempt.out == nullptr) {
      throw std::runtime_error(fmt::format("cannot write '{}': {}", part.string(), std::strerror(errno)));
    }
    if (attempt.offset > 0) std::fseek(attempt.out, 0, SEEK_END);
    TransferLine line(label);
    attempt.line = &line;

    std::string failure;
    AttemptOutcome outcome;
    try {
      outcome = run_attempt(attempt, failure);
    } catch (...) {
      std::fclose(attempt.out);
      if (file_size_or_zero(part) == 0) std::filesystem::remove(part, error);  // nothing worth resuming
      throw;
    }
    const bool closed = std::fclose(attempt.out) == 0;
    if (!closed) {
      throw std::runtime_error(fmt::format("cannot finish writing '{}': {}", part.string(), std::strerror(errno)));
    }
    if (attempt.restarted_from_zero) {
      fmt::print(stderr, "{}: the server does not support resuming, so the download started again from zero\n", label);
    }

    if (outcome == AttemptOutcome::Complete) break;
    if (outcome == AttemptOutcome::RangeRejected) {
      // The server cannot serve the rest of the .part file (it may be stale); start over.
      std::filesystem::remove(part, error);
      if (attempt_number < attempts) continue;
      throw std::runtime_error(fmt::format("the server rejected resuming {} at byte {}; run the command again to "
                                           "start from zero",
                                           request.url, attempt.offset));
    }
    const uint64_t have = file_size_or_zero(part);
    const std::string of_total = attempt.total ? fmt::format(" of {}", *attempt.total) : std::string();
    if (attempt_number >= attempts) {
      throw std::runtime_error(fmt::format(
          "the download of {} was interrupted after {}{} bytes ({}); the data so far are kept in '{}': run the same "
          "command again to resume",
          request.url, have, of_total, failure, part.string()));
    }
    fmt::print(stderr, "{}: the connection broke after {}{} bytes ({}); retrying ({} of {})\n", label, have, of_total,
               failure, attempt_number, attempts - 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(500 * attempt_number));
  }

  const uint64_t size = file_size_or_zero(part);
  if (request.expected_size && size != *request.expected_size) {
    throw std::runtime_error(fmt::format("the download of {} ended with {} bytes instead of {}; the data are kept in "
                                         "'{}': run the command again to resume",
                                         request.url, size, *request.expected_size, part.string()));
  }
  result.sha256 = check_hash(part);
  result.bytes = size;
  if (request.expected_sha256 && result.sha256 != *request.expected_sha256) {
    std::filesystem::remove(part, error);
    throw std::runtime_error(fmt::format(
        "checksum mismatch for {}: SHA-256 is {}, expected {}; the damaged download was deleted and nothing was "
        "installed: run the command again",
        request.url, result.sha256, *request.expected_sha256));
  }
  std::filesystem::rename(part, target, error);
  if (error) {
    throw std::runtime_error(fmt::format("cannot rename '{}' to '{}': {}", part.string(), target.string(),
                                         error.message()));
  }
  return result;
}

}  // namespace utter::cli
