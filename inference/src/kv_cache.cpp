#include "kv_cache.h"

#include <fmt/core.h>

#include <algorithm>

namespace utter::inference {

KvCache::KvCache(const ModelConfig& config, int max_batch, uint64_t budget_bytes) {
  window_ = config.sliding_window;
  ring_positions_ = window_ + max_batch - 1;

  uint64_t ring_bytes = 0;
  uint64_t full_bytes_per_position = 0;
  for (const auto& layer : config.layers) {
    const int64_t width = static_cast<int64_t>(layer.n_head_kv) * layer.head_dim;
    sliding_.push_back(layer.sliding);
    row_width_.push_back(width);
    const uint64_t bytes_per_position = 2 * sizeof(uint16_t) * static_cast<uint64_t>(width);
    if (layer.sliding) {
      ring_bytes += bytes_per_position * ring_positions_;
    } else {
      full_bytes_per_position += bytes_per_position;
    }
  }
  if (ring_bytes >= budget_bytes) {
    throw ContextFullError(fmt::format(
        "the key/value cache budget of {:.1f} MiB is too small: the sliding-window layers alone need {:.1f} MiB",
        budget_bytes / 1048576.0, ring_bytes / 1048576.0));
  }
  max_positions_ = full_bytes_per_position == 0
                       ? int64_t{1} << 40
                       : static_cast<int64_t>((budget_bytes - ring_bytes) / full_bytes_per_position);
  if (max_positions_ < 1) {
    throw ContextFullError(fmt::format("the key/value cache budget of {:.1f} MiB has room for no position; raise the budget",
                                       budget_bytes / 1048576.0));
  }

  keys_.resize(config.layers.size());
  values_.resize(config.layers.size());
  for (size_t il = 0; il < config.layers.size(); ++il) {
    if (sliding_[il]) {
      keys_[il].resize(ring_positions_ * row_width_[il]);
      values_[il].resize(ring_positions_ * row_width_[il]);
    }
  }
}

uint64_t KvCache::allocated_bytes() const {
  uint64_t bytes = 0;
  for (size_t il = 0; il < keys_.size(); ++il) {
    bytes += (keys_[il].capacity() + values_[il].capacity()) * sizeof(uint16_t);
  }
  return bytes;
}

void KvCache::reserve(int64_t end) {
  if (end > max_positions_) {
    throw ContextFullError(fmt::format(
        "the conversation needs {} positions but the key/value cache budget has room for {}; raise the budget or start a "
        "new conversation",
        end, max_positions_));
  }
  if (end <= reserved_positions_) return;
  // Grow geometrically so that appending one token at a time stays cheap.
  const int64_t target = std::min(max_positions_, std::max(end, reserved_positions_ * 2 + 256));
  for (size_t il = 0; il < keys_.size(); ++il) {
    if (sliding_[il]) continue;
    keys_[il].resize(target * row_width_[il]);
    values_[il].resize(target * row_width_[il]);
  }
  reserved_positions_ = target;
}

bool KvCache::can_rewind(int64_t filled_end, int64_t new_end) const {
  if (new_end >= filled_end) return true;
  // The ring contains positions [filled_end - ring_positions_, filled_end); a query at new_end
  // needs [new_end - window_ + 1, new_end).
  const int64_t oldest_held = std::max<int64_t>(0, filled_end - ring_positions_);
  const int64_t oldest_needed = std::max<int64_t>(0, new_end - window_ + 1);
  return oldest_needed >= oldest_held;
}

}  // namespace utter::inference
