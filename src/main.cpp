// The utter program: a git-style front door to every subcommand.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "commands/command_registry.h"

#ifdef UTTER_HAVE_APP
#include "app/editor_app.h"
#endif

namespace {

bool has_display() {
  const char* x11 = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  return (x11 != nullptr && *x11 != '\0') || (wayland != nullptr && *wayland != '\0');
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"utter: offline voice dictation and text editing with Gemma 4", "utter"};
  app.set_version_flag("--version", std::string("utter ") + UTTER_VERSION);
  app.require_subcommand(0, 1);

#ifdef UTTER_HAVE_APP
  utter::app::AppOptions app_options;
  utter::app::add_app_options(app, app_options);
#endif

  auto commands = utter::cli::registered_commands();
  std::sort(commands.begin(), commands.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& command : commands) {
    CLI::App* sub = app.add_subcommand(command.name, command.summary);
    command.setup(*sub);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end parsing with success; CLI11 prints them.
    if (e.get_exit_code() == 0) return app.exit(e);
    const auto parsed = app.get_subcommands();
    const std::string command = parsed.empty() ? "" : " " + parsed.back()->get_name();
    std::fprintf(stderr, "utter: error: %s\nRun 'utter%s --help' to see the options.\n", e.what(),
                 command.c_str());
    return 2;
  }

  if (app.get_subcommands().empty()) {
#ifdef UTTER_HAVE_APP
    if (has_display()) return utter::app::run_editor_app(app_options);
#endif
    (void)has_display;
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  return utter::cli::exit_code();
}
