#include "gateway.hpp"

#include <algorithm>
#include <optional>
#include <sstream>

#include "assistant/http_status.hpp"
#include "cookie_auth.hpp"
#include "forwarder.hpp"
#include "header_policy.hpp"
#include "render.hpp"
#include "request_id.hpp"
#include "server.hpp"

namespace assistant::gateway {
namespace {

using server::HeaderPolicy;

// What the server sets on its answers, set here on the gateway's own.
const std::pair<std::string, std::string> kSecurityHeaders[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
};

// To a backend: everything end to end but framing (re-done; Expect was
// answered here), Host (the backend's), the request id and forwarding
// headers (set here), and Accept-Encoding (identity: answers are relayed as
// they come).
const HeaderPolicy& RequestPolicy() {
  static const HeaderPolicy p{{"Host", "Content-Length", "Expect", "Accept-Encoding", "X-Request-ID",
                               "X-Forwarded-For"},
                              {}};
  return p;
}

// From a backend: everything end to end but framing and what the edge sets
// itself (request id, CORS).
const HeaderPolicy& ResponsePolicy() {
  static const HeaderPolicy p{{"Content-Length", "Content-Type", "X-Request-ID", "Vary"},
                              {"Access-Control-"}};
  return p;
}

// How long the token check waits on a backend (its JWKS, its
// /api/auth/verify), whatever --timeout says: a stalled backend must not
// hold every request with a credential for a minute. The request then
// goes on and the backend decides.
constexpr int kTokenCheckSeconds = 5;

}  // namespace

Gateway::Gateway(GatewayConfig config, std::unique_ptr<GatewayApps> apps, server::Logger& logger)
    : config_(std::move(config)),
      logger_(logger),
      apps_(std::move(apps)),
      limiter_(*Clock::Default(), config_.rate_limit) {
  for (const auto& origin : config_.backends) {
    backends_.push_back(std::make_unique<Backend>());
    backends_.back()->origin = origin;
    backends_.back()->pool = std::make_shared<server::UpstreamPool>(origin);
    all_plain_ = all_plain_ && !backends_.back()->pool->tls();
  }
  tokens_ = std::make_unique<TokenCheck>(
      config_.token_check,
      [this] {
        // Asked as requests are forwarded, but not counted as requests,
        // and within the token check's own bound.
        std::vector<server::Upstream> upstreams;
        for (Backend* b : Order()) {
          upstreams.push_back(UpstreamTo(*b));
          auto& u = upstreams.back();
          u.connect_timeout = std::min(u.connect_timeout, std::chrono::milliseconds(kTokenCheckSeconds * 1000));
          u.read_timeout = std::min(u.read_timeout, std::chrono::milliseconds(kTokenCheckSeconds * 1000));
        }
        return upstreams;
      },
      std::chrono::milliseconds(config_.jwks_refresh_ms),
      std::chrono::milliseconds(config_.verify_cache_ms));
  server::http::TransportOptions t;
  t.host = config_.host;
  t.port = config_.port;
  t.workers = config_.threads;
  t.body_limit = config_.body_limit;
  // A large upload may take as long as a backend may stay silent.
  t.body_timeout = std::max(t.body_timeout, std::chrono::milliseconds(config_.timeout * 1000LL));
  t.stream_body = &Gateway::StreamsBody;
  if (!config_.forward_on_workers) {
    t.on_io = [this](Request& req, const boost::asio::any_io_executor& io,
                     server::http::TransportOptions::Completion done) {
      return TakeOnIo(req, io, std::move(done));
    };
  }
  http_ = std::make_unique<server::http::Transport>(
      std::move(t), [this](const Request& req, Response& res) { Handle(req, res); },
      [this](int status, const Request& req, Response& res, const std::string& why) {
        Refuse(status, req, res, why);
      });
}

Gateway::~Gateway() {
  Stop();
  if (health_.joinable()) health_.join();
}

bool Gateway::Bind() {
  if (Status st = http_->Bind(); !st.ok()) {
    logger_.Error("cannot listen", {{"cause", st.message()}});
    return false;
  }
  port_ = http_->port();
  return true;
}

void Gateway::Run() {
  health_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      CheckHealth();
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(config_.health_interval_ms),
                   [this] { return stopping_; });
    }
  });
  http_->Run();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  health_.join();
}

