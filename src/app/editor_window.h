// The editor window's state and its frame: menus, the text area, push-to-talk, the
// command-mode preview, dialogs and the status bar. It routes what the person does to the
// document, the dictation controller and the speech engine, and keeps no logic of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/editor_app.h"
#include "app/file_dialog.h"
#include "app/journal_writer.h"
#include "app/speech_engine.h"
#include "app/text_view.h"
#include "common/settings.h"
#include "utter/editor/command_mode.h"
#include "utter/editor/dictation_controller.h"
#include "utter/editor/document.h"
#include "utter/editor/document_file.h"
#include "utter/editor/voice_commands.h"

namespace utter::app {

// The frame time the editor aims to stay under, in milliseconds.
constexpr float kFrameBudgetMs = 20.0f;

// Frame durations in milliseconds, kept for the About window and the exit report.
struct FrameStats {
  std::vector<float> all;
  std::vector<float> while_decoding;  // frames drawn while the model was decoding
  float last = 0.0f;
  std::string summary() const;
  // The same figures plus the count of frames over kFrameBudgetMs, as a JSON object.
  std::string to_json() const;
  // Keeps the most recent frames only, so that a long session does not grow memory.
  void trim();
};

class EditorWindow {
 public:
  EditorWindow(const AppOptions& options, std::function<void()> wake);
  ~EditorWindow();

  // Builds one frame of UI. Call between ImGui::NewFrame and ImGui::Render.
  void draw_frame();
  // The close button: asks about unsaved changes before quitting.
  void request_quit();
  bool should_quit() const { return quit_; }
  // True while something changes on screen without input (loading, listening, decoding).
  bool animating() const;
  bool decoding() const;
  std::string window_title() const;
  // F12 and the first-frames screenshot: set by the window, consumed by the main loop.
  bool take_screenshot_request();
  FrameStats& frame_stats() { return frame_stats_; }
  void set_font_notes(std::vector<std::string> notes) { font_notes_ = std::move(notes); }

 private:
  enum class PendingAction { kNone, kNew, kOpen, kQuit };

  struct RewritePreview {
    bool active = false;
    editor::PendingRewrite pending;
    std::string reply;  // raw, as the model wrote it so far
    bool done = false;
    std::string error;
  };

  void replace_document(editor::Document document, std::filesystem::path path, editor::TextFileLayout layout);
  void new_document();
  void open_document(const std::filesystem::path& path);
  bool save_document(const std::filesystem::path& path);
  void save_or_ask();
  void run_or_confirm(PendingAction action);
  void run_action(PendingAction action);
  bool modified() const;

  void handle_engine_events();
  void handle_utterance(const EngineEvent& event);
  void handle_shortcuts();
  void open_audio_dialog();
  void update_push_to_talk(bool button_held);
  void accept_rewrite();
  void reject_rewrite();
  void set_status(std::string message);
  void start_autosave();

  void draw_menu_bar();
  void draw_toolbar(bool& button_held);
  void draw_model_banner();
  void draw_status_bar();
  void draw_rewrite_preview();
  void draw_confirm_dialog();
  void draw_recovery_dialog();
  void draw_settings();
  void draw_about();
  void draw_file_dialogs();

  AppOptions options_;
  cli::Settings settings_;
  std::filesystem::path settings_path_;
  std::string settings_error_;

  editor::Document document_;
  std::unique_ptr<editor::Dictation> dictation_;
  editor::CommandGrammar grammar_;
  editor::SpokenPunctuation punctuation_;
  TextView view_;

  std::filesystem::path document_path_;
  editor::TextFileLayout layout_;
  std::uint64_t saved_revision_ = 0;
  JournalWriter journal_writer_;  // declared before autosaver_, which queues requests to it
  std::unique_ptr<AsyncAutosaver> autosaver_;
  std::vector<editor::JournalSnapshot> recoverable_;

  SpeechEngine engine_;
  std::string pending_transcript_;
  std::string pending_instruction_;
  std::string file_pending_text_;
  double file_progress_ = 0.0;
  double file_total_ = 0.0;
  RewritePreview preview_;
  int push_to_talk_key_ = 0;
  bool push_to_talk_held_ = false;
  bool push_to_talk_command_mode_ = false;  // Shift was down when the key went down
  bool hands_free_ = false;

  std::string model_message_;  // why there is no model, or the load summary
  bool model_missing_ = false;
  std::string status_;
  std::chrono::steady_clock::time_point status_time_{};
  std::vector<std::string> font_notes_;
  std::pair<std::size_t, std::size_t> caret_position_{1, 1};  // line and column in the status bar
  std::uint64_t caret_position_revision_ = UINT64_MAX;
  std::size_t caret_position_head_ = 0;

  FileDialog open_dialog_;
  FileDialog save_dialog_;
  FileDialog audio_dialog_;
  PendingAction pending_action_ = PendingAction::kNone;
  bool confirm_requested_ = false;
  bool settings_open_ = false;
  bool about_open_ = false;
  bool quit_ = false;
  bool screenshot_requested_ = false;
  int frames_drawn_ = 0;
  FrameStats frame_stats_;
};

// Maps "F1".."F12" (any case) to a GLFW key; 0 for anything else.
int parse_function_key(const std::string& name);

}  // namespace utter::app
