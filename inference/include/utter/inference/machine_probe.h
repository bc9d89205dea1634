// Short measurements of the machine's own limits, so that speed figures can be stated as a
// share of what the hardware allows in the same run.
#pragma once

#include <string>

namespace utter::inference {

// Reads a buffer of `bytes` (much larger than the caches) with `threads` threads, `repeat`
// times, and returns the best read rate in bytes per second.
double measure_read_bandwidth(int threads, size_t bytes, int repeat);

// Runs independent int8 multiply-add chains (AVX-512 VNNI where present, else plain C++) on
// `threads` threads for about `seconds`, in five slices, and returns the integer operations
// per second of the best slice. One multiply plus one add count as two operations.
double measure_int8_peak(int threads, double seconds);

// The kernel level in use ("scalar", "avx2" or "avx512").
std::string active_kernel_level_name();

}  // namespace utter::inference
