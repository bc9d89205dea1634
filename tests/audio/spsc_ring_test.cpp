#include "utter/audio/spsc_ring.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace utter::audio {
namespace {

TEST(SpscRing, RoundsCapacityUp) {
  SpscRing<float> ring(1000);
  EXPECT_EQ(ring.capacity(), 1024u);
  EXPECT_THROW(SpscRing<float>(0), std::invalid_argument);
}

TEST(SpscRing, WriteStopsWhenFull) {
  SpscRing<int> ring(4);
  const std::vector<int> values = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(ring.write(values), 4u);
  std::vector<int> out(3);
  EXPECT_EQ(ring.read(out), 3u);
  EXPECT_EQ(out, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(ring.write(std::span<const int>(values.data() + 4, 2)), 2u);
  std::vector<int> rest(8);
  EXPECT_EQ(ring.read(rest), 3u);
  EXPECT_EQ(rest[0], 4);
  EXPECT_EQ(rest[1], 5);
  EXPECT_EQ(rest[2], 6);
  EXPECT_EQ(ring.size(), 0u);
}

TEST(SpscRing, TwoThreadsKeepOrder) {
  SpscRing<std::uint32_t> ring(256);
  constexpr std::uint32_t kCount = 2'000'000;
  std::thread producer([&] {
    std::uint32_t next = 0;
    std::vector<std::uint32_t> chunk;
    while (next < kCount) {
      chunk.clear();
      for (std::uint32_t i = 0; i < 37 && next + i < kCount; ++i) chunk.push_back(next + i);
      const std::size_t written = ring.write(chunk);
      next += static_cast<std::uint32_t>(written);
      if (written == 0) std::this_thread::yield();
    }
  });
  std::uint32_t expected = 0;
  std::uint32_t mismatches = 0;
  std::vector<std::uint32_t> buffer(100);
  while (expected < kCount) {
    const std::size_t got = ring.read(buffer);
    for (std::size_t i = 0; i < got; ++i) {
      if (buffer[i] != expected) ++mismatches;
      ++expected;
    }
    if (got == 0) std::this_thread::yield();
  }
  producer.join();
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(ring.size(), 0u);
}

}  // namespace
}  // namespace utter::audio
