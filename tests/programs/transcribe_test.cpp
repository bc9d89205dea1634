// `utter transcribe` end to end: the binary on real audio with the reference tiny model.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/reference_cases.h"
#include "utter/audio/file_source.h"

namespace {

using namespace utter::testing;

struct CommandResult {
  int status = -1;
  std::string output;  // stdout only
};

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string quote(const std::string& text) { return "'" + text + "'"; }

// The reference prompt: no system turn, the instruction llama.cpp's audio cases used, 16 tokens.
std::string transcribe_command(const std::string& inputs, const std::string& extra = "") {
  return std::string(UTTER_BINARY) + " transcribe " + inputs + " -m " + quote(testdata_path("reference/tiny-f32.gguf")) +
         " --mmproj " + quote(testdata_path("reference/tiny-mmproj-f32.gguf")) +
         " --system '' --instruction 'Transcribe this audio.' -n 16 -t 2 " + extra;
}

std::string reference_jfk_text() {
  const auto cases = load_json(testdata_path("reference/cases.json"));
  for (const auto& c : cases.at("cases")) {
    if (c.at("id") == "a1_jfk") return c.at("results").at("f32").at("greedy_text").get<std::string>();
  }
  return {};
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \n");
  const auto last = text.find_last_not_of(" \n");
  return first == std::string::npos ? std::string() : text.substr(first, last - first + 1);
}

TEST(TranscribeCommand, WavMatchesReferenceText) {
  const CommandResult result = run_command(transcribe_command(quote(testdata_path("audio/jfk.wav"))));
  ASSERT_EQ(result.status, 0);
  EXPECT_EQ(trim(result.output), trim(reference_jfk_text()));
}

TEST(TranscribeCommand, Mp3RunsAndDecodesCloseToWav) {
  // The MP3 decodes to the WAV's length; its samples differ by the codec's loss only.
  const std::vector<float> wav = utter::audio::decode_file_16k_mono(testdata_path("audio/jfk.wav"));
  const std::vector<float> mp3 = utter::audio::decode_file_16k_mono(testdata_path("audio/jfk.mp3"));
  ASSERT_EQ(mp3.size(), wav.size());
  double signal = 0.0;
  double noise = 0.0;
  for (size_t i = 0; i < wav.size(); ++i) {
    signal += double(wav[i]) * wav[i];
    noise += (double(wav[i]) - mp3[i]) * (double(wav[i]) - mp3[i]);
  }
  const double snr_db = 10.0 * std::log10(signal / noise);
  RecordProperty("mp3_snr_db", std::to_string(snr_db));
  EXPECT_GT(snr_db, 30.0) << "MP3 samples are " << snr_db << " dB away from the WAV's";

  const CommandResult result = run_command(transcribe_command(quote(testdata_path("audio/jfk.mp3"))));
  ASSERT_EQ(result.status, 0);
  EXPECT_FALSE(trim(result.output).empty());
}

TEST(TranscribeCommand, JsonOutputParses) {
  const CommandResult result = run_command(transcribe_command(quote(testdata_path("audio/jfk.wav")), "-f json"));
  ASSERT_EQ(result.status, 0);
  const nlohmann::json document = nlohmann::json::parse(result.output);
  EXPECT_NEAR(document.at("duration").get<double>(), 11.0, 1e-6);  // 176,000 samples at 16 kHz
  ASSERT_EQ(document.at("segments").size(), 1u);
  const auto& segment = document.at("segments")[0];
  EXPECT_DOUBLE_EQ(segment.at("start").get<double>(), 0.0);
  EXPECT_NEAR(segment.at("end").get<double>(), 11.0, 1e-6);
  EXPECT_EQ(segment.at("text").get<std::string>(), document.at("text").get<std::string>());
  EXPECT_EQ(document.at("text").get<std::string>(), trim(reference_jfk_text()));
}

// A small SubRip parser: blocks of index, "start --> end" and text lines.
struct Cue {
  double start = 0;
  double end = 0;
  std::string text;
};

double parse_time(const std::smatch& m, int first) {
  return std::stoi(m[first]) * 3600.0 + std::stoi(m[first + 1]) * 60.0 + std::stoi(m[first + 2]) +
         std::stoi(m[first + 3]) / 1000.0;
}

std::vector<Cue> parse_cues(const std::string& text, char separator, bool numbered) {
  std::vector<Cue> cues;
  std::istringstream in(text);
  std::string line;
  const std::string sep(1, separator);
  const std::regex timing("^(\\d{2}):(\\d{2}):(\\d{2})" + sep + "(\\d{3}) --> (\\d{2}):(\\d{2}):(\\d{2})" + sep +
                          "(\\d{3})$");
  int expected_index = 1;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (numbered) {
      if (line != std::to_string(expected_index)) throw std::runtime_error("bad cue index: " + line);
      ++expected_index;
      if (!std::getline(in, line)) throw std::runtime_error("cue without timing");
    }
    std::smatch m;
    if (!std::regex_match(line, m, timing)) throw std::runtime_error("bad timing line: " + line);
    Cue cue{parse_time(m, 1), parse_time(m, 5), {}};
    while (std::getline(in, line) && !line.empty()) cue.text += (cue.text.empty() ? "" : "\n") + line;
    if (cue.text.empty()) throw std::runtime_error("cue without text");
    cues.push_back(cue);
  }
  return cues;
}

