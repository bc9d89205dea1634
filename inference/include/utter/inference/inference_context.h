// One conversation with a TextModel: the key/value cache, the scratch memory and the thread
// pool that run the decoder over it.
//
// Inputs are appended at the end of the cache; prefill() also reuses the longest prefix the
// cache already holds. Each cached position remembers what produced it (a token id, or a
// fingerprint of an embedding row) so that prefixes can be compared.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace utter::inference {

class TextModel;
class KvCache;
class ThreadPool;

struct ContextOptions {
  int threads = 0;                             // 0: one per hardware thread
  uint64_t kv_cache_budget_bytes = 1ull << 30;  // upper bound on key/value cache memory
  int max_batch = 64;                          // positions computed together in one pass
};

class InferenceContext {
 public:
  InferenceContext(const TextModel& model, ContextOptions options);
  ~InferenceContext();
  InferenceContext(const InferenceContext&) = delete;
  InferenceContext& operator=(const InferenceContext&) = delete;

  // Appends tokens and returns the logits after the last one (empty when tokens is empty).
  // Throws ContextFullError (a std::runtime_error) when the cache budget has no room for them;
  // the cache then contains exactly what it contained before the call.
  std::span<const float> decode(std::span<const int32_t> tokens);

  // Appends embedding rows (n_embd floats each, not scaled) and returns the logits after the last.
  std::span<const float> decode_embeddings(std::span<const float> rows);

  // Makes the cache hold exactly `prompt`, computing only what differs from the cached
  // prefix, and returns the logits after its last token. At least the last token is always
  // recomputed so that its logits exist.
  std::span<const float> prefill(std::span<const int32_t> prompt);

  // Drops cached positions from `position` on. When the sliding-window layers no longer hold
  // what later queries need, the cache is cleared entirely and the caller must refill it.
  // Returns the position the cache now ends at.
  int64_t truncate(int64_t position);
  void clear();

  int64_t position() const { return static_cast<int64_t>(history_.size()); }
  int64_t max_positions() const;
  uint64_t kv_cache_bytes() const;
  int threads() const;
  // What produced each cached position: a token id (>= 0) or an embedding fingerprint (< 0).
  const std::vector<int64_t>& history() const { return history_; }
  std::span<const float> last_logits() const { return logits_; }

 private:
  struct Scratch;
  void run_batch(const float* input_rows, int64_t n_rows, bool want_logits);
  void embed_tokens(std::span<const int32_t> tokens, float* rows) const;

  const TextModel& model_;
  ContextOptions options_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<Scratch> scratch_;
  std::vector<int64_t> history_;
  std::vector<float> logits_;
};

}  // namespace utter::inference
