// Measures the dictation path on a model pair: how many audio frames per second streaming
// prefill sustains, and the time from the end of an utterance to its last transcript token.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "utter/audio/file_source.h"
#include "utter/inference/audio_projector.h"
#include "utter/inference/dictation_session.h"
#include "utter/inference/text_model.h"

int main(int argc, char** argv) {
  std::string model_path;
  std::string mmproj_path;
  std::string audio_path;
  double seconds = 5.0;
  int tokens = 20;
  int threads = 2;
  int repeats = 3;
  CLI::App app{"Time streaming prefill and end-of-utterance latency of the dictation session"};
  app.add_option("-m,--model", model_path, "Text model (.gguf)")->required();
  app.add_option("--mmproj", mmproj_path, "Audio projector (.gguf)")->required();
  app.add_option("--audio", audio_path, "Speech to use (default: a synthetic tone)");
  app.add_option("--seconds", seconds, "Length of each utterance in seconds");
  app.add_option("-n,--tokens", tokens, "Transcript tokens to decode after each utterance");
  app.add_option("-t,--threads", threads, "Worker threads");
  app.add_option("--repeat", repeats, "Utterances to time");
  CLI11_PARSE(app, argc, argv);

  using Clock = std::chrono::steady_clock;
  using namespace utter::inference;
  auto model = TextModel::load(model_path);
  auto projector = AudioProjector::load(mmproj_path, model->config().n_embd);

  const auto n_samples = static_cast<size_t>(seconds * 16000);
  std::vector<float> samples;
  if (!audio_path.empty()) samples = utter::audio::decode_file_16k_mono(audio_path);
  samples.resize(n_samples, 0.0f);
  if (audio_path.empty()) {
    for (size_t i = 0; i < n_samples; ++i) samples[i] = 0.3f * std::sin(2.0 * M_PI * 220.0 * i / 16000.0);
  }

  DictationOptions options;
  options.threads = threads;
  options.max_transcript_tokens = tokens;
  // Decode exactly `tokens` tokens: a random-weight model may emit an end-of-turn token early.
  options.sampling.suppressed_tokens = model->tokenizer().end_of_generation_ids();
  for (int32_t id : model->tokenizer().suppressed_tokens()) options.sampling.suppressed_tokens.push_back(id);
  DictationSession session(*model, *projector, options);

  fmt::print("model {} ({}), {} threads, {:.1f} s utterances, {} tokens each\n", model_path,
             model->dominant_weight_type(), threads, seconds, tokens);
  for (int run = 0; run < repeats; ++run) {
    session.reset();
    session.begin_utterance();
    const auto push_start = Clock::now();
    for (size_t begin = 0; begin < samples.size(); begin += 640) {
      const size_t count = std::min<size_t>(640, samples.size() - begin);
      session.push_audio(std::span<const float>(samples).subspan(begin, count));
    }
    const double push_seconds = std::chrono::duration<double>(Clock::now() - push_start).count();
    const auto end_start = Clock::now();
    UtteranceResult result = session.end_utterance();
    const double end_seconds = std::chrono::duration<double>(Clock::now() - end_start).count();
    fmt::print("run {}: prefill {:.1f} frames/s ({} frames in {:.2f} s, {:.2f}x real time), end of utterance to last "
               "token {:.2f} s for {} tokens\n",
               run + 1, result.audio_frames / push_seconds, result.audio_frames, push_seconds, seconds / push_seconds,
               end_seconds, result.tokens.size());
  }
  return 0;
}
