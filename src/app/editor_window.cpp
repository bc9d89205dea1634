#include "app/editor_window.h"

#include <GLFW/glfw3.h>
#include <fmt/core.h>
#include <imgui.h>
#include <imgui_stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "app/app_log.h"
#include "utter/audio/capture.h"
#include "utter/audio/level_meter.h"

namespace utter::app {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kDefaultPushToTalk = "F9";
const ImVec4 kWarningColor(0.75f, 0.35f, 0.0f, 1.0f);
const ImVec4 kListeningColor(0.80f, 0.10f, 0.10f, 1.0f);

double mebibytes(std::uintmax_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

float percentile(std::vector<float> values, double fraction) {
  if (values.empty()) return 0.0f;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1));
  return values[index];
}

std::string describe(const std::vector<float>& values) {
  if (values.empty()) return "no frames";
  const double mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  return fmt::format("{} frames, mean {:.2f} ms, p95 {:.2f} ms, max {:.2f} ms", values.size(), mean,
                     percentile(values, 0.95), *std::max_element(values.begin(), values.end()));
}

// Line and column (1-based, in code points) of a byte offset, for the status bar.
std::pair<std::size_t, std::size_t> line_and_column(const std::string& text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return {line, column};
}

}  // namespace

std::string FrameStats::summary() const {
  return fmt::format("all: {}; while decoding: {}", describe(all), describe(while_decoding));
}

std::string FrameStats::to_json() const {
  auto group = [](const std::vector<float>& values) {
    const std::size_t slow = static_cast<std::size_t>(
        std::count_if(values.begin(), values.end(), [](float value) { return value > kFrameBudgetMs; }));
    const double mean = values.empty() ? 0.0
                                       : std::accumulate(values.begin(), values.end(), 0.0) /
                                             static_cast<double>(values.size());
    const float max = values.empty() ? 0.0f : *std::max_element(values.begin(), values.end());
    return fmt::format(R"({{"frames": {}, "mean_ms": {:.3f}, "p95_ms": {:.3f}, "max_ms": {:.3f}, "over_budget": {}}})",
                       values.size(), mean, percentile(values, 0.95), max, slow);
  };
  return fmt::format("{{\n  \"budget_ms\": {:.1f},\n  \"all\": {},\n  \"while_decoding\": {}\n}}\n", kFrameBudgetMs,
                     group(all), group(while_decoding));
}

void FrameStats::trim() {
  constexpr std::size_t kKeep = 100'000;
  for (std::vector<float>* values : {&all, &while_decoding}) {
    if (values->size() > 2 * kKeep) values->erase(values->begin(), values->end() - kKeep);
  }
}

int parse_function_key(const std::string& name) {
  if (name.size() < 2 || std::toupper(static_cast<unsigned char>(name[0])) != 'F') return 0;
  int number = 0;
  for (std::size_t i = 1; i < name.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return 0;
    number = number * 10 + (name[i] - '0');
  }
  return number >= 1 && number <= 12 ? GLFW_KEY_F1 + number - 1 : 0;
}

EditorWindow::EditorWindow(const AppOptions& options, std::function<void()> wake)
    : options_(options),
      grammar_(editor::CommandGrammar::load_default()),
      punctuation_(editor::SpokenPunctuation::load_default()),
      engine_(
          [&] {
            settings_path_ = cli::settings_path();
            try {
              settings_ = cli::Settings::load(settings_path_);
            } catch (const std::exception& error) {
              settings_error_ = error.what();
            }
            EngineOptions engine_options;
            engine_options.model = options.model;
            engine_options.mmproj = options.mmproj;
            engine_options.input_device = settings_.input_device;
            engine_options.audio_input = options.audio_input;
            engine_options.hands_free = options.hands_free || settings_.hands_free;
            return engine_options;
          }(),
          std::move(wake)) {
  hands_free_ = options.hands_free || settings_.hands_free;
  push_to_talk_key_ = parse_function_key(settings_.push_to_talk_hotkey);
  if (push_to_talk_key_ == 0) {
    if (!settings_.push_to_talk_hotkey.empty()) {
      set_status(fmt::format("The push-to-talk key '{}' in {} is not F1 to F12; using {}.",
                             settings_.push_to_talk_hotkey, settings_path_.string(), kDefaultPushToTalk));
    }
    push_to_talk_key_ = parse_function_key(kDefaultPushToTalk);
  }
  if (!settings_error_.empty()) set_status("Settings ignored: " + settings_error_);

  if (!options.document.empty()) {
    open_document(options.document);
  } else {
    new_document();
  }
  // Journals left by a session that did not end cleanly are offered for restoring.
  const editor::RecoveryScan scan = editor::find_recoverable(editor::AutosaveJournal::default_directory());
  // Nothing was written in this session yet, so every journal found, the open file's own
  // included, contains work from an earlier one.
  recoverable_ = scan.snapshots;
  if (!scan.errors.empty()) set_status("Unreadable journal: " + scan.errors.front());
  engine_.start();
}

