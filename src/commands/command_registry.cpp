#include "commands/command_registry.h"

#include <fmt/core.h>

#include <cstdio>
#include <exception>

namespace utter::cli {
namespace {

std::vector<Command>& command_table() {
  static std::vector<Command> table;
  return table;
}

int g_exit_code = 0;

}  // namespace

bool register_command(Command command) {
  command_table().push_back(std::move(command));
  return true;
}

std::vector<Command> registered_commands() { return command_table(); }

void run_guarded(const std::function<int()>& body) {
  try {
    g_exit_code = body();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "utter: error: {}\n", e.what());
    g_exit_code = 1;
  }
}

int exit_code() { return g_exit_code; }

}  // namespace utter::cli
