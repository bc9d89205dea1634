// Uploaded audio bytes in a private temporary file, because the decoders read from files.
#pragma once

#include <filesystem>
#include <string_view>

namespace utter::server {

class TemporaryAudioFile {
 public:
  // Writes `bytes` to a new file (mode 0600) in the system's temporary folder. The file name
  // ends in `extension`, keeping only its letters and digits, for decoders that look at it.
  // Throws std::runtime_error naming the folder when the file cannot be written.
  TemporaryAudioFile(std::string_view bytes, std::string_view extension);
  ~TemporaryAudioFile();
  TemporaryAudioFile(const TemporaryAudioFile&) = delete;
  TemporaryAudioFile& operator=(const TemporaryAudioFile&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace utter::server
