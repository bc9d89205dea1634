// The streaming dictation session: pushes of any size give the same tokens as one call,
// utterances continue one conversation, and cancel and compaction keep it usable.
#include <gtest/gtest.h>

#include <memory>
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

struct Models {
  std::unique_ptr<TextModel> model;
  std::unique_ptr<AudioProjector> projector;
};

const Models& tiny() {
  static Models models = [] {
    Models m;
    m.model = TextModel::load(testdata_path("reference/tiny-f32.gguf"));
    m.projector = AudioProjector::load(testdata_path("reference/tiny-mmproj-f32.gguf"), m.model->config().n_embd);
    return m;
  }();
  return models;
}

// Speech whose length is not a whole number of frames, so the last frame is partial.
std::vector<float> speech_clip() {
  std::vector<float> samples = utter::audio::decode_file_16k_mono(testdata_path("audio/espeak_de_16k.wav"));
  samples.resize(samples.size() / 640 * 640 - 333);
  return samples;
}

DictationOptions session_options() {
  DictationOptions options;
  options.threads = 2;
  options.instruction = "Transcribe this audio.";
  options.max_transcript_tokens = 12;
  return options;
}

struct SessionRun {
  std::vector<int32_t> tokens;
  std::vector<int64_t> history;
};

SessionRun transcribe_in_pushes(const std::vector<float>& samples, size_t push_samples) {
  DictationSession session(*tiny().model, *tiny().projector, session_options());
  session.begin_utterance();
  for (size_t begin = 0; begin < samples.size(); begin += push_samples) {
    const size_t count = std::min(push_samples, samples.size() - begin);
    session.push_audio(std::span<const float>(samples).subspan(begin, count));
  }
  UtteranceResult result = session.end_utterance();
  return {result.tokens, session.context().history()};
}

TEST(DictationSession, StreamingMatchesOneCall) {
  const std::vector<float> samples = speech_clip();
  const SessionRun offline = transcribe_in_pushes(samples, samples.size());
  ASSERT_EQ(offline.tokens.size(), 12u);

  for (size_t frames : {size_t{1}, size_t{3}, size_t{25}}) {
    SCOPED_TRACE("frames per push: " + std::to_string(frames));
    const SessionRun streamed = transcribe_in_pushes(samples, frames * 640);
    EXPECT_EQ(streamed.tokens, offline.tokens);
    EXPECT_EQ(streamed.history, offline.history);
  }
  // Pushes that do not line up with frames at all.
  const SessionRun ragged = transcribe_in_pushes(samples, 1001);
  EXPECT_EQ(ragged.tokens, offline.tokens);
}

TEST(DictationSession, AudioBlockHasOnePositionPerFrame) {
  const std::vector<float> samples = speech_clip();
  const SessionRun run = transcribe_in_pushes(samples, samples.size());
  size_t audio_positions = 0;
  for (int64_t entry : run.history) audio_positions += entry < 0 ? 1 : 0;
  EXPECT_EQ(audio_positions, (samples.size() + 639) / 640);
}

TEST(DictationSession, SecondUtteranceContinuesConversation) {
  const std::vector<float> samples = speech_clip();
  DictationSession session(*tiny().model, *tiny().projector, session_options());
  session.begin_utterance();
  session.push_audio(samples);
  UtteranceResult first = session.end_utterance();
  const int64_t after_first = session.cache_position();

  session.begin_utterance();
  session.push_audio(samples);
  session.end_utterance();

  // The second turn starts where the first ended: "<turn|>\n<|turn>user\n<|audio>" and no
  // second <bos>.
  const auto& history = session.context().history();
  const Tokenizer& tokenizer = tiny().model->tokenizer();
  ASSERT_GT(history.size(), static_cast<size_t>(after_first + 5));
  EXPECT_EQ(history[after_first], *tokenizer.find_token("<turn|>"));
  EXPECT_EQ(history[after_first + 1], 107);  // "\n"
  EXPECT_EQ(history[after_first + 2], *tokenizer.find_token("<|turn>"));
  EXPECT_EQ(history[after_first + 5], *tokenizer.find_token("<|audio>"));
  EXPECT_EQ(std::count(history.begin(), history.end(), 2), 1);
  EXPECT_EQ(session.compactions(), 0);
  (void)first;
}

