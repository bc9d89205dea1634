// `utter transcribe`: audio files in, text out.
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands/command_registry.h"
#include "common/file_transcriber.h"
#include "common/model_files.h"
#include "common/progress_bar.h"
#include "common/transcript_format.h"
#include "common/transcription_prompts.h"
#include "utter/inference/audio_projector.h"
#include "utter/inference/dictation_session.h"
#include "utter/inference/text_model.h"

namespace utter::cli {
namespace {

struct TranscribeOptions {
  std::vector<std::string> files;
  std::string model_path;
  std::string mmproj_path;
  std::string format = "txt";
  std::string output;
  std::optional<std::string> system_prompt;
  std::optional<std::string> instruction;
  float temperature = 0.0f;
  uint64_t seed = 0;
  int max_tokens = 448;
  int threads = 0;
};

void write_file(const std::filesystem::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("failed to create the output file '" + path.string() + "'");
  out << contents;
  out.flush();
  if (!out) throw std::runtime_error("failed to write the output file '" + path.string() + "' (is the disk full?)");
}

int run_transcribe(const TranscribeOptions& options) {
  using namespace utter::inference;
  const TranscriptFormat format = parse_transcript_format(options.format);
  const bool several = options.files.size() > 1;
  std::filesystem::path output_dir;
  if (several && !options.output.empty()) {
    output_dir = options.output;
    std::filesystem::create_directories(output_dir);
  }

  const ModelFiles files = find_model_files(options.model_path, options.mmproj_path, /*need_mmproj=*/true);
  auto model = TextModel::load(files.model);
  auto projector = AudioProjector::load(files.mmproj, model->config().n_embd);

  DictationOptions session_options;
  session_options.system_prompt = options.system_prompt.value_or(default_transcription_system_prompt());
  session_options.instruction = options.instruction.value_or(default_transcription_instruction());
  session_options.sampling.temperature = options.temperature;
  session_options.sampling.seed = options.seed;
  session_options.max_transcript_tokens = options.max_tokens;
  session_options.threads = options.threads;
  DictationSession session(*model, *projector, session_options);
  FileTranscriber transcriber(session);

  int failures = 0;
  for (const auto& file : options.files) {
    try {
      ProgressBar progress(std::filesystem::path(file).filename().string());
      FileTranscript transcript =
          transcriber.transcribe(file, [&](double done, double total) { progress.update(done, total); });
      progress.finish();
      const std::string text = format_transcript(transcript, format);

      if (!output_dir.empty()) {
        const auto target = output_dir / (std::filesystem::path(file).stem().string() + "." +
                                          std::string(transcript_extension(format)));
        write_file(target, text);
      } else if (!options.output.empty()) {
        write_file(options.output, text);
      } else {
        if (several && format == TranscriptFormat::Text) fmt::print("==> {} <==\n", file);
        std::fputs(text.c_str(), stdout);
        std::fflush(stdout);
      }
    } catch (const std::exception& error) {
      std::fflush(stdout);
      fmt::print(stderr, "utter: error: {}: {}\n", file, error.what());
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}

void setup_transcribe(CLI::App& sub) {
  auto options = std::make_shared<TranscribeOptions>();
  sub.add_option("files", options->files, "Audio files (WAV, FLAC, Ogg Vorbis, Opus, MP3)")->required();
  sub.add_option("-m,--model", options->model_path, "Gemma 4 text model (.gguf); default: see `utter models list`");
  sub.add_option("--mmproj", options->mmproj_path, "Audio projector (mmproj .gguf) published with the model");
  sub.add_option("-f,--format", options->format, "Output format: txt, json, srt or vtt")
      ->check(CLI::IsMember({"txt", "text", "json", "srt", "vtt"}));
  sub.add_option("-o,--output", options->output,
                 "Write to this file (one input) or into this folder (several inputs) instead of stdout");
  sub.add_option("--system", options->system_prompt, "System prompt; an empty string means none");
  sub.add_option("--instruction", options->instruction, "The instruction that follows the audio");
  sub.add_option("--temp", options->temperature, "Sampling temperature; 0 picks the most likely token")
      ->check(CLI::Range(0.0, 100.0));
  sub.add_option("--seed", options->seed, "Random seed for sampling");
  sub.add_option("-n,--max-tokens", options->max_tokens, "Tokens to generate at most per 30 s piece")
      ->check(CLI::Range(1, 1 << 16));
  sub.add_option("-t,--threads", options->threads, "Worker threads (0: one per core)")->check(CLI::NonNegativeNumber);
  sub.callback([options] { run_guarded([&] { return run_transcribe(*options); }); });
}

const bool registered = register_command({"transcribe", "Turn audio files into text", setup_transcribe});

}  // namespace
}  // namespace utter::cli
