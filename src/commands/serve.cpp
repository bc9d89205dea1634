// `utter serve`: an OpenAI-compatible HTTP API for chat and transcription on the local model.
#include <fmt/core.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <pthread.h>
#include <string>
#include <thread>

#include "commands/command_registry.h"
#include "common/model_files.h"
#include "server/engine.h"
#include "server/http_api.h"

namespace utter::cli {
namespace {

struct ServeOptions {
  std::string model_path;
  std::string mmproj_path;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;
  int threads = 0;
  double kv_budget_mib = 4096;
  double max_body_mib = 32;
  double max_audio_seconds = 3 * 3600;
  double max_clip_seconds = 30;
  int max_queued_requests = 64;
  int default_max_tokens = 4096;
};

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.starts_with("127.");
}

int run_serve(const ServeOptions& options) {
  // SIGINT and SIGTERM are taken by a waiting thread instead of interrupting one at random;
  // every thread started from here on inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Logs go to stderr because stdout carries the line with the address.
  spdlog::set_default_logger(spdlog::stderr_color_mt("serve"));

  const ModelFiles files = find_model_files(options.model_path, options.mmproj_path, /*need_mmproj=*/false);
  server::EngineOptions engine_options;
  engine_options.model_path = files.model;
  engine_options.mmproj_path = files.mmproj;
  engine_options.threads = options.threads;
  engine_options.kv_cache_budget_bytes = static_cast<uint64_t>(options.kv_budget_mib * 1048576.0);
  engine_options.max_queued_requests = static_cast<size_t>(options.max_queued_requests);
  engine_options.default_max_tokens = options.default_max_tokens;
  spdlog::info("loading {}", files.model.string());
  server::Engine engine(engine_options);
  if (files.mmproj.empty()) {
    spdlog::warn("no audio projector found: transcription and audio input are off (give --mmproj to enable them)");
  }

  server::ServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.api_key = options.api_key;
  server_options.max_body_bytes = static_cast<size_t>(options.max_body_mib * 1048576.0);
  server_options.max_transcription_seconds = options.max_audio_seconds;
  server_options.chat_limits.max_clip_seconds = options.max_clip_seconds;
  server::ApiServer server(engine, server_options);

  if (!is_loopback(options.host) && options.api_key.empty()) {
    spdlog::warn("listening on {} without --api-key: anyone who can reach this address can use the model",
                 options.host);
  }
  const int port = server.bind();
  // Scripts and tests read the port from this line, which matters with --port 0.
  fmt::print("utter serve: listening on http://{}:{} (model {}, context {} positions)\n", options.host, port,
             engine.model_id(), engine.max_positions());
  std::fflush(stdout);

  std::thread signal_waiter([&] {
    int received = 0;
    sigwait(&stop_signals, &received);
    if (received != 0) spdlog::info("received signal {}, stopping", received);
    server.stop();
  });
  server.listen();
  // listen() also returns when the socket fails; wake the waiter so it can be joined.
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  spdlog::info("stopped");
  return 0;
}

void setup_serve(CLI::App& sub) {
  auto options = std::make_shared<ServeOptions>();
  sub.add_option("-m,--model", options->model_path, "Gemma 4 text model (.gguf); default: see `utter models list`");
  sub.add_option("--mmproj", options->mmproj_path, "Audio projector (mmproj .gguf); without it only text is served");
  sub.add_option("--host", options->host, "Address to listen on; other than loopback only when you mean it");
  sub.add_option("--port", options->port, "TCP port (0: any free port, printed at start)")->check(CLI::Range(0, 65535));
  sub.add_option("--api-key", options->api_key, "Require 'Authorization: Bearer KEY' on every request but /health")
      ->envname("UTTER_API_KEY");
  sub.add_option("-t,--threads", options->threads, "Worker threads (0: one per core)")->check(CLI::NonNegativeNumber);
  sub.add_option("--kv-budget", options->kv_budget_mib, "Key/value cache memory budget for chat in MiB")
      ->check(CLI::Range(1.0, 1e7));
  sub.add_option("--max-body", options->max_body_mib, "Largest request body in MiB; larger ones get HTTP 413")
      ->check(CLI::Range(0.001, 4096.0));
  sub.add_option("--max-audio-seconds", options->max_audio_seconds, "Longest audio file a transcription request may send")
      ->check(CLI::Range(1.0, 1e6));
  sub.add_option("--max-clip-seconds", options->max_clip_seconds, "Longest audio clip in a chat message")
      ->check(CLI::Range(1.0, 3600.0));
  sub.add_option("--max-tokens", options->default_max_tokens, "Tokens a chat answer may have when the request sets no max_tokens")
      ->check(CLI::Range(1, 1 << 24));
  sub.add_option("--max-queue", options->max_queued_requests, "Requests that may wait for the model; more get HTTP 503")
      ->check(CLI::Range(1, 100000));
  sub.callback([options] { run_guarded([&] { return run_serve(*options); }); });
}

const bool registered = register_command({"serve", "Serve an OpenAI-compatible API for chat and transcription", setup_serve});

}  // namespace
}  // namespace utter::cli
