// `utter rewrite` end to end on the reference tiny model, checked against `utter generate`
// given the same chat prompt assembled by hand from the prompt files.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int status = -1;
  std::string output;  // stdout only
};

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Quotes text for sh, apostrophes included.
std::string quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? std::string() : text.substr(first, last - first + 1);
}

std::string replace_once(std::string text, const std::string& placeholder, const std::string& value) {
  const auto at = text.find(placeholder);
  if (at != std::string::npos) text.replace(at, placeholder.size(), value);
  return text;
}

class RewriteCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("utter-rewrite-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  fs::path dir_;
  const std::string model_ = std::string(UTTER_TESTDATA_DIR) + "/reference/tiny-f32.gguf";
};

TEST_F(RewriteCommand, MatchesGenerateWithSamePrompt) {
  const std::string instruction = "make it formal";
  const std::string text = "we can't meet tomorrow, sorry";
  std::ofstream(dir_ / "input.txt") << text;

  const CommandResult rewrite = run_command(std::string(UTTER_BINARY) + " rewrite -m " + quote(model_) + " -i " +
                                            quote(instruction) + " -n 12 -t 2 " + quote((dir_ / "input.txt").string()));
  ASSERT_EQ(rewrite.status, 0);

  const std::string system = read_file(std::string(UTTER_ASSETS_DIR) + "/prompts/rewrite_system.txt");
  const std::string user_template = read_file(std::string(UTTER_ASSETS_DIR) + "/prompts/rewrite_user.txt");
  ASSERT_FALSE(system.empty());
  const std::string user = replace_once(replace_once(user_template, "{instruction}", instruction), "{text}", text);
  std::ofstream(dir_ / "user.txt") << user;
  const CommandResult generate =
      run_command(std::string(UTTER_BINARY) + " generate --chat -m " + quote(model_) + " --system " +
                  quote(trim(system)) + " -f " + quote((dir_ / "user.txt").string()) + " -n 12 -t 2 2>/dev/null");
  ASSERT_EQ(generate.status, 0);

  EXPECT_EQ(trim(rewrite.output), trim(generate.output));
}

TEST_F(RewriteCommand, StandardInputWorks) {
  const CommandResult from_file = run_command("printf 'a short note' > " + quote((dir_ / "note.txt").string()) + " && " +
                                              std::string(UTTER_BINARY) + " rewrite -m " + quote(model_) +
                                              " -i 'shorten it' -n 8 -t 2 " + quote((dir_ / "note.txt").string()));
  const CommandResult from_stdin = run_command("printf 'a short note' | " + std::string(UTTER_BINARY) + " rewrite -m " +
                                               quote(model_) + " -i 'shorten it' -n 8 -t 2 -");
  ASSERT_EQ(from_file.status, 0);
  ASSERT_EQ(from_stdin.status, 0);
  EXPECT_EQ(from_file.output, from_stdin.output);
}

TEST_F(RewriteCommand, EmptyTextIsRejected) {
  const CommandResult result = run_command("printf '  \\n' | " + std::string(UTTER_BINARY) + " rewrite -m " +
                                           quote(model_) + " -i 'shorten it' 2>&1");
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.output.find("the text to rewrite is empty"), std::string::npos) << result.output;
}

TEST_F(RewriteCommand, MissingFileIsNamed) {
  const CommandResult result = run_command(std::string(UTTER_BINARY) + " rewrite -m " + quote(model_) +
                                           " -i 'shorten it' /nonexistent/input.txt 2>&1");
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.output.find("/nonexistent/input.txt"), std::string::npos) << result.output;
}

}  // namespace
