// Transcribing an audio file of any length: the file is decoded in blocks, cut into pieces of
// at most max_piece_seconds at pauses the voice-activity detector finds, and each piece is
// one utterance of a dictation session, so earlier text is context for later pieces.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace utter::inference {
class DictationSession;
}

namespace utter::cli {

struct TranscriptSegment {
  double start_seconds = 0.0;
  double end_seconds = 0.0;
  std::string text;
};

struct FileTranscript {
  std::filesystem::path path;
  double duration_seconds = 0.0;
  std::vector<TranscriptSegment> segments;

  // The segments' texts joined by single spaces.
  std::string text() const;
};

struct TranscriberOptions {
  double max_piece_seconds = 30.0;  // the model's recommended audio length per turn
  double min_piece_seconds = 5.0;   // a pause earlier than this in a piece is not used as a cut
};

class FileTranscriber {
 public:
  // Called after each piece with the audio seconds done so far and the file's length.
  using ProgressCallback = std::function<void(double done_seconds, double total_seconds)>;
  // Called with each piece of text as the model produces it.
  using TextCallback = std::function<void(std::string_view text)>;

  FileTranscriber(inference::DictationSession& session, TranscriberOptions options = {});

  // Starts a fresh conversation for the file; throws on unreadable audio or model errors.
  FileTranscript transcribe(const std::filesystem::path& path, const ProgressCallback& on_progress = {},
                            const TextCallback& on_text = {});

 private:
  inference::DictationSession& session_;
  TranscriberOptions options_;
};

}  // namespace utter::cli
