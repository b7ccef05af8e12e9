#include "upstream_connection.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>

namespace assistant::server {
namespace {

using Clock = std::chrono::steady_clock;
namespace asio = boost::asio;

// The context every upstream socket belongs to. It is never run: the
// sockets are driven synchronously, each by the thread holding it.
asio::io_context& SocketContext() {
  static asio::io_context* io = new asio::io_context();  // outlives every socket
  return *io;
}

}  // namespace

UpstreamConnection::UpstreamConnection() : socket_(SocketContext()) {}

std::unique_ptr<UpstreamConnection> UpstreamConnection::Open(const std::string& host,
                                                             const std::string& port,
                                                             std::chrono::milliseconds timeout,
                                                             boost::system::error_code* ec) {
  const auto deadline = Clock::now() + timeout;
  asio::ip::tcp::resolver resolver(SocketContext());
  const auto endpoints = resolver.resolve(host, port, *ec);
  if (*ec) return nullptr;
  *ec = asio::error::host_not_found;
  for (const auto& entry : endpoints) {
    std::unique_ptr<UpstreamConnection> c(new UpstreamConnection());
    const auto endpoint = entry.endpoint();
    c->socket_.open(endpoint.protocol(), *ec);
    if (*ec) continue;
    c->socket_.non_blocking(true, *ec);
    // A request's head and body may be separate writes: without this,
    // Nagle's algorithm holds the second until the first is acknowledged.
    c->socket_.set_option(asio::ip::tcp::no_delay(true), *ec);
    if (*ec) continue;
    // asio's own connect waits without a bound: connect without blocking
    // and wait for the outcome here.
    if (::connect(c->socket_.native_handle(), endpoint.data(),
                  static_cast<socklen_t>(endpoint.size())) != 0) {
      if (errno != EINPROGRESS) {
        *ec = boost::system::error_code(errno, boost::system::system_category());
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (!c->Wait(false, std::max(left, std::chrono::milliseconds(0)), *ec)) continue;
      int error = 0;
      socklen_t len = sizeof(error);
      if (::getsockopt(c->socket_.native_handle(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) {
        error = errno;
      }
      if (error != 0) {
        *ec = boost::system::error_code(error, boost::system::system_category());
        continue;
      }
    }
    *ec = {};
    return c;
  }
  return nullptr;
}

void UpstreamConnection::Cut() {
  cut_.store(true, std::memory_order_relaxed);
  // shutdown(2) wakes a poll in progress on the holding thread; the socket
  // itself is closed by its owner.
  ::shutdown(socket_.native_handle(), SHUT_RDWR);
}

bool UpstreamConnection::LooksAlive() {
  if (cut() || buffer_.size() != 0) return false;
  pollfd p{socket_.native_handle(), POLLIN, 0};
  // Readable while idle means the upstream closed it (or sent what nobody
  // asked for): either way it cannot carry the next exchange.
  return ::poll(&p, 1, 0) == 0;
}

bool UpstreamConnection::Wait(bool read, std::chrono::milliseconds timeout,
                              boost::system::error_code& ec) {
  pollfd p{socket_.native_handle(), static_cast<short>(read ? POLLIN : POLLOUT), 0};
  for (;;) {
    const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n > 0) return true;  // ready, or an error the next call reports
    if (n == 0) {
      ec = asio::error::timed_out;
      return false;
    }
    if (errno != EINTR) {
      ec = boost::system::error_code(errno, boost::system::system_category());
      return false;
    }
  }
}

}  // namespace assistant::server
