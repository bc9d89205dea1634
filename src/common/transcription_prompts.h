// The default prompts for transcription, shipped as assets and shared by `utter transcribe`
// and `utter serve` so both send the model the same text.
#pragma once

#include <string>

namespace utter::cli {

// The system prompt and the instruction after the audio, without trailing line breaks.
// Both throw std::runtime_error when the asset cannot be read.
std::string default_transcription_system_prompt();
std::string default_transcription_instruction();

}  // namespace utter::cli
