// Tells whether the client of an HTTP request has hung up, without reading from the socket.
//
// cpp-httplib 0.11 gives handlers no access to the connection, and a closed peer is only seen
// when a write fails, which never happens while a request waits in the queue or in prefill.
// The probe finds the server-side socket of the request (the descriptor whose local and peer
// addresses are the request's) and peeks at it: a zero-length read means the peer closed.
// Pipelined bytes are left in place. The socket stays open while the request's handler or
// content provider runs (httplib closes it afterwards, on the same thread), so the descriptor
// cannot be reused under the probe. Lookup costs one scan of /proc/self/fd and is done lazily,
// on the first call to client_gone(). Not thread-safe; use on the request's own thread.
#pragma once

#include <httplib.h>
#include <string>

namespace swiftkv::server {

class ConnectionProbe {
 public:
  explicit ConnectionProbe(const httplib::Request& request);

  // True when the peer has closed the connection (or it failed). False when unknown.
  bool client_gone();

 private:
  std::string local_addr_;
  int local_port_;
  std::string remote_addr_;
  int remote_port_;
  int fd_ = -1;
  bool looked_up_ = false;
};

}  // namespace swiftkv::server
