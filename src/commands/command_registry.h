// Each subcommand lives in its own file under commands/ and registers itself at start-up,
// so adding a command never touches main.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace utter::cli {

struct Command {
  std::string name;
  std::string summary;
  // Adds the options to the subcommand and sets its callback (through run_guarded).
  std::function<void(CLI::App&)> setup;
};

// Adds a command; called from a static initializer in each command file.
bool register_command(Command command);
std::vector<Command> registered_commands();

// Runs a command body and records its exit status. An exception escaping the body is printed
// as one "utter: error: ..." line on stderr and gives exit status 1.
void run_guarded(const std::function<int()>& body);
int exit_code();

}  // namespace utter::cli
