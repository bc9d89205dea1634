// The editor's log: lines for the terminal it was started from.
#pragma once

#include <cstdio>

namespace utter::app {

// Returns a stream on a copy of the standard error descriptor taken at the first call. The
// audio library points descriptor 2 at /dev/null while PortAudio probes devices on the audio
// thread, so lines that other threads write to stderr meanwhile would be lost. Call it once
// before starting threads; it falls back to stderr when the copy fails.
std::FILE* app_log();

}  // namespace utter::app
