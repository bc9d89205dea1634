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
  // Threads take chunks from a shared counter until none are left, so a thread that other
  // work on the machine slows down takes fewer chunks instead of holding everyone up at the
  // end. About eight chunks per thread keep the counter cheap.
  const int64_t threads = size();
  const int64_t units = (count_ + grain_ - 1) / grain_;
  const int64_t chunk_units = std::max<int64_t>(1, units / (threads * 8));
  for (;;) {
    const int64_t first_unit = next_unit_.fetch_add(chunk_units, std::memory_order_relaxed);
    if (first_unit >= units) return;
    const int64_t begin = first_unit * grain_;
    const int64_t end = std::min(count_, (first_unit + chunk_units) * grain_);
    (*body_)(begin, end, index);
  }
}

void ThreadPool::run_fixed_share(int index) {
  const int64_t threads = size();
  const int64_t begin = count_ * index / threads;
  const int64_t end = count_ * (index + 1) / threads;
  if (begin < end) (*body_)(begin, end, index);
}

void ThreadPool::parallel_for(int64_t count, int64_t grain, RangeTask body) {
  run(count, grain, false, body);
}

void ThreadPool::parallel_for_each_thread(int64_t count, RangeTask body) {
  run(count, 1, true, body);
}

void ThreadPool::run(int64_t count, int64_t grain, bool fixed, RangeTask body) {
  if (count <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (workers_.empty() || (!fixed && count <= grain)) {
    body(0, count, 0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    body_ = &body;
    count_ = count;
    grain_ = grain;
    pending_ = static_cast<int>(workers_.size());
    next_unit_.store(0, std::memory_order_relaxed);
    fixed_shares_ = fixed;
    ++generation_;
  }
  start_cv_.notify_all();
  if (fixed) {
    run_fixed_share(0);
  } else {
    run_share(0);
  }
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
    if (fixed_shares_) {
      run_fixed_share(index);
    } else {
      run_share(index);
    }
    {
      std::lock_guard lock(mutex_);
      --pending_;
    }
    done_cv_.notify_one();
  }
}

}  // namespace utter::inference
