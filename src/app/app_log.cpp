#include "app/app_log.h"

#include <fcntl.h>
#include <unistd.h>

namespace utter::app {

std::FILE* app_log() {
  static std::FILE* const log = [] {
    const int descriptor = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
    std::FILE* stream = descriptor >= 0 ? fdopen(descriptor, "w") : nullptr;
    if (stream == nullptr) {
      if (descriptor >= 0) close(descriptor);
      return stderr;
    }
    std::setvbuf(stream, nullptr, _IONBF, 0);  // unbuffered like stderr, so lines keep their order
    return stream;
  }();
  return log;
}

}  // namespace utter::app
