// Sampler tests: greedy rules, filters, reproducibility, and the empirical distribution.
#include "utter/inference/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

namespace {

using utter::inference::Sampler;
using utter::inference::SamplingParams;

const std::vector<float> kSmallLogits = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 0.0f, 2.0f, -0.5f};

// Softmax of `logits / temperature` over the ids in `kept`, zero elsewhere.
std::vector<double> softmax_over(const std::vector<float>& logits, double temperature,
                                 const std::vector<int>& kept) {
  std::vector<double> probabilities(logits.size(), 0.0);
  double total = 0.0;
  for (const int id : kept) {
    probabilities[id] = std::exp(logits[id] / temperature);
    total += probabilities[id];
  }
  for (double& probability : probabilities) probability /= total;
  return probabilities;
}

std::vector<int> all_ids(size_t count) {
  std::vector<int> ids(count);
  std::iota(ids.begin(), ids.end(), 0);
  return ids;
}

// Pearson's chi-square statistic of `draws` samples against `expected` probabilities; ids with
// zero probability must never be drawn.
double chi_square(Sampler& sampler, const std::vector<float>& logits,
                  const std::vector<double>& expected, int draws) {
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i) ++counts.at(sampler.sample(logits));
  double statistic = 0.0;
  for (size_t id = 0; id < logits.size(); ++id) {
    if (expected[id] == 0.0) {
      EXPECT_EQ(counts[id], 0) << "id " << id << " is outside the kept set but was drawn";
      continue;
    }
    const double expected_count = expected[id] * draws;
    statistic += (counts[id] - expected_count) * (counts[id] - expected_count) / expected_count;
  }
  return statistic;
}

// Upper 0.1% points of the chi-square distribution, by degrees of freedom.
double chi_square_critical(int degrees_of_freedom) {
  static const double kCritical[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32};
  return kCritical[degrees_of_freedom];
}

TEST(Sampler, GreedyTiesTakeLowestId) {
  Sampler sampler(SamplingParams{});
  EXPECT_EQ(sampler.sample(std::vector<float>{0.5f, 2.0f, 2.0f, 1.0f}), 1);
  EXPECT_EQ(sampler.sample(std::vector<float>{3.0f, 3.0f}), 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(sampler.sample(std::vector<float>{nan, -1.0f, nan}), 1);
}

TEST(Sampler, SuppressedTokensNeverChosen) {
  SamplingParams params;
  params.suppressed_tokens = {4, 1, 1000};  // 1000 is beyond the row and is ignored
  Sampler greedy(params);
  EXPECT_EQ(greedy.sample(kSmallLogits), 6);  // 4 (3.0) and 1 (2.0) are suppressed

  params.temperature = 1.0f;
  Sampler sampled(params);
  for (int i = 0; i < 2000; ++i) {
    const int32_t id = sampled.sample(kSmallLogits);
    ASSERT_NE(id, 4);
    ASSERT_NE(id, 1);
  }
}

TEST(Sampler, TopKOneEqualsGreedy) {
  std::mt19937 generator(7);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<float> logits(5000);
    for (float& logit : logits) logit = normal(generator);
    logits[123] = logits[4567] = 20.0f;  // a tie at the top
    SamplingParams params;
    params.temperature = 1.5f;
    params.top_k = 1;
    params.seed = seed;
    Sampler top_one(params);
    Sampler greedy(SamplingParams{});
    EXPECT_EQ(top_one.sample(logits), greedy.sample(logits));
    EXPECT_EQ(top_one.sample(logits), 123);
  }
}

TEST(Sampler, SameSeedSameTokens) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.seed = 42;
  Sampler first(params);
  Sampler second(params);
  params.seed = 43;
  Sampler other(params);
  std::vector<int32_t> first_tokens;
  std::vector<int32_t> second_tokens;
  std::vector<int32_t> other_tokens;
  for (int i = 0; i < 64; ++i) {
    first_tokens.push_back(first.sample(kSmallLogits));
    second_tokens.push_back(second.sample(kSmallLogits));
    other_tokens.push_back(other.sample(kSmallLogits));
  }
  EXPECT_EQ(first_tokens, second_tokens);
  EXPECT_NE(first_tokens, other_tokens);
}

TEST(Sampler, DistributionMatchesSoftmax) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.seed = 1;
  Sampler sampler(params);
  const std::vector<double> expected = softmax_over(kSmallLogits, 1.0, all_ids(8));
  EXPECT_LT(chi_square(sampler, kSmallLogits, expected, 100000), chi_square_critical(7));
}

TEST(Sampler, TopKWithTemperatureDistribution) {
  SamplingParams params;
  params.temperature = 0.7f;
  params.top_k = 4;
  params.seed = 2;
  Sampler sampler(params);
  // Logits 3.0 (id 4), 2.0 (ids 1 and 6, tied) and 1.0 (id 0) are the four largest.
  const std::vector<double> expected = softmax_over(kSmallLogits, 0.7, {4, 1, 6, 0});
  EXPECT_LT(chi_square(sampler, kSmallLogits, expected, 100000), chi_square_critical(3));
}

