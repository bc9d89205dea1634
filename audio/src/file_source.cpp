#include "utter/audio/file_source.h"

#include <sndfile.h>

#include <fmt/core.h>
#include <fmt/std.h>

#include <system_error>

#include "sndfile_message.h"
#include "utter/audio/audio_error.h"

namespace utter::audio {
namespace {

// Sample frames decoded per block: large enough to amortize library calls, small enough that
// memory stays a few hundred kilobytes even for many channels.
constexpr sf_count_t kBlockFrames = 8192;
constexpr int kMaxChannels = 64;
constexpr int kMinSampleRate = 1000;
constexpr int kMaxSampleRate = 768000;
constexpr double kMaxReserveSeconds = 4.0 * 3600.0;
constexpr const char* kSupportedFormats = "WAV, FLAC, Ogg Vorbis, Opus or MP3";

std::string describe_format(int format) {
  SF_FORMAT_INFO major{};
  major.format = format & SF_FORMAT_TYPEMASK;
  std::string text = "unknown container";
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &major, sizeof(major)) == 0 && major.name != nullptr) {
    text = major.name;
  }
  SF_FORMAT_INFO subtype{};
  subtype.format = format & SF_FORMAT_SUBMASK;
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &subtype, sizeof(subtype)) == 0 &&
      subtype.name != nullptr) {
    text += fmt::format(", {}", subtype.name);
  }
  return text;
}

}  // namespace

struct FileSource::Handle {
  explicit Handle(SNDFILE* opened) : file(opened) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  SNDFILE* file = nullptr;
  ~Handle() {
    if (file != nullptr) sf_close(file);
  }
};

namespace {

// Opens a file and checks its header; shared by FileSource and probe_audio_file.
SNDFILE* open_checked(const std::filesystem::path& path, AudioFileInfo& info) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) {
    throw AudioError(fmt::format("audio file {} not found", path));
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw AudioError(fmt::format("audio file {} is not a regular file", path));
  }
  const auto size = std::filesystem::file_size(path, error);
  if (!error && size == 0) {
    throw AudioError(fmt::format("audio file {} is empty (0 bytes)", path));
  }

  SF_INFO sf_info{};
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, &sf_info);
  if (file == nullptr) {
    throw AudioError(fmt::format("cannot decode {}: {}. Expected a {} file", path,
                                 sndfile_message(sf_strerror(nullptr)), kSupportedFormats));
  }
  if (sf_info.channels < 1 || sf_info.channels > kMaxChannels) {
    sf_close(file);
    throw AudioError(fmt::format("audio file {} has {} channels; at most {} are supported", path,
                                 sf_info.channels, kMaxChannels));
  }
  if (sf_info.samplerate < kMinSampleRate || sf_info.samplerate > kMaxSampleRate) {
    sf_close(file);
    throw AudioError(fmt::format("audio file {} has an invalid sample rate of {} Hz (expected {} to {})",
                                 path, sf_info.samplerate, kMinSampleRate, kMaxSampleRate));
  }
  if (sf_info.frames <= 0) {
    sf_close(file);
    throw AudioError(fmt::format("audio file {} contains no samples", path));
  }
  info.sample_rate = sf_info.samplerate;
  info.channels = sf_info.channels;
  // libsndfile reports SF_COUNT_MAX when it cannot tell the length.
  info.frames = sf_info.frames == SF_COUNT_MAX ? -1 : sf_info.frames;
  info.format = describe_format(sf_info.format);
  return file;
}

}  // namespace

FileSource::FileSource(const std::filesystem::path& path, ResamplerQuality quality)
    : path_(path),
      handle_(std::make_unique<Handle>(open_checked(path, info_))),
      resampler_(info_.sample_rate, info_.channels, quality),
      pipeline_(info_.sample_rate, info_.channels, quality) {
  // libsndfile scales integer samples read as floats to [-1, 1) by default. Samples of float
  // files pass through unchanged, even beyond full scale.
}

FileSource::~FileSource() = default;

bool FileSource::read_file_block(std::vector<float>& interleaved) {
  interleaved.resize(static_cast<std::size_t>(kBlockFrames) * static_cast<std::size_t>(info_.channels));
  const sf_count_t got = sf_readf_float(handle_->file, interleaved.data(), kBlockFrames);
  if (got < 0) {
    throw AudioError(fmt::format("decoding {} failed: {}", path_, sndfile_message(sf_strerror(handle_->file))));
  }
  interleaved.resize(static_cast<std::size_t>(got) * static_cast<std::size_t>(info_.channels));
  frames_read_ += got;
  if (got < kBlockFrames) {
    // NOTE: libsndfile 1.2 decodes a truncated WAV, MP3 or Ogg file, or an Ogg Vorbis stream with
    // damaged pages, as far as it can without reporting an error. Damaged FLAC and MP3 data fail.
    const int error = sf_error(handle_->file);
    if (error != SF_ERR_NO_ERROR) {
      throw AudioError(fmt::format("decoding {} failed after {} sample frames: {}", path_,
                                   frames_read_, sndfile_message(sf_error_number(error))));
    }
    if (frames_read_ == 0) {
      throw AudioError(fmt::format("audio file {} contains no decodable samples", path_));
    }
    return false;
  }
  return true;
}

bool FileSource::read(std::vector<float>& out) {
  if (finished_) return false;
  if (end_of_file_) {
    resampler_.finish(out);
    finished_ = true;
    return true;
  }
  end_of_file_ = !read_file_block(block_);
  resampler_.process(block_, out);
  return true;
}

std::optional<Frame> FileSource::next_frame() {
  while (true) {
    if (auto frame = pipeline_.next_frame()) return frame;
    if (end_of_file_) return std::nullopt;
    end_of_file_ = !read_file_block(block_);
    pipeline_.push(block_);
    if (end_of_file_) pipeline_.finish();
  }
}

std::vector<float> decode_file_16k_mono(const std::filesystem::path& path, ResamplerQuality quality) {
  FileSource source(path, quality);
  std::vector<float> samples;
  // The header's length is only a hint: it may be an estimate, or absurd in a damaged file.
  const double expected_seconds = std::min(source.info().duration_seconds(), kMaxReserveSeconds);
  samples.reserve(static_cast<std::size_t>(expected_seconds * kModelSampleRate) + 1024);
  while (source.read(samples)) {
  }
  return samples;
}

AudioFileInfo probe_audio_file(const std::filesystem::path& path) {
  AudioFileInfo info;
  sf_close(open_checked(path, info));
  return info;
}

}  // namespace utter::audio
