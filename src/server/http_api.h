// The HTTP side of `utter serve`: OpenAI-compatible routes on cpp-httplib, in front of the
// one Engine.
//
//   GET  /health                    {"status": "ok"}, without an API key
//   GET  /v1/models                 the loaded model
//   POST /v1/chat/completions       JSON; with "stream": true the reply is server-sent events
//   POST /v1/audio/transcriptions   multipart/form-data with the audio in "file"
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "server/chat_request.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace utter::server {

class Engine;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                            // 0: any free port
  std::string api_key;                        // empty: no key needed
  size_t max_body_bytes = 32u << 20;          // larger bodies get 413
  double max_transcription_seconds = 3 * 3600.0;
  ChatRequestLimits chat_limits;
};

class ApiServer {
 public:
  ApiServer(Engine& engine, ServerOptions options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds the listening socket and returns its port; throws std::runtime_error naming the
  // address when that fails.
  int bind();
  // Serves until stop() is called from another thread.
  void listen();
  void stop();

 private:
  void register_routes();
  bool authorized(const httplib::Request& request) const;
  void handle_models(httplib::Response& response) const;
  void handle_chat(const httplib::Request& request, httplib::Response& response);
  void handle_transcription(const httplib::Request& request, httplib::Response& response);

  Engine& engine_;
  ServerOptions options_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
};

}  // namespace utter::server
