// A small HTTP/1.1 file server on 127.0.0.1 for download tests. It serves fixed bodies at
// fixed paths and can answer Range requests or ignore them, cut the connection halfway through
// a body, and answer 404 for every other path. One connection at a time, closed after each reply.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace utter::testing {

class LocalHttpServer {
 public:
  struct Request {
    std::string path;
    std::string range;          // the Range header's value, empty when absent
    std::string authorization;  // the Authorization header's value, empty when absent
  };

  explicit LocalHttpServer(std::map<std::string, std::string> files) : files_(std::move(files)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listener_ < 0) throw std::runtime_error("socket() failed");
    const int yes = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;  // any free port
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || ::listen(listener_, 8) != 0) {
      ::close(listener_);
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    socklen_t length = sizeof(address);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  ~LocalHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }

  int port() const { return port_; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  void set_range_support(bool enabled) { ranges_ = enabled; }
  // The next `count` replies that carry body bytes stop after half of what they promise.
  void drop_next_replies_halfway(int count) { drops_left_ = count; }

  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd ready{listener_, POLLIN, 0};
      if (::poll(&ready, 1, 50) <= 0) continue;
      const int connection = ::accept(listener_, nullptr, nullptr);
      if (connection < 0) continue;
      handle(connection);
      ::close(connection);
    }
  }

  static void send_all(int connection, const char* data, size_t size) {
    while (size > 0) {
      const ssize_t sent = ::send(connection, data, size, MSG_NOSIGNAL);
      if (sent <= 0) return;
      data += sent;
      size -= static_cast<size_t>(sent);
    }
  }

  static std::string header_value(const std::string& head, const std::string& name) {
    std::string lower = head;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string key = "\r\n" + name + ":";
    const auto at = lower.find(key);
    if (at == std::string::npos) return {};
    auto begin = at + key.size();
    while (begin < head.size() && head[begin] == ' ') ++begin;
    return head.substr(begin, head.find("\r\n", begin) - begin);
  }

  void handle(int connection) {
    std::string head;
    char buffer[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
      pollfd ready{connection, POLLIN, 0};
      if (::poll(&ready, 1, 2000) <= 0) return;
      const ssize_t got = ::recv(connection, buffer, sizeof(buffer), 0);
      if (got <= 0) return;
      head.append(buffer, static_cast<size_t>(got));
    }
    const auto first_space = head.find(' ');
    const auto second_space = head.find(' ', first_space + 1);
    if (first_space == std::string::npos || second_space == std::string::npos) return;
    Request request;
    request.path = head.substr(first_space + 1, second_space - first_space - 1);
    request.range = header_value(head, "range");
    request.authorization = header_value(head, "authorization");
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }

    const auto file = files_.find(request.path);
    if (file == files_.end()) {
      const std::string reply = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found";
      send_all(connection, reply.data(), reply.size());
      return;
    }

    const std::string& body = file->second;
    uint64_t start = 0;
    bool partial = false;
    if (ranges_ && request.range.rfind("bytes=", 0) == 0) {
      start = std::stoull(request.range.substr(6));
      partial = true;
      if (start >= body.size()) {
        const std::string reply = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" +
                                  std::to_string(body.size()) + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        send_all(connection, reply.data(), reply.size());
        return;
      }
    }
    const uint64_t length = body.size() - start;
    std::string reply = partial ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 200 OK\r\n";
    if (partial) {
      reply += "Content-Range: bytes " + std::to_string(start) + "-" + std::to_string(body.size() - 1) + "/" +
               std::to_string(body.size()) + "\r\n";
    }
    if (ranges_) reply += "Accept-Ranges: bytes\r\n";
    reply += "Content-Length: " + std::to_string(length) + "\r\nConnection: close\r\n\r\n";
    send_all(connection, reply.data(), reply.size());

    uint64_t to_send = length;
    if (drops_left_ > 0) {
      --drops_left_;
      to_send = length / 2;
    }
    send_all(connection, body.data() + start, static_cast<size_t>(to_send));
  }

  const std::map<std::string, std::string> files_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ranges_{true};
  std::atomic<int> drops_left_{0};
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
  std::thread thread_;
};

}  // namespace utter::testing
