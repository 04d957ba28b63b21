// Client hang-up detection; see connection_probe.h.
#include "server/connection_probe.h"

#include <dirent.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

namespace swiftkv::server {
namespace {

// host and port of a socket address, formatted as httplib does (getnameinfo NI_NUMERICHOST).
bool name_of(const sockaddr_storage& addr, socklen_t len, std::string& host, int& port) {
  char buffer[NI_MAXHOST];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, buffer, sizeof(buffer), nullptr, 0,
                  NI_NUMERICHOST) != 0) {
    return false;
  }
  host = buffer;
  if (addr.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  } else {
    return false;
  }
  return true;
}

bool matches(int fd, const std::string& local_addr, int local_port, const std::string& remote_addr,
             int remote_port) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    return false;
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  std::string host;
  int port = -1;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      !name_of(addr, len, host, port) || port != remote_port || host != remote_addr) {
    return false;
  }
  len = sizeof(addr);
  return getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
         name_of(addr, len, host, port) && port == local_port && host == local_addr;
}

int find_socket(const std::string& local_addr, int local_port, const std::string& remote_addr,
                int remote_port) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return -1;
  }
  int found = -1;
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dirfd(dir)) {
      continue;
    }
    if (matches(static_cast<int>(fd), local_addr, local_port, remote_addr, remote_port)) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

}  // namespace

ConnectionProbe::ConnectionProbe(const httplib::Request& request) {
  if (request.local_port > 0 && request.remote_port > 0) {
    fd_ = find_socket(request.local_addr, request.local_port, request.remote_addr,
                      request.remote_port);
  }
}

bool ConnectionProbe::client_gone() const {
  if (fd_ < 0) {
    return false;
  }
  char byte = 0;
  const ssize_t n = recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) {
    return false;  // the next pipelined request
  }
  if (n == 0) {
    return true;  // orderly shutdown by the peer
  }
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace swiftkv::server
