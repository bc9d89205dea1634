// The text parity cases at every kernel level this processor has: each SIMD path, forced in
// turn (at AVX-512 with the weights in strips), must match llama.cpp's logits and greedy
// choices on the reference models, as the scalar reference does.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "support/reference_cases.h"
#include "utter/inference/inference_context.h"
#include "utter/inference/text_model.h"

namespace {

using utter::inference::ContextOptions;
using utter::inference::detected_kernel_level;
using utter::inference::InferenceContext;
using utter::inference::kernel_level_name;
using utter::inference::KernelLevel;
using utter::inference::set_kernel_level;
using utter::inference::TextModel;
using namespace utter::testing;

struct LevelGuard {
  explicit LevelGuard(KernelLevel level) { set_kernel_level(level); }
  ~LevelGuard() { set_kernel_level(detected_kernel_level()); }
};

struct Variant {
  std::string family;
  std::string name;
  std::string file;
};

std::vector<KernelLevel> available_levels() {
  std::vector<KernelLevel> levels{KernelLevel::Scalar};
  if (detected_kernel_level() >= KernelLevel::Avx2) levels.push_back(KernelLevel::Avx2);
  if (detected_kernel_level() >= KernelLevel::Avx512) levels.push_back(KernelLevel::Avx512);
  return levels;
}

// One model per weight family: 32-element blocks (Q8_0, Q4_0) and K-quants.
const std::vector<Variant>& variants() {
  static const std::vector<Variant> list{{"reference", "q8_0", "tiny-q8_0.gguf"},
                                         {"reference", "q4_0", "tiny-q4_0.gguf"},
                                         {"reference-kquant", "q4_k_m", "kquant-q4_k_m.gguf"}};
  return list;
}

TEST(KernelLevelParity, EveryLevelMatchesLlamaCppOnTextCases) {
  for (const Variant& variant : variants()) {
    const nlohmann::json cases = load_json(testdata_path(variant.family + "/cases.json"));
    for (KernelLevel level : available_levels()) {
      LevelGuard guard(level);
      // Loaded at each level, because the level at load time decides whether the weights are
      // rearranged into strips (AVX-512) or stay in rows for that level's kernels.
      auto model = TextModel::load(testdata_path(variant.family + "/" + variant.file));
      const std::vector<int32_t> suppressed = model->tokenizer().suppressed_tokens();
      ContextOptions options;
      options.threads = 2;
      options.max_batch = 64;
      InferenceContext context(*model, options);
      int compared = 0;
      for (const auto& test_case : cases.at("cases")) {
        const std::string kind = test_case.at("kind");
        if (kind != "text" && kind != "ids") continue;
        const std::string id = test_case.at("id");
        SCOPED_TRACE(variant.name + " " + id + " at " + kernel_level_name(level));
        const auto& result = test_case.at("results").at(variant.name);
        const auto prompt = kind == "ids" ? test_case.at("prompt_token_ids_given").get<std::vector<int32_t>>()
                                          : result.at("prompt_token_ids").get<std::vector<int32_t>>();
        context.clear();
        const auto logits = context.prefill(prompt);
        ASSERT_EQ(logits.size(), static_cast<size_t>(model->config().n_vocab));
        expect_last_logits_match(logits, result.at("last_logits"), 0.5, id);
        const auto greedy = result.at("greedy_ids").get<std::vector<int32_t>>();
        const auto greedy_logit = result.at("greedy_logit").get<std::vector<double>>();
        const auto runner_up = result.at("greedy_runner_up_logit").get<std::vector<double>>();
        ASSERT_FALSE(greedy.empty());
        EXPECT_NEAR(logits[greedy[0]], greedy_logit[0], 0.5);
        if (greedy_logit[0] - runner_up[0] > 0.5) {
          EXPECT_EQ(reference_argmax(logits, suppressed), greedy[0]);
        }
        ++compared;
      }
      EXPECT_GE(compared, 1) << variant.name << ": no text cases in the reference data";
    }
  }
}

}  // namespace