TEST(TranscribeCommand, SrtOutputParses) {
  const CommandResult result = run_command(transcribe_command(quote(testdata_path("audio/jfk.wav")), "-f srt"));
  ASSERT_EQ(result.status, 0);
  const auto cues = parse_cues(result.output, ',', true);
  ASSERT_EQ(cues.size(), 1u);
  EXPECT_DOUBLE_EQ(cues[0].start, 0.0);
  EXPECT_DOUBLE_EQ(cues[0].end, 11.0);
  EXPECT_EQ(cues[0].text, trim(reference_jfk_text()));
}

TEST(TranscribeCommand, VttOutputParses) {
  const CommandResult result = run_command(transcribe_command(quote(testdata_path("audio/jfk.wav")), "-f vtt"));
  ASSERT_EQ(result.status, 0);
  ASSERT_EQ(result.output.rfind("WEBVTT\n\n", 0), 0u);
  const auto cues = parse_cues(result.output.substr(8), '.', false);
  ASSERT_EQ(cues.size(), 1u);
  EXPECT_DOUBLE_EQ(cues[0].end, 11.0);
}

TEST(TranscribeCommand, BadFileFailsButOthersComplete) {
  const auto folder = std::filesystem::temp_directory_path() / ("utter-transcribe-" + std::to_string(getpid()));
  std::filesystem::create_directories(folder);
  const auto bad = folder / "not-audio.wav";
  std::ofstream(bad) << "this is not a WAV file";

  const CommandResult result = run_command(
      transcribe_command(quote(bad.string()) + " " + quote(testdata_path("audio/espeak_en_16k.wav")) + " -o " +
                         quote(folder.string()) + " 2>" + quote((folder / "stderr.txt").string())));
  EXPECT_EQ(result.status, 1);
  std::ifstream errors(folder / "stderr.txt");
  const std::string error_text((std::istreambuf_iterator<char>(errors)), {});
  EXPECT_NE(error_text.find("not-audio.wav"), std::string::npos) << error_text;
  EXPECT_TRUE(std::filesystem::exists(folder / "espeak_en_16k.txt"));
  EXPECT_FALSE(std::filesystem::exists(folder / "not-audio.txt"));
  std::filesystem::remove_all(folder);
}

TEST(TranscribeCommand, MissingModelSaysWhereItLooked) {
  const auto empty = std::filesystem::temp_directory_path() / ("utter-no-models-" + std::to_string(getpid()));
  std::filesystem::create_directories(empty);
  const std::string command = "env -u UTTER_MODEL -u UTTER_MMPROJ UTTER_MODELS_DIR=" + quote(empty.string()) + " " +
                              UTTER_BINARY + " transcribe " + quote(testdata_path("audio/jfk.wav")) + " 2>&1";
  const CommandResult result = run_command(command);
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.output.find(empty.string()), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("-m"), std::string::npos) << result.output;
  std::filesystem::remove_all(empty);
}

}  // namespace
