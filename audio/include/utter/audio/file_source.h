// Decoding audio files (WAV, FLAC, Ogg Vorbis, Opus, MP3) into 16 kHz mono, block by block.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "utter/audio/frame_pipeline.h"

namespace utter::audio {

struct AudioFileInfo {
  int sample_rate = 0;
  int channels = 0;
  // Sample frames per channel as the header states them (an estimate for MP3), or -1 when the
  // header gives no length, as for an Ogg file cut short.
  std::int64_t frames = 0;
  std::string format;  // e.g. "WAV (Microsoft), Signed 16 bit PCM"
  // Returns the length in seconds, or 0 when it is unknown.
  double duration_seconds() const {
    return sample_rate > 0 && frames > 0 ? static_cast<double>(frames) / sample_rate : 0.0;
  }
};

// Streams a file through libsndfile, averages its channels and resamples to 16 kHz. Memory use
// is a few blocks, whatever the file's length. Raises AudioError when the file is missing,
// empty, contains no samples, is not audio or fails to decode.
class FileSource {
 public:
  explicit FileSource(const std::filesystem::path& path,
                      ResamplerQuality quality = ResamplerQuality::kMedium);
  ~FileSource();
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  const AudioFileInfo& info() const { return info_; }

  // Appends the next block of 16 kHz mono samples to out; returns false once the file is done.
  bool read(std::vector<float>& out);

  // Returns the next 640-sample frame; the last one is zero-padded. Do not mix with read().
  std::optional<Frame> next_frame();

 private:
  bool read_file_block(std::vector<float>& interleaved);

  std::filesystem::path path_;
  AudioFileInfo info_;
  struct Handle;
  std::unique_ptr<Handle> handle_;
  Resampler resampler_;
  FramePipeline pipeline_;
  std::vector<float> block_;
  std::int64_t frames_read_ = 0;
  bool end_of_file_ = false;
  bool finished_ = false;
};

// Decodes a whole file to 16 kHz mono samples. Meant for clips; stream long files with
// FileSource.
std::vector<float> decode_file_16k_mono(const std::filesystem::path& path,
                                        ResamplerQuality quality = ResamplerQuality::kMedium);

// Reads only the header of a file.
AudioFileInfo probe_audio_file(const std::filesystem::path& path);

}  // namespace utter::audio
