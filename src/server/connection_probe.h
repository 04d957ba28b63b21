// Tells whether the client of an HTTP request has hung up, without reading from the socket.
//
// cpp-httplib 0.11 gives handlers no access to the connection, and a closed peer is only seen
// when a write fails, which never happens while a request waits in the queue or in prefill.
// The probe finds the server-side socket of the request (the descriptor whose local and peer
// addresses are the request's) and peeks at it: a zero-length read means the peer closed.
// Pipelined bytes are left in place. The socket stays open while the request's handler or
// content provider runs (httplib closes it afterwards, on the same thread), so the descriptor
// cannot be reused under the probe. The lookup happens at construction, while the connection
// is most likely intact (a reset socket has no peer address any more; the probe then knows
// nothing and write failures remain the only signal); it costs one scan of
// /proc/self/fd (a few syscalls per open descriptor). client_gone() is one non-blocking recv.
// Use on the request's own thread.
#pragma once

#include <httplib.h>

namespace swiftkv::server {

class ConnectionProbe {
 public:
  explicit ConnectionProbe(const httplib::Request& request);

  // True when the peer has closed the connection (or it failed). False when unknown.
  bool client_gone() const;

 private:
  int fd_ = -1;  // -1: not found
};

}  // namespace swiftkv::server
