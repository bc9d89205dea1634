// A small in-window file chooser: a path field and the entries of one folder.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace utter::app {

class FileDialog {
 public:
  // Opens the dialog next frame. For saving, a file that does not exist yet may be chosen.
  void open(std::string title, std::filesystem::path start, bool for_saving);
  // Draws the dialog while it is open; returns the chosen path once.
  std::optional<std::filesystem::path> draw();
  bool is_open() const { return open_; }

 private:
  void list_folder();

  std::string title_;
  std::string path_text_;
  std::filesystem::path folder_;
  std::vector<std::filesystem::directory_entry> entries_;
  std::string error_;
  bool for_saving_ = false;
  bool open_ = false;
  bool open_requested_ = false;
};

}  // namespace utter::app
