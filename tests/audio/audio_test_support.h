// Helpers shared by the audio tests: temporary folders, shell commands, an independent WAV
// reader and signal comparisons.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace utter::audio::testing {

inline std::filesystem::path testdata_audio(const std::string& name) {
  return std::filesystem::path(UTTER_TESTDATA_DIR) / "audio" / name;
}

// A fresh folder under the system temporary directory, removed with its contents at the end.
class TempDir {
 public:
  TempDir() {
    std::random_device device;
    const auto base = std::filesystem::temp_directory_path();
    for (int attempt = 0; attempt < 100; ++attempt) {
      path_ = base / ("utter-audio-test-" + std::to_string(device()));
      if (std::filesystem::create_directory(path_)) return;
    }
    throw std::runtime_error("cannot create a temporary folder under " + base.string());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Quotes a path for the shell (the test paths contain no single quotes).
inline std::string shell_quote(const std::filesystem::path& path) {
  std::string text(1, '\'');
  text.append(path.string());
  text.push_back('\'');
  return text;
}

// Runs a shell command and returns its exit status.
inline int run_shell(const std::string& command) {
  const int status = std::system(command.c_str());
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// Reads a mono 16-bit PCM WAV file by walking its RIFF chunks, without libsndfile, so the
// decoder under test is checked against a second implementation.
inline std::vector<float> read_pcm16_mono_wav(const std::filesystem::path& path, int* sample_rate) {
  std::ifstream file(path, std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  auto u32 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(bytes.at(at)) | static_cast<std::uint32_t>(bytes.at(at + 1)) << 8 |
           static_cast<std::uint32_t>(bytes.at(at + 2)) << 16 | static_cast<std::uint32_t>(bytes.at(at + 3)) << 24;
  };
  auto u16 = [&](std::size_t at) {
    return static_cast<std::uint16_t>(bytes.at(at) | bytes.at(at + 1) << 8);
  };
  if (bytes.size() < 12 || std::string(bytes.begin(), bytes.begin() + 4) != "RIFF") {
    throw std::runtime_error("not a RIFF file: " + path.string());
  }
  std::vector<float> samples;
  std::size_t at = 12;
  while (at + 8 <= bytes.size()) {
    const std::string id(bytes.begin() + static_cast<std::ptrdiff_t>(at), bytes.begin() + static_cast<std::ptrdiff_t>(at) + 4);
    const std::uint32_t size = u32(at + 4);
    if (id == "fmt ") {
      if (u16(at + 8) != 1 || u16(at + 10) != 1 || u16(at + 22) != 16) {
        throw std::runtime_error("expected mono 16-bit PCM in " + path.string());
      }
      *sample_rate = static_cast<int>(u32(at + 12));
    } else if (id == "data") {
      const std::size_t count = std::min<std::size_t>(size, bytes.size() - at - 8) / 2;
      samples.resize(count);
      for (std::size_t i = 0; i < count; ++i) {
        samples[i] = static_cast<float>(static_cast<std::int16_t>(u16(at + 8 + 2 * i))) / 32768.0f;
      }
    }
    at += 8 + size + (size & 1);
  }
  return samples;
}

// Returns the lag (in samples) that best aligns `test` to `reference` within +-max_lag, by
// normalized cross-correlation over the first `window` samples: test[i + lag] ~ reference[i].
inline int best_lag(const std::vector<float>& reference, const std::vector<float>& test, int max_lag,
                    std::size_t window, double* correlation = nullptr) {
  int best = 0;
  double best_value = -2.0;
  for (int lag = -max_lag; lag <= max_lag; ++lag) {
    double dot = 0.0;
    double reference_energy = 0.0;
    double test_energy = 0.0;
    for (std::size_t i = 0; i < window && i < reference.size(); ++i) {
      const std::ptrdiff_t j = static_cast<std::ptrdiff_t>(i) + lag;
      if (j < 0 || j >= static_cast<std::ptrdiff_t>(test.size())) continue;
      dot += static_cast<double>(reference[i]) * test[static_cast<std::size_t>(j)];
      reference_energy += static_cast<double>(reference[i]) * reference[i];
      test_energy += static_cast<double>(test[static_cast<std::size_t>(j)]) * test[static_cast<std::size_t>(j)];
    }
    const double value = dot / std::sqrt(reference_energy * test_energy + 1e-30);
    if (value > best_value) {
      best_value = value;
      best = lag;
    }
  }
  if (correlation != nullptr) *correlation = best_value;
  return best;
}

// Signal-to-noise ratio in dB of `test` (shifted by lag) against `reference`, over the samples
// both cover.
inline double snr_db(const std::vector<float>& reference, const std::vector<float>& test, int lag = 0) {
  double signal = 0.0;
  double noise = 0.0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    const std::ptrdiff_t j = static_cast<std::ptrdiff_t>(i) + lag;
    if (j < 0 || j >= static_cast<std::ptrdiff_t>(test.size())) continue;
    const double difference = static_cast<double>(test[static_cast<std::size_t>(j)]) - reference[i];
    signal += static_cast<double>(reference[i]) * reference[i];
    noise += difference * difference;
  }
  if (noise == 0.0) return INFINITY;
  return 10.0 * std::log10(signal / noise);
}

// Decimates by averaging groups of `factor` samples, for a coarse correlation search.
inline std::vector<float> decimate(const std::vector<float>& samples, std::size_t factor) {
  std::vector<float> out(samples.size() / factor);
  for (std::size_t i = 0; i < out.size(); ++i) {
    float sum = 0.0f;
    for (std::size_t k = 0; k < factor; ++k) sum += samples[i * factor + k];
    out[i] = sum / static_cast<float>(factor);
  }
  return out;
}

inline double correlation_at(const std::vector<float>& reference, const std::vector<float>& recording,
                      std::size_t offset) {
  double dot = 0.0;
  double reference_energy = 0.0;
  double recording_energy = 0.0;
  for (std::size_t i = 0; i < reference.size() && offset + i < recording.size(); ++i) {
    dot += static_cast<double>(reference[i]) * recording[offset + i];
    reference_energy += static_cast<double>(reference[i]) * reference[i];
    recording_energy += static_cast<double>(recording[offset + i]) * recording[offset + i];
  }
  return dot / std::sqrt(reference_energy * recording_energy + 1e-30);
}

// Finds where `reference` starts inside `recording`: a search on 8x decimated signals, then
// a refinement at full rate.
inline std::size_t find_offset(const std::vector<float>& reference, const std::vector<float>& recording,
                        double* correlation) {
  const std::vector<float> coarse_reference = decimate(reference, 8);
  const std::vector<float> coarse_recording = decimate(recording, 8);
  std::size_t best = 0;
  double best_value = -2.0;
  for (std::size_t offset = 0; offset + coarse_reference.size() / 2 < coarse_recording.size(); ++offset) {
    const double value = correlation_at(coarse_reference, coarse_recording, offset);
    if (value > best_value) {
      best_value = value;
      best = offset;
    }
  }
  const std::size_t center = best * 8;
  best_value = -2.0;
  for (std::size_t offset = center > 16 ? center - 16 : 0; offset <= center + 16; ++offset) {
    const double value = correlation_at(reference, recording, offset);
    if (value > best_value) {
      best_value = value;
      best = offset;
    }
  }
  *correlation = best_value;
  return best;
}

inline double rms_of(const std::vector<float>& samples) {
  double sum = 0.0;
  for (const float value : samples) sum += static_cast<double>(value) * value;
  return samples.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(samples.size()));
}

}  // namespace utter::audio::testing
