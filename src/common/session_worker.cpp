#include "common/session_worker.h"

namespace utter::cli {

SessionWorker::SessionWorker(inference::DictationSession& session, Events events)
    : session_(session), events_(std::move(events)) {
  thread_ = std::thread([this] { run(); });
}

SessionWorker::~SessionWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  cancel_requested_ = true;
  wake_.notify_all();
  thread_.join();
}

void SessionWorker::post(Request request) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(request));
  }
  wake_.notify_one();
}

void SessionWorker::begin_utterance() {
  cancel_requested_ = false;
  post({Kind::Begin, {}});
}

void SessionWorker::push_audio(std::vector<float> samples) { post({Kind::Push, std::move(samples)}); }

void SessionWorker::end_utterance() { post({Kind::End, {}}); }

void SessionWorker::cancel() {
  {
    std::lock_guard lock(mutex_);
    // Audio still waiting for this utterance is no longer needed.
    std::erase_if(queue_, [](const Request& r) { return r.kind == Kind::Push || r.kind == Kind::End; });
    queue_.push_back({Kind::Cancel, {}});
  }
  cancel_requested_ = true;
  wake_.notify_one();
}

bool SessionWorker::busy() const {
  std::lock_guard lock(mutex_);
  return running_request_ || !queue_.empty();
}

void SessionWorker::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return !running_request_ && queue_.empty(); });
}

void SessionWorker::run() {
  for (;;) {
    Request request;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      request = std::move(queue_.front());
      queue_.pop_front();
      running_request_ = true;
    }
    try {
      switch (request.kind) {
        case Kind::Begin:
          if (!session_.utterance_open()) session_.begin_utterance();
          break;
        case Kind::Push:
          if (session_.utterance_open()) session_.push_audio(request.samples);
          break;
        case Kind::End:
          if (session_.utterance_open()) {
            inference::UtteranceResult result = session_.end_utterance([this](std::string_view text, int32_t) {
              if (events_.on_text && !text.empty()) events_.on_text(text);
              return !cancel_requested_.load();
            });
            if (events_.on_done) events_.on_done(result);
          }
          break;
        case Kind::Cancel:
          session_.cancel_utterance();
          cancel_requested_ = false;
          break;
      }
    } catch (const std::exception& error) {
      if (session_.utterance_open()) session_.cancel_utterance();
      if (events_.on_error) events_.on_error(error.what());
    }
    {
      std::lock_guard lock(mutex_);
      running_request_ = false;
      if (queue_.empty()) idle_.notify_all();
    }
  }
}

}  // namespace utter::cli
