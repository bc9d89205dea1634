#include "server/connection_watch.h"

#include <dirent.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

namespace utter::server {
namespace {

bool endpoint_matches(const sockaddr_storage& address, socklen_t length, const std::string& host, int port) {
  char host_text[NI_MAXHOST];
  char port_text[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host_text, sizeof(host_text), port_text,
                  sizeof(port_text), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  return host == host_text && port == std::atoi(port_text);
}

}  // namespace

ConnectionWatch::ConnectionWatch(const std::string& local_address, int local_port, const std::string& remote_address,
                                 int remote_port) {
  DIR* folder = opendir("/proc/self/fd");
  if (folder == nullptr) return;
  while (const dirent* entry = readdir(folder)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dirfd(folder)) continue;
    struct stat info {};
    if (fstat(static_cast<int>(fd), &info) != 0 || !S_ISSOCK(info.st_mode)) continue;

    sockaddr_storage peer{};
    socklen_t peer_length = sizeof(peer);
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) continue;
    if (!endpoint_matches(peer, peer_length, remote_address, remote_port)) continue;
    sockaddr_storage local{};
    socklen_t local_length = sizeof(local);
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &local_length) != 0) continue;
    if (!endpoint_matches(local, local_length, local_address, local_port)) continue;
    socket_ = static_cast<int>(fd);
    break;
  }
  closedir(folder);
}

bool ConnectionWatch::closed() const {
  if (socket_ < 0) return false;
  char byte = 0;
  const ssize_t count = recv(socket_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (count == 0) return true;  // orderly shutdown by the peer
  if (count < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  return false;
}

}  // namespace utter::server
