#include "utter/editor/document_file.h"

#include "utter/editor/utf8.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace utter::editor {

namespace fs = std::filesystem;

namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

std::string quoted(const fs::path& path) { return "'" + path.string() + "'"; }

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string to_hex(std::uint64_t value) {
  static const char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = digits[value & 0xF];
    value >>= 4;
  }
  return out;
}

// Closes a descriptor and removes the temporary file unless released.
class TemporaryFile {
 public:
  TemporaryFile(int descriptor, fs::path path) : descriptor_(descriptor), path_(std::move(path)) {}
  ~TemporaryFile() {
    if (descriptor_ >= 0) ::close(descriptor_);
    if (!released_) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  int descriptor() const { return descriptor_; }
  // Closes the descriptor; returns false with errno set when closing reports a write error.
  bool close() {
    const int result = ::close(descriptor_);
    descriptor_ = -1;
    return result == 0;
  }
  void release() { released_ = true; }

 private:
  int descriptor_;
  fs::path path_;
  bool released_ = false;
};

void fsync_directory(const fs::path& directory) {
  const int descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (descriptor < 0) return;
  // Some file systems do not support syncing a folder; the rename itself has happened.
  ::fsync(descriptor);
  ::close(descriptor);
}

std::size_t line_of_offset(std::string_view text, std::size_t offset) {
  return static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n')) + 1;
}

}  // namespace

FileFormat format_for_path(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".md" || extension == ".markdown" || extension == ".mdown" || extension == ".mkd") {
    return FileFormat::kMarkdown;
  }
  return FileFormat::kPlainText;
}

TextFile read_text_file(const fs::path& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status)) {
    throw FileError("cannot open " + quoted(path) + ": file not found", path, error);
  }
  if (!fs::is_regular_file(status)) {
    throw FileError("cannot open " + quoted(path) + ": not a regular file", path);
  }
  const std::uintmax_t size = fs::file_size(path, error);
  if (!error && size > kMaxDocumentBytes) {
    throw FileError("cannot open " + quoted(path) + ": the file has " + std::to_string(size) +
                        " bytes, more than the editor's limit of " + std::to_string(kMaxDocumentBytes),
                    path);
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw FileError("cannot open " + quoted(path) + ": " + std::strerror(errno), path, last_error());
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (stream.bad()) throw FileError("failed to read " + quoted(path), path, last_error());
  std::string bytes = contents.str();

  TextFile file;
  file.layout.format = format_for_path(path);
  if (bytes.starts_with("\xEF\xBB\xBF")) {
    file.layout.byte_order_mark = true;
    bytes.erase(0, 3);
  }
  if (const auto invalid = find_invalid_utf8(bytes)) {
    throw FileError(quoted(path) + " is not valid UTF-8 text: invalid byte sequence at offset " +
                        std::to_string(*invalid + (file.layout.byte_order_mark ? 3 : 0)) + " (line " +
                        std::to_string(line_of_offset(bytes, *invalid)) + "); convert the file to UTF-8",
                    path);
  }
  // Convert "\r\n" only when every line uses it, so that saving gives back the same bytes.
  const std::size_t newlines = static_cast<std::size_t>(std::count(bytes.begin(), bytes.end(), '\n'));
  std::size_t crlf = 0;
  for (std::size_t i = bytes.find("\r\n"); i != std::string::npos; i = bytes.find("\r\n", i + 2)) ++crlf;
  if (newlines > 0 && crlf == newlines) {
    file.layout.crlf_line_ends = true;
    std::string converted;
    converted.reserve(bytes.size() - crlf);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      if (bytes[i] == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n') continue;
      converted += bytes[i];
    }
    bytes = std::move(converted);
  }
  file.text = std::move(bytes);
  return file;
}

std::string encode_text_file(std::string_view text, const TextFileLayout& layout) {
  std::string bytes;
  bytes.reserve(text.size() + 3);
  if (layout.byte_order_mark) bytes += "\xEF\xBB\xBF";
  if (!layout.crlf_line_ends) {
    bytes.append(text);
    return bytes;
  }
  for (const char c : text) {
    if (c == '\n') bytes += '\r';
    bytes += c;
  }
  return bytes;
}

