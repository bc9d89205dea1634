// Starts `utter serve` with the tiny reference model on a free loopback port and checks its
// responses against the `utter transcribe` and `utter generate` commands run on the same input.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "utter/inference/text_model.h"
#include "utter/inference/tokenizer.h"

namespace {

using nlohmann::json;

const std::filesystem::path kTestdata = UTTER_TESTDATA_DIR;
const std::filesystem::path kModel = kTestdata / "reference" / "tiny-f32.gguf";
const std::filesystem::path kMmproj = kTestdata / "reference" / "tiny-mmproj-f32.gguf";
const std::filesystem::path kJfkWav = kTestdata / "audio" / "jfk.wav";
const std::filesystem::path kJfkMp3 = kTestdata / "audio" / "jfk.mp3";

std::string quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs utter with `arguments` and returns its standard output; fails the test on a non-zero exit.
std::string run_utter(const std::string& arguments) {
  const std::string command = quote(UTTER_BINARY) + " " + arguments + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run " << command;
    return {};
  }
  std::string output;
  char buffer[4096];
  size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, count);
  const int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status)) << command << "\n" << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << command << "\n" << output;
  return output;
}

std::string model_arguments() { return "-m " + quote(kModel.string()) + " --mmproj " + quote(kMmproj.string()); }

std::string without_final_newline(std::string text) {
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// A 16-bit mono PCM WAV file of silence.
std::string silent_wav(int sample_rate, int samples) {
  std::string wav;
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) wav += static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  auto put16 = [&](uint16_t v) {
    wav += static_cast<char>(v & 0xFF);
    wav += static_cast<char>(v >> 8);
  };
  const uint32_t data_bytes = static_cast<uint32_t>(samples) * 2;
  wav += "RIFF";
  put32(36 + data_bytes);
  wav += "WAVEfmt ";
  put32(16);
  put16(1);
  put16(1);
  put32(static_cast<uint32_t>(sample_rate));
  put32(static_cast<uint32_t>(sample_rate) * 2);
  put16(2);
  put16(16);
  wav += "data";
  put32(data_bytes);
  wav.append(data_bytes, '\0');
  return wav;
}

// One `utter serve` process on 127.0.0.1 and a port the system picked.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& extra_arguments) {
    log_path_ = std::filesystem::temp_directory_path() / ("utter-serve-test-" + std::to_string(getpid()) + "-" +
                                                          std::to_string(++instances_) + ".log");
    int out_pipe[2];
    if (pipe(out_pipe) != 0) return;
    const std::string command = "exec " + quote(UTTER_BINARY) + " serve " + model_arguments() +
                                " --host 127.0.0.1 --port 0 -t 2 " + extra_arguments + " 2>" +
                                quote(log_path_.string());
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out_pipe[1], STDOUT_FILENO);
      close(out_pipe[0]);
      close(out_pipe[1]);
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out_pipe[1]);
    output_fd_ = out_pipe[0];

    // Wait up to 30 s for the line that names the port.
    std::string output;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline && port_ == 0) {
      pollfd entry{output_fd_, POLLIN, 0};
      if (poll(&entry, 1, 200) <= 0) continue;
      char buffer[512];
      const ssize_t count = read(output_fd_, buffer, sizeof(buffer));
      if (count <= 0) break;
      output.append(buffer, static_cast<size_t>(count));
      const std::string marker = "listening on http://127.0.0.1:";
      const size_t at = output.find(marker);
      if (at != std::string::npos && output.find('\n', at) != std::string::npos) {
        port_ = std::stoi(output.substr(at + marker.size()));
      }
    }
  }

  ~ServerProcess() {
    stop();
    std::filesystem::remove(log_path_);
  }

  // Sends SIGTERM and returns the exit status (-1 when it did not exit normally).
  int stop() {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    close(output_fd_);
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_status_;
  }

  int port() const { return port_; }
  std::string log() const { return read_file(log_path_); }

  std::unique_ptr<httplib::Client> client() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client->set_read_timeout(60, 0);
    return client;
  }

 private:
  static inline int instances_ = 0;
  pid_t pid_ = -1;
  int output_fd_ = -1;
  int port_ = 0;
  int exit_status_ = -1;
  std::filesystem::path log_path_;
};

