#include "app/editor_app.h"

#include <CLI/CLI.hpp>
#include <GLFW/glfw3.h>
#include <fmt/core.h>
#include <imgui.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "app/app_fonts.h"
#include "app/app_log.h"
#include "app/editor_window.h"
#include "app/extra_glyphs.h"
#include "app/screenshot.h"

namespace utter::app {
namespace {

using Clock = std::chrono::steady_clock;

// Text size in pixels at scale 1.
constexpr float kFontPixels = 17.0f;
// Frames are paced to about this rate where the display does not block on vertical sync
// (for example Xvfb), so an idle-looking window does not spin a core.
constexpr auto kMinFrameInterval = std::chrono::microseconds(16'600);

// ImGui 1.86 reads key state once per frame, so a key pressed and released between two
// frames (a quick tap, or xdotool while frames are slow) would be missed, and a modifier
// released in the same frame as its key's press would be lost for the shortcut. Keys and
// characters are queued in order instead, and once a frame has taken a press, any release
// waits for the next frame, so that each press is seen with every key that was down with it.
struct InputEvent {
  bool is_character = false;
  int key = 0;
  int scancode = 0;
  int action = 0;
  int mods = 0;
  unsigned int character = 0;
};
std::deque<InputEvent> g_input_queue;

void queue_key(GLFWwindow*, int key, int scancode, int action, int mods) {
  g_input_queue.push_back({false, key, scancode, action, mods, 0});
}

void queue_character(GLFWwindow*, unsigned int character) {
  g_input_queue.push_back({true, 0, 0, 0, 0, character});
}

void feed_queued_input(GLFWwindow* window) {
  bool pressed = false;
  while (!g_input_queue.empty()) {
    const InputEvent event = g_input_queue.front();
    if (event.is_character && event.character > 0xFFFF) {
      // ImWchar has 16 bits here, so the text view receives the character as a surrogate pair.
      const unsigned int offset = event.character - 0x10000;
      ImGui::GetIO().InputQueueCharacters.push_back(static_cast<ImWchar>(0xD800 + (offset >> 10)));
      ImGui::GetIO().InputQueueCharacters.push_back(static_cast<ImWchar>(0xDC00 + (offset & 0x3FF)));
    } else if (event.is_character) {
      ImGui_ImplGlfw_CharCallback(window, event.character);
    } else {
      if (event.action == GLFW_RELEASE && pressed) return;  // the next frame releases it
      if (event.action == GLFW_PRESS) pressed = true;
      ImGui_ImplGlfw_KeyCallback(window, event.key, event.scancode, event.action, event.mods);
    }
    g_input_queue.pop_front();
  }
}

void report_glfw_error(int code, const char* description) {
  std::fprintf(app_log(), "utter: GLFW error %d: %s\n", code, description);
}

void apply_style(float scale) {
  ImGui::StyleColorsLight();
  ImGuiStyle& style = ImGui::GetStyle();
  style.FrameRounding = 3.0f;
  style.WindowRounding = 4.0f;
  style.Colors[ImGuiCol_FrameBg] = ImVec4(1.0f, 1.0f, 1.0f, 1.0f);
  style.ScaleAllSizes(scale);
}

}  // namespace

void add_app_options(CLI::App& app, AppOptions& options) {
  app.add_option("--open", options.document, "Desktop editor: the text or Markdown file to open");
  app.add_option("-m,--model", options.model, "Desktop editor: Gemma 4 text model (.gguf)");
  app.add_option("--mmproj", options.mmproj, "Desktop editor: audio projector (mmproj .gguf)");
  app.add_option("--audio-input", options.audio_input,
                 "Desktop editor: play this audio file into the dictation pipeline instead of the microphone; "
                 "it starts at the first push-to-talk press")
      ->check(CLI::ExistingFile);
  app.add_option("--screenshot", options.screenshot,
                 "Desktop editor: write the window to this PNG after the first frames and on each F12");
  app.add_flag("--quit-after-screenshot", options.quit_after_screenshot,
               "Desktop editor: quit once the first screenshot is written");
  app.add_option("--screenshot-frames", options.screenshot_frames, "Desktop editor: frames drawn before the first screenshot")
      ->check(CLI::Range(1, 100000));
  app.add_option("--scale", options.scale, "Desktop editor: UI scale, e.g. 2 for high-DPI (0: the monitor's)")
      ->check(CLI::Range(0.0, 8.0));
  app.add_option("--size", [&options](const CLI::results_t& values) {
       return std::sscanf(values[0].c_str(), "%dx%d", &options.width, &options.height) == 2 && options.width > 0 &&
              options.height > 0;
     }, "Desktop editor: window size WIDTHxHEIGHT in screen coordinates at scale 1")
      ->type_name("WxH");
  app.add_flag("--hands-free", options.hands_free, "Desktop editor: start with hands-free dictation on");
  app.add_option("--frame-stats", options.frame_stats,
                 "Desktop editor: at exit, write the frame times (count, mean, p95, max and frames over "
                 "20 ms, in milliseconds; all frames and those drawn while the model decodes) to this JSON file");
}

int run_editor_app() { return run_editor_app(AppOptions{}); }

int run_editor_app(const AppOptions& options) {
  app_log();  // takes its copy of stderr before any thread starts
  glfwSetErrorCallback(report_glfw_error);
  if (glfwInit() == GLFW_FALSE) {
    std::fputs("utter: error: failed to start GLFW; check that DISPLAY names a running X server\n", app_log());
    return 1;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);

  float scale = options.scale;
  if (scale <= 0.0f) {
    float y_scale = 1.0f;
    scale = 1.0f;
    if (GLFWmonitor* monitor = glfwGetPrimaryMonitor()) glfwGetMonitorContentScale(monitor, &scale, &y_scale);
    if (scale <= 0.0f) scale = 1.0f;
  }
  const int width = static_cast<int>(static_cast<float>(options.width) * scale);
  const int height = static_cast<int>(static_cast<float>(options.height) * scale);
  GLFWwindow* window = glfwCreateWindow(width, height, "utter", nullptr, nullptr);
  if (window == nullptr) {
    std::fputs("utter: error: failed to create an OpenGL 3.0 window; check the graphics driver (Mesa)\n", app_log());
    glfwTerminate();
    return 1;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(1);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // window layout is fixed; nothing to remember
  apply_style(scale);
  const FontSetup fonts = load_editor_fonts(kFontPixels * scale);
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  // Both callbacks queue events that feed_queued_input passes on to ImGui's own callbacks.
  glfwSetKeyCallback(window, queue_key);
  glfwSetCharCallback(window, queue_character);
  ImGui_ImplOpenGL3_Init("#version 130");

  int exit_status = 0;
  {
    EditorWindow editor(options, [] { glfwPostEmptyEvent(); });
    std::vector<std::string> notes = fonts.warnings;
    for (const auto& path : fonts.loaded) notes.push_back("Font: " + path.string());
    notes.push_back(fmt::format("UI scale {:.2f}", scale));
    editor.set_font_notes(std::move(notes));
    glfwSetWindowUserPointer(window, &editor);
    glfwSetWindowCloseCallback(window, [](GLFWwindow* closing) {
      glfwSetWindowShouldClose(closing, GLFW_FALSE);
      static_cast<EditorWindow*>(glfwGetWindowUserPointer(closing))->request_quit();
    });

    std::string title;
    auto frame_start = Clock::now();
    while (!editor.should_quit()) {
      // Wait for input while nothing moves on screen; draw at the display rate otherwise.
      if (editor.animating() || !g_input_queue.empty()) {
        glfwPollEvents();
      } else {
        glfwWaitEventsTimeout(0.5);
      }
      const auto work_start = Clock::now();
      const bool decoding = editor.decoding();
      feed_queued_input(window);

      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      ImGui::NewFrame();
      editor.draw_frame();
      ImGui::Render();
      int framebuffer_width = 0;
      int framebuffer_height = 0;
      glfwGetFramebufferSize(window, &framebuffer_width, &framebuffer_height);
      glViewport(0, 0, framebuffer_width, framebuffer_height);
      glClearColor(0.94f, 0.94f, 0.94f, 1.0f);
      glClear(GL_COLOR_BUFFER_BIT);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());

      if (editor.take_screenshot_request()) {
        const std::string path = options.screenshot.empty() ? "utter-screenshot.png" : options.screenshot;
        try {
          write_framebuffer_png(path, framebuffer_width, framebuffer_height);
          std::fprintf(app_log(), "utter: wrote the screenshot %s\n", path.c_str());
        } catch (const std::exception& error) {
          std::fprintf(app_log(), "utter: error: %s\n", error.what());
          exit_status = 1;
        }
        if (options.quit_after_screenshot) break;
      }
      glfwSwapBuffers(window);

      // The frame timer counts the work of a frame (input, layout, drawing, swap), not the
      // wait for input before it.
      const auto now = Clock::now();
      const float frame_ms = std::chrono::duration<float, std::milli>(now - work_start).count();
      FrameStats& stats = editor.frame_stats();
      stats.last = frame_ms;
      stats.all.push_back(frame_ms);
      if (decoding) stats.while_decoding.push_back(frame_ms);
      stats.trim();
      if (now - frame_start < kMinFrameInterval) std::this_thread::sleep_for(kMinFrameInterval - (now - frame_start));
      frame_start = Clock::now();

      const std::string wanted_title = editor.window_title();
      if (wanted_title != title) {
        title = wanted_title;
        glfwSetWindowTitle(window, title.c_str());
      }
    }
    std::fprintf(app_log(), "utter: frame time %s\n", editor.frame_stats().summary().c_str());
    if (!options.frame_stats.empty()) {
      std::FILE* file = std::fopen(options.frame_stats.c_str(), "w");
      const std::string json = editor.frame_stats().to_json();
      if (file == nullptr || std::fwrite(json.data(), 1, json.size(), file) != json.size()) {
        std::fprintf(app_log(),
                     "utter: error: failed to write the frame statistics to %s: %s; "
                     "check that its folder exists and is writable\n",
                     options.frame_stats.c_str(), std::strerror(errno));
        exit_status = 1;
      }
      if (file != nullptr && std::fclose(file) != 0) exit_status = 1;
    }
  }

  extra_glyphs().release();
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return exit_status;
}

}  // namespace utter::app
