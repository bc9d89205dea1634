#include "app/file_dialog.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <system_error>

namespace utter::app {

void FileDialog::open(std::string title, std::filesystem::path start, bool for_saving) {
  title_ = std::move(title);
  for_saving_ = for_saving;
  std::error_code error;
  if (start.empty()) start = std::filesystem::current_path(error);
  folder_ = std::filesystem::is_directory(start, error) ? start : start.parent_path();
  if (folder_.empty()) folder_ = std::filesystem::current_path(error);
  path_text_ = std::filesystem::is_directory(start, error) ? (folder_ / "").string() : start.string();
  error_.clear();
  list_folder();
  open_requested_ = true;
}

void FileDialog::list_folder() {
  entries_.clear();
  std::error_code error;
  for (std::filesystem::directory_iterator it(folder_, error), end; !error && it != end; it.increment(error)) {
    if (it->path().filename().string().starts_with('.')) continue;
    entries_.push_back(*it);
  }
  if (error) error_ = "Cannot list '" + folder_.string() + "': " + error.message();
  std::sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
    std::error_code ignored;
    const bool a_folder = a.is_directory(ignored);
    const bool b_folder = b.is_directory(ignored);
    if (a_folder != b_folder) return a_folder;
    return a.path().filename() < b.path().filename();
  });
}

std::optional<std::filesystem::path> FileDialog::draw() {
  if (open_requested_) {
    ImGui::OpenPopup(title_.c_str());
    open_requested_ = false;
    open_ = true;
  }
  if (!open_) return std::nullopt;

  std::optional<std::filesystem::path> chosen;
  const ImGuiViewport* viewport = ImGui::GetMainViewport();
  ImGui::SetNextWindowSize(ImVec2(viewport->Size.x * 0.7f, viewport->Size.y * 0.7f), ImGuiCond_Appearing);
  ImGui::SetNextWindowPos(viewport->GetCenter(), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  bool keep_open = true;
  if (ImGui::BeginPopupModal(title_.c_str(), &keep_open)) {
    ImGui::TextDisabled("%s", folder_.string().c_str());
    const float footer = ImGui::GetFrameHeightWithSpacing() * 2.5f;
    ImGui::BeginChild("##entries", ImVec2(0, -footer), true);
    if (ImGui::Selectable("../", false, ImGuiSelectableFlags_AllowDoubleClick) && ImGui::IsMouseDoubleClicked(0)) {
      folder_ = folder_.parent_path();
      list_folder();
    }
    for (const auto& entry : entries_) {
      std::error_code ignored;
      const bool is_folder = entry.is_directory(ignored);
      const std::string name = entry.path().filename().string() + (is_folder ? "/" : "");
      if (ImGui::Selectable(name.c_str(), path_text_ == entry.path().string(), ImGuiSelectableFlags_AllowDoubleClick)) {
        path_text_ = entry.path().string();
        if (ImGui::IsMouseDoubleClicked(0)) {
          if (is_folder) {
            folder_ = entry.path();
            list_folder();
            break;
          }
          chosen = entry.path();
        }
      }
    }
    ImGui::EndChild();
    ImGui::SetNextItemWidth(-ImGui::CalcTextSize("Cancel  Choose  ").x - ImGui::GetStyle().ItemSpacing.x * 2);
    // The path field takes the keyboard at once, so a path can be typed and Enter pressed.
    if (ImGui::IsWindowAppearing()) ImGui::SetKeyboardFocusHere();
    const bool entered = ImGui::InputText("##path", &path_text_, ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine();
    if (ImGui::Button("Choose") || entered) {
      const std::filesystem::path path(path_text_);
      std::error_code error;
      if (std::filesystem::is_directory(path, error)) {
        folder_ = path;
        list_folder();
      } else if (!for_saving_ && !std::filesystem::exists(path, error)) {
        error_ = "'" + path.string() + "' does not exist; choose an existing file.";
      } else if (!path_text_.empty()) {
        chosen = path;
      }
    }
    ImGui::SameLine();
    if (ImGui::Button("Cancel") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) keep_open = false;
    if (!error_.empty()) ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "%s", error_.c_str());
    if (chosen || !keep_open) ImGui::CloseCurrentPopup();
    ImGui::EndPopup();
  }
  if (chosen || !keep_open) open_ = false;
  return chosen;
}

}  // namespace utter::app