json chat_body(const std::string& prompt, double temperature, int max_tokens) {
  return {{"model", "tiny"},
          {"messages", json::array({{{"role", "user"}, {"content", prompt}}})},
          {"temperature", temperature},
          {"max_tokens", max_tokens},
          {"seed", 0}};
}

struct CliGeneration {
  std::string text;
  size_t tokens = 0;  // generated tokens without the end-of-turn token
};

// `utter generate --chat` for the same request, with its text and its token count.
CliGeneration generate_with_cli(const std::string& options) {
  static const auto model = utter::inference::TextModel::load(kModel);
  CliGeneration result;
  result.text = without_final_newline(run_utter("generate --chat -m " + quote(kModel.string()) + " -t 2 " + options));
  const std::string ids = run_utter("generate --chat --ids -m " + quote(kModel.string()) + " -t 2 " + options);
  std::istringstream lines(ids);
  std::string prompt_line;
  std::string generated_line;
  std::getline(lines, prompt_line);
  std::getline(lines, generated_line);
  std::istringstream tokens(generated_line);
  int32_t id = 0;
  while (tokens >> id) {
    if (!model->tokenizer().is_end_of_generation(id)) ++result.tokens;
  }
  return result;
}

json post_json(httplib::Client& client, const std::string& path, const json& body, int* status) {
  auto response = client.Post(path, body.dump(), "application/json");
  if (!response) {
    ADD_FAILURE() << "no response from " << path << ": " << httplib::to_string(response.error());
    *status = 0;
    return {};
  }
  *status = response->status;
  return json::parse(response->body, nullptr, /*allow_exceptions=*/false);
}

struct StreamedChat {
  std::string content;
  std::string finish_reason;
  json usage;
  bool done = false;
  int events = 0;
};

StreamedChat parse_events(const std::string& body) {
  StreamedChat result;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("data: ")) continue;
    const std::string data = line.substr(6);
    if (data == "[DONE]") {
      result.done = true;
      continue;
    }
    ++result.events;
    const json event = json::parse(data);
    if (event.contains("usage") && event["usage"].is_object()) result.usage = event["usage"];
    for (const auto& choice : event["choices"]) {
      if (choice["delta"].contains("content")) result.content += choice["delta"]["content"].get<std::string>();
      if (choice["finish_reason"].is_string()) result.finish_reason = choice["finish_reason"].get<std::string>();
    }
  }
  return result;
}

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess("");
    ASSERT_NE(server_->port(), 0) << server_->log();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static ServerProcess* server_;
};

ServerProcess* ServeTest::server_ = nullptr;

TEST_F(ServeTest, HealthAndModels) {
  auto client = server_->client();
  auto health = client->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body)["status"], "ok");

  auto models = client->Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  const json list = json::parse(models->body);
  EXPECT_EQ(list["object"], "list");
  ASSERT_EQ(list["data"].size(), 1u);
  EXPECT_EQ(list["data"][0]["id"], "tiny-f32");
}

// `utter transcribe` of jfk.wav in a CLI format ("txt" or "srt"), run once per format.
const std::string& cli_transcript(const std::string& format) {
  static std::map<std::string, std::string> outputs;
  auto found = outputs.find(format);
  if (found == outputs.end()) {
    const std::string output =
        run_utter("transcribe -t 2 -f " + format + " " + model_arguments() + " " + quote(kJfkWav.string()));
    found = outputs.emplace(format, output).first;
  }
  return found->second;
}

TEST_F(ServeTest, TranscriptionMatchesCli) {
  const std::string audio = read_file(kJfkWav);
  auto client = server_->client();
  // The text format is the json text and a line break, so json and srt cover both code paths.
  for (const std::string format : {"json", "srt"}) {
    SCOPED_TRACE(format);
    const httplib::MultipartFormDataItems form = {{"file", audio, "jfk.wav", "audio/wav"},
                                                  {"model", "whisper-1", "", ""},
                                                  {"response_format", format, "", ""}};
    auto response = client->Post("/v1/audio/transcriptions", form);
    ASSERT_TRUE(response);
    ASSERT_EQ(response->status, 200) << response->body;
    const std::string& expected = cli_transcript(format == "srt" ? "srt" : "txt");
    ASSERT_FALSE(without_final_newline(expected).empty());
    if (format == "json") {
      EXPECT_EQ(json::parse(response->body)["text"], without_final_newline(expected));
    } else {
      EXPECT_EQ(response->body, expected);
    }
  }
}

