#include "utter/audio/wav_writer.h"

#include <sndfile.h>

#include <fmt/core.h>
#include <fmt/std.h>

#include "sndfile_message.h"
#include "utter/audio/audio_error.h"

namespace utter::audio {

struct WavWriter::Handle {
  SNDFILE* file = nullptr;
};

WavWriter::WavWriter(const std::filesystem::path& path, int sample_rate, int channels)
    : path_(path), channels_(channels), handle_(std::make_unique<Handle>()) {
  if (sample_rate < 1000 || channels < 1 || channels > 64) {
    throw AudioError(fmt::format("cannot write {}: invalid format {} Hz, {} channels", path,
                                 sample_rate, channels));
  }
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = channels;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  handle_->file = sf_open(path.c_str(), SFM_WRITE, &info);
  if (handle_->file == nullptr) {
    throw AudioError(fmt::format("cannot create WAV file {}: {}. Check that its folder exists and is writable",
                                 path, sndfile_message(sf_strerror(nullptr))));
  }
  // Samples beyond full scale saturate instead of wrapping around.
  sf_command(handle_->file, SFC_SET_CLIPPING, nullptr, SF_TRUE);
}

WavWriter::~WavWriter() {
  if (handle_ && handle_->file != nullptr) sf_close(handle_->file);
}

void WavWriter::write(std::span<const float> interleaved) {
  if (handle_->file == nullptr) throw AudioError(fmt::format("WAV file {} is already closed", path_));
  const auto frames = static_cast<sf_count_t>(interleaved.size() / static_cast<std::size_t>(channels_));
  if (sf_writef_float(handle_->file, interleaved.data(), frames) != frames) {
    throw AudioError(fmt::format("writing {} failed: {}", path_, sndfile_message(sf_strerror(handle_->file))));
  }
}

void WavWriter::close() {
  if (handle_->file == nullptr) return;
  const int error = sf_close(handle_->file);
  handle_->file = nullptr;
  if (error != 0) throw AudioError(fmt::format("closing {} failed: {}", path_, sndfile_message(sf_error_number(error))));
}

}  // namespace utter::audio
