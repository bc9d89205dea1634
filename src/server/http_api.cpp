#include "server/http_api.h"

#include <fmt/core.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <random>

#include <nlohmann/json.hpp>

#include "common/transcript_format.h"
#include "common/transcription_prompts.h"
#include "server/api_error.h"
#include "server/audio_upload.h"
#include "server/connection_watch.h"
#include "server/engine.h"
#include "utter/audio/audio_error.h"
#include "utter/audio/file_source.h"

namespace utter::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Invalid UTF-8 from clients (form fields, file names) must not make the reply fail.
std::string to_text(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_json(httplib::Response& response, int status, const json& body) {
  response.status = status;
  response.set_content(to_text(body), "application/json");
}

void send_error(httplib::Response& response, const ApiError& error) { send_json(response, error.status(), error_body(error)); }

std::string random_id(std::string_view prefix) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return fmt::format("{}{:012x}{:04x}", prefix, generator() & 0xFFFFFFFFFFFFull, counter++ & 0xFFFF);
}

int64_t unix_time() { return static_cast<int64_t>(std::time(nullptr)); }

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Compares keys without stopping at the first difference, so response times do not reveal
// how much of a guessed key was right. The length is not treated as secret.
bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  return difference == 0;
}

json usage_json(const ChatOutcome& outcome) {
  const auto completion = static_cast<int64_t>(outcome.tokens.size());
  return {{"prompt_tokens", outcome.prompt_tokens},
          {"completion_tokens", completion},
          {"total_tokens", outcome.prompt_tokens + completion},
          {"prompt_tokens_details", {{"cached_tokens", outcome.cached_tokens}}}};
}

std::string sse_event(const json& data) { return "data: " + to_text(data) + "\n\n"; }

// A form field's text, or nullopt when the form lacks it.
std::optional<std::string> form_field(const httplib::Request& request, const char* name) {
  if (!request.has_file(name)) return std::nullopt;
  return request.get_file_value(name).content;
}

std::string file_extension(const std::string& filename) {
  const size_t dot = filename.rfind('.');
  return dot == std::string::npos ? std::string() : filename.substr(dot + 1);
}

// The status line text httplib does not set for error responses without a body.
std::string default_error_message(const httplib::Request& request, int status, size_t max_body_bytes) {
  switch (status) {
    case 404: return fmt::format("no route for {} {}; see GET /v1/models", request.method, request.path);
    case 405: return fmt::format("{} is not allowed on {}", request.method, request.path);
    case 413: return fmt::format("the request body is larger than the server's limit of {} bytes", max_body_bytes);
    case 400: return "the request could not be parsed (malformed HTTP, form data or headers)";
    default: return fmt::format("the request failed with HTTP status {}", status);
  }
}

// cpp-httplib 0.11 listens with a backlog of 5, so a burst of clients overflows the kernel's
// accept queue and some of them are reset before the server sees their request. Linux lets a
// second listen() on a listening socket change its backlog.
class BackloggedServer : public httplib::Server {
 public:
  bool raise_backlog(int backlog) { return ::listen(svr_sock_, backlog) == 0; }
};

}  // namespace

ApiServer::ApiServer(Engine& engine, ServerOptions options)
    : engine_(engine), options_(std::move(options)), http_(std::make_unique<BackloggedServer>()) {
  http_->set_payload_max_length(options_.max_body_bytes);
  register_routes();
}

ApiServer::~ApiServer() = default;

int ApiServer::bind() {
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
  } else {
    port_ = http_->bind_to_port(options_.host, options_.port) ? options_.port : -1;
  }
  if (port_ <= 0) {
    throw std::runtime_error(fmt::format("cannot listen on {}:{}; is the port in use or the address not local?",
                                         options_.host, options_.port));
  }
  if (!static_cast<BackloggedServer&>(*http_).raise_backlog(SOMAXCONN)) {
    spdlog::warn("cannot raise the listen backlog to {}: {}; bursts of clients may see resets", SOMAXCONN,
                 std::strerror(errno));
  }
  return port_;
}

void ApiServer::listen() { http_->listen_after_bind(); }

void ApiServer::stop() { http_->stop(); }

