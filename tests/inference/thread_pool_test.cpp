// The thread pool hands every index to exactly one call, and the per-thread form gives each
// thread exactly one piece.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <vector>

#include "thread_pool.h"

namespace utter::inference {
namespace {

TEST(ThreadPool, CoversEveryIndexOnce) {
  ThreadPool pool(2);
  for (int64_t count : {1, 7, 64, 1000, 4099}) {
    for (int64_t grain : {1, 3, 64}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
      pool.parallel_for(count, grain, [&](int64_t begin, int64_t end, int) {
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      for (int64_t i = 0; i < count; ++i) {
        ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "count " << count << ", grain " << grain
                                                          << ", index " << i;
      }
    }
  }
}

TEST(ThreadPool, EachThreadGetsOnePiece) {
  ThreadPool pool(3);
  std::mutex mutex;
  std::multiset<int> threads;
  std::vector<std::pair<int64_t, int64_t>> pieces;
  pool.parallel_for_each_thread(3, [&](int64_t begin, int64_t end, int index) {
    std::lock_guard lock(mutex);
    threads.insert(index);
    pieces.emplace_back(begin, end);
  });
  EXPECT_EQ(threads, (std::multiset<int>{0, 1, 2}));
  for (const auto& [begin, end] : pieces) EXPECT_EQ(end - begin, 1);
}

}  // namespace
}  // namespace utter::inference