void write_file_atomic(const fs::path& requested_path, std::string_view bytes) {
  std::error_code error;
  fs::path path = requested_path;
  if (fs::is_symlink(fs::symlink_status(path, error))) {
    path = fs::canonical(path, error);
    if (error) {
      throw FileError("failed to save " + quoted(requested_path) + ": the symbolic link's target cannot be resolved (" +
                          error.message() + "); nothing was written",
                      requested_path, error);
    }
  }
  const fs::path directory = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const bool original_exists = fs::exists(path, error);
  const std::string keeps = original_exists ? "the original file is unchanged" : "no file was written";
  auto fail = [&](const std::string& what, std::error_code code) -> FileError {
    return FileError("failed to save " + quoted(requested_path) + ": " + what + ": " + code.message() + "; " + keeps,
                     requested_path, code);
  };

  std::string temporary_name = (directory / ("." + path.filename().string() + ".utter-XXXXXX")).string();
  const int descriptor = ::mkstemp(temporary_name.data());
  if (descriptor < 0) throw fail("cannot create a temporary file in " + quoted(directory), last_error());
  TemporaryFile temporary(descriptor, temporary_name);

  // The new file gets the permissions of the one it replaces (mkstemp creates it 0600).
  struct stat original_status {};
  const mode_t mode = (original_exists && ::stat(path.c_str(), &original_status) == 0)
                          ? (original_status.st_mode & 07777)
                          : 0644;
  ::fchmod(temporary.descriptor(), mode);

  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t result = ::write(temporary.descriptor(), bytes.data() + written, bytes.size() - written);
    if (result < 0) {
      if (errno == EINTR) continue;
      throw fail("writing failed after " + std::to_string(written) + " of " + std::to_string(bytes.size()) + " bytes",
                 last_error());
    }
    written += static_cast<std::size_t>(result);
  }
  if (::fsync(temporary.descriptor()) != 0) throw fail("flushing to disk failed", last_error());
  if (!temporary.close()) throw fail("closing the temporary file failed", last_error());
  if (::rename(temporary_name.c_str(), path.c_str()) != 0) {
    throw fail("replacing the file failed", last_error());
  }
  temporary.release();
  fsync_directory(directory);
}

void save_text_file(const fs::path& path, std::string_view text, const TextFileLayout& layout) {
  write_file_atomic(path, encode_text_file(text, layout));
}

AutosaveJournal::AutosaveJournal(fs::path journal_path, fs::path document_path)
    : journal_path_(std::move(journal_path)), document_path_(std::move(document_path)) {}

fs::path AutosaveJournal::default_directory() {
  if (const char* directory = std::getenv("UTTER_JOURNAL_DIR"); directory != nullptr && directory[0] != '\0') {
    return directory;
  }
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && state[0] != '\0') {
    return fs::path(state) / "utter" / "journal";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr && home[0] != '\0' ? home : ".") / ".local" / "state" / "utter" / "journal";
}

fs::path AutosaveJournal::journal_path_for(const fs::path& directory, const fs::path& document_path,
                                           std::string_view untitled_id) {
  if (document_path.empty()) return directory / ("untitled-" + std::string(untitled_id) + ".journal");
  std::error_code error;
  fs::path absolute = fs::absolute(document_path, error);
  if (error) absolute = document_path;
  const std::string hash = to_hex(fnv1a64(absolute.lexically_normal().string()));
  return directory / (document_path.filename().string() + "-" + hash + ".journal");
}