EditorWindow::~EditorWindow() {
  // A clean exit keeps no journal unless the person chose to leave changes unsaved, and then
  // the newest text is written. journal_writer_ finishes both before the window goes away.
  if (!autosaver_) return;
  if (modified()) {
    autosaver_->flush();
  } else {
    autosaver_->discard();
  }
}

void EditorWindow::start_autosave() {
  const std::string untitled_id = std::to_string(getpid());
  autosaver_ = std::make_unique<AsyncAutosaver>(
      document_, journal_writer_,
      editor::AutosaveJournal::journal_path_for(editor::AutosaveJournal::default_directory(), document_path_,
                                                untitled_id),
      document_path_);
}

void EditorWindow::set_status(std::string message) {
  status_ = std::move(message);
  status_time_ = Clock::now();
}

bool EditorWindow::modified() const { return document_.revision() != saved_revision_; }

std::string EditorWindow::window_title() const {
  const std::string name = document_path_.empty() ? "Untitled" : document_path_.filename().string();
  return fmt::format("{}{} - utter", modified() ? "\xE2\x80\xA2 " : "", name);
}

bool EditorWindow::decoding() const {
  return engine_.listen_state() == ListenState::kDecoding || engine_.rewrite_busy() || engine_.file_busy();
}

bool EditorWindow::animating() const {
  return engine_.loading() || engine_.listen_state() != ListenState::kIdle || engine_.rewrite_busy() ||
         engine_.file_busy() || frames_drawn_ < options_.screenshot_frames + 2;
}

bool EditorWindow::take_screenshot_request() {
  const bool requested = screenshot_requested_;
  screenshot_requested_ = false;
  return requested;
}

void EditorWindow::replace_document(editor::Document document, std::filesystem::path path,
                                    editor::TextFileLayout layout) {
  if (autosaver_ && !modified()) autosaver_->discard();
  autosaver_.reset();
  dictation_.reset();
  document_ = std::move(document);
  document_path_ = std::move(path);
  layout_ = layout;
  saved_revision_ = document_.revision();
  // The controller keeps markers into the document, so it starts afresh with each one.
  dictation_ = std::make_unique<editor::Dictation>(document_, punctuation_, grammar_);
  // The flush only copies the text, and journal_writer_ writes it on its own thread.
  dictation_->set_after_change([this] {
    if (autosaver_) autosaver_->flush();
  });
  start_autosave();
  preview_ = {};
  view_.focus();
}

void EditorWindow::new_document() { replace_document(editor::Document(), {}, {}); }

void EditorWindow::open_document(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    replace_document(editor::Document(), path, {editor::format_for_path(path), false, false});
    set_status(fmt::format("New file {}; it is created when you save.", path.string()));
    return;
  }
  try {
    editor::TextFile file = editor::read_text_file(path);
    replace_document(editor::Document(file.text), path, file.layout);
    set_status("Opened " + path.string());
  } catch (const std::exception& failure) {
    set_status(failure.what());
  }
}

bool EditorWindow::save_document(const std::filesystem::path& path) {
  try {
    editor::save_text_file(path, document_.text(), layout_);
    if (document_path_ != path) {
      document_path_ = path;
      autosaver_->discard();
      start_autosave();
    }
    saved_revision_ = document_.revision();
    autosaver_->mark_saved();
    set_status("Saved " + path.string());
    std::fprintf(app_log(), "utter: saved %s\n", path.c_str());
    return true;
  } catch (const std::exception& failure) {
    std::fprintf(app_log(), "utter: error: %s\n", failure.what());
    set_status(failure.what());
    return false;
  }
}

void EditorWindow::save_or_ask() {
  if (document_path_.empty()) {
    save_dialog_.open("Save as", {}, /*for_saving=*/true);
  } else {
    save_document(document_path_);
  }
}

void EditorWindow::request_quit() { run_or_confirm(PendingAction::kQuit); }

