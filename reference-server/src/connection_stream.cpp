#include "connection_stream.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>

namespace assistant::server {
namespace {

// The numeric host and the port of `addr`, as cpp-httplib writes them into
// Request::remote_addr / local_addr.
void FormatAddress(const sockaddr_storage& addr, socklen_t len, std::string& ip, int& port) {
  if (addr.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  } else if (addr.ss_family == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  } else {
    return;
  }
  char host[NI_MAXHOST] = {};
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host, nullptr, 0,
                  NI_NUMERICHOST) == 0) {
    ip = host;
  }
}

int PollOne(int sock, short events, int timeout_ms) {
  pollfd p{sock, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, timeout_ms);
    if (n >= 0 || errno != EINTR) return n;
  }
}

}  // namespace

ConnectionStream::ConnectionStream(socket_t sock, time_t read_timeout_sec,
                                   time_t write_timeout_sec)
    : sock_(sock),
      read_timeout_sec_(read_timeout_sec),
      write_timeout_sec_(write_timeout_sec),
      read_buf_(new char[kReadBufferBytes]) {
  // A blocking recv returns every kStopCheckMs (Recv then decides whether
  // to go on waiting), so that waiting for a request is one recv rather
  // than a poll and a recv. A blocking sendmsg waits at most the write
  // timeout.
  timeval rtv{0, kStopCheckMs * 1000};
  ::setsockopt(sock_, SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof rtv);
  timeval wtv{write_timeout_sec, 0};
  ::setsockopt(sock_, SOL_SOCKET, SO_SNDTIMEO, &wtv, sizeof wtv);
}

