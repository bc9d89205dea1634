#include "portaudio_session.h"

#include <fcntl.h>
#include <unistd.h>

#include <portaudio.h>

#include <fmt/core.h>

#include <cstdio>

#include "utter/audio/audio_error.h"

namespace utter::audio {
namespace {

// Points stderr at /dev/null for its lifetime.
class StderrSilencer {
 public:
  StderrSilencer() {
    std::fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    const int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved_ >= 0 && null_fd >= 0) dup2(null_fd, STDERR_FILENO);
    if (null_fd >= 0) close(null_fd);
  }
  ~StderrSilencer() {
    std::fflush(stderr);
    if (saved_ >= 0) {
      dup2(saved_, STDERR_FILENO);
      close(saved_);
    }
  }
  StderrSilencer(const StderrSilencer&) = delete;
  StderrSilencer& operator=(const StderrSilencer&) = delete;

 private:
  int saved_ = -1;
};

}  // namespace

PortAudioSession::PortAudioSession() {
  PaError error = paNoError;
  {
    // NOTE: this hides everything written to stderr by any thread during device probing.
    StderrSilencer silencer;
    error = Pa_Initialize();
  }
  if (error != paNoError) {
    throw AudioError(fmt::format("PortAudio failed to start: {}", Pa_GetErrorText(error)));
  }
}

PortAudioSession::~PortAudioSession() { Pa_Terminate(); }

}  // namespace utter::audio