void EditorWindow::run_or_confirm(PendingAction action) {
  if (modified()) {
    pending_action_ = action;
    confirm_requested_ = true;
  } else {
    run_action(action);
  }
}

void EditorWindow::run_action(PendingAction action) {
  switch (action) {
    case PendingAction::kNew:
      new_document();
      break;
    case PendingAction::kOpen:
      open_dialog_.open("Open", document_path_.empty() ? std::filesystem::path() : document_path_.parent_path(),
                        /*for_saving=*/false);
      break;
    case PendingAction::kQuit:
      quit_ = true;
      break;
    case PendingAction::kNone:
      break;
  }
}

void EditorWindow::handle_engine_events() {
  for (const EngineEvent& event : engine_.take_events()) {
    switch (event.kind) {
      case EngineEvent::Kind::kModelLoaded:
        std::fprintf(app_log(), "utter: %s\n", event.text.c_str());
        model_missing_ = false;
        model_message_ = event.text;
        set_status(event.text);
        break;
      case EngineEvent::Kind::kModelMissing:
      case EngineEvent::Kind::kModelFailed:
        std::fprintf(app_log(), "utter: no model: %s\n", event.text.c_str());
        model_missing_ = true;
        model_message_ = event.text;
        break;
      case EngineEvent::Kind::kTranscriptPiece:
        (event.mode == editor::UtteranceMode::kCommand ? pending_instruction_ : pending_transcript_) += event.text;
        break;
      case EngineEvent::Kind::kUtteranceDone:
        handle_utterance(event);
        break;
      case EngineEvent::Kind::kRewritePiece:
        if (preview_.active) preview_.reply += event.text;
        break;
      case EngineEvent::Kind::kRewriteDone:
        if (preview_.active) {
          preview_.reply = event.text;
          preview_.done = true;
        }
        break;
      case EngineEvent::Kind::kRewriteFailed:
        if (preview_.active && !event.cancelled) {
          preview_.error = event.text;
          preview_.done = true;
        }
        if (!event.cancelled) set_status(event.text);
        break;
      case EngineEvent::Kind::kFileProgress:
        file_progress_ = event.done;
        file_total_ = event.total;
        break;
      case EngineEvent::Kind::kFileText:
        file_pending_text_ += event.text;
        break;
      case EngineEvent::Kind::kFileDone: {
        file_pending_text_.clear();
        if (!event.text.empty() && engine_.model_ready()) {
          editor::Document::Transaction step(document_, "Transcribe audio file");
          const std::size_t at = document_.selection().start();
          const bool needs_space = at > 0 && !std::isspace(static_cast<unsigned char>(document_.text()[at - 1]));
          document_.replace_selection((needs_space ? " " : "") + event.text);
        }
        set_status(event.cancelled ? "Transcription stopped; the text so far was inserted."
                   : engine_.model_ready() ? fmt::format("Transcribed {:.0f} s of audio.", event.total)
                                           : event.text);
        std::fprintf(app_log(), "utter: audio file %s: %zu bytes of transcript inserted\n",
                     event.cancelled ? "transcription stopped" : "transcribed", event.text.size());
        if (autosaver_) autosaver_->flush();
        break;
      }
      case EngineEvent::Kind::kNotice:
        std::fprintf(app_log(), "utter: %s\n", event.text.c_str());
        set_status(event.text);
        break;
    }
  }
}

void EditorWindow::handle_utterance(const EngineEvent& event) {
  std::fprintf(app_log(), "utter: utterance of %.2f s audio (%s mode): %zu bytes of transcript, done %.2f s after release\n",
               event.audio_seconds, event.mode == editor::UtteranceMode::kCommand ? "command" : "dictation",
               event.text.size(), event.finish_seconds);
  pending_transcript_.clear();
  pending_instruction_.clear();
  if (event.cancelled) {
    set_status("Dictation cancelled.");
    return;
  }
  if (event.mode == editor::UtteranceMode::kDictation) {
    const editor::UtteranceResult result = dictation_->handle(event.text, editor::UtteranceMode::kDictation);
    if (!result.message.empty()) set_status(result.message);
    return;
  }
  // Command mode: a command of the grammar runs at once; anything else is an instruction for
  // the model, previewed before it replaces the text.
  if (grammar_.match(event.text)) {
    const editor::UtteranceResult result = dictation_->handle(event.text, editor::UtteranceMode::kCommand);
    set_status(result.message);
    return;
  }
  if (event.text.empty()) {
    set_status("No instruction was heard.");
    return;
  }
  std::optional<editor::PendingRewrite> pending = editor::begin_rewrite(document_, event.text);
  if (!pending) {
    set_status("Nothing to rewrite: select some text, or put the cursor in a paragraph.");
    return;
  }
  preview_ = {};
  preview_.active = true;
  preview_.pending = *pending;
  engine_.start_rewrite(pending->request);
}

