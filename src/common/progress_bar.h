// A one-line progress display for long work on a terminal; silent when stderr is not one.
#pragma once

#include <chrono>
#include <string>

namespace utter::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();

  // Redraws the line: percent of `total`, elapsed time and the real-time factor (units done
  // per second of wall time, meaningful when the units are seconds of audio).
  void update(double done, double total);
  // Clears the line.
  void finish();

  static bool stderr_is_terminal();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace utter::cli