TEST_F(ServeTest, TranscriptionOfMp3) {
  auto client = server_->client();
  const httplib::MultipartFormDataItems form = {{"file", read_file(kJfkMp3), "jfk.mp3", "audio/mpeg"},
                                                {"model", "whisper-1", "", ""},
                                                {"response_format", "verbose_json", "", ""}};
  auto response = client->Post("/v1/audio/transcriptions", form);
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200) << response->body;
  const json body = json::parse(response->body);
  EXPECT_EQ(body["task"], "transcribe");
  EXPECT_NEAR(body["duration"].get<double>(), 11.0, 0.1);  // jfk.mp3 lasts 11.0 s
  ASSERT_EQ(body["segments"].size(), 1u);                   // under 30 s: one piece
  EXPECT_EQ(body["segments"][0]["start"], 0.0);
  EXPECT_NEAR(body["segments"][0]["end"].get<double>(), body["duration"].get<double>(), 1e-9);
  EXPECT_EQ(body["segments"][0]["text"], body["text"]);
  EXPECT_FALSE(body["text"].get<std::string>().empty());
}

TEST_F(ServeTest, ChatMatchesGenerate) {
  const CliGeneration expected = generate_with_cli("-p 'Write a poem about rivers.' -n 24 --temp 0");
  auto client = server_->client();
  int status = 0;
  const json answer = post_json(*client, "/v1/chat/completions", chat_body("Write a poem about rivers.", 0.0, 24), &status);
  ASSERT_EQ(status, 200) << answer.dump();
  EXPECT_EQ(answer["object"], "chat.completion");
  EXPECT_EQ(answer["model"], "tiny-f32");
  EXPECT_EQ(answer["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(answer["choices"][0]["message"]["content"], expected.text);
  EXPECT_EQ(answer["usage"]["completion_tokens"], expected.tokens);
  EXPECT_EQ(answer["choices"][0]["finish_reason"], expected.tokens == 24 ? "length" : "stop");
}

TEST_F(ServeTest, SampledChatWithSystemMatchesGenerate) {
  const CliGeneration expected =
      generate_with_cli("--system 'You are terse.' -p 'Name three colours.' -n 20 --temp 0.8 --seed 42");
  json body = chat_body("Name three colours.", 0.8, 20);
  body["seed"] = 42;
  const json system_message = {{"role", "system"}, {"content", "You are terse."}};
  body["messages"].insert(body["messages"].begin(), system_message);
  auto client = server_->client();
  int status = 0;
  const json answer = post_json(*client, "/v1/chat/completions", body, &status);
  ASSERT_EQ(status, 200) << answer.dump();
  EXPECT_EQ(answer["choices"][0]["message"]["content"], expected.text);
  EXPECT_EQ(answer["usage"]["completion_tokens"], expected.tokens);
}

TEST_F(ServeTest, StreamedChatMatchesGenerate) {
  const CliGeneration expected = generate_with_cli("-p 'Describe the sea.' -n 24 --temp 0");
  json body = chat_body("Describe the sea.", 0.0, 24);
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  auto client = server_->client();
  auto response = client->Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200) << response->body;
  EXPECT_EQ(response->get_header_value("Content-Type"), "text/event-stream");
  const StreamedChat streamed = parse_events(response->body);
  EXPECT_TRUE(streamed.done);
  EXPECT_GT(streamed.events, 2);
  EXPECT_EQ(streamed.content, expected.text);
  EXPECT_EQ(streamed.finish_reason, expected.tokens == 24 ? "length" : "stop");
  ASSERT_TRUE(streamed.usage.is_object()) << response->body;
  EXPECT_EQ(streamed.usage["completion_tokens"], expected.tokens);
}

TEST_F(ServeTest, StopSequenceCutsText) {
  const CliGeneration expected = generate_with_cli("-p 'Count to ten.' -n 32 --temp 0");
  ASSERT_GE(expected.text.size(), 12u) << expected.text;
  // A stop sequence taken from the middle of the reference, so the content ends where it first occurs.
  const std::string stop = expected.text.substr(6, 3);
  const std::string before_stop = expected.text.substr(0, expected.text.find(stop));
  for (const bool stream : {false, true}) {
    SCOPED_TRACE(stream ? "streamed" : "plain");
    json body = chat_body("Count to ten.", 0.0, 32);
    body["stop"] = json::array({stop, "\x01unused"});
    body["stream"] = stream;
    auto client = server_->client();
    auto response = client->Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(response);
    ASSERT_EQ(response->status, 200) << response->body;
    if (stream) {
      const StreamedChat streamed = parse_events(response->body);
      EXPECT_EQ(streamed.content, before_stop);
      EXPECT_EQ(streamed.finish_reason, "stop");
    } else {
      const json answer = json::parse(response->body);
      EXPECT_EQ(answer["choices"][0]["message"]["content"], before_stop);
      EXPECT_EQ(answer["choices"][0]["finish_reason"], "stop");
    }
  }
}

TEST_F(ServeTest, ConversationReusesCache) {
  auto client = server_->client();
  int status = 0;
  const json first = post_json(*client, "/v1/chat/completions", chat_body("Plan a trip to Rome.", 0.0, 8), &status);
  ASSERT_EQ(status, 200) << first.dump();
  const int64_t first_prompt = first["usage"]["prompt_tokens"];

  json body = chat_body("Plan a trip to Rome.", 0.0, 8);
  body["messages"].push_back({{"role", "assistant"}, {"content", first["choices"][0]["message"]["content"]}});
  body["messages"].push_back({{"role", "user"}, {"content", "Make it shorter."}});
  const json second = post_json(*client, "/v1/chat/completions", body, &status);
  ASSERT_EQ(status, 200) << second.dump();
  EXPECT_GT(second["usage"]["prompt_tokens"].get<int64_t>(), first_prompt);
  // The whole first prompt is still in the cache; only the answer and the new turn are computed.
  EXPECT_GE(second["usage"]["prompt_tokens_details"]["cached_tokens"].get<int64_t>(), first_prompt);
}

TEST_F(ServeTest, ChatAudioMatchesTranscription) {
  const std::string expected = without_final_newline(cli_transcript("txt"));
  const std::string system = without_final_newline(read_file(std::filesystem::path(UTTER_ASSETS_DIR) / "prompts" /
                                                             "transcription_system.txt"));
  const std::string instruction = without_final_newline(read_file(std::filesystem::path(UTTER_ASSETS_DIR) /
                                                                  "prompts" / "transcription_instruction.txt"));
  const json audio_part = {{"type", "input_audio"},
                           {"input_audio", {{"data", base64(read_file(kJfkWav))}, {"format", "wav"}}}};
  const json body = {
      {"model", "tiny"},
      {"temperature", 0},
      {"max_tokens", 64},
      {"messages", json::array({{{"role", "system"}, {"content", system}},
                                {{"role", "user"},
                                 {"content", json::array({audio_part, {{"type", "text"}, {"text", instruction}}})}}})}};
  auto client = server_->client();
  int status = 0;
  const json answer = post_json(*client, "/v1/chat/completions", body, &status);
  ASSERT_EQ(status, 200) << answer.dump();
  // The dictation session trims the transcript, but the chat content is sent as generated.
  // 64 tokens keep the test short, so the content is the start of the transcript.
  std::string content = answer["choices"][0]["message"]["content"];
  content.erase(0, content.find_first_not_of(" \n"));
  content.erase(content.find_last_not_of(" \n") + 1);
  EXPECT_EQ(answer["usage"]["completion_tokens"], 64);
  EXPECT_GT(content.size(), 10u);
  EXPECT_EQ(expected.substr(0, content.size()), content);
  EXPECT_GT(answer["usage"]["prompt_tokens"].get<int64_t>(), 11 * 25);  // 25 audio frames per second
}

struct ErrorCase {
  const char* name;
  std::string body;
  int status;
  const char* param;  // nullptr: the error's param is null
  const char* code;   // nullptr: not checked
};

void expect_error(const httplib::Result& response, int status, const char* param, const char* code) {
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, status) << response->body;
  const json body = json::parse(response->body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << response->body;
  ASSERT_TRUE(body.contains("error")) << response->body;
  const json& error = body["error"];
  ASSERT_TRUE(error["message"].is_string()) << response->body;
  EXPECT_FALSE(error["message"].get<std::string>().empty()) << response->body;
  EXPECT_TRUE(error["type"].is_string()) << response->body;
  EXPECT_TRUE(error.contains("param")) << response->body;
  EXPECT_TRUE(error.contains("code")) << response->body;
  if (param == nullptr) {
    EXPECT_TRUE(error["param"].is_null()) << response->body;
  } else {
    EXPECT_EQ(error["param"], param) << response->body;
  }
  if (code != nullptr) {
    EXPECT_EQ(error["code"], code) << response->body;
  }
}

TEST_F(ServeTest, ChatErrors) {
  auto with = [](const std::function<void(json&)>& change) {
    json body = chat_body("Hello", 0.0, 4);
    change(body);
    return body.dump();
  };
  auto audio_part = [](const std::string& data, const std::string& format) {
    return json{{"role", "user"},
                {"content", json::array({{{"type", "input_audio"}, {"input_audio", {{"data", data}, {"format", format}}}}})}};
  };
  const std::vector<ErrorCase> cases = {
      {"malformed JSON", "{\"model\": \"tiny\", \"messages\": [", 400, nullptr, "invalid_json"},
      {"not an object", "[1, 2]", 400, nullptr, "invalid_json"},
      {"missing model", with([](json& b) { b.erase("model"); }), 400, "model", nullptr},
      {"missing messages", with([](json& b) { b.erase("messages"); }), 400, "messages", nullptr},
      {"empty messages", with([](json& b) { b["messages"] = json::array(); }), 400, "messages", nullptr},
      {"unknown role", with([](json& b) { b["messages"][0]["role"] = "robot"; }), 400, "messages[0].role", nullptr},
      {"tool role", with([](json& b) { b["messages"][0]["role"] = "tool"; }), 400, "messages[0].role", nullptr},
      {"image part",
       with([](json& b) {
         b["messages"][0]["content"] = json::array({{{"type", "image_url"}, {"image_url", {{"url", "x"}}}}});
       }),
       400, "messages[0].content[0].type", "unsupported_content_type"},
      {"temperature too high", with([](json& b) { b["temperature"] = 5; }), 400, "temperature", nullptr},
      {"max_tokens zero", with([](json& b) { b["max_tokens"] = 0; }), 400, "max_tokens", nullptr},
      {"stream not boolean", with([](json& b) { b["stream"] = "yes"; }), 400, "stream", nullptr},
      {"five stop sequences", with([](json& b) { b["stop"] = {"a", "b", "c", "d", "e"}; }), 400, "stop", nullptr},
      {"invalid base64", with([&](json& b) { b["messages"][0] = audio_part("@@@@", "wav"); }), 400,
       "messages[0].content[0].input_audio.data", "invalid_base64"},
      {"unsupported audio format", with([&](json& b) { b["messages"][0] = audio_part(base64("abc"), "aac"); }), 400,
       "messages[0].content[0].input_audio.format", "unsupported_format"},
      {"bytes that are not audio",
       with([&](json& b) { b["messages"][0] = audio_part(base64("this is not audio at all"), "wav"); }), 400,
       "messages[0].content[0].input_audio.data", "invalid_audio"},
      {"empty audio", with([&](json& b) { b["messages"][0] = audio_part("", "wav"); }), 400,
       "messages[0].content[0].input_audio.data", "audio_empty"},
      {"audio without samples", with([&](json& b) { b["messages"][0] = audio_part(base64(silent_wav(16000, 0)), "wav"); }),
       400, "messages[0].content[0].input_audio.data", nullptr},
      {"clip over 30 s",
       with([&](json& b) { b["messages"][0] = audio_part(base64(silent_wav(8000, 31 * 8000)), "wav"); }), 400,
       "messages[0].content[0].input_audio.data", "audio_too_long"},
  };
  auto client = server_->client();
  for (const auto& error_case : cases) {
    SCOPED_TRACE(error_case.name);
    expect_error(client->Post("/v1/chat/completions", error_case.body, "application/json"), error_case.status,
                 error_case.param, error_case.code);
  }
  expect_error(client->Get("/v1/unknown"), 404, nullptr, "not_found");
}

TEST_F(ServeTest, TranscriptionErrors) {
  auto client = server_->client();
  auto post_form = [&](httplib::MultipartFormDataItems form) { return client->Post("/v1/audio/transcriptions", form); };
  const std::string wav = read_file(kJfkWav);
  {
    SCOPED_TRACE("JSON instead of a form");
    expect_error(client->Post("/v1/audio/transcriptions", "{}", "application/json"), 400, nullptr,
                 "invalid_content_type");
  }
  {
    SCOPED_TRACE("missing file");
    expect_error(post_form({{"model", "whisper-1", "", ""}}), 400, "file", nullptr);
  }
  {
    SCOPED_TRACE("missing model");
    expect_error(post_form({{"file", wav, "jfk.wav", "audio/wav"}}), 400, "model", nullptr);
  }
  {
    SCOPED_TRACE("unknown response format");
    expect_error(post_form({{"file", wav, "jfk.wav", "audio/wav"},
                            {"model", "whisper-1", "", ""},
                            {"response_format", "xml", "", ""}}),
                 400, "response_format", "unsupported_response_format");
  }
  {
    SCOPED_TRACE("invalid temperature");
    expect_error(post_form({{"file", wav, "jfk.wav", "audio/wav"},
                            {"model", "whisper-1", "", ""},
                            {"temperature", "warm", "", ""}}),
                 400, "temperature", nullptr);
  }
  {
    SCOPED_TRACE("not audio");
    expect_error(post_form({{"file", "plain text, not audio", "notes.txt", "text/plain"}, {"model", "whisper-1", "", ""}}),
                 400, "file", "unsupported_format");
  }
  {
    SCOPED_TRACE("empty file");
    expect_error(post_form({{"file", "", "empty.wav", "audio/wav"}, {"model", "whisper-1", "", ""}}), 400, "file",
                 "audio_empty");
  }
  {
    SCOPED_TRACE("audio without samples");
    expect_error(post_form({{"file", silent_wav(16000, 0), "empty.wav", "audio/wav"}, {"model", "whisper-1", "", ""}}),
                 400, "file", nullptr);
  }
}

TEST_F(ServeTest, TwoClientsAtOnce) {
  const CliGeneration first = generate_with_cli("-p 'Tell me about owls.' -n 16 --temp 0");
  const CliGeneration second = generate_with_cli("-p 'Explain tides.' -n 16 --temp 0");
  const std::string transcript = without_final_newline(cli_transcript("txt"));

  auto ask = [&](const std::string& prompt, bool stream) {
    json body = chat_body(prompt, 0.0, 16);
    body["stream"] = stream;
    auto client = server_->client();
    auto response = client->Post("/v1/chat/completions", body.dump(), "application/json");
    if (!response || response->status != 200) return std::string("request failed");
    return stream ? parse_events(response->body).content
                  : json::parse(response->body)["choices"][0]["message"]["content"].get<std::string>();
  };
  auto transcribe = [&] {
    auto client = server_->client();
    const httplib::MultipartFormDataItems form = {{"file", read_file(kJfkWav), "jfk.wav", "audio/wav"},
                                                  {"model", "whisper-1", "", ""}};
    auto response = client->Post("/v1/audio/transcriptions", form);
    if (!response || response->status != 200) return std::string("request failed");
    return json::parse(response->body)["text"].get<std::string>();
  };

  // Two chats at once, one of them streamed, then the same beside a transcription.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    auto plain = std::async(std::launch::async, ask, "Tell me about owls.", round == 1);
    auto streamed = std::async(std::launch::async, ask, "Explain tides.", round == 0);
    std::future<std::string> transcribed;
    if (round == 1) transcribed = std::async(std::launch::async, transcribe);
    EXPECT_EQ(plain.get(), first.text);
    EXPECT_EQ(streamed.get(), second.text);
    if (round == 1) {
      EXPECT_EQ(transcribed.get(), transcript);
    }
  }
}