void EditorWindow::accept_rewrite() {
  if (!preview_.active || !preview_.done || !preview_.error.empty()) return;
  const editor::RewriteOutcome outcome = editor::finish_rewrite(document_, preview_.pending, preview_.reply);
  set_status(outcome.message);
  preview_ = {};
  if (autosaver_) autosaver_->flush();
}

void EditorWindow::reject_rewrite() {
  if (!preview_.active) return;
  engine_.cancel_rewrite();
  editor::cancel_rewrite(document_, preview_.pending);
  preview_ = {};
  set_status("Rewrite rejected; the text is unchanged.");
}

void EditorWindow::update_push_to_talk(bool button_held) {
  const bool popup_open = ImGui::IsPopupOpen(nullptr, ImGuiPopupFlags_AnyPopupId);
  const bool key_held = !popup_open && ImGui::IsKeyDown(push_to_talk_key_);
  const bool held = key_held || button_held;
  if (held && !push_to_talk_held_) {
    if (preview_.active) reject_rewrite();
    push_to_talk_command_mode_ = ImGui::GetIO().KeyShift;
    pending_transcript_.clear();
    pending_instruction_.clear();
    engine_.press(push_to_talk_command_mode_ ? editor::UtteranceMode::kCommand : editor::UtteranceMode::kDictation);
  } else if (!held && push_to_talk_held_) {
    engine_.release();
  }
  push_to_talk_held_ = held;
}

void EditorWindow::open_audio_dialog() {
  if (!engine_.model_ready()) {
    set_status("No model is loaded, so audio files cannot be transcribed.");
  } else if (engine_.file_busy()) {
    set_status("An audio file is being transcribed already; Esc stops it.");
  } else {
    audio_dialog_.open("Transcribe audio file", {}, /*for_saving=*/false);
  }
}

void EditorWindow::handle_shortcuts() {
  auto pressed = [](int key) { return ImGui::IsKeyPressed(key, /*repeat=*/false); };
  if (pressed(GLFW_KEY_F12)) screenshot_requested_ = true;  // dialogs included
  if (ImGui::IsPopupOpen(nullptr, ImGuiPopupFlags_AnyPopupId)) return;
  const ImGuiIO& io = ImGui::GetIO();
  if (preview_.active) {
    if (pressed(GLFW_KEY_ENTER) || pressed(GLFW_KEY_KP_ENTER)) accept_rewrite();
    if (pressed(GLFW_KEY_ESCAPE)) reject_rewrite();
  } else if (pressed(GLFW_KEY_ESCAPE) && engine_.listen_state() != ListenState::kIdle) {
    engine_.cancel_utterance();
  } else if (pressed(GLFW_KEY_ESCAPE) && engine_.file_busy()) {
    engine_.cancel_file();
  }
  if (!io.KeyCtrl) return;
  if (pressed(GLFW_KEY_N)) run_or_confirm(PendingAction::kNew);
  if (pressed(GLFW_KEY_O)) run_or_confirm(PendingAction::kOpen);
  if (pressed(GLFW_KEY_S)) {
    if (io.KeyShift) {
      save_dialog_.open("Save as", document_path_, /*for_saving=*/true);
    } else {
      save_or_ask();
    }
  }
  if (pressed(GLFW_KEY_Q)) request_quit();
  if (pressed(GLFW_KEY_T)) open_audio_dialog();
  if (!preview_.active) {
    if (pressed(GLFW_KEY_Z) && !io.KeyShift) document_.undo();
    if (pressed(GLFW_KEY_Y) || (pressed(GLFW_KEY_Z) && io.KeyShift)) document_.redo();
  }
}

