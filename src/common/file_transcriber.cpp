#include "common/file_transcriber.h"

#include <algorithm>
#include <optional>

#include "utter/audio/audio_format.h"
#include "utter/audio/file_source.h"
#include "utter/audio/voice_activity.h"
#include "utter/inference/dictation_session.h"

namespace utter::cli {
namespace {

constexpr double kSampleRate = audio::kModelSampleRate;

// Speech found so far, as absolute sample ranges, with the detector that finds it.
class SpeechMap {
 public:
  void push(std::span<const float> samples) {
    detector_.push(samples);
    collect();
  }
  void finish() {
    detector_.finish();
    collect();
  }

  bool has_speech(size_t begin, size_t end) const {
    if (detector_.in_speech()) return true;
    for (const auto& segment : segments_) {
      if (segment.start_sample < end && segment.end_sample > begin) return true;
    }
    return false;
  }

  // The middle of the last pause that ends after `earliest` and has its middle before `latest`,
  // if there is one. A pause is the gap between two segments, or the silence after the last
  // segment while no speech is going on.
  std::optional<size_t> last_pause_middle(size_t earliest, size_t latest, size_t stream_end) const {
    std::optional<size_t> best;
    auto consider = [&](size_t gap_begin, size_t gap_end) {
      const size_t middle = gap_begin + (gap_end - gap_begin) / 2;
      if (middle > earliest && middle <= latest) best = std::max(best.value_or(0), middle);
    };
    for (size_t i = 0; i + 1 < segments_.size(); ++i) consider(segments_[i].end_sample, segments_[i + 1].start_sample);
    if (!detector_.in_speech()) {
      consider(segments_.empty() ? 0 : segments_.back().end_sample, stream_end);
    }
    return best;
  }

 private:
  void collect() {
    for (const auto& segment : detector_.take_segments()) segments_.push_back(segment);
  }

  audio::VoiceActivityDetector detector_;
  std::vector<audio::SpeechSegment> segments_;
};

}  // namespace

std::string FileTranscript::text() const {
  std::string joined;
  for (const auto& segment : segments) {
    if (segment.text.empty()) continue;
    if (!joined.empty()) joined += ' ';
    joined += segment.text;
  }
  return joined;
}

FileTranscriber::FileTranscriber(inference::DictationSession& session, TranscriberOptions options)
    : session_(session), options_(options) {}

FileTranscript FileTranscriber::transcribe(const std::filesystem::path& path, const ProgressCallback& on_progress,
                                           const TextCallback& on_text) {
  audio::FileSource source(path);
  FileTranscript transcript;
  transcript.path = path;
  const double total_seconds = source.info().duration_seconds();

  session_.reset();
  SpeechMap speech;
  std::vector<float> buffer;  // samples from buffer_start on
  size_t buffer_start = 0;
  size_t stream_end = 0;
  bool any_piece_transcribed = false;
  const auto max_piece = static_cast<size_t>(options_.max_piece_seconds * kSampleRate);
  const auto min_piece = static_cast<size_t>(options_.min_piece_seconds * kSampleRate);

  auto transcribe_piece = [&](size_t piece_end, bool last_piece) {
    const size_t length = piece_end - buffer_start;
    const bool speech_inside = speech.has_speech(buffer_start, piece_end);
    // Silent pieces are skipped: the model tends to invent text for silence. A file's only
    // piece is always transcribed, so a short file never comes back empty without trying.
    if (speech_inside || (last_piece && !any_piece_transcribed)) {
      session_.begin_utterance();
      session_.push_audio(std::span<const float>(buffer.data(), length));
      auto result = session_.end_utterance([&](std::string_view text, int32_t) {
        if (on_text) on_text(text);
        return true;
      });
      TranscriptSegment segment;
      segment.start_seconds = buffer_start / kSampleRate;
      segment.end_seconds = piece_end / kSampleRate;
      segment.text = result.text;
      transcript.segments.push_back(std::move(segment));
      any_piece_transcribed = true;
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(length));
    buffer_start = piece_end;
    if (on_progress) on_progress(buffer_start / kSampleRate, total_seconds);
  };

  std::vector<float> block;
  while (true) {
    block.clear();
    const bool more = source.read(block);
    if (!block.empty()) {
      speech.push(block);
      buffer.insert(buffer.end(), block.begin(), block.end());
      stream_end += block.size();
    }
    if (!more) break;
    while (buffer.size() >= max_piece) {
      const auto pause = speech.last_pause_middle(buffer_start + min_piece, buffer_start + max_piece, stream_end);
      transcribe_piece(pause.value_or(buffer_start + max_piece), false);
    }
  }

  speech.finish();
  while (buffer.size() > max_piece) {
    const auto pause = speech.last_pause_middle(buffer_start + min_piece, buffer_start + max_piece, stream_end);
    transcribe_piece(pause.value_or(buffer_start + max_piece), false);
  }
  if (!buffer.empty()) transcribe_piece(stream_end, true);
  transcript.duration_seconds = stream_end / kSampleRate;
  return transcript;
}

}  // namespace utter::cli