TEST(DictationSession, CancelRestoresPreviousState) {
  const std::vector<float> samples = speech_clip();
  DictationSession session(*tiny().model, *tiny().projector, session_options());
  session.begin_utterance();
  session.push_audio(samples);
  session.end_utterance();
  const std::vector<int64_t> before = session.context().history();

  session.begin_utterance();
  session.push_audio(std::span<const float>(samples).subspan(0, 640 * 5));
  session.cancel_utterance();
  EXPECT_EQ(session.context().history(), before);
  EXPECT_FALSE(session.utterance_open());
}

TEST(DictationSession, CompactsWhenBudgetIsReached) {
  const std::vector<float> samples = speech_clip();
  DictationOptions options = session_options();
  // Sliding rings: 4 layers x 2 heads x 32 x 2 x 2 bytes x (16 + 64 - 1) positions; full layers
  // 512 bytes a position. Room for about 1,100 positions: each utterance needs the 750-frame
  // headroom, so the second utterance must compact.
  const uint64_t ring_bytes = 4ull * 2 * 32 * 2 * 2 * (16 + 64 - 1);
  options.kv_cache_budget_bytes = ring_bytes + 512ull * 1100;
  DictationSession session(*tiny().model, *tiny().projector, options);

  for (int i = 0; i < 3; ++i) {
    session.begin_utterance();
    session.push_audio(samples);
    UtteranceResult result = session.end_utterance();
    EXPECT_EQ(result.tokens.size(), 12u) << "utterance " << i;
    EXPECT_LE(session.cache_position(), session.context().max_positions());
  }
  EXPECT_GE(session.compactions(), 1);
}

TEST(DictationSession, SoftContextLimitRestartsConversation) {
  const std::vector<float> samples = speech_clip();
  DictationOptions options = session_options();
  // Each utterance needs 750 + 12 + 64 positions of headroom and fills about 160, so the
  // fifth one would pass 1,400 positions.
  options.max_context_positions = 1400;
  DictationSession session(*tiny().model, *tiny().projector, options);
  for (int i = 0; i < 5; ++i) {
    session.begin_utterance();
    session.push_audio(samples);
    EXPECT_EQ(session.end_utterance().tokens.size(), 12u) << "utterance " << i;
    EXPECT_LE(session.cache_position(), 1400);
  }
  EXPECT_EQ(session.compactions(), 1);
}

TEST(DictationSession, UtteranceLongerThanSoftLimitUsesBudget) {
  const std::vector<float> clip = speech_clip();
  std::vector<float> long_speech;
  for (int i = 0; i < 8; ++i) long_speech.insert(long_speech.end(), clip.begin(), clip.end());
  DictationOptions options = session_options();
  options.max_context_positions = 600;  // the utterance alone is about 980 frames
  DictationSession session(*tiny().model, *tiny().projector, options);
  session.begin_utterance();
  for (size_t begin = 0; begin < long_speech.size(); begin += 640 * 25) {
    session.push_audio(std::span<const float>(long_speech).subspan(begin, std::min<size_t>(640 * 25, long_speech.size() - begin)));
  }
  UtteranceResult result = session.end_utterance();
  EXPECT_EQ(result.tokens.size(), 12u);
  EXPECT_EQ(result.audio_frames, static_cast<int64_t>((long_speech.size() + 639) / 640));
  EXPECT_LE(session.compactions(), 1);
}

TEST(DictationSession, EmptyUtteranceIsRejected) {
  DictationSession session(*tiny().model, *tiny().projector, session_options());
  session.begin_utterance();
  EXPECT_THROW(session.end_utterance(), std::invalid_argument);
  EXPECT_FALSE(session.utterance_open());
  EXPECT_EQ(session.cache_position(), 0);
}

TEST(DictationSession, TokenCallbackCanStop) {
  const std::vector<float> samples = speech_clip();
  DictationSession session(*tiny().model, *tiny().projector, session_options());
  session.begin_utterance();
  session.push_audio(samples);
  int calls = 0;
  UtteranceResult result = session.end_utterance([&](std::string_view, int32_t) { return ++calls < 3; });
  EXPECT_TRUE(result.cancelled);
  EXPECT_EQ(result.tokens.size(), 3u);
}

}  // namespace