void EditorWindow::draw_frame() {
  handle_engine_events();
  ++frames_drawn_;
  if (!options_.screenshot.empty() && frames_drawn_ == options_.screenshot_frames) screenshot_requested_ = true;
  if (autosaver_) {
    const std::string failure = journal_writer_.take_error();
    if (!failure.empty()) {
      std::fprintf(app_log(), "utter: error: %s\n", failure.c_str());
      set_status(failure);
      autosaver_->retry_later();
    }
    autosaver_->tick();
  }

  const ImGuiViewport* viewport = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(viewport->WorkPos);
  ImGui::SetNextWindowSize(viewport->WorkSize);
  ImGui::PushStyleVar(ImGuiStyleVar_WindowRounding, 0.0f);
  ImGui::Begin("utter", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_MenuBar |
                   ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoSavedSettings);
  ImGui::PopStyleVar();
  draw_menu_bar();
  bool button_held = false;
  draw_toolbar(button_held);
  draw_model_banner();
  if (preview_.active) draw_rewrite_preview();

  const float status_height = ImGui::GetFrameHeightWithSpacing() + ImGui::GetStyle().ItemSpacing.y;
  ImGui::BeginChild("##editor", ImVec2(0, -status_height), false, ImGuiWindowFlags_NoScrollbar);
  PendingText pending;
  pending.position = document_.selection().head;
  pending.text = file_pending_text_.empty() ? pending_transcript_ : file_pending_text_;
  if (!pending.text.empty() && pending.position > 0 && !std::isspace(static_cast<unsigned char>(document_.text()[pending.position - 1]))) {
    pending.text.insert(0, " ");
  }
  view_.draw(document_, pending, preview_.active || engine_.file_busy());
  ImGui::EndChild();
  draw_status_bar();
  ImGui::End();

  update_push_to_talk(button_held);
  handle_shortcuts();
  draw_confirm_dialog();
  draw_recovery_dialog();
  draw_file_dialogs();
  draw_settings();
  draw_about();
}

