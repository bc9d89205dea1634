// `utter demo`: the first thing to run after building. Transcribes the shipped sample
// recording with the default model, or prints the command that downloads the model.
#include <fmt/core.h>

#include <cstdio>
#include <memory>
#include <string>

#include "commands/command_registry.h"
#include "common/file_transcriber.h"
#include "common/model_files.h"
#include "utter/editor/assets.h"
#include "utter/inference/audio_projector.h"
#include "utter/inference/dictation_session.h"
#include "utter/inference/text_model.h"

namespace utter::cli {
namespace {

constexpr const char* kSampleAsset = "audio/sample-en.wav";
constexpr const char* kSampleText = "utter turns your speech into text on your own computer.";

std::string trimmed_asset(const char* name) {
  std::string text = editor::read_asset(name);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

int run_demo(int threads, int max_tokens) {
  using namespace utter::inference;
  ModelFiles files;
  try {
    files = find_model_files("", "", /*need_mmproj=*/true);
  } catch (const std::exception& error) {
    fmt::print("utter is built, but it found no complete model pair ({}).\n\nGet Gemma 4 12B and its audio "
               "projector (about 7.2 GB) with:\n\n  build/src/utter models pull\n\nthen run `build/src/utter demo` "
               "again.\n",
               error.what());
    return 0;
  }

  fmt::print("model:  {}\nmmproj: {}\naudio:  {} (\"{}\")\n", files.model.string(), files.mmproj.string(),
             editor::asset_path(kSampleAsset).string(), kSampleText);
  std::fflush(stdout);
  auto model = TextModel::load(files.model);
  auto projector = AudioProjector::load(files.mmproj, model->config().n_embd);

  DictationOptions options;
  options.system_prompt = trimmed_asset("prompts/transcription_system.txt");
  options.instruction = trimmed_asset("prompts/transcription_instruction.txt");
  options.threads = threads;
  options.max_transcript_tokens = max_tokens;
  DictationSession session(*model, *projector, options);
  FileTranscriber transcriber(session);
  const FileTranscript transcript = transcriber.transcribe(editor::asset_path(kSampleAsset));
  fmt::print("transcript: {}\n", transcript.text());
  return 0;
}

void setup_demo(CLI::App& sub) {
  auto threads = std::make_shared<int>(0);
  auto max_tokens = std::make_shared<int>(64);
  sub.add_option("-t,--threads", *threads, "Worker threads (0: one per core)")->check(CLI::NonNegativeNumber);
  sub.add_option("-n,--max-tokens", *max_tokens, "Tokens to generate at most")->check(CLI::Range(1, 4096));
  sub.callback([threads, max_tokens] { run_guarded([&] { return run_demo(*threads, *max_tokens); }); });
}

const bool registered =
    register_command({"demo", "Transcribe the bundled sample recording, or say how to get the model", setup_demo});

}  // namespace
}  // namespace utter::cli
