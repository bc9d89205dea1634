#include "utter/inference/machine_probe.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "kernels/matmul.h"
#include "thread_pool.h"

namespace utter::inference {

namespace kernels {
int64_t int8_peak_avx512(int64_t iterations);
uint64_t sum_words_avx512(const uint64_t* words, int64_t count);
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Plain int8 multiply-adds for processors without VNNI. Each round has 8 x 64 products like
// the AVX-512 probe, so the rates compare.
int64_t int8_peak_scalar(int64_t iterations) {
  int32_t acc[64] = {};
  volatile int8_t seed = 3;
  const int8_t a = seed;
  for (int64_t i = 0; i < iterations * 8; ++i) {
    for (int k = 0; k < 64; ++k) acc[k] += a * static_cast<int8_t>(k - 32);
  }
  int64_t total = 0;
  for (int32_t value : acc) total += value;
  return total;
}

}  // namespace

double measure_read_bandwidth(int threads, size_t bytes, int repeat) {
  threads = std::max(threads, 1);
  const size_t words = std::max<size_t>(bytes / sizeof(uint64_t), 1024);
  std::unique_ptr<uint64_t[]> buffer(new uint64_t[words]);
  for (size_t i = 0; i < words; ++i) buffer[i] = i;
  const bool avx512 = detected_kernel_level() == KernelLevel::Avx512;
  ThreadPool pool(threads);
  std::vector<uint64_t> sums(static_cast<size_t>(threads));
  std::vector<double> rates;
  for (int r = 0; r < std::max(repeat, 1) + 1; ++r) {
    const auto start = Clock::now();
    pool.parallel_for(static_cast<int64_t>(words), 4096, [&](int64_t begin, int64_t end, int index) {
      if (avx512) {
        sums[static_cast<size_t>(index)] += kernels::sum_words_avx512(buffer.get() + begin, end - begin);
        return;
      }
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t i = begin;
      for (; i + 4 <= end; i += 4) {
        s0 += buffer[i];
        s1 += buffer[i + 1];
        s2 += buffer[i + 2];
        s3 += buffer[i + 3];
      }
      for (; i < end; ++i) s0 += buffer[i];
      sums[static_cast<size_t>(index)] += s0 + s1 + s2 + s3;
    });
    const double elapsed = seconds_since(start);
    if (r > 0) rates.push_back(static_cast<double>(words * sizeof(uint64_t)) / elapsed);  // first pass warms up
  }
  volatile uint64_t sink = 0;
  for (uint64_t s : sums) sink = sink + s;
  // The best pass: other work on the machine only ever slows a pass down, and the figure is a
  // limit of the machine.
  return *std::max_element(rates.begin(), rates.end());
}

double measure_int8_peak(int threads, double seconds) {
  threads = std::max(threads, 1);
  const bool vnni = detected_kernel_level() == KernelLevel::Avx512;
  auto run = [vnni](int64_t iterations) {
    return vnni ? kernels::int8_peak_avx512(iterations) : int8_peak_scalar(iterations);
  };
  // Calibrate on one thread, then run every thread for about `seconds`.
  int64_t iterations = 1 << 16;
  for (;;) {
    const auto start = Clock::now();
    run(iterations);
    const double elapsed = seconds_since(start);
    if (elapsed > 0.02 || iterations > (int64_t{1} << 40)) {
      iterations = std::max<int64_t>(1, static_cast<int64_t>(iterations * seconds / std::max(elapsed, 1e-9)));
      break;
    }
    iterations *= 4;
  }
  // Five slices, and the best one counts: other work on the machine only ever slows a slice
  // down, and the figure is a limit of the machine.
  constexpr int kSlices = 5;
  iterations = std::max<int64_t>(1, iterations / kSlices);
  ThreadPool pool(threads);
  std::vector<int64_t> results(static_cast<size_t>(threads));
  double best = 0.0;
  for (int slice = 0; slice < kSlices; ++slice) {
    const auto start = Clock::now();
    pool.parallel_for_each_thread(threads, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) results[static_cast<size_t>(t)] = run(iterations);
    });
    const double elapsed = seconds_since(start);
    // 8 accumulators x 64 byte products x 2 operations per round.
    const double ops = static_cast<double>(iterations) * 8.0 * 64.0 * 2.0 * threads;
    best = std::max(best, ops / elapsed);
  }
  volatile int64_t sink = 0;
  for (int64_t r : results) sink = sink + r;
  return best;
}

std::string active_kernel_level_name() { return kernel_level_name(active_kernel_level()); }

}  // namespace utter::inference
