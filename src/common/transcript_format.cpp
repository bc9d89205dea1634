#include "common/transcript_format.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <stdexcept>

namespace utter::cli {

TranscriptFormat parse_transcript_format(std::string_view name) {
  if (name == "txt" || name == "text") return TranscriptFormat::Text;
  if (name == "json") return TranscriptFormat::Json;
  if (name == "srt") return TranscriptFormat::Srt;
  if (name == "vtt") return TranscriptFormat::Vtt;
  throw std::invalid_argument(fmt::format("unknown transcript format '{}'; use txt, json, srt or vtt", name));
}

std::string_view transcript_extension(TranscriptFormat format) {
  switch (format) {
    case TranscriptFormat::Text: return "txt";
    case TranscriptFormat::Json: return "json";
    case TranscriptFormat::Srt: return "srt";
    case TranscriptFormat::Vtt: return "vtt";
  }
  return "txt";
}

std::string format_timestamp(double seconds, char millisecond_separator) {
  const auto total_ms = static_cast<int64_t>(std::llround(std::max(0.0, seconds) * 1000.0));
  const int64_t hours = total_ms / 3600000;
  const int64_t minutes = total_ms / 60000 % 60;
  const int64_t secs = total_ms / 1000 % 60;
  const int64_t ms = total_ms % 1000;
  return fmt::format("{:02}:{:02}:{:02}{}{:03}", hours, minutes, secs, millisecond_separator, ms);
}

namespace {

// Subtitle cues may not contain blank lines, which would end the cue early.
std::string cue_text(const std::string& text) {
  std::string cleaned;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') continue;
    if (text[i] == '\n' && !cleaned.empty() && cleaned.back() == '\n') continue;
    cleaned += text[i];
  }
  return cleaned;
}

}  // namespace

std::string format_transcript(const FileTranscript& transcript, TranscriptFormat format) {
  switch (format) {
    case TranscriptFormat::Text:
      return transcript.text() + "\n";
    case TranscriptFormat::Json: {
      nlohmann::json document;
      document["file"] = transcript.path.string();
      document["duration"] = transcript.duration_seconds;
      document["text"] = transcript.text();
      document["segments"] = nlohmann::json::array();
      for (size_t i = 0; i < transcript.segments.size(); ++i) {
        const auto& segment = transcript.segments[i];
        document["segments"].push_back(
            {{"id", i}, {"start", segment.start_seconds}, {"end", segment.end_seconds}, {"text", segment.text}});
      }
      return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    }
    case TranscriptFormat::Srt: {
      std::string out;
      int index = 1;
      for (const auto& segment : transcript.segments) {
        if (segment.text.empty()) continue;
        out += fmt::format("{}\n{} --> {}\n{}\n\n", index++, format_timestamp(segment.start_seconds, ','),
                           format_timestamp(segment.end_seconds, ','), cue_text(segment.text));
      }
      return out;
    }
    case TranscriptFormat::Vtt: {
      std::string out = "WEBVTT\n\n";
      for (const auto& segment : transcript.segments) {
        if (segment.text.empty()) continue;
        out += fmt::format("{} --> {}\n{}\n\n", format_timestamp(segment.start_seconds, '.'),
                           format_timestamp(segment.end_seconds, '.'), cue_text(segment.text));
      }
      return out;
    }
  }
  return {};
}

}  // namespace utter::cli
