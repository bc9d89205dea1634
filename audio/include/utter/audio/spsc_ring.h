// Lock-free single-producer single-consumer ring buffer for audio samples.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <span>
#include <stdexcept>
#include <type_traits>

namespace utter::audio {

// A bounded FIFO that one thread writes and one other thread reads without locks. write() and
// read() never allocate, block or throw, so the writer may be a real-time audio callback.
// Capacity is rounded up to a power of two.
template <typename T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>, "SpscRing stores trivially copyable values");

 public:
  explicit SpscRing(std::size_t min_capacity) {
    if (min_capacity == 0 || min_capacity > (std::size_t{1} << 40)) {
      throw std::invalid_argument("SpscRing capacity must be between 1 and 2^40 elements");
    }
    std::size_t capacity = 1;
    while (capacity < min_capacity) capacity <<= 1;
    capacity_ = capacity;
    mask_ = capacity - 1;
    buffer_ = std::make_unique<T[]>(capacity);
  }

  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  std::size_t capacity() const { return capacity_; }

  // Producer side: copies as many values as fit and returns that count.
  std::size_t write(std::span<const T> values) {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    const std::size_t tail = tail_.load(std::memory_order_acquire);
    const std::size_t free_slots = capacity_ - (head - tail);
    const std::size_t count = values.size() < free_slots ? values.size() : free_slots;
    for (std::size_t i = 0; i < count; ++i) buffer_[(head + i) & mask_] = values[i];
    head_.store(head + count, std::memory_order_release);
    return count;
  }

  // Consumer side: moves up to out.size() values into out and returns that count.
  std::size_t read(std::span<T> out) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    const std::size_t head = head_.load(std::memory_order_acquire);
    const std::size_t available = head - tail;
    const std::size_t count = out.size() < available ? out.size() : available;
    for (std::size_t i = 0; i < count; ++i) out[i] = buffer_[(tail + i) & mask_];
    tail_.store(tail + count, std::memory_order_release);
    return count;
  }

  // Number of values waiting; exact only when called from one of the two sides.
  std::size_t size() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }

 private:
  std::size_t capacity_ = 0;
  std::size_t mask_ = 0;
  std::unique_ptr<T[]> buffer_;
  // Separate cache lines so the producer and the consumer do not contend on one line.
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
};

}  // namespace utter::audio
