// The desktop editor: `utter` with no subcommand on a desktop opens it.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace utter::app {

struct AppOptions {
  std::string document;     // file to open; a missing file is created on the first save
  std::string model;        // text model GGUF; empty: the usual search (see `utter models`)
  std::string mmproj;       // audio projector GGUF
  std::string audio_input;  // audio file played into the pipeline instead of the microphone
  std::string screenshot;   // PNG written after the first frames and on each F12
  bool quit_after_screenshot = false;
  int screenshot_frames = 30;  // frames drawn before the first screenshot
  float scale = 0.0f;          // UI scale; 0 takes the monitor's content scale
  int width = 1000;            // window size in screen coordinates at scale 1
  int height = 680;
  bool hands_free = false;
  std::string frame_stats;  // JSON file for the frame time figures, written at exit
};

// Adds the editor's options to the program's top-level command line.
void add_app_options(CLI::App& app, AppOptions& options);

// Runs the editor until its window closes; returns the process exit status.
int run_editor_app(const AppOptions& options);
int run_editor_app();

}  // namespace utter::app
