#include "utter/audio/voice_activity.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "utter/audio/audio_error.h"

namespace utter::audio {
namespace {

constexpr float kMinEnergyDb = -120.0f;

int milliseconds_to_blocks(int milliseconds, int block_ms) {
  return std::max(1, (milliseconds + block_ms / 2) / block_ms);
}

}  // namespace

VoiceActivityDetector::VoiceActivityDetector(VoiceActivityConfig config, int sample_rate)
    : config_(config), sample_rate_(sample_rate) {
  if (sample_rate < 1000) throw AudioError(fmt::format("invalid VAD sample rate {} Hz", sample_rate));
  if (config.block_ms < 1 || config.block_ms > 100) {
    throw AudioError(fmt::format("invalid VAD block length {} ms: expected 1 to 100", config.block_ms));
  }
  block_samples_ = static_cast<std::size_t>(sample_rate) * static_cast<std::size_t>(config.block_ms) / 1000;
  onset_blocks_ = milliseconds_to_blocks(config.onset_ms, config.block_ms);
  hangover_blocks_ = milliseconds_to_blocks(config.hangover_ms, config.block_ms);
  min_speech_blocks_ = milliseconds_to_blocks(config.min_speech_ms, config.block_ms);
  max_backtrack_blocks_ = milliseconds_to_blocks(config.onset_backtrack_ms, config.block_ms);
  recent_energy_db_.assign(static_cast<std::size_t>(milliseconds_to_blocks(config.noise_window_ms, config.block_ms)),
                           kMinEnergyDb);

  if (!(config.high_pass_hz > 0.0f && config.high_pass_hz < 0.45f * static_cast<float>(sample_rate))) {
    throw AudioError(fmt::format("invalid VAD high-pass corner {} Hz at {} Hz sampling",
                                 config.high_pass_hz, sample_rate));
  }
  // Butterworth high-pass biquad (Q = 1/sqrt(2)) from the bilinear transform, in the form of
  // R. Bristow-Johnson's "Audio EQ Cookbook".
  const double omega = 2.0 * std::numbers::pi * config.high_pass_hz / sample_rate;
  const double q = 1.0 / std::numbers::sqrt2;
  const double alpha = std::sin(omega) / (2.0 * q);
  const double cos_omega = std::cos(omega);
  const double a0 = 1.0 + alpha;
  b0_ = (1.0 + cos_omega) / 2.0 / a0;
  b1_ = -(1.0 + cos_omega) / a0;
  b2_ = b0_;
  a1_ = -2.0 * cos_omega / a0;
  a2_ = (1.0 - alpha) / a0;
}

void VoiceActivityDetector::push(std::span<const float> samples) {
  for (const float sample : samples) {
    const double filtered = b0_ * sample + b1_ * x1_ + b2_ * x2_ - a1_ * y1_ - a2_ * y2_;
    x2_ = x1_;
    x1_ = sample;
    y2_ = y1_;
    y1_ = filtered;
    block_energy_sum_ += filtered * filtered;
    if (++block_fill_ == block_samples_) {
      const double mean_square = block_energy_sum_ / static_cast<double>(block_samples_);
      const float energy_db =
          std::max(kMinEnergyDb, static_cast<float>(10.0 * std::log10(mean_square + 1e-13)));
      process_block(energy_db);
      block_energy_sum_ = 0.0;
      block_fill_ = 0;
    }
  }
}

void VoiceActivityDetector::process_block(float energy_db) {
  update_noise_floor(energy_db);

  const bool audible = energy_db > config_.min_speech_dbfs;
  const bool above_continue = audible && energy_db > noise_floor_db_ + config_.continue_db;
  const bool above_onset = audible && energy_db > noise_floor_db_ + config_.onset_db;

  if (above_continue) {
    if (continue_run_start_ < 0) continue_run_start_ = block_index_;
  } else {
    continue_run_start_ = -1;
  }
  onset_run_ = above_onset ? onset_run_ + 1 : 0;

  if (!in_speech_) {
    if (onset_run_ >= onset_blocks_) {
      in_speech_ = true;
      // Speech began where the signal first rose above the lower threshold, which catches soft
      // onsets (fricatives, plosive bursts) before the louder part that confirmed it.
      // The look-back is bounded so that noise hovering near the threshold is not included.
      const std::int64_t earliest = block_index_ - onset_run_ + 1 - max_backtrack_blocks_;
      speech_start_block_ = continue_run_start_ >= 0 ? std::max(continue_run_start_, earliest)
                                                     : block_index_ - onset_run_ + 1;
      last_speech_block_ = block_index_;
    }
  } else if (above_continue) {
    last_speech_block_ = block_index_;
  } else if (block_index_ - last_speech_block_ >= hangover_blocks_) {
    in_speech_ = false;
    if (last_speech_block_ - speech_start_block_ + 1 >= min_speech_blocks_) {
      completed_.push_back({static_cast<std::size_t>(speech_start_block_) * block_samples_,
                            static_cast<std::size_t>(last_speech_block_ + 1) * block_samples_});
    }
  }

  ++block_index_;
}

void VoiceActivityDetector::update_noise_floor(float energy_db) {
  // Smoothing over about three blocks steadies the minimum, which raw 10 ms energies of noise
  // would pull a few dB low.
  const float power = std::pow(10.0f, energy_db / 10.0f);
  if (!floor_initialized_) smoothed_energy_ = power;
  smoothed_energy_ += 0.3f * (power - smoothed_energy_);
  const float smoothed_db = std::max(kMinEnergyDb, 10.0f * std::log10(smoothed_energy_ + 1e-13f));
  if (!floor_initialized_) {
    // NOTE: a file that starts with a moment of digital silence keeps a floor near -120 dBFS for
    // one window, so steady noise above min_speech_dbfs right after it counts as speech.
    std::fill(recent_energy_db_.begin(), recent_energy_db_.end(), smoothed_db);
    floor_initialized_ = true;
  }
  recent_energy_db_[recent_next_] = smoothed_db;
  recent_next_ = (recent_next_ + 1) % recent_energy_db_.size();
  noise_floor_db_ = *std::min_element(recent_energy_db_.begin(), recent_energy_db_.end());
}

void VoiceActivityDetector::finish() {
  if (!in_speech_) return;
  in_speech_ = false;
  if (last_speech_block_ - speech_start_block_ + 1 >= min_speech_blocks_) {
    completed_.push_back({static_cast<std::size_t>(speech_start_block_) * block_samples_,
                          static_cast<std::size_t>(last_speech_block_ + 1) * block_samples_});
  }
}

std::vector<SpeechSegment> VoiceActivityDetector::take_segments() {
  std::vector<SpeechSegment> segments;
  segments.swap(completed_);
  return segments;
}

double VoiceActivityDetector::silence_ms() const {
  const std::int64_t quiet_blocks = block_index_ - (last_speech_block_ + 1);
  return static_cast<double>(quiet_blocks) * config_.block_ms;
}

std::vector<SpeechSegment> find_speech_segments(std::span<const float> samples,
                                                VoiceActivityConfig config) {
  VoiceActivityDetector detector(config);
  detector.push(samples);
  detector.finish();
  return detector.take_segments();
}

std::vector<std::size_t> choose_split_points(const std::vector<SpeechSegment>& segments,
                                             std::size_t total_samples,
                                             std::size_t max_chunk_samples) {
  if (max_chunk_samples == 0) throw AudioError("the maximum chunk length must be at least one sample");

  // Pauses as [start, end): before the first segment, between segments and after the last.
  std::vector<SpeechSegment> pauses;
  std::size_t previous_end = 0;
  for (const SpeechSegment& segment : segments) {
    if (segment.start_sample > previous_end) pauses.push_back({previous_end, segment.start_sample});
    previous_end = std::max(previous_end, segment.end_sample);
  }
  if (total_samples > previous_end) pauses.push_back({previous_end, total_samples});

  std::vector<std::size_t> cuts;
  std::size_t chunk_start = 0;
  while (total_samples - chunk_start > max_chunk_samples) {
    const std::size_t limit = chunk_start + max_chunk_samples;
    const std::size_t preferred_from = chunk_start + max_chunk_samples / 2;
    std::size_t best_cut = 0;
    std::size_t best_length = 0;
    bool best_preferred = false;
    for (const SpeechSegment& pause : pauses) {
      const std::size_t middle = pause.start_sample + (pause.end_sample - pause.start_sample) / 2;
      if (middle <= chunk_start || middle > limit) continue;
      const bool preferred = middle >= preferred_from;
      const std::size_t length = pause.end_sample - pause.start_sample;
      if ((preferred && !best_preferred) || (preferred == best_preferred && length > best_length)) {
        best_cut = middle;
        best_length = length;
        best_preferred = preferred;
      }
    }
    if (best_cut == 0) best_cut = limit;
    cuts.push_back(best_cut);
    chunk_start = best_cut;
  }
  return cuts;
}

}  // namespace utter::audio
