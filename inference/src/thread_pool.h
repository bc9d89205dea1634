// A fixed set of worker threads that split loops into contiguous ranges.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace utter::inference {

class ThreadPool {
 public:
  // `threads` counts the calling thread, so 1 means no workers.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls body(begin, end, thread_index) over contiguous pieces of [0, count) on every thread,
  // the caller included, and returns when all pieces are done. `grain` is the smallest piece.
  void parallel_for(int64_t count, int64_t grain,
                    const std::function<void(int64_t, int64_t, int)>& body);

 private:
  void worker_loop(int index);
  void run_share(int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int64_t, int64_t, int)>* body_ = nullptr;
  int64_t count_ = 0;
  int64_t grain_ = 1;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
};

}  // namespace utter::inference