size_t count_occurrences(const std::string& text, const std::string& word) {
  size_t count = 0;
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++count;
  return count;
}

// Opens a raw connection, sends a chat request that would generate for a long time, waits
// until `ready` holds for what was received, then hangs up.
void send_and_hang_up(int port, const json& body, const std::function<bool(const std::string&)>& ready,
                      const std::string& extra_headers = {}) {
  const std::string payload = body.dump();
  const int socket_fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(socket_fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(socket_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                              "application/json\r\n" + extra_headers + "Content-Length: " +
                              std::to_string(payload.size()) + "\r\n\r\n" + payload;
  ASSERT_EQ(write(socket_fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string received;
  char buffer[4096];
  while (!ready(received)) {
    pollfd entry{socket_fd, POLLIN, 0};
    if (poll(&entry, 1, 100) <= 0) continue;
    const ssize_t count = read(socket_fd, buffer, sizeof(buffer));
    ASSERT_GT(count, 0) << received;
    received.append(buffer, static_cast<size_t>(count));
  }
  close(socket_fd);
}

TEST_F(ServeTest, ClosedConnectionStopsDecoding) {
  for (const bool stream : {true, false}) {
    SCOPED_TRACE(stream ? "streamed" : "plain");
    const size_t cancelled_before = count_occurrences(server_->log(), "finish cancelled");
    json body = chat_body("Keep talking.", 0.0, 1000000);
    body["stream"] = stream;
    const auto start = std::chrono::steady_clock::now();
    send_and_hang_up(server_->port(), body, [&](const std::string& received) {
      // A streamed reply has started once a content event arrived. A plain one sends nothing
      // until it is done, so the client gives up after half a second.
      if (stream) return received.find("\"content\"") != std::string::npos;
      return std::chrono::steady_clock::now() - start > std::chrono::milliseconds(500);
    });

    // The server notices at its next write (streamed) or socket check (plain) and logs it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline &&
           count_occurrences(server_->log(), "finish cancelled") == cancelled_before) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(count_occurrences(server_->log(), "finish cancelled"), cancelled_before + 1) << server_->log();
  }

  // The engine is free again for the next client.
  auto client = server_->client();
  int status = 0;
  post_json(*client, "/v1/chat/completions", chat_body("Hello", 0.0, 4), &status);
  EXPECT_EQ(status, 200);
}

TEST(ServeLimitsTest, ApiKeyBodySizeAudioLengthQueue) {
  ServerProcess server("--api-key test-key-123 --max-body 0.2 --max-audio-seconds 5 --max-queue 1");
  ASSERT_NE(server.port(), 0) << server.log();
  auto client = server.client();

  auto health = client->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  {
    SCOPED_TRACE("no key");
    expect_error(client->Get("/v1/models"), 401, nullptr, "invalid_api_key");
  }
  {
    SCOPED_TRACE("wrong key");
    expect_error(client->Get("/v1/models", httplib::Headers{{"Authorization", "Bearer test-key-124"}}), 401, nullptr,
                 "invalid_api_key");
  }
  const httplib::Headers key = {{"Authorization", "Bearer test-key-123"}};
  auto models = client->Get("/v1/models", key);
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  {
    SCOPED_TRACE("body over the limit");
    const std::string large(300 * 1024, 'x');
    expect_error(client->Post("/v1/chat/completions", key, large, "application/json"), 413, nullptr,
                 "request_too_large");
  }
  {
    SCOPED_TRACE("audio over the length limit");
    const httplib::MultipartFormDataItems form = {{"file", silent_wav(8000, 6 * 8000), "long.wav", "audio/wav"},
                                                  {"model", "whisper-1", "", ""}};
    expect_error(client->Post("/v1/audio/transcriptions", key, form), 400, "file", "audio_too_long");
  }
  {
    SCOPED_TRACE("queue full");
    // One request generates, one waits in the queue of length 1, so a third is turned away.
    json body = chat_body("Keep talking.", 0.0, 1000000);
    body["stream"] = true;
    const std::string auth = "Authorization: Bearer test-key-123\r\n";
    std::atomic<bool> release{false};
    auto running = std::async(std::launch::async, [&] {
      send_and_hang_up(server.port(), body, [&](const std::string& received) {
        return release && received.find("\"content\"") != std::string::npos;
      }, auth);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto waiting = std::async(std::launch::async, [&] {
      send_and_hang_up(server.port(), body, [&](const std::string&) { return release.load(); }, auth);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    expect_error(client->Post("/v1/chat/completions", key, chat_body("Hello", 0.0, 4).dump(), "application/json"), 503,
                 nullptr, "server_busy");
    release = true;
    running.get();
    waiting.get();
  }
  EXPECT_EQ(server.stop(), 0) << server.log();
}

}  // namespace