bool ApiServer::authorized(const httplib::Request& request) const {
  if (options_.api_key.empty()) return true;
  const std::string header = request.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!std::string_view(header).starts_with(kBearer)) return false;
  return constant_time_equal(std::string_view(header).substr(kBearer.size()), options_.api_key);
}

void ApiServer::register_routes() {
  http_->set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    if (request.path == "/health" || authorized(request)) return httplib::Server::HandlerResponse::Unhandled;
    spdlog::warn("{} {} from {}: rejected, missing or wrong API key", request.method, request.path, request.remote_addr);
    send_error(response, ApiError(401, "missing or wrong API key; send the header 'Authorization: Bearer KEY'",
                                  "invalid_request_error", {}, "invalid_api_key"));
    return httplib::Server::HandlerResponse::Handled;
  });

  http_->set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& request,
                                                                        httplib::Response& response) {
    if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const std::string type = response.status >= 500 ? "server_error" : "invalid_request_error";
    const std::string code = response.status == 404   ? "not_found"
                             : response.status == 413 ? "request_too_large"
                                                      : std::string();
    send_json(response, response.status,
              error_body(default_error_message(request, response.status, options_.max_body_bytes), type, {}, code));
    return httplib::Server::HandlerResponse::Handled;
  }));

  http_->set_exception_handler([](const httplib::Request& request, httplib::Response& response, std::exception_ptr error) {
    std::string message = "unknown error";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& caught) {
      message = caught.what();
    } catch (...) {
    }
    spdlog::error("{} {}: {}", request.method, request.path, message);
    send_json(response, 500, error_body("internal error: " + message, "server_error"));
  });

  http_->set_logger([](const httplib::Request& request, const httplib::Response& response) {
    spdlog::info("{} {} {} from {}:{}", request.method, request.path, response.status, request.remote_addr,
                 request.remote_port);
  });

  http_->Get("/health", [](const httplib::Request&, httplib::Response& response) {
    send_json(response, 200, {{"status", "ok"}});
  });
  http_->Get("/v1/models", [this](const httplib::Request&, httplib::Response& response) { handle_models(response); });
  http_->Post("/v1/chat/completions", [this](const httplib::Request& request, httplib::Response& response) {
    try {
      handle_chat(request, response);
    } catch (const ApiError& error) {
      spdlog::warn("{} {}: {} ({})", request.method, request.path, error.what(), error.status());
      send_error(response, error);
    }
  });
  http_->Post("/v1/audio/transcriptions", [this](const httplib::Request& request, httplib::Response& response) {
    try {
      handle_transcription(request, response);
    } catch (const ApiError& error) {
      spdlog::warn("{} {}: {} ({})", request.method, request.path, error.what(), error.status());
      send_error(response, error);
    }
  });
}

void ApiServer::handle_models(httplib::Response& response) const {
  const json model = {{"id", engine_.model_id()}, {"object", "model"}, {"created", unix_time()}, {"owned_by", "utter"}};
  send_json(response, 200, {{"object", "list"}, {"data", json::array({model})}});
}

