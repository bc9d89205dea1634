#include "utter/inference/sampler.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace utter::inference {

namespace {

// Higher logit first, lower id first on ties, so every ordering is deterministic.
struct MoreLikely {
  template <typename T>
  bool operator()(const T& a, const T& b) const {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  }
};

}  // namespace

Sampler::Sampler(SamplingParams params) : params_(std::move(params)), generator_(params_.seed) {
  if (!std::isfinite(params_.temperature) || params_.temperature < 0.0f) {
    throw std::invalid_argument("invalid sampling temperature " +
                                std::to_string(params_.temperature) +
                                "; use 0 for greedy decoding or a positive value");
  }
  if (params_.top_k < 0) {
    throw std::invalid_argument("invalid top_k " + std::to_string(params_.top_k) +
                                "; use 0 to disable it or a positive count");
  }
  if (!(params_.top_p > 0.0f && params_.top_p <= 1.0f)) {
    throw std::invalid_argument("invalid top_p " + std::to_string(params_.top_p) +
                                "; it must be in (0, 1], and 1 disables it");
  }
  if (!(params_.min_p >= 0.0f && params_.min_p <= 1.0f)) {
    throw std::invalid_argument("invalid min_p " + std::to_string(params_.min_p) +
                                "; it must be in [0, 1], and 0 disables it");
  }
  for (const int32_t id : params_.suppressed_tokens) {
    if (id < 0) continue;
    if (static_cast<size_t>(id) >= suppressed_mask_.size()) suppressed_mask_.resize(id + 1, 0);
    suppressed_mask_[id] = 1;
  }
}

int32_t Sampler::sample_greedy(std::span<const float> logits) const {
  int32_t best = -1;
  float best_logit = 0.0f;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float logit = logits[i];
    if (std::isnan(logit) || logit == -INFINITY) continue;
    if (i < suppressed_mask_.size() && suppressed_mask_[i]) continue;
    if (best < 0 || logit > best_logit) {
      best = static_cast<int32_t>(i);
      best_logit = logit;
    }
  }
  return best;
}

void Sampler::collect_candidates(std::span<const float> logits) {
  candidates_.clear();
  for (size_t i = 0; i < logits.size(); ++i) {
    const float logit = logits[i];
    if (std::isnan(logit) || logit == -INFINITY) continue;
    if (i < suppressed_mask_.size() && suppressed_mask_[i]) continue;
    candidates_.push_back({static_cast<int32_t>(i), logit, 0.0});
  }
}

// Leaves the `count` most likely candidates, sorted from most to least likely.
void Sampler::keep_top(size_t count) {
  if (count < candidates_.size()) {
    std::nth_element(candidates_.begin(), candidates_.begin() + static_cast<ptrdiff_t>(count),
                     candidates_.end(), MoreLikely{});
    candidates_.resize(count);
  }
  std::sort(candidates_.begin(), candidates_.end(), MoreLikely{});
}

double Sampler::uniform() {
  // 53 random bits give a double in [0, 1) that does not depend on the standard library's
  // distribution code, so a seed gives the same tokens with every compiler.
  return static_cast<double>(generator_() >> 11) * 0x1.0p-53;
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (logits.empty()) throw std::invalid_argument("cannot sample from an empty logit row");

  if (params_.temperature == 0.0f) {
    const int32_t best = sample_greedy(logits);
    if (best < 0) {
      throw std::invalid_argument(
          "cannot sample: every one of the " + std::to_string(logits.size()) +
          " logits is suppressed, -inf or NaN");
    }
    return best;
  }

  collect_candidates(logits);
  if (candidates_.empty()) {
    throw std::invalid_argument("cannot sample: every one of the " +
                                std::to_string(logits.size()) +
                                " logits is suppressed, -inf or NaN");
  }

  // Candidates [0, sorted_count) are sorted from most to least likely.
  size_t sorted_count = 0;
  if (params_.top_k > 0) {
    keep_top(static_cast<size_t>(params_.top_k));
    sorted_count = candidates_.size();
  }

  // Softmax at the temperature over the candidates still in play.
  const float max_logit =
      std::min_element(candidates_.begin(), candidates_.end(), MoreLikely{})->logit;
  double total = 0.0;
  for (Candidate& candidate : candidates_) {
    candidate.probability =
        std::exp(static_cast<double>(candidate.logit - max_logit) / params_.temperature);
    total += candidate.probability;
  }
  for (Candidate& candidate : candidates_) candidate.probability /= total;
  const double max_probability = 1.0 / total;

  // Top-p: the shortest most-likely head whose probability reaches top_p. Without top-k the
  // whole vocabulary is in play, so sort a growing head instead of all of it.
  if (params_.top_p < 1.0f) {
    if (sorted_count == 0) {
      size_t head = std::min<size_t>(256, candidates_.size());
      while (true) {
        if (head < candidates_.size()) {
          std::nth_element(candidates_.begin(), candidates_.begin() + static_cast<ptrdiff_t>(head),
                           candidates_.end(), MoreLikely{});
        }
        double covered = 0.0;
        for (size_t i = 0; i < head; ++i) covered += candidates_[i].probability;
        if (covered >= params_.top_p || head == candidates_.size()) break;
        head = std::min(head * 4, candidates_.size());
      }
      // NOTE: a flat distribution can need most of the vocabulary in the head. Sorting it
      // then dominates the cost, so callers should set top_k to bound the work.
      std::sort(candidates_.begin(), candidates_.begin() + static_cast<ptrdiff_t>(head),
                MoreLikely{});
      sorted_count = head;
    }
    double cumulative = 0.0;
    size_t keep = 0;
    while (keep < sorted_count) {
      cumulative += candidates_[keep].probability;
      ++keep;
      if (cumulative >= params_.top_p) break;
    }
    candidates_.resize(keep);
  }

  // Min-p, relative to the most likely token, which always stays.
  if (params_.min_p > 0.0f) {
    const double threshold = params_.min_p * max_probability;
    std::erase_if(candidates_, [threshold](const Candidate& candidate) {
      return candidate.probability < threshold;
    });
  }

  double remaining = 0.0;
  for (const Candidate& candidate : candidates_) remaining += candidate.probability;
  const double target = uniform() * remaining;
  double cumulative = 0.0;
  for (const Candidate& candidate : candidates_) {
    cumulative += candidate.probability;
    if (target < cumulative) return candidate.id;
  }
  return candidates_.back().id;  // rounding left the target at the very end of the range
}

}  // namespace utter::inference
