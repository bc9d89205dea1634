// The inference worker thread: it owns a DictationSession and runs the requests of another
// thread (the audio loop or the UI) in order, so neither ever waits on the model.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "utter/inference/dictation_session.h"

namespace utter::cli {

class SessionWorker {
 public:
  // Called on the worker thread.
  struct Events {
    std::function<void(std::string_view text)> on_text;                      // transcript pieces
    std::function<void(const inference::UtteranceResult& result)> on_done;  // after each utterance
    std::function<void(const std::string& message)> on_error;
  };

  SessionWorker(inference::DictationSession& session, Events events);
  ~SessionWorker();  // cancels what is running and joins the thread
  SessionWorker(const SessionWorker&) = delete;
  SessionWorker& operator=(const SessionWorker&) = delete;

  void begin_utterance();
  void push_audio(std::vector<float> samples);
  void end_utterance();
  // Drops the open utterance, or stops the transcript being decoded.
  void cancel();

  // True while requests are queued or running.
  bool busy() const;
  // Blocks until every queued request has run.
  void wait_idle();

 private:
  enum class Kind { Begin, Push, End, Cancel };
  struct Request {
    Kind kind;
    std::vector<float> samples;
  };

  void post(Request request);
  void run();

  inference::DictationSession& session_;
  Events events_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Request> queue_;
  bool running_request_ = false;
  bool stopping_ = false;
  std::atomic<bool> cancel_requested_{false};
  std::thread thread_;
};

}  // namespace utter::cli
