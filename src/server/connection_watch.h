// Notices when the client of a request that is still being computed has closed its
// connection. cpp-httplib (0.11) hands handlers no socket, so the socket is found among the
// process's open files by the request's local and remote address.
#pragma once

#include <string>

namespace utter::server {

class ConnectionWatch {
 public:
  // Finds the connected socket with these endpoints; when none matches, closed() is always false.
  ConnectionWatch(const std::string& local_address, int local_port, const std::string& remote_address,
                  int remote_port);

  // True once the peer has closed or reset the connection. Data the client sent ahead (a
  // pipelined request) stays unread.
  // NOTE: a client that shuts down only its sending side while it waits looks closed too.
  bool closed() const;
  bool found() const { return socket_ >= 0; }

 private:
  int socket_ = -1;
};

}  // namespace utter::server
