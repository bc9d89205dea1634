#include "server/audio_upload.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace utter::server {

TemporaryAudioFile::TemporaryAudioFile(std::string_view bytes, std::string_view extension) {
  std::string suffix;
  for (const char c : extension) {
    if (std::isalnum(static_cast<unsigned char>(c)) && suffix.size() < 8) suffix += c;
  }
  if (!suffix.empty()) suffix.insert(suffix.begin(), '.');

  const std::filesystem::path folder = std::filesystem::temp_directory_path();
  std::string name_template = (folder / ("utter-upload-XXXXXX" + suffix)).string();
  std::vector<char> name(name_template.begin(), name_template.end());
  name.push_back('\0');
  const int fd = mkstemps(name.data(), static_cast<int>(suffix.size()));
  if (fd < 0) {
    throw std::runtime_error("cannot create a temporary file for uploaded audio in '" + folder.string() +
                             "': " + std::strerror(errno));
  }
  path_ = name.data();

  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t count = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      const int error = errno;
      ::close(fd);
      std::filesystem::remove(path_);
      throw std::runtime_error("failed to write uploaded audio to '" + path_.string() + "': " + std::strerror(error));
    }
    written += static_cast<size_t>(count);
  }
  ::close(fd);
}

TemporaryAudioFile::~TemporaryAudioFile() {
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

}  // namespace utter::server
