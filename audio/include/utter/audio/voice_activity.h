// Energy-based voice-activity detection on 16 kHz mono audio.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace utter::audio {

// Thresholds are in dB relative to the tracked noise floor unless named dbfs. The defaults were
// tuned on espeak-ng speech, clean and with white, pink or brown noise at 10 to 30 dB SNR, and on
// a speech recording with room noise.
struct VoiceActivityConfig {
  int block_ms = 10;              // analysis block length
  float high_pass_hz = 200.0f;    // energy below this (hum, rumble, wind) is ignored
  float onset_db = 10.0f;         // a block this far above the floor may start speech
  float continue_db = 6.0f;       // a block this far above the floor keeps speech going
  float min_speech_dbfs = -55.0f; // blocks quieter than this are never speech
  int onset_ms = 30;              // time above onset_db needed to start speech
  int onset_backtrack_ms = 100;   // how far before that a soft onset above continue_db may begin
  int hangover_ms = 300;          // pause length that ends a speech segment
  int min_speech_ms = 80;         // shorter segments are dropped as clicks
  int noise_window_ms = 1500;     // the noise floor is the minimum energy over this window
};

// A stretch of speech in 16 kHz samples from the stream start; end_sample is exclusive.
struct SpeechSegment {
  std::size_t start_sample = 0;
  std::size_t end_sample = 0;
};

// Finds speech in a stream fed in chunks of any size. Each 10 ms block is high-pass filtered
// (to ignore hum and rumble) and its energy compared with an adaptive noise floor. The floor is
// the minimum of the smoothed block energy over the last noise_window_ms, which stays near the
// noise during speech because of the dips between syllables. Speech ends after a hangover
// pause. Segment boundaries are placed on the first and last blocks above the thresholds, not
// where the decision was made.
class VoiceActivityDetector {
 public:
  explicit VoiceActivityDetector(VoiceActivityConfig config = {}, int sample_rate = 16000);

  void push(std::span<const float> samples);

  // Closes a segment still open at the end of the stream.
  void finish();

  // Returns the segments completed since the last call and clears that list.
  std::vector<SpeechSegment> take_segments();

  // True from the confirmed onset until the hangover has expired.
  bool in_speech() const { return in_speech_; }

  // Milliseconds since the last block that counted as speech (since the start if none did).
  double silence_ms() const;

  float noise_floor_dbfs() const { return noise_floor_db_; }

 private:
  void process_block(float energy_db);
  void update_noise_floor(float energy_db);

  VoiceActivityConfig config_;
  int sample_rate_;
  std::size_t block_samples_;
  int onset_blocks_;
  int hangover_blocks_;
  int min_speech_blocks_;
  int max_backtrack_blocks_;

  // Second-order high-pass filter (direct form I): coefficients and the last two inputs and
  // outputs.
  double b0_ = 1.0, b1_ = 0.0, b2_ = 0.0, a1_ = 0.0, a2_ = 0.0;
  double x1_ = 0.0, x2_ = 0.0, y1_ = 0.0, y2_ = 0.0;
  double block_energy_sum_ = 0.0;
  std::size_t block_fill_ = 0;

  std::int64_t block_index_ = 0;   // index of the block being decided
  float noise_floor_db_ = 0.0f;
  float smoothed_energy_ = 0.0f;      // mean square, smoothed over a few blocks
  bool floor_initialized_ = false;
  std::vector<float> recent_energy_db_;  // ring of smoothed energies for the floor window
  std::size_t recent_next_ = 0;
  bool in_speech_ = false;
  std::int64_t continue_run_start_ = -1;  // first block of the current run above continue_db
  int onset_run_ = 0;                     // consecutive blocks above onset_db
  std::int64_t speech_start_block_ = 0;
  std::int64_t last_speech_block_ = -1;
  std::vector<SpeechSegment> completed_;
};

// Chooses where to cut a long recording into chunks of at most max_chunk_samples, given its
// speech segments (sorted, as the detector returns them). Each cut lies in the middle of the
// longest pause in the second half of the allowed span, or of the whole span when that half
// has none. Where no pause exists at all, the cut falls at the limit. Returns the cut positions
// in samples, ascending, excluding 0 and total_samples.
std::vector<std::size_t> choose_split_points(const std::vector<SpeechSegment>& segments,
                                             std::size_t total_samples,
                                             std::size_t max_chunk_samples);

// Runs the detector over a whole 16 kHz mono signal.
std::vector<SpeechSegment> find_speech_segments(std::span<const float> samples,
                                                VoiceActivityConfig config = {});

}  // namespace utter::audio
