// Reading the llama.cpp reference cases (cases.json) and comparing our logits with them.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace utter::testing {

inline std::string testdata_path(const std::string& relative) {
  return std::string(UTTER_TESTDATA_DIR) + "/" + relative;
}

inline nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

inline std::vector<float> read_f32_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open " + path);
  const auto bytes = static_cast<size_t>(in.tellg());
  std::vector<float> values(bytes / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
  return values;
}

// Index of the largest logit after the suppressed ids are excluded (ties: lowest id), the rule
// the reference uses for its greedy continuations.
inline int32_t reference_argmax(std::span<const float> logits, const std::vector<int32_t>& suppressed) {
  int32_t best = -1;
  float best_value = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::find(suppressed.begin(), suppressed.end(), static_cast<int32_t>(i)) != suppressed.end()) continue;
    if (logits[i] > best_value) {
      best_value = logits[i];
      best = static_cast<int32_t>(i);
    }
  }
  return best;
}

// Checks our last-position logits against a case result's `last_logits` (top 64 ids with
// their values, and whole-vector statistics) within `tolerance`.
inline void expect_last_logits_match(std::span<const float> logits, const nlohmann::json& reference,
                                     double tolerance, const std::string& label) {
  const auto& top_ids = reference.at("top_ids");
  const auto& top_logits = reference.at("top_logits");
  double worst = 0.0;
  for (size_t i = 0; i < top_ids.size(); ++i) {
    const int id = top_ids[i].get<int>();
    worst = std::max(worst, std::abs(static_cast<double>(logits[id]) - top_logits[i].get<double>()));
  }
  EXPECT_LE(worst, tolerance) << label << ": largest difference over the reference top-64 logits";

  double sum = 0.0;
  double min_value = std::numeric_limits<double>::infinity();
  double max_value = -std::numeric_limits<double>::infinity();
  for (float value : logits) {
    sum += value;
    min_value = std::min<double>(min_value, value);
    max_value = std::max<double>(max_value, value);
  }
  const double n = static_cast<double>(logits.size());
  EXPECT_NEAR(sum / n, reference.at("sum").get<double>() / n, tolerance) << label << ": mean logit";
  EXPECT_NEAR(max_value, reference.at("max").get<double>(), tolerance) << label << ": max logit";
  EXPECT_NEAR(min_value, reference.at("min").get<double>(), tolerance) << label << ": min logit";
}

}  // namespace utter::testing
