// Idle keep-alive connections to one upstream, so that a busy forwarder
// does not pay a TCP handshake per request. At most `max_idle` wait at a
// time (past that a returned connection is closed); one idle longer than
// `max_age` is dropped rather than reused, since the upstream may have
// closed it.
//
// Thread safety: Take and Give may be called from any thread.
#ifndef ASSISTANT_SERVER_UPSTREAM_POOL_HPP_
#define ASSISTANT_SERVER_UPSTREAM_POOL_HPP_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "upstream_connection.hpp"

namespace assistant::server {

class UpstreamPool {
 public:
  // `origin` is http://host[:port] or https://host[:port] (an IPv6 host in
  // brackets); one pool per origin, so kept connections are per scheme,
  // host and port.
  explicit UpstreamPool(std::string origin,
                          std::chrono::milliseconds max_age = std::chrono::seconds(2),
                          size_t max_idle = 64);
  // An idle connection that still looks open (`*reused` true), or a new one connected within
  // `connect_timeout`; null with `*ec` set when the upstream cannot be
  // reached.
  std::unique_ptr<UpstreamConnection> Take(std::chrono::milliseconds connect_timeout,
                                           bool* reused, boost::system::error_code* ec);
  // Back after a complete exchange whose answer left it open.
  void Give(std::unique_ptr<UpstreamConnection> connection);
  // The upstream is no longer used: closes the idle connections now, and
  // each one given back later.
  void Close();
  const std::string& origin() const { return origin_; }
  // host[:port] as a Host header names the origin.
  const std::string& authority() const { return authority_; }
  // False when the origin is not http(s)://host[:port].
  bool usable() const { return !host_.empty(); }
  // The origin's parts, for a client that connects by itself
  // (upstream_async.hpp).
  const std::string& host() const { return host_; }
  const std::string& port() const { return port_; }
  bool tls() const { return tls_; }

 private:
  struct Idle {
    std::unique_ptr<UpstreamConnection> connection;
    std::chrono::steady_clock::time_point since;
  };
  const std::string origin_;
  std::string host_;
  std::string port_;
  bool tls_ = false;
  std::string authority_;
  const std::chrono::milliseconds max_age_;
  const size_t max_idle_;
  std::mutex mu_;
  std::vector<Idle> idle_;
  bool closed_ = false;
};

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_UPSTREAM_POOL_HPP_
