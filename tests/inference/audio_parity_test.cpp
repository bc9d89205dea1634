// The audio path against llama.cpp: projected frame embeddings, prompt layout around the
// audio, last-position logits and greedy continuations for every audio case and model.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "support/reference_cases.h"
#include "utter/audio/file_source.h"
#include "utter/inference/audio_projector.h"
#include "utter/inference/dictation_session.h"
#include "utter/inference/inference_context.h"
#include "utter/inference/text_model.h"

namespace {

using namespace utter::inference;
using namespace utter::testing;

const nlohmann::json& reference_cases() {
  static const nlohmann::json cases = load_json(testdata_path("reference/cases.json"));
  return cases;
}

std::vector<const nlohmann::json*> audio_cases() {
  std::vector<const nlohmann::json*> found;
  for (const auto& c : reference_cases().at("cases")) {
    if (c.at("kind") == "audio") found.push_back(&c);
  }
  return found;
}

// The 16 kHz samples llama.cpp heard. The 22.05 kHz file uses llama.cpp's own decoded samples,
// since another resampler legitimately produces slightly different ones.
std::vector<float> case_samples(const nlohmann::json& test_case) {
  const std::string id = test_case.at("id");
  if (id == "a4_espeak_de_22k_stereo") {
    return read_f32_file(testdata_path("reference/audio_outputs/a4_espeak_de_22k_stereo.pcm16k_mono.f32le.bin"));
  }
  return utter::audio::decode_file_16k_mono(testdata_path("audio/" + test_case.at("audio_file").get<std::string>()));
}

std::vector<float> pad_to_frames(std::vector<float> samples) {
  const size_t frame = AudioProjector::kFrameSamples;
  samples.resize((samples.size() + frame - 1) / frame * frame, 0.0f);
  return samples;
}

TEST(AudioParity, DecodedSamplesMatchReference) {
  for (const auto* test_case : audio_cases()) {
    SCOPED_TRACE(test_case->at("id").get<std::string>());
    const auto& result = test_case->at("results").at("f32");
    const std::vector<float> samples = case_samples(*test_case);
    ASSERT_EQ(samples.size(), result.at("n_audio_samples_16k").get<size_t>());
    double sum = 0.0;
    double sum_sq = 0.0;
    for (float s : samples) {
      sum += s;
      sum_sq += double(s) * s;
    }
    EXPECT_NEAR(sum, result.at("decoded_pcm16k_sum").get<double>(), 1e-3);
    EXPECT_NEAR(sum_sq, result.at("decoded_pcm16k_sum_sq").get<double>(), 1e-3 * sum_sq);
  }
}

TEST(AudioParity, ProjectedEmbeddingsMatchReference) {
  auto model = TextModel::load(testdata_path("reference/tiny-f32.gguf"));
  auto projector = AudioProjector::load(testdata_path("reference/tiny-mmproj-f32.gguf"), model->config().n_embd);
  for (const auto* test_case : audio_cases()) {
    SCOPED_TRACE(test_case->at("id").get<std::string>());
    const auto& result = test_case->at("results").at("f32");
    const std::vector<float> frames = pad_to_frames(case_samples(*test_case));
    const size_t n_frames = frames.size() / AudioProjector::kFrameSamples;

    std::vector<float> embeddings(n_frames * projector->n_embd());
    projector->project(frames, embeddings);
    const std::vector<float> expected = read_f32_file(testdata_path("reference/" + result.at("audio_embd_file").get<std::string>()));
    ASSERT_EQ(embeddings.size(), expected.size());

    // Relative to the largest value: float32 rounding of a 640-term dot product.
    double largest = 0.0;
    double worst = 0.0;
    for (size_t i = 0; i < expected.size(); ++i) {
      largest = std::max(largest, std::abs(double(expected[i])));
      worst = std::max(worst, std::abs(double(embeddings[i]) - expected[i]));
    }
    EXPECT_LE(worst / largest, 1e-5);
  }
}

struct AudioVariant {
  std::string name;
  std::string file;
};

// Names the variant in test output instead of printing its bytes.
void PrintTo(const AudioVariant& variant, std::ostream* out) { *out << variant.file; }


class AudioModelParity : public ::testing::TestWithParam<AudioVariant> {};

TEST_P(AudioModelParity, PromptLogitsAndGreedyMatch) {
  const AudioVariant& variant = GetParam();
  const double tolerance = variant.name == "f32" ? 0.1 : 0.5;
  auto model = TextModel::load(testdata_path("reference/" + variant.file));
  auto projector = AudioProjector::load(testdata_path("reference/tiny-mmproj-f32.gguf"), model->config().n_embd);

  for (const auto* test_case : audio_cases()) {
    const std::string id = test_case->at("id");
    SCOPED_TRACE(id);
    const auto& result = test_case->at("results").at(variant.name);
    const std::vector<float> samples = case_samples(*test_case);

    // The session renders the prompt itself; its cache history must be llama.cpp's sequence.
    DictationOptions options;
    options.threads = 2;
    options.instruction = "Transcribe this audio.";
    options.max_transcript_tokens = static_cast<int>(test_case->at("n_generate").get<int>());
    DictationSession session(*model, *projector, options);
    session.begin_utterance();
    session.push_audio(samples);

    std::vector<int32_t> tokens;
    UtteranceResult transcript = session.end_utterance([&](std::string_view, int32_t token) {
      if (token >= 0) tokens.push_back(token);
      return true;
    });
    (void)transcript;

    const auto sequence = result.at("sequence").get<std::vector<int64_t>>();
    const auto& history = session.context().history();
    ASSERT_GE(history.size(), sequence.size());
    for (size_t i = 0; i < sequence.size(); ++i) {
      if (sequence[i] < 0) {
        EXPECT_LT(history[i], 0) << "position " << i << " should hold audio";
      } else {
        EXPECT_EQ(history[i], sequence[i]) << "position " << i;
      }
    }

    // Logits and teacher-forced greedy steps through the engine directly, with the same
    // layout: text, audio embeddings, text.
    ContextOptions context_options;
    context_options.threads = 2;
    InferenceContext context(*model, context_options);
    const auto& chunks = result.at("chunks");
    std::span<const float> logits;
    for (const auto& chunk : chunks) {
      if (chunk.at("type") == "text") {
        logits = context.decode(chunk.at("token_ids").get<std::vector<int32_t>>());
      } else {
        const std::vector<float> frames = pad_to_frames(samples);
        std::vector<float> embeddings(frames.size() / AudioProjector::kFrameSamples * projector->n_embd());
        projector->project(frames, embeddings);
        logits = context.decode_embeddings(embeddings);
      }
    }
    std::vector<float> current(logits.begin(), logits.end());
    expect_last_logits_match(current, result.at("last_logits"), tolerance, id);

    const auto greedy = result.at("greedy_ids").get<std::vector<int32_t>>();
    const auto greedy_logit = result.at("greedy_logit").get<std::vector<double>>();
    const auto runner_up = result.at("greedy_runner_up_logit").get<std::vector<double>>();
    const std::vector<int32_t> suppressed = model->tokenizer().suppressed_tokens();
    bool free_running_agrees = true;
    for (size_t step = 0; step < greedy.size(); ++step) {
      if (step > 0) {
        auto next = context.decode(std::span<const int32_t>(&greedy[step - 1], 1));
        current.assign(next.begin(), next.end());
      }
      const double margin = greedy_logit[step] - runner_up[step];
      EXPECT_NEAR(current[greedy[step]], greedy_logit[step], tolerance) << id << " step " << step;
      if (margin > tolerance) {
        EXPECT_EQ(reference_argmax(current, suppressed), greedy[step]) << id << " step " << step;
      }
      // The session decodes freely; its tokens must follow llama.cpp's as long as every
      // decision so far had a margin beyond our numerical difference.
      if (margin <= tolerance) free_running_agrees = false;
      if (free_running_agrees && step < tokens.size()) {
        EXPECT_EQ(tokens[step], greedy[step]) << id << " free-running step " << step;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ReferenceModels, AudioModelParity,
                         ::testing::Values(AudioVariant{"f32", "tiny-f32.gguf"}, AudioVariant{"q8_0", "tiny-q8_0.gguf"},
                                           AudioVariant{"q4_0", "tiny-q4_0.gguf"},
                                           AudioVariant{"q4_k_m", "tiny-q4_k_m.gguf"}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
