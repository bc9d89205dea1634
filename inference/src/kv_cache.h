// The key/value cache of one conversation, stored as fp16 like llama.cpp's default cache.
//
// Full-attention layers keep every position. Sliding-window layers keep a ring of
// `window + max_batch - 1` positions: enough for a batch of up to max_batch new tokens to see
// the window before each of them, and for rewinding by up to max_batch positions without
// recomputation.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "utter/inference/model_config.h"

namespace utter::inference {

class KvCache {
 public:
  KvCache(const ModelConfig& config, int max_batch, uint64_t budget_bytes);

  // Positions the full-attention layers can hold within the budget.
  int64_t max_positions() const { return max_positions_; }
  uint64_t allocated_bytes() const;

  // Makes room for positions [0, end); throws ContextFullError past max_positions().
  void reserve(int64_t end);

  // The n_head_kv * head_dim fp16 values of one position of one layer.
  uint16_t* key(int layer, int64_t pos) { return slot(keys_[layer], layer, pos); }
  uint16_t* value(int layer, int64_t pos) { return slot(values_[layer], layer, pos); }
  const uint16_t* key(int layer, int64_t pos) const { return const_slot(keys_[layer], layer, pos); }
  const uint16_t* value(int layer, int64_t pos) const { return const_slot(values_[layer], layer, pos); }

  // Whether the cache, currently filled up to `filled_end`, still contains everything a query at
  // position `new_end` and later needs after a rewind to `new_end`.
  bool can_rewind(int64_t filled_end, int64_t new_end) const;

 private:
  uint16_t* slot(std::vector<uint16_t>& storage, int layer, int64_t pos) {
    return storage.data() + row_index(layer, pos) * row_width_[layer];
  }
  const uint16_t* const_slot(const std::vector<uint16_t>& storage, int layer, int64_t pos) const {
    return storage.data() + row_index(layer, pos) * row_width_[layer];
  }
  int64_t row_index(int layer, int64_t pos) const {
    return sliding_[layer] ? pos % ring_positions_ : pos;
  }

  std::vector<bool> sliding_;
  std::vector<int64_t> row_width_;  // n_head_kv * head_dim per layer
  std::vector<std::vector<uint16_t>> keys_;
  std::vector<std::vector<uint16_t>> values_;
  int64_t window_ = 0;
  int64_t ring_positions_ = 0;
  int64_t max_positions_ = 0;
  int64_t reserved_positions_ = 0;
};

class ContextFullError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace utter::inference
