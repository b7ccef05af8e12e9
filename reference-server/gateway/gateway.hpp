// assistant-gateway: the middleware tier (docs/gateway.md). Serves the
// backends' whole surface by forwarding each request (forwarder.hpp) to one
// of them, round robin over those that are up; a health check every
// --health-interval takes a dead backend out and puts it back by itself.
// Only idempotent requests are tried again on another backend. Answers
// stream through unbuffered (Last-Event-ID passes like any header). At the
// edge: X-Request-ID (the client's when sane, else new; forwarded), CORS,
// security headers, the body limit and a per-IP rate limit, and the
// presented credential is checked (token_check.hpp) before forwarding; a
// large request body is passed on as it is read (upload.cpp). It serves
// through the server's transport (http/transport.hpp). Stateless: any
// number can run side by side. Its own routes: /healthz, /readyz (at least
// one backend up), /metrics, and the app registry and proxy
// (gateway_apps.hpp).
//
// Two request models, one behaviour (docs/gateway.md "Request model"): a
// request it forwards whose credential needs no I/O to check is taken on
// the transport's I/O thread (TakeOnIo) and exchanged with the backend
// asynchronously there (forward_async.cpp, upstream_async.hpp), its
// answer's stream, if any, relayed on a worker; every other request (its
// own routes, the apps, uploads, a token check that must ask a backend,
// https backends) runs on a worker (Handle), with a synchronous client.
// Both build what is sent (Outbound) and judge failures (BackendFailed,
// NoBackendAnswered) in one place. --forward-on-workers sends every request
// to the workers.
//
// Thread safety: Handle runs on many worker threads and TakeOnIo on the I/O
// threads; the backend list is fixed at construction and each backend's
// state is atomic.
#ifndef ASSISTANT_GATEWAY_GATEWAY_HPP_
#define ASSISTANT_GATEWAY_GATEWAY_HPP_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "assistant/rate_limits.hpp"
#include "forwarder.hpp"
#include "gateway_apps.hpp"
#include "header_policy.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "http/transport.hpp"
#include "logger.hpp"
#include "token_check.hpp"
#include "trusted_proxies.hpp"

namespace assistant::gateway {

struct GatewayConfig {
  std::vector<std::string> backends;  // scheme://host[:port]
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port
  std::vector<std::string> cors_origins;
  int rate_limit = 600;               // requests per minute per client IP; 0 = off
  // Whose X-Forwarded-For names the client (the server's rule, one copy):
  // the rate limit's key, the log lines and the chain sent on.
  server::TrustedProxies trusted_proxies;
  size_t body_limit = 1024 * 1024;
  int timeout = 60;                   // seconds: connect, and silence while reading
  int health_interval_ms = 1000;
  int threads = 256;                  // a stream holds one for its life
  TokenCheck::Mode token_check = TokenCheck::Mode::kVerify;
  int jwks_refresh_ms = 10000;        // at most one JWKS fetch per this
  int verify_cache_ms = 5000;         // how long a /api/auth/verify answer is reused
  std::string apps_path;              // the registry file; empty = no apps
  std::string identity_key_dir;       // the servers' identity key directory
  std::string database_url;           // or their database (keys stored there)...
  std::string jwt_secret_file;        // ...and their JWT secret, which seals them
  int apps_timeout = 30;              // seconds: an app's connect, and silence while reading
  bool forward_on_workers = false;    // every request on a worker (diagnostic, fallback)
};

class Gateway final {
 public:
  // `apps` serves the registry and the app proxy (GatewayApps::Open).
  Gateway(GatewayConfig config, std::unique_ptr<GatewayApps> apps, server::Logger& logger);
  ~Gateway();

  // Binds; false when it cannot. port() then holds the bound port.
  bool Bind();
  int port() const { return port_; }
  // Serves until Stop() (health checks run meanwhile).
  void Run();
  void Stop();
  // Re-reads the registry and the identity key (SIGHUP); on an error the
  // old ones stay.
  Status ReloadApps();

 private:
  struct Backend {
    std::string origin;
    std::shared_ptr<server::UpstreamPool> pool;
    std::atomic<bool> up{true};
    std::atomic<uint64_t> requests{0};
  };

