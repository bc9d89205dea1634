#include "utter/audio/voice_activity.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "utter/audio/audio_error.h"

namespace utter::audio {
namespace {

constexpr float kMinEnergyDb = -120.0f;

// Pole of the DC-blocking high-pass filter; at 16 kHz its corner is near 40 Hz.
constexpr float kHighPassPole = 0.985f;

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
}

void VoiceActivityDetector::push(std::span<const float> samples) {
  for (const float sample : samples) {
    const float filtered = sample - previous_input_ + kHighPassPole * previous_output_;
    previous_input_ = sample;
    previous_output_ = filtered;
    block_energy_sum_ += static_cast<double>(filtered) * filtered;
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
  const float block_seconds = static_cast<float>(config_.block_ms) / 1000.0f;
  if (!floor_initialized_) {
    noise_floor_db_ = energy_db;
    floor_initialized_ = true;
  }

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
      speech_start_block_ = continue_run_start_ >= 0 ? continue_run_start_ : block_index_;
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

  // The floor follows falls at once and rises slowly, so it tracks the quietest recent blocks:
  // the background noise between words.
  if (energy_db < noise_floor_db_) {
    noise_floor_db_ = energy_db;
  } else {
    const float rise = in_speech_ ? config_.floor_rise_in_speech_db_per_s : config_.floor_rise_db_per_s;
    noise_floor_db_ = std::min(energy_db, noise_floor_db_ + rise * block_seconds);
  }
  ++block_index_;
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

}  // namespace utter::audio