void Gateway::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  http_->Stop();
}

// A backend is up while its /readyz answers 200 (its storage is reachable).
void Gateway::CheckHealth() {
  for (size_t i = 0; i < backends_.size(); ++i) {
    Backend& b = *backends_[i];
    // A connection of its own (no pool): the check sees whether a new one
    // can be made.
    server::Upstream upstream;
    upstream.origin = b.origin;
    upstream.connect_timeout = std::chrono::seconds(1);
    upstream.read_timeout = std::chrono::seconds(2);
    auto r = server::UpstreamCall::Start(upstream, {"GET", "/readyz", {}, {}});
    std::string body;
    const bool up = r.ok() && (*r)->status() == 200 && (*r)->ReadAll(&body);
    if (b.up.exchange(up) != up) {
      logger_.Info(up ? "backend up" : "backend down", {{"backend", static_cast<int64_t>(i)}});
    }
  }
}

std::vector<Gateway::Backend*> Gateway::Order() {
  const size_t n = backends_.size();
  const size_t start = next_.fetch_add(1, std::memory_order_relaxed);
  std::vector<Backend*> up, all;
  for (size_t k = 0; k < n; ++k) {
    Backend* b = backends_[(start + k) % n].get();
    all.push_back(b);
    if (b->up.load(std::memory_order_relaxed)) up.push_back(b);
  }
  // With none known to be up, trying them all beats refusing outright: a
  // backend may be back before the next health check.
  return up.empty() ? all : up;
}

void Gateway::Fail(Response& res, int status, const char* code, std::string_view message,
                   const std::string& request_id) {
  res.status = status;
  res.SetBody(server::Dump(server::ErrorEnvelope(code, message, request_id)), "application/json");
}

// RFC 7239 §5.2's older sibling: the chain as it came, then the address
// this hop saw. A chain from a peer that is not a trusted proxy is the
// client's own word, so it is dropped rather than passed on as if vouched for.
std::string Gateway::ForwardedFor(const Request& req) const {
  if (!config_.trusted_proxies.Contains(req.remote_addr)) return req.remote_addr;
  std::string chain;
  for (const auto& [name, value] : req.headers) {
    if (!server::http::CaseInsensitiveEqual(name, "X-Forwarded-For")) continue;
    if (!chain.empty()) chain += ", ";
    chain += value;
  }
  if (!chain.empty()) chain += ", ";
  return chain + req.remote_addr;
}

const server::HeaderPolicy& Gateway::AnswerPolicy() { return ResponsePolicy(); }

server::Upstream Gateway::UpstreamTo(const Backend& b) const {
  server::Upstream upstream;
  upstream.origin = b.origin;
  upstream.pool = b.pool;
  upstream.connect_timeout = std::chrono::seconds(std::min(config_.timeout, 5));
  upstream.read_timeout = std::chrono::seconds(config_.timeout);
  return upstream;
}

server::Upstream Gateway::UpstreamOf(Backend& b) {
  b.requests.fetch_add(1, std::memory_order_relaxed);
  return UpstreamTo(b);
}

std::string Gateway::EdgeHeaders(const Request& req, Response& res) {
  std::string request_id = server::RequestIdFor(req.headers.Get("X-Request-ID"));
  res.headers.Set("X-Request-ID", request_id);
  for (const auto& [name, value] : kSecurityHeaders) res.headers.Set(name, value);
  return request_id;
}