void EditorWindow::draw_menu_bar() {
  if (!ImGui::BeginMenuBar()) return;
  if (ImGui::BeginMenu("File")) {
    if (ImGui::MenuItem("New", "Ctrl+N")) run_or_confirm(PendingAction::kNew);
    if (ImGui::MenuItem("Open...", "Ctrl+O")) run_or_confirm(PendingAction::kOpen);
    if (ImGui::MenuItem("Save", "Ctrl+S")) save_or_ask();
    if (ImGui::MenuItem("Save as...", "Ctrl+Shift+S")) save_dialog_.open("Save as", document_path_, true);
    ImGui::Separator();
    if (ImGui::MenuItem("Transcribe audio file...", "Ctrl+T", false, engine_.model_ready() && !engine_.file_busy())) {
      open_audio_dialog();
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Quit", "Ctrl+Q")) request_quit();
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Edit")) {
    const std::string undo = "Undo " + document_.undo_label();
    const std::string redo = "Redo " + document_.redo_label();
    if (ImGui::MenuItem(undo.c_str(), "Ctrl+Z", false, document_.can_undo() && !preview_.active)) document_.undo();
    if (ImGui::MenuItem(redo.c_str(), "Ctrl+Y", false, document_.can_redo() && !preview_.active)) document_.redo();
    ImGui::Separator();
    const bool has_selection = !document_.selection().empty();
    if (ImGui::MenuItem("Cut", "Ctrl+X", false, has_selection && !preview_.active)) {
      ImGui::SetClipboardText(document_.substr(document_.selection().range()).c_str());
      document_.replace_selection("");
    }
    if (ImGui::MenuItem("Copy", "Ctrl+C", false, has_selection)) {
      ImGui::SetClipboardText(document_.substr(document_.selection().range()).c_str());
    }
    if (ImGui::MenuItem("Select all", "Ctrl+A")) document_.set_selection({0, document_.size()});
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Dictation")) {
    if (ImGui::MenuItem("Hands-free", nullptr, &hands_free_)) engine_.set_hands_free(hands_free_);
    if (ImGui::MenuItem("Cancel utterance", "Esc", false, engine_.listen_state() != ListenState::kIdle)) {
      engine_.cancel_utterance();
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Settings...")) settings_open_ = true;
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Help")) {
    if (ImGui::MenuItem("About utter")) about_open_ = true;
    ImGui::EndMenu();
  }
  ImGui::EndMenuBar();
}

void EditorWindow::draw_toolbar(bool& button_held) {
  const std::string key_name = fmt::format("F{}", push_to_talk_key_ - GLFW_KEY_F1 + 1);
  const ListenState state = engine_.listen_state();
  const bool listening = state == ListenState::kListening;
  if (listening) ImGui::PushStyleColor(ImGuiCol_Button, kListeningColor);
  const std::string label = fmt::format("{}###talk", listening ? "Listening... release to stop" : "Hold to talk (" + key_name + ")");
  ImGui::Button(label.c_str());
  button_held = ImGui::IsItemActive();
  if (listening) ImGui::PopStyleColor();
  if (ImGui::IsItemHovered()) {
    ImGui::SetTooltip("Hold %s or this button to dictate; Shift+%s for a command on the selection.",
                      key_name.c_str(), key_name.c_str());
  }
  ImGui::SameLine();
  if (ImGui::Checkbox("Hands-free", &hands_free_)) engine_.set_hands_free(hands_free_);
  ImGui::SameLine();

  if (listening) {
    const float level = engine_.level_dbfs();
    const float fraction = std::clamp((level + 60.0f) / 60.0f, 0.0f, 1.0f);
    ImGui::PushStyleColor(ImGuiCol_PlotHistogram, kListeningColor);
    ImGui::ProgressBar(fraction, ImVec2(ImGui::GetFontSize() * 10, 0), fmt::format("{:.0f} dB", level).c_str());
    ImGui::PopStyleColor();
    ImGui::SameLine();
    ImGui::Text("%s %.1f s", push_to_talk_command_mode_ ? "Command" : "Dictating", engine_.recorded_seconds());
  } else if (state == ListenState::kDecoding) {
    ImGui::Text("Transcribing%s", std::string(static_cast<std::size_t>(ImGui::GetTime() * 3) % 4, '.').c_str());
  } else if (engine_.file_busy()) {
    const float fraction = file_total_ > 0 ? static_cast<float>(file_progress_ / file_total_) : 0.0f;
    ImGui::ProgressBar(fraction, ImVec2(ImGui::GetFontSize() * 12, 0),
                       fmt::format("{:.0f} / {:.0f} s", file_progress_, file_total_).c_str());
    ImGui::SameLine();
    if (ImGui::Button("Cancel (Esc)")) engine_.cancel_file();
  } else {
    const std::string input = engine_.input_name();
    ImGui::TextDisabled("Input: %s", input.empty() ? "none" : input.c_str());
  }
  if (!pending_instruction_.empty()) {
    ImGui::TextDisabled("Instruction: %s", pending_instruction_.c_str());
  }
}

void EditorWindow::draw_model_banner() {
  if (engine_.loading()) {
    const float fraction = static_cast<float>(std::fmod(ImGui::GetTime(), 2.0) / 2.0);
    ImGui::ProgressBar(fraction, ImVec2(ImGui::GetFontSize() * 8, 0), "");
    ImGui::SameLine();
    ImGui::Text("%s (%.0f s). You can type meanwhile.", engine_.loading_stage().c_str(), engine_.loading_seconds());
    return;
  }
  if (!model_missing_) return;
  ImGui::PushStyleColor(ImGuiCol_ChildBg, ImVec4(1.0f, 0.95f, 0.85f, 1.0f));
  const float height = ImGui::GetTextLineHeightWithSpacing() * 5.5f;
  ImGui::BeginChild("##no-model", ImVec2(0, height), true);
  ImGui::TextColored(kWarningColor, "No model: dictation and voice commands are off; the editor works as a plain editor.");
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextUnformatted(model_message_.c_str());
  ImGui::PopTextWrapPos();
  ImGui::EndChild();
  ImGui::PopStyleColor();
}

void EditorWindow::draw_rewrite_preview() {
  ImGui::PushStyleColor(ImGuiCol_ChildBg, ImVec4(0.90f, 0.94f, 1.0f, 1.0f));
  const float height = ImGui::GetTextLineHeightWithSpacing() * 10.0f;
  ImGui::BeginChild("##rewrite", ImVec2(0, height), true);
  ImGui::BeginDisabled(!preview_.done || !preview_.error.empty());
  if (ImGui::Button("Accept (Enter)")) accept_rewrite();
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (ImGui::Button("Reject (Esc)")) reject_rewrite();
  ImGui::SameLine();
  ImGui::TextUnformatted(("Command: " + preview_.pending.request.instruction).c_str());
  ImGui::Separator();

  ImGui::BeginChild("##rewrite-text");
  ImGui::PushTextWrapPos(0.0f);
  const ImU32 text_color = ImGui::GetColorU32(ImGuiCol_Text);
  ImGui::TextDisabled("Before");
  wrapped_text(preview_.pending.request.text, text_color);
  ImGui::TextDisabled(preview_.done ? "After" : "After (writing...)");
  if (!preview_.error.empty()) {
    ImGui::TextColored(kWarningColor, "%s", preview_.error.c_str());
  } else {
    const std::string shown = editor::clean_rewrite_output(preview_.reply, preview_.pending.request.text);
    wrapped_text(shown, text_color);
  }
  ImGui::PopTextWrapPos();
  ImGui::EndChild();
  ImGui::EndChild();
  ImGui::PopStyleColor();
}

void EditorWindow::draw_status_bar() {
  ImGui::Separator();
  // Counting lines walks the text up to the caret, so it is redone only when either changed.
  const std::size_t head = document_.selection().head;
  if (caret_position_revision_ != document_.revision() || caret_position_head_ != head) {
    caret_position_ = line_and_column(document_.text(), head);
    caret_position_revision_ = document_.revision();
    caret_position_head_ = head;
  }
  ImGui::Text("Ln %zu, Col %zu", caret_position_.first, caret_position_.second);
  ImGui::SameLine();
  ImGui::TextDisabled("|");
  ImGui::SameLine();
  ImGui::TextUnformatted(status_.c_str());
}

void EditorWindow::draw_confirm_dialog() {
  if (confirm_requested_) {
    ImGui::OpenPopup("Unsaved changes");
    confirm_requested_ = false;
  }
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  if (!ImGui::BeginPopupModal("Unsaved changes", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
  const std::string name = document_path_.empty() ? "Untitled" : document_path_.filename().string();
  ImGui::Text("%s has changes that are not saved.", name.c_str());
  if (ImGui::Button("Save")) {
    ImGui::CloseCurrentPopup();
    if (document_path_.empty()) {
      save_dialog_.open("Save as", {}, true);
    } else if (save_document(document_path_)) {
      run_action(pending_action_);
    }
  }
  ImGui::SameLine();
  if (ImGui::Button("Discard changes")) {
    ImGui::CloseCurrentPopup();
    saved_revision_ = document_.revision();
    if (autosaver_) autosaver_->discard();
    run_action(pending_action_);
  }
  ImGui::SameLine();
  if (ImGui::Button("Cancel") || ImGui::IsKeyPressed(GLFW_KEY_ESCAPE)) {
    pending_action_ = PendingAction::kNone;
    ImGui::CloseCurrentPopup();
  }
  ImGui::EndPopup();
}

void EditorWindow::draw_recovery_dialog() {
  if (recoverable_.empty()) return;
  if (!ImGui::IsPopupOpen("Restore unsaved work")) ImGui::OpenPopup("Restore unsaved work");
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  if (!ImGui::BeginPopupModal("Restore unsaved work", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
  const editor::JournalSnapshot& snapshot = recoverable_.front();
  const std::string name = snapshot.document_path.empty() ? "an untitled document" : snapshot.document_path.string();
  ImGui::Text("utter did not close cleanly. Unsaved work from %s (%zu bytes) was kept.", name.c_str(),
              snapshot.text.size());
  // Enter restores, because keeping the work is the safe choice.
  if (ImGui::Button("Restore (Enter)") || ImGui::IsKeyPressed(GLFW_KEY_ENTER, /*repeat=*/false)) {
    const std::filesystem::path old_journal = snapshot.journal_path;
    editor::Document restored = editor::restore_document(snapshot);
    replace_document(std::move(restored), snapshot.document_path, {editor::format_for_path(snapshot.document_path)});
    saved_revision_ = UINT64_MAX;  // restored text is not on disk yet
    // The writer removes the old journal before it writes the new one, which can be the same file.
    journal_writer_.discard(old_journal);
    autosaver_->retry_later();
    autosaver_->flush();
    std::fprintf(app_log(), "utter: restored %zu bytes from %s\n", document_.size(), old_journal.c_str());
    recoverable_.erase(recoverable_.begin());
    ImGui::CloseCurrentPopup();
  }
  ImGui::SameLine();
  if (ImGui::Button("Discard")) {
    journal_writer_.discard(snapshot.journal_path);
    recoverable_.erase(recoverable_.begin());
    ImGui::CloseCurrentPopup();
  }
  ImGui::EndPopup();
}

void EditorWindow::draw_file_dialogs() {
  if (auto path = open_dialog_.draw()) open_document(*path);
  if (auto path = save_dialog_.draw()) {
    if (save_document(*path) && pending_action_ != PendingAction::kNone) {
      const PendingAction action = pending_action_;
      pending_action_ = PendingAction::kNone;
      run_action(action);
    }
  }
  if (auto path = audio_dialog_.draw()) {
    file_progress_ = 0;
    file_total_ = 0;
    engine_.transcribe_file(*path);
    set_status("Transcribing " + path->string());
  }
}

void EditorWindow::draw_settings() {
  if (!settings_open_) return;
  ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 36, 0), ImGuiCond_Appearing);
  if (!ImGui::Begin("Settings", &settings_open_)) {
    ImGui::End();
    return;
  }
  static std::vector<audio::InputDevice> devices;
  static std::string device_error;
  if (ImGui::IsWindowAppearing()) {
    try {
      // NOTE: PortAudio's device scan runs on the UI thread and stalls the frame that opens
      // the Settings window.
      devices = audio::list_input_devices();
      device_error.clear();
    } catch (const std::exception& error) {
      devices.clear();
      device_error = error.what();
    }
  }
  const char* current = settings_.input_device.empty() ? "System default" : settings_.input_device.c_str();
  if (ImGui::BeginCombo("Input device", current)) {
    if (ImGui::Selectable("System default", settings_.input_device.empty())) settings_.input_device.clear();
    for (const auto& device : devices) {
      if (ImGui::Selectable(device.name.c_str(), device.name == settings_.input_device)) settings_.input_device = device.name;
    }
    ImGui::EndCombo();
  }
  if (!device_error.empty()) ImGui::TextColored(kWarningColor, "%s", device_error.c_str());
  ImGui::InputText("Text model (.gguf)", &settings_.model);
  ImGui::InputText("Audio projector (.gguf)", &settings_.mmproj);
  std::string key = settings_.push_to_talk_hotkey.empty() ? kDefaultPushToTalk : settings_.push_to_talk_hotkey;
  if (ImGui::BeginCombo("Push-to-talk key", key.c_str())) {
    for (int number = 1; number <= 12; ++number) {
      const std::string name = fmt::format("F{}", number);
      if (ImGui::Selectable(name.c_str(), name == key)) settings_.push_to_talk_hotkey = name;
    }
    ImGui::EndCombo();
  }
  ImGui::TextDisabled("Shift with the same key starts command mode.");
  ImGui::Checkbox("Hands-free (end utterances at pauses)", &settings_.hands_free);
  ImGui::InputText("Language (BCP 47, e.g. en)", &settings_.language);
  // NOTE: the language is stored for the transcription prompt but not yet sent to the model.
  if (ImGui::Button("Save")) {
    try {
      settings_.save(settings_path_);
      push_to_talk_key_ = parse_function_key(settings_.push_to_talk_hotkey.empty() ? kDefaultPushToTalk
                                                                                    : settings_.push_to_talk_hotkey);
      hands_free_ = settings_.hands_free;
      engine_.set_hands_free(hands_free_);
      set_status("Settings saved to " + settings_path_.string() +
                 "; a new input device or model takes effect when utter starts again.");
      settings_open_ = false;
    } catch (const std::exception& error) {
      set_status(error.what());
    }
  }
  ImGui::End();
}

void EditorWindow::draw_about() {
  if (!about_open_) return;
  ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 34, 0), ImGuiCond_Appearing);
  if (!ImGui::Begin("About utter", &about_open_)) {
    ImGui::End();
    return;
  }
  ImGui::Text("utter %s: offline dictation and editing with Gemma 4.", UTTER_VERSION);
  ImGui::Separator();
  if (const auto summary = engine_.model_summary()) {
    ImGui::Text("Model: %s (%.1f MiB, %s weights)", summary->model_path.string().c_str(),
                mebibytes(summary->model_bytes), summary->weight_type.c_str());
    ImGui::Text("Audio projector: %s (%.1f MiB)", summary->mmproj_path.string().c_str(), mebibytes(summary->mmproj_bytes));
    ImGui::Text("%d layers, embedding size %d, loaded in %.1f s", summary->layers, summary->embedding_size,
                summary->load_seconds);
  } else {
    ImGui::PushTextWrapPos(0.0f);
    ImGui::Text("No model loaded. %s", engine_.loading() ? "It is loading." : model_message_.c_str());
    ImGui::PopTextWrapPos();
  }
  ImGui::Text("Transcript speed: %.1f tokens/s; rewrite speed: %.1f tokens/s", engine_.transcript_tokens_per_second(),
              engine_.rewrite_tokens_per_second());
  ImGui::PushTextWrapPos(0.0f);
  ImGui::Text("Frame time: %s", frame_stats_.summary().c_str());
  for (const auto& note : font_notes_) ImGui::TextDisabled("%s", note.c_str());
  ImGui::PopTextWrapPos();
  ImGui::Text("Dear ImGui %s", ImGui::GetVersion());
  ImGui::End();
}

}  // namespace utter::app
