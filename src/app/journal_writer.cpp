#include "app/journal_writer.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <utility>

#include "app/app_log.h"
#include "utter/editor/document_file.h"

namespace utter::app {

JournalWriter::JournalWriter() : thread_([this] { run(); }) {}

JournalWriter::~JournalWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void JournalWriter::write(std::filesystem::path journal_path, std::filesystem::path document_path, std::string text,
                          editor::Selection selection) {
  {
    std::lock_guard lock(mutex_);
    std::erase_if(queue_, [&](const JournalRequest& queued) {
      return queued.kind == JournalRequest::Kind::kWrite && queued.journal_path == journal_path;
    });
    queue_.push_back({JournalRequest::Kind::kWrite, std::move(journal_path), std::move(document_path),
                      std::move(text), selection});
  }
  wake_.notify_all();
}

void JournalWriter::discard(std::filesystem::path journal_path) {
  {
    std::lock_guard lock(mutex_);
    std::erase_if(queue_, [&](const JournalRequest& queued) { return queued.journal_path == journal_path; });
    if (failed_ && failed_->journal_path == journal_path) failed_.reset();
    queue_.push_back({JournalRequest::Kind::kDiscard, std::move(journal_path), {}, {}, {}});
  }
  wake_.notify_all();
}

std::string JournalWriter::take_error() {
  std::lock_guard lock(mutex_);
  return std::exchange(error_, {});
}

void JournalWriter::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and everything queued is done
    JournalRequest request = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    perform(request);
    lock.lock();
  }
  // A write that failed and was not replaced by a newer one is tried once more on the way out.
  if (failed_) {
    JournalRequest last = std::move(*failed_);
    failed_.reset();
    lock.unlock();
    perform(last);
    lock.lock();
    if (failed_) std::fprintf(app_log(), "utter: error: %s\n", error_.c_str());
  }
}

void JournalWriter::perform(const JournalRequest& request) {
  editor::AutosaveJournal journal(request.journal_path, request.document_path);
  if (request.kind == JournalRequest::Kind::kDiscard) {
    journal.discard();
    return;
  }
  try {
    // The journal stores a Document, so the copy is rebuilt here, off the UI thread.
    // NOTE: the journal's "revision" field is the copy's, not the edited document's; restoring
    // does not use it.
    editor::Document copy(request.text);
    copy.set_selection(request.selection);
    journal.write(copy);
    std::lock_guard lock(mutex_);
    if (failed_ && failed_->journal_path == request.journal_path) failed_.reset();
  } catch (const std::exception& error) {
    std::lock_guard lock(mutex_);
    error_ = error.what();
    // Kept for one more try at exit unless a newer snapshot of the same journal comes first.
    const bool newer_queued = std::any_of(queue_.begin(), queue_.end(), [&](const JournalRequest& queued) {
      return queued.journal_path == request.journal_path;
    });
    if (!newer_queued) failed_ = request;
  }
}

AsyncAutosaver::AsyncAutosaver(const editor::Document& document, JournalWriter& writer,
                               std::filesystem::path journal_path, std::filesystem::path document_path,
                               std::chrono::milliseconds interval)
    : document_(document),
      writer_(writer),
      journal_path_(std::move(journal_path)),
      document_path_(std::move(document_path)),
      interval_(interval),
      queued_revision_(document.revision()) {}

bool AsyncAutosaver::tick(Clock::time_point now) {
  if (document_.revision() == queued_revision_) return false;
  if (last_queued_ != Clock::time_point{} && now - last_queued_ < interval_) return false;
  return flush(now);
}

bool AsyncAutosaver::flush(Clock::time_point now) {
  if (document_.revision() == queued_revision_) return false;
  writer_.write(journal_path_, document_path_, document_.text(), document_.selection());
  queued_revision_ = document_.revision();
  last_queued_ = now;
  return true;
}

void AsyncAutosaver::mark_saved() {
  writer_.discard(journal_path_);
  queued_revision_ = document_.revision();
}

void AsyncAutosaver::discard() { writer_.discard(journal_path_); }

void AsyncAutosaver::retry_later() { queued_revision_ = document_.revision() - 1; }

}  // namespace utter::app
