// The key/value cache across calls: chunked prompts, prefix reuse, rewinds and the budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "kv_cache.h"
#include "support/reference_cases.h"
#include "utter/inference/inference_context.h"
#include "utter/inference/text_model.h"

namespace {

using utter::inference::ContextFullError;
using utter::inference::ContextOptions;
using utter::inference::InferenceContext;
using utter::inference::TextModel;
using namespace utter::testing;

// The reference long prompt (211 tokens, more than 13 sliding windows of 16).
std::vector<int32_t> long_prompt() {
  const auto cases = load_json(testdata_path("reference/cases.json"));
  for (const auto& c : cases.at("cases")) {
    if (c.at("id") == "t3_long") return c.at("results").at("f32").at("prompt_token_ids").get<std::vector<int32_t>>();
  }
  throw std::runtime_error("t3_long missing from cases.json");
}

const TextModel& tiny_model() {
  static std::unique_ptr<TextModel> model = TextModel::load(testdata_path("reference/tiny-f32.gguf"));
  return *model;
}

ContextOptions options_with_batch(int max_batch) {
  ContextOptions options;
  options.threads = 2;
  options.max_batch = max_batch;
  return options;
}

std::vector<float> feed_in_chunks(InferenceContext& context, const std::vector<int32_t>& tokens, size_t chunk) {
  std::span<const float> logits;
  for (size_t begin = 0; begin < tokens.size(); begin += chunk) {
    const size_t count = std::min(chunk, tokens.size() - begin);
    logits = context.decode(std::span<const int32_t>(tokens).subspan(begin, count));
  }
  return {logits.begin(), logits.end()};
}

double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]));
  return worst;
}

std::vector<int32_t> greedy_continuation(InferenceContext& context, std::vector<float> logits, int steps) {
  std::vector<int32_t> tokens;
  for (int i = 0; i < steps; ++i) {
    const auto best = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    tokens.push_back(best);
    auto next = context.decode(std::span<const int32_t>(&best, 1));
    logits.assign(next.begin(), next.end());
  }
  return tokens;
}

// Summation order differs between batch shapes, so logits agree to float rounding only.
constexpr double kChunkTolerance = 2e-3;

TEST(InferenceContext, ChunkedPromptsMatchOneBatch) {
  const std::vector<int32_t> prompt = long_prompt();
  InferenceContext whole(tiny_model(), options_with_batch(512));
  const std::vector<float> expected = feed_in_chunks(whole, prompt, prompt.size());
  const std::vector<int32_t> expected_tokens = greedy_continuation(whole, expected, 12);

  for (size_t chunk : {size_t{7}, size_t{64}, size_t{1}}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    InferenceContext context(tiny_model(), options_with_batch(64));
    const std::vector<float> logits = feed_in_chunks(context, prompt, chunk);
    EXPECT_LE(max_difference(logits, expected), kChunkTolerance);
    EXPECT_EQ(greedy_continuation(context, logits, 12), expected_tokens);
  }
}

TEST(InferenceContext, PrefillReusesCachedPrefix) {
  const std::vector<int32_t> prompt = long_prompt();
  const std::vector<int32_t> prefix(prompt.begin(), prompt.begin() + 150);

  InferenceContext fresh(tiny_model(), options_with_batch(64));
  const auto expected_span = fresh.prefill(prompt);
  const std::vector<float> expected(expected_span.begin(), expected_span.end());

  InferenceContext context(tiny_model(), options_with_batch(64));
  context.prefill(prefix);
  ASSERT_EQ(context.position(), 150);
  const auto logits = context.prefill(prompt);
  EXPECT_EQ(context.position(), static_cast<int64_t>(prompt.size()));
  EXPECT_LE(max_difference({logits.begin(), logits.end()}, expected), kChunkTolerance);
}

TEST(InferenceContext, PrefillAfterDivergingSuffixRewinds) {
  const std::vector<int32_t> prompt = long_prompt();
  std::vector<int32_t> other = prompt;
  other[200] = 818;  // differs near the end, within one batch of the cached end

  InferenceContext fresh(tiny_model(), options_with_batch(64));
  const auto expected_span = fresh.prefill(other);
  const std::vector<float> expected(expected_span.begin(), expected_span.end());

  InferenceContext context(tiny_model(), options_with_batch(64));
  context.prefill(prompt);
  const auto logits = context.prefill(other);
  EXPECT_LE(max_difference({logits.begin(), logits.end()}, expected), kChunkTolerance);
  EXPECT_EQ(context.history(), std::vector<int64_t>(other.begin(), other.end()));
}

TEST(InferenceContext, RewindBeyondSlidingRingRecomputes) {
  const std::vector<int32_t> prompt = long_prompt();
  std::vector<int32_t> other = prompt;
  other[20] = 818;  // far behind the end: the sliding-window ring no longer holds position 5..19

  InferenceContext fresh(tiny_model(), options_with_batch(8));
  const auto expected_span = fresh.prefill(other);
  const std::vector<float> expected(expected_span.begin(), expected_span.end());

  InferenceContext context(tiny_model(), options_with_batch(8));
  context.prefill(prompt);
  const auto logits = context.prefill(other);
  EXPECT_LE(max_difference({logits.begin(), logits.end()}, expected), kChunkTolerance);
}

TEST(InferenceContext, BudgetRejectsTooLongInputCleanly) {
  // Full layers of the tiny model: 2 layers x 1 head x 64 x (k + v) x 2 bytes = 512 bytes a
  // position; sliding rings: 4 layers x 2 heads x 32 x 2 x 2 x (16 + 8 - 1) positions.
  const uint64_t ring_bytes = 4ull * 2 * 32 * 2 * 2 * (16 + 8 - 1);
  ContextOptions options = options_with_batch(8);
  options.kv_cache_budget_bytes = ring_bytes + 512 * 100;
  InferenceContext context(tiny_model(), options);
  EXPECT_EQ(context.max_positions(), 100);

  const std::vector<int32_t> prompt = long_prompt();
  const std::vector<int32_t> first(prompt.begin(), prompt.begin() + 90);
  context.decode(first);
  const std::vector<int32_t> too_many(prompt.begin() + 90, prompt.begin() + 111);
  EXPECT_THROW(context.decode(too_many), ContextFullError);
  EXPECT_EQ(context.position(), 90);

  // What was cached is still usable: ten more tokens fit.
  const std::vector<int32_t> fitting(prompt.begin() + 90, prompt.begin() + 100);
  EXPECT_NO_THROW(context.decode(fitting));
  EXPECT_EQ(context.position(), 100);
}

TEST(InferenceContext, RejectsTokenOutsideVocabulary) {
  InferenceContext context(tiny_model(), options_with_batch(8));
  const std::vector<int32_t> bad = {2, 262144};
  EXPECT_THROW(context.decode(bad), std::out_of_range);
  EXPECT_EQ(context.position(), 0);
}

}  // namespace