void ApiServer::handle_chat(const httplib::Request& request, httplib::Response& response) {
  // The state lives until the streamed reply is written, after this handler returns.
  struct ChatState {
    ChatCompletionRequest chat;
    ChatPrompt prompt;
    std::string id;
    int64_t created = 0;
  };
  auto state = std::make_shared<ChatState>();
  state->chat = parse_chat_request(request.body, options_.chat_limits);
  state->prompt = build_chat_prompt(engine_.tokenizer(), state->chat);
  state->id = random_id("chatcmpl-");
  state->created = unix_time();
  const std::string model_id = engine_.model_id();

  if (!state->chat.stream) {
    const auto start = Clock::now();
    // A client that hangs up stops the generation; the socket is checked every 50 ms.
    const ConnectionWatch watch(request.local_addr, request.local_port, request.remote_addr, request.remote_port);
    auto last_check = start;
    const ChatOutcome outcome = engine_.complete_chat(state->chat, state->prompt, [&](std::string_view) {
      const auto now = Clock::now();
      if (now - last_check < std::chrono::milliseconds(50)) return true;
      last_check = now;
      return !watch.closed();
    });
    spdlog::info("{}: prompt {} positions ({} cached), {} tokens in {:.2f} s, finish {}", state->id,
                 outcome.prompt_tokens, outcome.cached_tokens, outcome.tokens.size(), seconds_since(start),
                 outcome.finish_reason);
    const json choice = {{"index", 0},
                         {"message", {{"role", "assistant"}, {"content", outcome.text}}},
                         {"logprobs", nullptr},
                         {"finish_reason", outcome.finish_reason}};
    send_json(response, 200,
              {{"id", state->id},
               {"object", "chat.completion"},
               {"created", state->created},
               {"model", model_id},
               {"choices", json::array({choice})},
               {"usage", usage_json(outcome)}});
    return;
  }

  response.set_header("Cache-Control", "no-cache");
  response.set_chunked_content_provider(
      "text/event-stream", [this, state, model_id](size_t, httplib::DataSink& sink) {
        auto chunk = [&](json delta, json finish_reason) {
          json choice = {{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", finish_reason}};
          json body = {{"id", state->id},
                       {"object", "chat.completion.chunk"},
                       {"created", state->created},
                       {"model", model_id},
                       {"choices", json::array({std::move(choice)})}};
          if (state->chat.include_usage) body["usage"] = nullptr;
          return body;
        };
        auto send = [&](const std::string& event) { return sink.is_writable() && sink.write(event.data(), event.size()); };

        const auto start = Clock::now();
        if (!send(sse_event(chunk({{"role", "assistant"}, {"content", ""}}, nullptr)))) return false;
        try {
          const ChatOutcome outcome =
              engine_.complete_chat(state->chat, state->prompt, [&](std::string_view text) {
                if (text.empty()) return sink.is_writable();
                return send(sse_event(chunk({{"content", std::string(text)}}, nullptr)));
              });
          spdlog::info("{}: streamed, prompt {} positions ({} cached), {} tokens in {:.2f} s, finish {}", state->id,
                       outcome.prompt_tokens, outcome.cached_tokens, outcome.tokens.size(), seconds_since(start),
                       outcome.finish_reason);
          if (outcome.finish_reason == "cancelled") return false;
          send(sse_event(chunk(json::object(), outcome.finish_reason)));
          if (state->chat.include_usage) {
            json usage = chunk(json::object(), nullptr);
            usage["choices"] = json::array();
            usage["usage"] = usage_json(outcome);
            send(sse_event(usage));
          }
        } catch (const ApiError& error) {
          spdlog::warn("{}: {}", state->id, error.what());
          send(sse_event(error_body(error)));
        } catch (const std::exception& error) {
          spdlog::error("{}: {}", state->id, error.what());
          send(sse_event(error_body(std::string("internal error: ") + error.what(), "server_error")));
        }
        send("data: [DONE]\n\n");
        sink.done();
        return true;
      });
}

void ApiServer::handle_transcription(const httplib::Request& request, httplib::Response& response) {
  if (!request.is_multipart_form_data()) {
    throw invalid_request("the request must be multipart/form-data with the audio in the field 'file'", {},
                          "invalid_content_type");
  }
  if (!request.has_file("file")) throw invalid_request("missing required field 'file'", "file");
  const httplib::MultipartFormData upload = request.get_file_value("file");
  if (upload.content.empty()) throw invalid_request("the uploaded file is empty", "file", "audio_empty");

  const std::optional<std::string> model = form_field(request, "model");
  if (!model || model->empty()) throw invalid_request("missing required field 'model'", "model");

  const std::string format = form_field(request, "response_format").value_or("json");
  static const std::vector<std::string> kFormats = {"json", "text", "srt", "vtt", "verbose_json"};
  if (std::find(kFormats.begin(), kFormats.end(), format) == kFormats.end()) {
    throw invalid_request(fmt::format("response_format '{}' is not supported; use json, text, srt, vtt or verbose_json",
                                      format),
                          "response_format", "unsupported_response_format");
  }

  TranscriptionSettings settings;
  settings.system_prompt = cli::default_transcription_system_prompt();
  settings.instruction = cli::default_transcription_instruction();
  if (const auto temperature = form_field(request, "temperature")) {
    size_t used = 0;
    double value = -1.0;
    try {
      value = std::stod(*temperature, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != temperature->size() || !(value >= 0.0 && value <= 1.0)) {
      throw invalid_request(fmt::format("temperature '{}' is invalid; give a number from 0 to 1", *temperature),
                            "temperature");
    }
    settings.temperature = static_cast<float>(value);
  }
  const std::string language = form_field(request, "language").value_or("");
  if (!language.empty()) {
    const bool valid = language.size() <= 12 && std::all_of(language.begin(), language.end(), [](char c) {
                         return std::isalpha(static_cast<unsigned char>(c)) || c == '-';
                       });
    if (!valid) {
      throw invalid_request(fmt::format("language '{}' is invalid; give an ISO 639-1 code such as 'en'", language),
                            "language");
    }
    settings.instruction += " The speech is in the language with the ISO 639 code '" + language + "'.";
  }
  // OpenAI's `prompt` guides spelling and style; it goes to the system prompt as context.
  const std::string prompt = form_field(request, "prompt").value_or("");
  if (!prompt.empty()) settings.system_prompt += "\n\nContext for names and spelling: " + prompt;

  TemporaryAudioFile file(upload.content, file_extension(upload.filename));
  const std::string where = "file '" + upload.filename + "'";
  auto describe = [&](std::string message) {
    for (size_t at = message.find(file.path().string()); at != std::string::npos;
         at = message.find(file.path().string(), at + where.size())) {
      message.replace(at, file.path().string().size(), where);
    }
    return message;
  };

  try {
    const audio::AudioFileInfo info = audio::probe_audio_file(file.path());
    if (info.frames <= 0) throw invalid_request("the uploaded audio contains no samples", "file", "audio_empty");
    if (info.duration_seconds() > options_.max_transcription_seconds) {
      throw invalid_request(fmt::format("the uploaded audio is {:.1f} s long; this server takes at most {:.0f} s",
                                        info.duration_seconds(), options_.max_transcription_seconds),
                            "file", "audio_too_long");
    }
  } catch (const audio::AudioError& error) {
    throw invalid_request(describe(error.what()) + "; send WAV, FLAC, Ogg Vorbis, Opus or MP3", "file",
                          "unsupported_format");
  }

  const auto start = Clock::now();
  const ConnectionWatch watch(request.local_addr, request.local_port, request.remote_addr, request.remote_port);
  cli::FileTranscript transcript;
  try {
    transcript = engine_.transcribe(file.path(), settings, [&] { return watch.closed(); });
  } catch (const audio::AudioError& error) {
    throw invalid_request(describe(error.what()), "file", "invalid_audio");
  } catch (const RequestCancelled&) {
    spdlog::info("transcription of {} cancelled: the client closed the connection", where);
    // 499 is nginx's status for "client closed request"; the client is gone and never reads it.
    response.status = 499;
    return;
  }
  spdlog::info("transcription of {:.1f} s of audio in {} pieces took {:.2f} s", transcript.duration_seconds,
               transcript.segments.size(), seconds_since(start));

  if (format == "json") {
    send_json(response, 200, {{"text", transcript.text()}});
  } else if (format == "text") {
    response.set_content(cli::format_transcript(transcript, cli::TranscriptFormat::Text), "text/plain; charset=utf-8");
  } else if (format == "srt") {
    response.set_content(cli::format_transcript(transcript, cli::TranscriptFormat::Srt), "text/plain; charset=utf-8");
  } else if (format == "vtt") {
    response.set_content(cli::format_transcript(transcript, cli::TranscriptFormat::Vtt), "text/vtt; charset=utf-8");
  } else {
    json segments = json::array();
    for (size_t i = 0; i < transcript.segments.size(); ++i) {
      const auto& segment = transcript.segments[i];
      segments.push_back({{"id", i},
                          {"seek", 0},
                          {"start", segment.start_seconds},
                          {"end", segment.end_seconds},
                          {"text", segment.text},
                          {"temperature", settings.temperature}});
    }
    send_json(response, 200,
              {{"task", "transcribe"},
               {"language", language.empty() ? "unknown" : language},
               {"duration", transcript.duration_seconds},
               {"text", transcript.text()},
               {"segments", segments}});
  }
}

}  // namespace utter::server
