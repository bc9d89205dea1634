// A fixed set of worker threads that split loops into contiguous ranges.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace utter::inference {

// A non-owning reference to a callable taking (begin, end, thread_index). Unlike
// std::function it never allocates, so the token loop can hand work to the pool for free.
// The callable must outlive the call it is passed to.
class RangeTask {
 public:
  template <typename Callable>
  RangeTask(const Callable& callable)  // NOLINT: converts from any callable, as std::function does
      : object_(&callable), invoke_([](const void* object, int64_t begin, int64_t end, int index) {
          (*static_cast<const Callable*>(object))(begin, end, index);
        }) {}

  void operator()(int64_t begin, int64_t end, int index) const { invoke_(object_, begin, end, index); }

 private:
  const void* object_;
  void (*invoke_)(const void*, int64_t, int64_t, int);
};

class ThreadPool {
 public:
  // `threads` counts the calling thread, so 1 means no workers.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls body(begin, end, thread_index) over contiguous pieces of [0, count) on every thread,
  // the caller included, and returns when all pieces are done. `grain` is the smallest piece;
  // a thread may get several pieces.
  void parallel_for(int64_t count, int64_t grain, RangeTask body);
  // As parallel_for, but thread i gets exactly the i-th of size() nearly equal pieces, for
  // work that must run once on every thread, such as a per-thread probe.
  void parallel_for_each_thread(int64_t count, RangeTask body);

 private:
  void worker_loop(int index);
  void run_share(int index);
  void run_fixed_share(int index);
  void run(int64_t count, int64_t grain, bool fixed, RangeTask body);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const RangeTask* body_ = nullptr;
  int64_t count_ = 0;
  int64_t grain_ = 1;
  std::atomic<int64_t> next_unit_{0};  // the next unit of grain_ items to hand out
  bool fixed_shares_ = false;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
};

}  // namespace utter::inference