  using Request = server::http::Request;
  using Response = server::http::Response;

  // A request whose body streams has req.body_reader (StreamsBody).
  void Handle(const Request& req, Response& res);
  // The transport's on_io: takes a request to forward when its credential
  // needs no I/O to check, and forwards it asynchronously; declines the
  // rest (Handle then runs). Never blocks.
  bool TakeOnIo(Request& req, const boost::asio::any_io_executor& io,
                server::http::TransportOptions::Completion done);
  // The edge's work common to both models: request id, security headers,
  // CORS and preflights, own routes, the rate limit. False when that
  // answered the request.
  bool Edge(const Request& req, Response& res, std::string* request_id, std::string* client_ip);
  // The credential a request on /api/* or /v1/* must have checked at the
  // edge (empty: none presented, or a route that takes none).
  static std::string CredentialToCheck(const Request& req);
  // The answer to a credential the edge refuses.
  void RefuseCredential(Response& res, const std::string& request_id);
  // What is sent on for `req`: method, target, end-to-end headers, request
  // id, X-Forwarded-For (not the body).
  server::OutboundRequest Outbound(const Request& req, const std::string& request_id) const;
  struct AsyncForward;  // forward_async.cpp
  void ForwardAsync(Request req, Response res, std::string request_id, std::string client_ip,
                    const boost::asio::any_io_executor& io,
                    server::http::TransportOptions::Completion done);
  // After a backend gave no answer: false when that ends the request (a
  // timeout: slow is not dead); else the backend is taken out, logged.
  bool BackendFailed(Backend& b, const Status& failure, const Request& req,
                     const std::string& request_id, const std::string& client_ip);
  // The answer once no backend answered; `last` the last failure.
  void NoBackendAnswered(Response& res, const Status& last, const std::string& request_id);
  // Whether a request's body is read as it arrives rather than whole
  // (upload.cpp); decided on its head.
  static bool StreamsBody(const Request& head);
  // Passes req.body_reader's body to one backend as it is read.
  void ForwardUpload(const Request& req, Response& res, const std::string& request_id,
                     const std::string& client_ip, const server::OutboundRequest& out);
  // Sets the request id and security headers every answer carries; the id.
  static std::string EdgeHeaders(const Request& req, Response& res);
  // The transport's refusal (400, 413, 414, 431, 503...) before Handle ran.
  void Refuse(int status, const Request& req, Response& res, const std::string& why);
  static const server::HeaderPolicy& AnswerPolicy();
  // How to reach `b`: its kept connections and the --timeout.
  server::Upstream UpstreamTo(const Backend& b) const;
  // The same, counting a forwarded request.
  server::Upstream UpstreamOf(Backend& b);
  bool Own(const Request& req, Response& res);
  static bool IsOwn(const Request& req);
  // The X-Forwarded-For to send on: the client's chain only from a trusted
  // peer, then the peer.
  std::string ForwardedFor(const Request& req) const;
  void ServeApps(const Request& req, Response& res, const std::string& request_id,
                 const std::string& client_ip);
  void Forward(const Request& req, Response& res, const std::string& request_id,
               const std::string& client_ip);
  void Fail(Response& res, int status, const char* code, std::string_view message,
            const std::string& request_id);
  // The backends that are up, in round-robin order; every backend when none is.
  std::vector<Backend*> Order();
  void CheckHealth();

  const GatewayConfig config_;
  server::Logger& logger_;
  const std::unique_ptr<GatewayApps> apps_;
  std::vector<std::unique_ptr<Backend>> backends_;
  std::atomic<size_t> next_{0};
  std::atomic<uint64_t> retries_{0};
  RateLimiter limiter_;  // per client IP, counted in this process
  std::unique_ptr<TokenCheck> tokens_;
  bool all_plain_ = true;  // no https backend: the asynchronous client can reach them all
  std::unique_ptr<server::http::Transport> http_;
  int port_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread health_;
};

}  // namespace assistant::gateway

#endif  // ASSISTANT_GATEWAY_GATEWAY_HPP_
