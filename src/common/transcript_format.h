// Writing transcripts as plain text, JSON, SubRip (SRT) or WebVTT.
#pragma once

#include <string>
#include <string_view>

#include "common/file_transcriber.h"

namespace utter::cli {

enum class TranscriptFormat { Text, Json, Srt, Vtt };

// Parses "txt", "json", "srt" or "vtt"; throws std::invalid_argument otherwise.
TranscriptFormat parse_transcript_format(std::string_view name);
std::string_view transcript_extension(TranscriptFormat format);

std::string format_transcript(const FileTranscript& transcript, TranscriptFormat format);

// "HH:MM:SS,mmm" (SRT) or "HH:MM:SS.mmm" (VTT).
std::string format_timestamp(double seconds, char millisecond_separator);

}  // namespace utter::cli