void Gateway::Refuse(int status, const Request& req, Response& res, const std::string& why) {
  const char* code = "malformed_request";
  const char* message = "the request could not be read";
  switch (status) {
    case 413: code = "payload_too_large"; message = "the request body is too large"; break;
    case 414: code = "uri_too_long"; message = "the request URI is too long"; break;
    case 415: code = "unsupported_media_type"; message = "the request's content coding is not supported"; break;
    case 431: code = "header_fields_too_large"; message = "the request's header fields are too large"; break;
    case 503: code = "unavailable"; message = "the gateway is at its connection limit"; break;
    case 500: code = "internal"; message = "internal error"; break;
    default: break;
  }
  Fail(res, status, code, why.empty() || status == 500 ? std::string_view(message) : why,
       EdgeHeaders(req, res));
}

bool Gateway::Edge(const Request& req, Response& res, std::string* request_id,
                   std::string* client_ip) {
  *request_id = EdgeHeaders(req, res);

  // CORS at the edge: the allow-list is the gateway's.
  // An app's allowed_origins add to the list on its own proxy routes.
  const std::string origin = req.headers.Get("Origin");
  auto listed = [&origin](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), origin) != list.end();
  };
  const bool origin_ok = origin.empty() || listed(config_.cors_origins) ||
                         (GatewayApps::Owns(req.path) && listed(apps_->ExtraOrigins(req.path)));
  if (!origin.empty()) {
    res.headers.Set("Vary", "Origin");
    if (origin_ok) {
      res.headers.Set("Access-Control-Allow-Origin", origin);
      res.headers.Set("Access-Control-Allow-Credentials", "true");
      res.headers.Set("Access-Control-Expose-Headers",
                     "X-Request-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
                     "Retry-After");
    }
  }
  if (req.method == "OPTIONS" && !origin.empty()) {
    if (!origin_ok) {
      Fail(res, 403, "cors_origin_not_allowed", "origin not allowed", *request_id);
      return false;
    }
    res.headers.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    res.headers.Set("Access-Control-Allow-Headers",
                   "Authorization, Content-Type, X-Request-ID, Last-Event-ID, X-Requested-With");
    res.headers.Set("Access-Control-Max-Age", "600");
    res.status = 204;
    return false;
  }
  if (Own(req, res)) return false;

  // The client's address for the limit and the logs (trusted_proxies.hpp).
  *client_ip = config_.trusted_proxies.ClientAddress(req.remote_addr, req.headers);
  if (limiter_.enabled()) {
    // Counting in the process cannot fail (no storage is asked).
    const RateDecision d = limiter_.Hit("ip:" + *client_ip).value();
    res.headers.Set("RateLimit-Limit", std::to_string(d.limit));
    res.headers.Set("RateLimit-Remaining", std::to_string(d.remaining));
    res.headers.Set("RateLimit-Reset", std::to_string(d.reset_seconds));
    if (!d.allowed) {
      res.headers.Set("Retry-After", std::to_string(d.retry_after_seconds));
      Fail(res, 429, "rate_limited", "too many requests", *request_id);
      return false;
    }
  }
  return true;
}

std::string Gateway::CredentialToCheck(const Request& req) {
  // The routes that take no credential are the backend's to answer, even
  // with a stale one presented (a login with an old cookie).
  static const char* kPublic[] = {"/api/auth/register", "/api/auth/login",
                                  "/api/auth/refresh", "/api/auth/forgot-password",
                                  "/api/auth/reset-password", "/api/auth/verify-email"};
  const bool api = req.path.rfind("/api/", 0) == 0 || req.path.rfind("/v1/", 0) == 0;
  if (!api || std::any_of(std::begin(kPublic), std::end(kPublic),
                          [&](const char* p) { return req.path == p; })) {
    return {};
  }
  return server::PresentedCredential(req.headers.Get("Authorization"), req.headers.Get("Cookie"));
}

