#include "upstream_connection.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

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

// The one client TLS context: peer certificates verified against the
// system's CAs, as OpenSSL finds them (SSL_CERT_FILE and SSL_CERT_DIR
// override the built-in paths).
asio::ssl::context& ClientContext() {
  static asio::ssl::context* context = [] {
    auto* ctx = new asio::ssl::context(asio::ssl::context::tls_client);  // outlives every stream
    ctx->set_default_verify_paths();
    ctx->set_verify_mode(asio::ssl::verify_peer);
    return ctx;
  }();
  return *context;
}

std::chrono::milliseconds Left(Clock::time_point deadline) {
  return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()),
                  std::chrono::milliseconds(0));
}

}  // namespace

PolledSocket::PolledSocket() : socket_(SocketContext()) {}

bool PolledSocket::Connect(const std::string& host, const std::string& port,
                           std::chrono::milliseconds timeout, boost::system::error_code& ec) {
  const auto deadline = Clock::now() + timeout;
  asio::ip::tcp::resolver resolver(SocketContext());
  const auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return false;
  ec = asio::error::host_not_found;
  for (const auto& entry : endpoints) {
    const auto endpoint = entry.endpoint();
    if (socket_.is_open()) {
      boost::system::error_code ignored;
      socket_.close(ignored);
    }
    socket_.open(endpoint.protocol(), ec);
    if (ec) continue;
    socket_.non_blocking(true, ec);
    // A request's head and body may be separate writes: without this,
    // Nagle's algorithm holds the second until the first is acknowledged.
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    if (ec) continue;
    // asio's own connect waits without a bound: connect without blocking
    // and wait for the outcome here.
    if (::connect(socket_.native_handle(), endpoint.data(),
                  static_cast<socklen_t>(endpoint.size())) != 0) {
      if (errno != EINPROGRESS) {
        ec = boost::system::error_code(errno, boost::system::system_category());
        continue;
      }
      if (!Wait(false, Left(deadline), ec)) continue;
      int error = 0;
      socklen_t len = sizeof(error);
      if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) {
        error = errno;
      }
      if (error != 0) {
        ec = boost::system::error_code(error, boost::system::system_category());
        continue;
      }
    }
    ec = {};
    return true;
  }
  return false;
}

void PolledSocket::Cut() {
  cut_.store(true, std::memory_order_relaxed);
  // shutdown(2) wakes a poll in progress on the holding thread; the socket
  // itself is closed by its owner.
  ::shutdown(socket_.native_handle(), SHUT_RDWR);
}

bool PolledSocket::Idle() {
  pollfd p{socket_.native_handle(), POLLIN, 0};
  // Readable while idle means the upstream closed it (or sent what nobody
  // asked for): either way it cannot carry the next exchange.
  return ::poll(&p, 1, 0) == 0;
}

UpstreamConnection::~UpstreamConnection() = default;

std::unique_ptr<UpstreamConnection> UpstreamConnection::Open(const std::string& host,
                                                             const std::string& port, bool tls,
                                                             std::chrono::milliseconds timeout,
                                                             boost::system::error_code* ec) {
  const auto deadline = Clock::now() + timeout;
  std::unique_ptr<UpstreamConnection> c(new UpstreamConnection());
  if (!c->socket_.Connect(host, port, timeout, *ec)) return nullptr;
  if (!tls) return c;
  c->tls_ = std::make_unique<asio::ssl::stream<PolledSocket&>>(c->socket_, ClientContext());
  SSL* ssl = c->tls_->native_handle();
  // SNI, for upstreams that serve several names on one address; an IP
  // address is not a server name (RFC 6066 section 3).
  boost::system::error_code not_ip;
  asio::ip::make_address(host, not_ip);
  if (not_ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    *ec = asio::error::invalid_argument;
    return nullptr;
  }
  // The certificate must name the host (or the IP address) dialled.
  c->tls_->set_verify_callback(asio::ssl::host_name_verification(host));
  c->socket_.set_io_timeout(Left(deadline));
  c->tls_->handshake(asio::ssl::stream_base::client, *ec);
  if (*ec) return nullptr;
  return c;
}

bool UpstreamConnection::IsUnverified(const boost::system::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
}

bool PolledSocket::Wait(bool read, std::chrono::milliseconds timeout,
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
