// Documents on disk: reading and atomically saving UTF-8 text and Markdown, and the autosave
// journal that brings back unsaved work after a crash.
#pragma once

#include "utter/editor/document.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace utter::editor {

// A failed file operation. what() names the file, the reason and what to do; code() is the
// operating system's error when there was one.
class FileError : public std::runtime_error {
 public:
  FileError(const std::string& message, std::filesystem::path path, std::error_code code = {})
      : std::runtime_error(message), path_(std::move(path)), code_(code) {}
  const std::filesystem::path& path() const { return path_; }
  std::error_code code() const { return code_; }

 private:
  std::filesystem::path path_;
  std::error_code code_;
};

enum class FileFormat { kPlainText, kMarkdown };

// Markdown for .md, .markdown, .mdown and .mkd (any case); plain text otherwise.
FileFormat format_for_path(const std::filesystem::path& path);

// The byte order mark and line ends a file was read with, so that saving writes them back.
struct TextFileLayout {
  FileFormat format = FileFormat::kPlainText;
  bool byte_order_mark = false;  // the file started with the UTF-8 byte order mark
  bool crlf_line_ends = false;   // every line ended with "\r\n"
};

struct TextFile {
  std::string text;  // UTF-8, "\n" line ends, no byte order mark
  TextFileLayout layout;
};

// Files above this size are rejected when read, so that a wrong file cannot take all memory.
inline constexpr std::uintmax_t kMaxDocumentBytes = std::uintmax_t{1} << 30;

// Reads a text or Markdown file. Throws FileError when it is missing, not a regular file, too
// large, or not valid UTF-8 (naming the byte offset and line of the first invalid byte).
TextFile read_text_file(const std::filesystem::path& path);

// The bytes that saving text with layout writes.
std::string encode_text_file(std::string_view text, const TextFileLayout& layout);

// Replaces path's contents with bytes atomically: writes a temporary file in the same folder,
// flushes it to disk, renames it over path and flushes the folder. A symbolic link is followed
// and its target replaced. On any failure (full disk, read-only folder, missing folder) the
// temporary file is removed and the original file is untouched, which the FileError message
// states.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// encode_text_file + write_file_atomic.
void save_text_file(const std::filesystem::path& path, std::string_view text, const TextFileLayout& layout);

// A journal's snapshot: the text of a document at one moment and the path of its file.
struct JournalSnapshot {
  std::filesystem::path document_path;  // empty for a document that was never saved
  std::string text;
  std::uint64_t revision = 0;           // Document::revision() when it was written
  Selection selection;
  std::int64_t saved_at_unix_ms = 0;
  std::filesystem::path journal_path;
};

// A journal file for one open document. Each write replaces the whole snapshot atomically,
// so a crash at any moment leaves either the previous snapshot or the new one.
// NOTE: writing the whole text costs about 0.1 s for 10 MB (measured with utter-bench-editor);
// a log of edits appended between snapshots would make large documents cheaper to autosave.
class AutosaveJournal {
 public:
  AutosaveJournal(std::filesystem::path journal_path, std::filesystem::path document_path);

  // The folder for journals: $UTTER_JOURNAL_DIR, else $XDG_STATE_HOME/utter/journal, else
  // ~/.local/state/utter/journal.
  static std::filesystem::path default_directory();
  // A journal file name in directory that is stable for document_path (the file name and a
  // hash of its absolute path), or "untitled-<id>.journal" for an unsaved document.
  static std::filesystem::path journal_path_for(const std::filesystem::path& directory,
                                                const std::filesystem::path& document_path,
                                                std::string_view untitled_id = "1");

  // Writes the document's text and selection; creates the folder when needed. Throws FileError
  // (the previous snapshot stays).
  void write(const Document& document);
  // Removes the journal, e.g. after the document was saved or closed without changes.
  void discard();

  const std::filesystem::path& path() const { return journal_path_; }
  const std::filesystem::path& document_path() const { return document_path_; }
  void set_document_path(std::filesystem::path document_path) { document_path_ = std::move(document_path); }

  // Reads a snapshot; throws FileError when the file is missing, truncated or corrupted.
  static JournalSnapshot read(const std::filesystem::path& journal_path);

 private:
  std::filesystem::path journal_path_;
  std::filesystem::path document_path_;
};

// Journals found on start, which the program offers to restore.
struct RecoveryScan {
  std::vector<JournalSnapshot> snapshots;  // newest first
  std::vector<std::string> errors;         // one line per journal that could not be read
};

// Lists the journals in directory (a missing folder has none).
RecoveryScan find_recoverable(const std::filesystem::path& directory);

// Restores a snapshot into a new document with its selection. Undo history is not kept.
Document restore_document(const JournalSnapshot& snapshot);

// Autosave policy: the journal is written at most once per interval while the document
// changes (tick), and at once when the caller flushes after each utterance.
class Autosaver {
 public:
  using Clock = std::chrono::steady_clock;

  Autosaver(const Document& document, AutosaveJournal& journal,
            std::chrono::milliseconds interval = std::chrono::seconds(3));

  // Writes the journal when the document changed since the last write and interval has passed
  // since then. Returns true when it wrote. Both tick and flush throw FileError when writing
  // fails; the document is unaffected and the next call tries again.
  bool tick(Clock::time_point now = Clock::now());
  // Writes the journal now if the document changed since the last write.
  bool flush(Clock::time_point now = Clock::now());
  // The document was saved to its file: the journal is removed until the next change.
  void mark_saved();
  bool has_unsaved_journal_changes() const { return document_.revision() != written_revision_; }

 private:
  const Document& document_;
  AutosaveJournal& journal_;
  std::chrono::milliseconds interval_;
  std::uint64_t written_revision_;
  Clock::time_point last_write_{};
};

}  // namespace utter::editor