void AutosaveJournal::write(const Document& document) {
  std::error_code error;
  fs::create_directories(journal_path_.parent_path(), error);
  if (error) {
    throw FileError("failed to autosave: cannot create the journal folder " + quoted(journal_path_.parent_path()) +
                        ": " + error.message(),
                    journal_path_, error);
  }
  const std::string& text = document.text();
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const nlohmann::json header = {
      {"format", "utter-journal"},
      {"version", 1},
      {"document", document_path_.string()},
      {"revision", document.revision()},
      {"anchor", document.selection().anchor},
      {"head", document.selection().head},
      {"saved_at_unix_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now).count()},
      {"bytes", text.size()},
      {"fnv1a64", to_hex(fnv1a64(text))},
  };
  std::string bytes = header.dump();
  bytes += '\n';
  bytes += text;
  write_file_atomic(journal_path_, bytes);
}

void AutosaveJournal::discard() {
  std::error_code error;
  fs::remove(journal_path_, error);
}

JournalSnapshot AutosaveJournal::read(const fs::path& journal_path) {
  std::ifstream stream(journal_path, std::ios::binary);
  if (!stream) throw FileError("cannot open journal " + quoted(journal_path) + ": file not found", journal_path);
  std::ostringstream contents;
  contents << stream.rdbuf();
  const std::string bytes = contents.str();
  auto corrupt = [&](const std::string& why) {
    return FileError("journal " + quoted(journal_path) + " is damaged: " + why +
                         "; its unsaved text cannot be restored automatically",
                     journal_path);
  };

  const std::size_t newline = bytes.find('\n');
  if (newline == std::string::npos) throw corrupt("no header line");
  JournalSnapshot snapshot;
  std::uint64_t length = 0;
  std::string checksum;
  try {
    const nlohmann::json header = nlohmann::json::parse(std::string_view(bytes).substr(0, newline));
    if (header.at("format").get<std::string>() != "utter-journal") throw corrupt("not an utter journal");
    if (header.at("version").get<int>() != 1) {
      throw corrupt("unknown version " + std::to_string(header.at("version").get<int>()));
    }
    snapshot.document_path = header.at("document").get<std::string>();
    snapshot.revision = header.at("revision").get<std::uint64_t>();
    snapshot.selection = {header.at("anchor").get<std::size_t>(), header.at("head").get<std::size_t>()};
    snapshot.saved_at_unix_ms = header.at("saved_at_unix_ms").get<std::int64_t>();
    length = header.at("bytes").get<std::uint64_t>();
    checksum = header.at("fnv1a64").get<std::string>();
  } catch (const nlohmann::json::exception& error) {
    throw corrupt(std::string("invalid header: ") + error.what());
  }
  const std::size_t available = bytes.size() - newline - 1;
  if (length != available) {
    throw corrupt("the header announces " + std::to_string(length) + " bytes of text but " +
                  std::to_string(available) + " follow");
  }
  snapshot.text = bytes.substr(newline + 1);
  if (to_hex(fnv1a64(snapshot.text)) != checksum) throw corrupt("the text does not match its checksum");
  if (const auto invalid = find_invalid_utf8(snapshot.text)) {
    throw corrupt("invalid UTF-8 at text offset " + std::to_string(*invalid));
  }
  snapshot.journal_path = journal_path;
  return snapshot;
}

RecoveryScan find_recoverable(const fs::path& directory) {
  RecoveryScan scan;
  std::error_code error;
  if (!fs::is_directory(directory, error)) return scan;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    if (entry.path().extension() != ".journal" || !entry.is_regular_file(error)) continue;
    try {
      scan.snapshots.push_back(AutosaveJournal::read(entry.path()));
    } catch (const FileError& failure) {
      scan.errors.emplace_back(failure.what());
    }
  }
  std::sort(scan.snapshots.begin(), scan.snapshots.end(),
            [](const JournalSnapshot& a, const JournalSnapshot& b) { return a.saved_at_unix_ms > b.saved_at_unix_ms; });
  return scan;
}

Document restore_document(const JournalSnapshot& snapshot) {
  Document document(snapshot.text);
  document.set_selection(snapshot.selection);
  return document;
}

Autosaver::Autosaver(const Document& document, AutosaveJournal& journal, std::chrono::milliseconds interval)
    : document_(document), journal_(journal), interval_(interval), written_revision_(document.revision()) {}

bool Autosaver::tick(Clock::time_point now) {
  if (!has_unsaved_journal_changes()) return false;
  if (last_write_ != Clock::time_point{} && now - last_write_ < interval_) return false;
  return flush(now);
}

bool Autosaver::flush(Clock::time_point now) {
  if (!has_unsaved_journal_changes()) return false;
  journal_.write(document_);
  written_revision_ = document_.revision();
  last_write_ = now;
  return true;
}

void Autosaver::mark_saved() {
  journal_.discard();
  written_revision_ = document_.revision();
}

}  // namespace utter::editor