void Gateway::RefuseCredential(Response& res, const std::string& request_id) {
  res.headers.Set("WWW-Authenticate", "Bearer");
  Fail(res, 401, "invalid_token", "invalid credential", request_id);
}

void Gateway::Handle(const Request& req, Response& res) {
  std::string request_id, client_ip;
  if (!Edge(req, res, &request_id, &client_ip)) return;
  if (GatewayApps::Owns(req.path)) return ServeApps(req, res, request_id, client_ip);
  const std::string credential = CredentialToCheck(req);
  if (!credential.empty() && !tokens_->Check(credential).ok()) {
    return RefuseCredential(res, request_id);
  }
  Forward(req, res, request_id, client_ip);
}

bool Gateway::TakeOnIo(Request& req, const boost::asio::any_io_executor& io,
                       server::http::TransportOptions::Completion done) {
  // Decided on the request alone, before the edge counts it: what is not
  // a plain forward, or whose check would have to ask a backend, runs on
  // a worker as a whole.
  if (!all_plain_ || IsOwn(req) || GatewayApps::Owns(req.path) ||
      (req.method == "OPTIONS" && req.headers.Has("Origin"))) {
    return false;
  }
  std::optional<Status> verdict = Status();
  if (const std::string credential = CredentialToCheck(req); !credential.empty()) {
    verdict = tokens_->CheckCached(credential);
    if (!verdict) return false;
  }
  Response res;
  std::string request_id, client_ip;
  if (!Edge(req, res, &request_id, &client_ip)) {
    done(std::move(res));
    return true;
  }
  if (!verdict->ok()) {
    RefuseCredential(res, request_id);
    done(std::move(res));
    return true;
  }
  ForwardAsync(std::move(req), std::move(res), std::move(request_id), std::move(client_ip), io,
               std::move(done));
  return true;
}

// The registry and the app proxy, served here for a caller the gateway
// identifies itself (gateway_apps.hpp).
void Gateway::ServeApps(const Request& req, Response& res, const std::string& request_id,
                        const std::string& client_ip) {
  const std::string credential = server::PresentedCredential(req.headers.Get("Authorization"),
                                                               req.headers.Get("Cookie"));
  if (credential.empty()) {
    res.headers.Set("WWW-Authenticate", "Bearer");
    return Fail(res, 401, "unauthenticated", "a credential is required", request_id);
  }
  if (server::LacksCsrfHeader(req)) {  // a cookie alone: what a cross-site form could forge
    return Fail(res, 403, "csrf_check_failed", "send X-Requested-With", request_id);
  }
  Result<Principal> caller = tokens_->Identify(credential);
  if (!caller.ok()) {
    if (caller.status().code() == StatusCode::kUnauthenticated) {
      res.headers.Set("WWW-Authenticate", "Bearer");
    }
    res.status = HttpStatusFor(caller.status());
    res.SetBody(server::Dump(server::ErrorEnvelope(caller.status(), request_id)),
                "application/json");
    return;
  }
  apps_->Serve(req, res, *caller, request_id, client_ip, ForwardedFor(req));
}

Status Gateway::ReloadApps() { return apps_->Reload(); }

bool Gateway::IsOwn(const Request& req) {
  return req.method == "GET" &&
         (req.path == "/healthz" || req.path == "/readyz" || req.path == "/metrics");
}

