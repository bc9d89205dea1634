// The engine against llama.cpp's own numbers on the reference models: last-position logits
// and greedy continuations for every text case of every quantization variant.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "support/reference_cases.h"
#include "utter/inference/inference_context.h"
#include "utter/inference/text_model.h"

namespace {

using utter::inference::ContextOptions;
using utter::inference::InferenceContext;
using utter::inference::TextModel;
using namespace utter::testing;

struct Variant {
  std::string family;  // "reference" or "reference-kquant"
  std::string name;    // key under `results` in cases.json
  std::string file;
};

// Names the variant in test output instead of printing its bytes.
void PrintTo(const Variant& variant, std::ostream* out) { *out << variant.family + "/" + variant.file; }


std::string PrintVariant(const ::testing::TestParamInfo<Variant>& info) {
  return (info.param.family == "reference" ? "tiny_" : "kquant_") + info.param.name;
}

// The README of the reference data suggests these limits: llama.cpp disagrees with itself by up
// to about 0.014 on the F32 model and 0.33 on quantized ones when a setting changes.
double logit_tolerance(const std::string& variant) { return variant == "f32" ? 0.1 : 0.5; }

class TextParity : public ::testing::TestWithParam<Variant> {
 protected:
  static const nlohmann::json& cases(const std::string& family) {
    static std::map<std::string, nlohmann::json> loaded;
    auto it = loaded.find(family);
    if (it == loaded.end()) it = loaded.emplace(family, load_json(testdata_path(family + "/cases.json"))).first;
    return it->second;
  }
};

TEST_P(TextParity, LogitsAndGreedyMatchLlamaCpp) {
  const Variant& variant = GetParam();
  auto model = TextModel::load(testdata_path(variant.family + "/" + variant.file));
  ContextOptions options;
  options.threads = 2;
  options.max_batch = 512;
  InferenceContext context(*model, options);

  const double tolerance = logit_tolerance(variant.name);
  const std::vector<int32_t> suppressed = model->tokenizer().suppressed_tokens();
  int compared_cases = 0;

  for (const auto& test_case : cases(variant.family).at("cases")) {
    const std::string kind = test_case.at("kind");
    if (kind != "text" && kind != "ids") continue;
    const std::string id = test_case.at("id");
    const auto& result = test_case.at("results").at(variant.name);
    const std::vector<int32_t> prompt = kind == "ids" ? test_case.at("prompt_token_ids_given").get<std::vector<int32_t>>()
                                                      : result.at("prompt_token_ids").get<std::vector<int32_t>>();
    SCOPED_TRACE(id);

    context.clear();
    const auto prompt_logits = context.prefill(prompt);
    std::vector<float> logits(prompt_logits.begin(), prompt_logits.end());
    ASSERT_EQ(logits.size(), static_cast<size_t>(model->config().n_vocab));
    expect_last_logits_match(logits, result.at("last_logits"), tolerance, id);

    if (variant.name == "f32" && result.contains("full_last_logits_file")) {
      const std::vector<float> expected = read_f32_file(testdata_path(variant.family + "/" +
                                                                      result.at("full_last_logits_file").get<std::string>()));
      ASSERT_EQ(expected.size(), logits.size());
      double worst = 0.0;
      for (size_t i = 0; i < logits.size(); ++i) worst = std::max(worst, std::abs(double(logits[i]) - expected[i]));
      EXPECT_LE(worst, tolerance) << id << ": largest difference over all logits";
    }

    // Greedy continuation with teacher forcing: feed llama.cpp's token back at each step, and
    // require the same choice wherever llama.cpp's own margin is larger than our tolerance.
    const auto greedy = result.at("greedy_ids").get<std::vector<int32_t>>();
    const auto greedy_logit = result.at("greedy_logit").get<std::vector<double>>();
    const auto runner_up = result.at("greedy_runner_up_logit").get<std::vector<double>>();
    for (size_t step = 0; step < greedy.size(); ++step) {
      if (step > 0) {
        const int32_t previous = greedy[step - 1];
        auto next = context.decode(std::span<const int32_t>(&previous, 1));
        logits.assign(next.begin(), next.end());
      }
      EXPECT_NEAR(logits[greedy[step]], greedy_logit[step], tolerance) << id << " step " << step;
      if (greedy_logit[step] - runner_up[step] > tolerance) {
        EXPECT_EQ(reference_argmax(logits, suppressed), greedy[step]) << id << " step " << step;
      }
    }
    ++compared_cases;
  }
  EXPECT_GE(compared_cases, 5);
}

INSTANTIATE_TEST_SUITE_P(
    ReferenceModels, TextParity,
    ::testing::Values(Variant{"reference", "f32", "tiny-f32.gguf"}, Variant{"reference", "q8_0", "tiny-q8_0.gguf"},
                      Variant{"reference", "q4_0", "tiny-q4_0.gguf"},
                      Variant{"reference", "q4_k_m", "tiny-q4_k_m.gguf"},
                      Variant{"reference-kquant", "f32", "kquant-f32.gguf"},
                      Variant{"reference-kquant", "q4_k_m", "kquant-q4_k_m.gguf"},
                      Variant{"reference-kquant", "q4_k_s", "kquant-q4_k_s.gguf"},
                      Variant{"reference-kquant", "q5_k_m", "kquant-q5_k_m.gguf"},
                      Variant{"reference-kquant", "q6_k", "kquant-q6_k.gguf"}),
    PrintVariant);

}  // namespace
