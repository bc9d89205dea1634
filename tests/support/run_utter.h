// Running the built utter binary from a test and capturing its exit status and output.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace utter::testing {

struct RunResult {
  int status = -1;  // exit status, -1 when the program did not exit normally
  std::string out;
  std::string err;
};

// Quotes text for the POSIX shell.
inline std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted.push_back(c);
    }
  }
  return quoted + "'";
}

// Runs `utter ARGUMENTS` (arguments already quoted) and collects stdout and stderr.
inline RunResult run_utter(const std::string& arguments) {
  static int call = 0;
  const auto err_path = std::filesystem::temp_directory_path() /
                        ("utter_err_" + std::to_string(getpid()) + "_" + std::to_string(call++) + ".txt");
  const std::string command = shell_quote(UTTER_BINARY) + " " + arguments + " 2>" + shell_quote(err_path.string());
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[65536];
  size_t got = 0;
  while ((got = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, got);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  result.err.assign(std::istreambuf_iterator<char>(err), {});
  std::filesystem::remove(err_path);
  return result;
}

}  // namespace utter::testing