TEST(Sampler, TopPDistribution) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_p = 0.85f;
  params.seed = 3;
  Sampler sampler(params);
  // Softmax probabilities sorted: id 4 0.488, ids 1 and 6 0.179 each (0.846 so far), then
  // id 0 0.066 reaches 0.85, so the kept set is {4, 1, 6, 0}.
  const std::vector<double> full = softmax_over(kSmallLogits, 1.0, all_ids(8));
  ASSERT_LT(full[4] + full[1] + full[6], 0.85);
  ASSERT_GE(full[4] + full[1] + full[6] + full[0], 0.85);
  const std::vector<double> expected = softmax_over(kSmallLogits, 1.0, {4, 1, 6, 0});
  EXPECT_LT(chi_square(sampler, kSmallLogits, expected, 100000), chi_square_critical(3));
}

TEST(Sampler, MinPDistribution) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.min_p = 0.3f;
  params.seed = 4;
  Sampler sampler(params);
  // Relative to exp(3), exp(2) is 0.37 (kept) and exp(1) is 0.14 (dropped).
  const std::vector<double> expected = softmax_over(kSmallLogits, 1.0, {4, 1, 6});
  EXPECT_LT(chi_square(sampler, kSmallLogits, expected, 100000), chi_square_critical(2));
}

TEST(Sampler, TopPOnLargeVocabulary) {
  // Without top-k the sampler sorts only a growing head of the vocabulary; the kept set must
  // still be exact. Token 30000 has a third of the mass and 300 tokens share the rest evenly,
  // so top_p = 0.99 needs a head larger than the first 256 candidates.
  std::vector<float> logits(32768, -30.0f);
  logits[30000] = 5.0f;
  for (int i = 0; i < 300; ++i) logits[1000 + i * 7] = 0.0f;
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_p = 0.99f;
  params.seed = 5;
  Sampler sampler(params);
  int top_count = 0;
  constexpr int kDraws = 1000;
  for (int i = 0; i < kDraws; ++i) {
    const int32_t id = sampler.sample(logits);
    ASSERT_TRUE(id == 30000 || (id >= 1000 && id < 1000 + 300 * 7 && (id - 1000) % 7 == 0)) << id;
    top_count += id == 30000;
  }
  // exp(5) / (exp(5) + 300) = 0.331. With 1000 draws the standard deviation of the observed
  // share is 0.015, so 0.06 is four standard deviations.
  EXPECT_NEAR(top_count / static_cast<double>(kDraws), std::exp(5.0) / (std::exp(5.0) + 300.0),
              0.06);
}

TEST(Sampler, RejectsBadInput) {
  Sampler sampler(SamplingParams{});
  EXPECT_THROW(sampler.sample(std::vector<float>{}), std::invalid_argument);
  const float minus_infinity = -std::numeric_limits<float>::infinity();
  EXPECT_THROW(sampler.sample(std::vector<float>{minus_infinity, minus_infinity}),
               std::invalid_argument);
  SamplingParams all_suppressed;
  all_suppressed.temperature = 1.0f;
  all_suppressed.suppressed_tokens = {0, 1};
  Sampler suppressing(all_suppressed);
  EXPECT_THROW(suppressing.sample(std::vector<float>{1.0f, 2.0f}), std::invalid_argument);

  const auto make = [](auto change) {
    SamplingParams params;
    change(params);
    return Sampler(params);
  };
  EXPECT_THROW(make([](SamplingParams& p) { p.temperature = -1.0f; }), std::invalid_argument);
  EXPECT_THROW(make([](SamplingParams& p) { p.temperature = NAN; }), std::invalid_argument);
  EXPECT_THROW(make([](SamplingParams& p) { p.top_k = -2; }), std::invalid_argument);
  EXPECT_THROW(make([](SamplingParams& p) { p.top_p = 0.0f; }), std::invalid_argument);
  EXPECT_THROW(make([](SamplingParams& p) { p.top_p = 1.5f; }), std::invalid_argument);
  EXPECT_THROW(make([](SamplingParams& p) { p.min_p = -0.1f; }), std::invalid_argument);
}

TEST(Sampler, TimingOnFullVocabulary) {
  std::mt19937 generator(11);
  std::normal_distribution<float> normal(0.0f, 1.2f);
  std::vector<float> logits(262144);
  for (float& logit : logits) logit = normal(generator);

  // Processor time per sample; unlike wall time it does not grow when other programs compete
  // for the cores.
  const auto time_per_sample = [&](SamplingParams params) {
    Sampler sampler(params);
    constexpr int kSamples = 20;
    const std::clock_t start = std::clock();
    int64_t checksum = 0;
    for (int i = 0; i < kSamples; ++i) checksum += sampler.sample(logits);
    const std::clock_t end = std::clock();
    EXPECT_GE(checksum, 0);
    return 1000.0 * static_cast<double>(end - start) / CLOCKS_PER_SEC / kSamples;
  };
  SamplingParams greedy;
  SamplingParams gemma_defaults;
  gemma_defaults.temperature = 1.0f;
  gemma_defaults.top_k = 64;
  gemma_defaults.top_p = 0.95f;
  SamplingParams top_p_only;
  top_p_only.temperature = 1.0f;
  top_p_only.top_p = 0.95f;
  std::printf("greedy: %.3f ms of processor time per token\n", time_per_sample(greedy));
  std::printf("top-k 64, top-p 0.95, temperature 1: %.3f ms of processor time per token\n",
              time_per_sample(gemma_defaults));
  std::printf("top-p 0.95 alone, temperature 1: %.3f ms of processor time per token\n", time_per_sample(top_p_only));
}

}  // namespace