ssize_t ConnectionStream::Recv(char* buf, size_t len, int timeout_ms,
                               const std::atomic<socket_t>* listening) {
  // The clock is read only after a first empty slice: a busy connection
  // pays one recv and nothing else.
  std::chrono::steady_clock::time_point deadline{};
  for (;;) {
    const ssize_t n = ::recv(sock_, buf, len, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    const auto now = std::chrono::steady_clock::now();
    if (deadline == std::chrono::steady_clock::time_point{}) {
      deadline = now + std::chrono::milliseconds(timeout_ms - kStopCheckMs);
    }
    if (now >= deadline) return -1;
    if (listening != nullptr && listening->load(std::memory_order_relaxed) == INVALID_SOCKET) {
      return -1;
    }
  }
}

ConnectionStream::~ConnectionStream() = default;

bool ConnectionStream::WaitForRequest(int idle_timeout_ms, const std::atomic<socket_t>& listening) {
  if (listening.load(std::memory_order_relaxed) == INVALID_SOCKET) return false;
  if (read_off_ < read_len_) return true;
  const ssize_t n = Recv(read_buf_.get(), kReadBufferBytes, idle_timeout_ms, &listening);
  if (n <= 0) return false;  // the peer closed, idled out, or the server stops
  read_off_ = 0;
  read_len_ = static_cast<size_t>(n);
  return true;
}

bool ConnectionStream::FinishResponse() {
  const bool ok = pending_.empty() || SendAll(nullptr, 0);
  streaming_ = false;
  at_response_start_ = true;
  return ok;
}

bool ConnectionStream::is_readable() const {
  if (read_off_ < read_len_) return true;
  // Whatever we wrote must reach the peer before we wait for its answer
  // (`100 Continue`, then the body).
  if (!pending_.empty() && !SendAll(nullptr, 0)) return false;
  return PollOne(sock_, POLLIN, static_cast<int>(read_timeout_sec_ * 1000)) > 0;
}

bool ConnectionStream::is_writable() const {
  if (broken_) return false;
  if (!pending_.empty() && !SendAll(nullptr, 0)) return false;
  streaming_ = true;
  if (PollOne(sock_, POLLOUT, static_cast<int>(write_timeout_sec_ * 1000)) <= 0) return false;
  // As cpp-httplib's own check: a peer that closed shows as readable with
  // nothing to read.
  const int readable = PollOne(sock_, POLLIN, 0);
  if (readable == 0) return true;
  if (readable < 0) return errno != EBADF;
  char byte;
  return ::recv(sock_, &byte, 1, MSG_PEEK) > 0;
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (read_off_ < read_len_) {
    // The request parser reads one byte at a time: keep that path short.
    const size_t n = std::min(size, read_len_ - read_off_);
    if (n == 1) {
      *ptr = read_buf_[read_off_];
    } else {
      std::memcpy(ptr, read_buf_.get() + read_off_, n);
    }
    read_off_ += n;
    return static_cast<ssize_t>(n);
  }
  if (!pending_.empty() && !SendAll(nullptr, 0)) return -1;
  char* into = size >= kReadBufferBytes ? ptr : read_buf_.get();
  const size_t room = size >= kReadBufferBytes ? size : kReadBufferBytes;
  const ssize_t n = Recv(into, room, static_cast<int>(read_timeout_sec_ * 1000), nullptr);
  if (n <= 0 || into == ptr) return n;
  read_off_ = 0;
  read_len_ = static_cast<size_t>(n);
  return read(ptr, size);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  if (size == 0) return 0;
  if (at_response_start_) {
    // cpp-httplib writes a response's header block in one write. Without a
    // Content-Length the body is chunked (a stream, produced slowly) or
    // absent: nothing is worth waiting for, so it all goes out at once.
    const std::string_view block(ptr, size);
    if (block.rfind("HTTP/1.1 1", 0) == 0) {
      // An interim response (100 Continue): the client waits for it before
      // it sends the body; the real response comes later.
      return SendAll(ptr, size) ? static_cast<ssize_t>(size) : -1;
    }
    at_response_start_ = false;
    static constexpr std::string_view kLength = "\r\nContent-Length:";
    if (block.find(kLength) == std::string_view::npos) streaming_ = true;
  }
  if (!streaming_ && pending_.empty() && size <= kCoalesceBytes) {
    pending_.assign(ptr, size);
    return static_cast<ssize_t>(size);
  }
  return SendAll(ptr, size) ? static_cast<ssize_t>(size) : -1;
}

bool ConnectionStream::SendAll(const char* ptr, size_t size) const {
  iovec iov[2];
  int count = 0;
  if (!pending_.empty()) iov[count++] = {pending_.data(), pending_.size()};
  if (size > 0) iov[count++] = {const_cast<char*>(ptr), size};
  iovec* next = iov;
  bool ok = !broken_;
  // Read only once a sendmsg came back short: a write that goes out whole
  // costs no clock read.
  std::chrono::steady_clock::time_point deadline{};
  while (ok && count > 0) {
    msghdr msg{};
    msg.msg_iov = next;
    msg.msg_iovlen = static_cast<size_t>(count);
    const ssize_t n = ::sendmsg(sock_, &msg, MSG_NOSIGNAL);  // SO_SNDTIMEO bounds the wait
    if (n < 0) {
      if (errno == EINTR) continue;
      ok = false;
      break;
    }
    auto sent = static_cast<size_t>(n);
    while (count > 0 && sent >= next->iov_len) {
      sent -= next->iov_len;
      ++next;
      --count;
    }
    if (count > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + sent;
      next->iov_len -= sent;
      const auto now = std::chrono::steady_clock::now();
      if (deadline == std::chrono::steady_clock::time_point{}) {
        deadline = now + std::chrono::seconds(write_timeout_sec_);
      } else if (now >= deadline) {
        ok = false;  // a peer that reads too slowly to take this write in time
      }
    }
  }
  pending_.clear();
  if (!ok) broken_ = true;
  return ok;
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  if (remote_port_ < 0) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      FormatAddress(addr, len, remote_ip_, remote_port_);
    }
  }
  ip = remote_ip_;
  port = remote_port_;
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  if (local_port_ < 0) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      FormatAddress(addr, len, local_ip_, local_port_);
    }
  }
  ip = local_ip_;
  port = local_port_;
}

}  // namespace assistant::server
