// Crash-journal writes off the UI thread. The UI thread hands over a copy of the text, and a
// background thread writes it with fsync, so a slow disk does not stall a frame.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "utter/editor/document.h"

namespace utter::app {

// One journal request, carried out in the order it was queued.
struct JournalRequest {
  enum class Kind { kWrite, kDiscard };
  Kind kind = Kind::kWrite;
  std::filesystem::path journal_path;
  std::filesystem::path document_path;  // kWrite: the file the text belongs to; empty if untitled
  std::string text;                     // kWrite
  editor::Selection selection;          // kWrite
};

class JournalWriter {
 public:
  JournalWriter();
  // Carries out every queued request (the last snapshot is always written) and joins.
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Queues a snapshot. A queued write to the same journal that has not started yet is
  // replaced, because only the newest text matters.
  void write(std::filesystem::path journal_path, std::filesystem::path document_path, std::string text,
             editor::Selection selection);
  // Queues the removal of a journal; writes to it queued before are dropped.
  void discard(std::filesystem::path journal_path);
  // The message of the last failed write, once; empty when none failed since the last call.
  std::string take_error();

 private:
  void run();
  void perform(const JournalRequest& request);

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<JournalRequest> queue_;
  // A write that failed, kept so that it is tried again before anything newer to that journal.
  std::optional<JournalRequest> failed_;
  std::string error_;
  bool stopping_ = false;
  std::thread thread_;
};

// Autosave policy on top of JournalWriter: a snapshot at most once per interval while the
// document changes (tick), and at once after an utterance or a command (flush).
class AsyncAutosaver {
 public:
  using Clock = std::chrono::steady_clock;

  AsyncAutosaver(const editor::Document& document, JournalWriter& writer, std::filesystem::path journal_path,
                 std::filesystem::path document_path, std::chrono::milliseconds interval = std::chrono::seconds(3));

  // Queues a snapshot when the document changed and interval has passed since the last one.
  bool tick(Clock::time_point now = Clock::now());
  // Queues a snapshot now if the document changed since the last one.
  bool flush(Clock::time_point now = Clock::now());
  // The document was saved to its file: the journal is removed until the next change.
  void mark_saved();
  // Removes the journal without marking the document saved.
  void discard();
  // A queued snapshot failed to be written: the next tick queues the text again.
  void retry_later();
  const std::filesystem::path& journal_path() const { return journal_path_; }

 private:
  const editor::Document& document_;
  JournalWriter& writer_;
  std::filesystem::path journal_path_;
  std::filesystem::path document_path_;
  std::chrono::milliseconds interval_;
  std::uint64_t queued_revision_;
  Clock::time_point last_queued_{};
};

}  // namespace utter::app
