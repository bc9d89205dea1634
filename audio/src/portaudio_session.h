// Reference-counted PortAudio initialization.
#pragma once

namespace utter::audio {

// Initializes PortAudio for its lifetime. PortAudio counts nested initializations itself, so
// several sessions may overlap. ALSA's diagnostics about absent cards, printed on stderr while
// it probes devices, are hidden; PortAudio's own errors are still raised as AudioError.
class PortAudioSession {
 public:
  PortAudioSession();
  ~PortAudioSession();
  PortAudioSession(const PortAudioSession&) = delete;
  PortAudioSession& operator=(const PortAudioSession&) = delete;
};

}  // namespace utter::audio
