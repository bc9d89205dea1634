// The audio format the model hears.
#pragma once

namespace utter::audio {

// Gemma 4 takes 16 kHz mono audio in frames of 640 samples (40 ms), one token per frame.
inline constexpr int kModelSampleRate = 16000;
inline constexpr int kFrameSamples = 640;

}  // namespace utter::audio
