// Writing 16-bit PCM WAV files.
#pragma once

#include <filesystem>
#include <memory>
#include <span>

namespace utter::audio {

// Writes float samples in [-1, 1] as 16-bit PCM WAV; louder samples are clipped. The header is
// finalized by close() or the destructor, so a file is valid even if recording stops early.
class WavWriter {
 public:
  WavWriter(const std::filesystem::path& path, int sample_rate, int channels);
  ~WavWriter();
  WavWriter(const WavWriter&) = delete;
  WavWriter& operator=(const WavWriter&) = delete;

  void write(std::span<const float> interleaved);
  void close();

 private:
  std::filesystem::path path_;
  int channels_;
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

}  // namespace utter::audio
