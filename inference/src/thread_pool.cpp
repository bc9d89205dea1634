#include "thread_pool.h"

#include <algorithm>

namespace utter::inference {

ThreadPool::ThreadPool(int threads) {
  const int worker_count = std::max(threads, 1) - 1;
  workers_.reserve(worker_count);
  for (int i = 0; i < worker_count; ++i) {
    workers_.emplace_back([this, i] { worker_loop(i + 1); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  start_cv_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::run_share(int index) {
  // Static split: thread i takes the i-th of size() nearly equal pieces, rounded to the grain.
  const int64_t threads = size();
  const int64_t units = (count_ + grain_ - 1) / grain_;
  const int64_t begin_unit = units * index / threads;
  const int64_t end_unit = units * (index + 1) / threads;
  const int64_t begin = std::min(count_, begin_unit * grain_);
  const int64_t end = std::min(count_, end_unit * grain_);
  if (begin < end) (*body_)(begin, end, index);
}

void ThreadPool::parallel_for(int64_t count, int64_t grain, RangeTask body) {
  if (count <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (workers_.empty() || count <= grain) {
    body(0, count, 0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    body_ = &body;
    count_ = count;
    grain_ = grain;
    pending_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  start_cv_.notify_all();
  run_share(0);
  std::unique_lock lock(mutex_);
  done_cv_.wait(lock, [this] { return pending_ == 0; });
  body_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen_generation = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      start_cv_.wait(lock, [&] { return stopping_ || generation_ != seen_generation; });
      if (stopping_) return;
      seen_generation = generation_;
    }
    run_share(index);
    {
      std::lock_guard lock(mutex_);
      --pending_;
    }
    done_cv_.notify_one();
  }
}

}  // namespace utter::inference
