// Load test for `utter serve` on loopback: rounds of sequential and concurrent small chat
// requests (plain and streamed) plus model listings, with the server's resident memory
// (from /proc/PID/status) sampled between phases. Exits 1 when a request fails or the time
// limit passes.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct LoadOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int server_pid = 0;
  std::string api_key;
  int sequential = 200;
  int concurrent = 20;
  int rounds = 3;
  int max_tokens = 4;
  double time_limit_seconds = 300;
};

// Resident set size in KiB, or -1 when the process cannot be read.
long resident_kib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return -1;
}

struct PhaseResult {
  int requests = 0;
  std::atomic<int> failures{0};
  std::vector<double> latencies_ms;
  std::mutex mutex;
};

// Sends request number `index`: mostly chats, every other one streamed, every tenth a model listing.
bool send_request(const LoadOptions& options, int index, std::string& failure) {
  httplib::Client client(options.host, options.port);
  client.set_read_timeout(60, 0);
  httplib::Headers headers;
  if (!options.api_key.empty()) headers.emplace("Authorization", "Bearer " + options.api_key);

  if (index % 10 == 9) {
    auto response = client.Get("/v1/models", headers);
    if (!response || response->status != 200) {
      failure = response ? fmt::format("GET /v1/models returned {}", response->status) : httplib::to_string(response.error());
      return false;
    }
    return true;
  }
  const bool stream = index % 2 == 1;
  const nlohmann::json body = {
      {"model", "local"},
      {"messages", nlohmann::json::array({{{"role", "user"}, {"content", fmt::format("Request number {}.", index)}}})},
      {"max_tokens", options.max_tokens},
      {"temperature", 0},
      {"stream", stream}};
  auto response = client.Post("/v1/chat/completions", headers, body.dump(), "application/json");
  if (!response) {
    failure = httplib::to_string(response.error());
    return false;
  }
  if (response->status != 200) {
    failure = fmt::format("status {}: {}", response->status, response->body);
    return false;
  }
  if (stream && response->body.find("data: [DONE]") == std::string::npos) {
    failure = "the stream ended without [DONE]";
    return false;
  }
  return true;
}

void run_one(const LoadOptions& options, int index, PhaseResult& result) {
  const auto start = Clock::now();
  std::string failure;
  const bool ok = send_request(options, index, failure);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  std::lock_guard lock(result.mutex);
  result.latencies_ms.push_back(ms);
  if (!ok) {
    ++result.failures;
    fmt::print(stderr, "request {} failed: {}\n", index, failure);
  }
}

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(fraction * static_cast<double>(values.size())))];
}

void report(const char* phase, int round, PhaseResult& result, double seconds, const LoadOptions& options) {
  fmt::print("round {} {}: {} requests, {} failed, {:.2f} s, latency p50 {:.1f} ms, p95 {:.1f} ms, max {:.1f} ms, "
             "server RSS {} KiB\n",
             round, phase, result.requests, result.failures.load(), seconds, percentile(result.latencies_ms, 0.5),
             percentile(result.latencies_ms, 0.95), percentile(result.latencies_ms, 1.0), resident_kib(options.server_pid));
}

bool is_loopback(const std::string& host) { return host == "localhost" || host.starts_with("127."); }

int run(const LoadOptions& options) {
  if (!is_loopback(options.host)) {
    fmt::print(stderr, "utter-serve-load: host '{}' is not a loopback address; this tool only loads a local server\n",
               options.host);
    return 2;
  }
  const auto deadline = Clock::now() + std::chrono::duration<double>(options.time_limit_seconds);
  fmt::print("server RSS before: {} KiB\n", resident_kib(options.server_pid));
  int total_failures = 0;
  int index = 0;
  for (int round = 1; round <= options.rounds; ++round) {
    PhaseResult sequential;
    auto start = Clock::now();
    for (int i = 0; i < options.sequential && Clock::now() < deadline; ++i) {
      run_one(options, index++, sequential);
      ++sequential.requests;
    }
    report("sequential", round, sequential, std::chrono::duration<double>(Clock::now() - start).count(), options);

    PhaseResult concurrent;
    start = Clock::now();
    std::vector<std::thread> clients;
    for (int i = 0; i < options.concurrent; ++i) clients.emplace_back(run_one, std::cref(options), index++, std::ref(concurrent));
    for (auto& client : clients) client.join();
    concurrent.requests = options.concurrent;
    report("concurrent", round, concurrent, std::chrono::duration<double>(Clock::now() - start).count(), options);

    total_failures += sequential.failures + concurrent.failures;
    if (Clock::now() >= deadline) {
      fmt::print(stderr, "utter-serve-load: the time limit of {:.0f} s passed in round {}\n", options.time_limit_seconds,
                 round);
      return 1;
    }
  }
  fmt::print("{} passed, {} failed\n", index - total_failures, total_failures);
  return total_failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  LoadOptions options;
  CLI::App app{"Send rounds of sequential and concurrent requests to a local `utter serve`"};
  app.add_option("--host", options.host, "Loopback address of the server");
  app.add_option("--port", options.port, "Port of the server")->required();
  app.add_option("--pid", options.server_pid, "Process id of the server, to sample its memory");
  app.add_option("--api-key", options.api_key, "API key the server requires");
  app.add_option("--sequential", options.sequential, "Requests sent one after another per round");
  app.add_option("--concurrent", options.concurrent, "Requests sent at once per round");
  app.add_option("--rounds", options.rounds, "Rounds of both phases");
  app.add_option("--max-tokens", options.max_tokens, "Tokens each chat request generates at most");
  app.add_option("--time-limit", options.time_limit_seconds, "Seconds after which the test counts as failed");
  CLI11_PARSE(app, argc, argv);
  return run(options);
}