// The gateway's own routes.
bool Gateway::Own(const Request& req, Response& res) {
  if (!IsOwn(req)) return false;
  if (req.path == "/healthz") {
    res.SetBody(R"({"status":"ok"})", "application/json");
    return true;
  }
  if (req.path == "/readyz") {
    const bool any = std::any_of(backends_.begin(), backends_.end(),
                                 [](const auto& b) { return b->up.load(); });
    res.status = any ? 200 : 503;
    res.SetBody(any ? R"({"status":"ready"})"
                        : R"({"error":{"code":"not_ready","message":"no backend is up"}})",
                    "application/json");
    return true;
  }
  if (req.path == "/metrics") {
    // Backends by index: their addresses are the operator's.
    std::ostringstream m;
    m << "# TYPE assistant_gateway_backend_up gauge\n";
    for (size_t i = 0; i < backends_.size(); ++i) {
      m << "assistant_gateway_backend_up{backend=\"" << i << "\"} " << (backends_[i]->up ? 1 : 0)
        << "\n";
    }
    m << "# TYPE assistant_gateway_requests_total counter\n";
    for (size_t i = 0; i < backends_.size(); ++i) {
      m << "assistant_gateway_requests_total{backend=\"" << i << "\"} "
        << backends_[i]->requests.load() << "\n";
    }
    m << "# TYPE assistant_gateway_retries_total counter\n"
      << "assistant_gateway_retries_total " << retries_.load() << "\n"
      << "# TYPE assistant_gateway_jwks_fetches_total counter\n"
      << "assistant_gateway_jwks_fetches_total " << tokens_->jwks_fetches() << "\n"
      << "# TYPE assistant_gateway_rejected_tokens_total counter\n"
      << "assistant_gateway_rejected_tokens_total " << tokens_->rejected() << "\n";
    res.SetBody(m.str(), "text/plain; version=0.0.4");
    return true;
  }
  return false;
}

server::OutboundRequest Gateway::Outbound(const Request& req, const std::string& request_id) const {
  server::OutboundRequest out;
  out.method = req.method;
  out.target = req.target;
  out.headers = server::EndToEndHeaders(req.headers, RequestPolicy());
  out.headers.Add("Accept-Encoding", "identity");
  out.headers.Add("X-Request-ID", request_id);
  out.headers.Add("X-Forwarded-For", ForwardedFor(req));
  return out;
}

bool Gateway::BackendFailed(Backend& b, const Status& failure, const Request& req,
                            const std::string& request_id, const std::string& client_ip) {
  if (failure.code() == StatusCode::kDeadlineExceeded) return false;  // slow is not dead
  b.up = false;  // out until its health check passes again
  // The cause tells a backend that is down from one whose certificate
  // does not verify.
  logger_.Warn("backend failed; taken out", {{"request_id", request_id},
                                              {"method", req.method},
                                              {"ip", client_ip},
                                              {"cause", failure.message()}});
  return true;
}

void Gateway::NoBackendAnswered(Response& res, const Status& last, const std::string& request_id) {
  if (last.code() == StatusCode::kDeadlineExceeded) {
    return Fail(res, 504, "upstream_timeout", "the backend did not answer in time", request_id);
  }
  Fail(res, 502, "upstream_error", "no backend could answer", request_id);
}

void Gateway::Forward(const Request& req, Response& res, const std::string& request_id,
                      const std::string& client_ip) {
  server::OutboundRequest out = Outbound(req, request_id);
  if (req.body_reader) return ForwardUpload(req, res, request_id, client_ip, out);
  out.body = req.body;

  Status last = UnavailableError("no backend", "upstream_error");
  bool first = true;
  for (Backend* b : Order()) {
    if (!first) {
      if (!server::IsIdempotent(req.method)) break;  // it may have been done once already
      retries_.fetch_add(1, std::memory_order_relaxed);
    }
    first = false;
    const server::Upstream upstream = UpstreamOf(*b);
    auto call = server::UpstreamCall::Start(upstream, out);
    if (!call.ok()) {
      last = call.status();
      if (!BackendFailed(*b, last, req, request_id, client_ip)) break;
      continue;
    }
    // A relay cut short leaves none of the backend's headers on the 502.
    if (Status s = server::RelayAnswer(*call, ResponsePolicy(), req.method, res); !s.ok()) {
      return Fail(res, 502, "upstream_error", "the backend's answer was cut short", request_id);
    }
    res.status = (*call)->status();
    return;
  }
  NoBackendAnswered(res, last, request_id);
}

}  // namespace assistant::gateway
