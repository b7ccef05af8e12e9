#include "server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <utility>

#include "assistant/http_status.hpp"
#include "assistant/json_input.hpp"
#include "connection_stream.hpp"
#include "cookie_auth.hpp"
#include "fast_request.hpp"
#include "render.hpp"
#include "request_id.hpp"

namespace assistant::server {
namespace {

// cpp-httplib settings, chosen on purpose (docs/server.md "Connection
// handling"): the Debian 0.11 build closes a keep-alive connection after 5
// requests and leaves Nagle on, which costs a TCP handshake every 5 requests
// and a ~40 ms delayed-ACK stall per response.
constexpr size_t kKeepAliveMaxRequests = 10000;
constexpr time_t kKeepAliveTimeoutSeconds = 5;
constexpr time_t kReadTimeoutSeconds = 10;
constexpr time_t kWriteTimeoutSeconds = 10;
constexpr int kListenBacklog = 1024;
// Credentials longer than this are garbage by construction (our tokens are
// well under 1 KiB); they are refused before any parsing.
constexpr size_t kMaxCredentialBytes = 4096;
// Deeper JSON than this is not a request any client of this API sends.

using Clock = std::chrono::steady_clock;
const std::string kUnmatched = "unmatched";
const std::string kJsonType = "application/json";

// Calls fn(segment) for each non-empty segment of `path`, in order, while
// fn returns true.
template <typename Fn>
void ForEachSegment(std::string_view path, Fn&& fn) {
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (!fn(path.substr(i, j - i))) return;
    i = j;
  }
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  ForEachSegment(path, [&out](std::string_view seg) {
    out.push_back(seg);
    return true;
  });
  return out;
}

// More segments than any route has: such a path matches nothing, so Match
// keeps a request's segments in a fixed array instead of a vector.
constexpr size_t kMaxRouteSegments = 32;

bool IsParam(const std::string& seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

// Set by the pre-routing handler when the request's connection must close
// after its answer; read by the connection loop on the same thread.
thread_local bool t_close_after_response = false;

bool IsJsonContentType(const std::string& ct) {
  std::string base = ct.substr(0, ct.find(';'));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  for (auto& c : base) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return base == "application/json" || base == "application/merge-patch+json";
}

// A stream refused before its first byte: the response becomes a plain one.
void DropStream(httplib::Response& res) {
  res.content_provider_ = nullptr;
  res.is_chunked_content_provider_ = false;
  res.headers.erase("X-Accel-Buffering");  // the SSE headers do not apply
}

}  // namespace

// httplib::Server with the one setting 0.11 has no setter for: the listen
// backlog is compiled in as 5, too small for a burst of connections (they
// would wait for SYN retransmits). listen() on a listening socket only
// updates its backlog.
//
// It also serves each connection through a ConnectionStream instead of the
// library's per-request stream: one recv per request and one sendmsg per
// response instead of nine system calls (connection_stream.hpp). The loop
// is the library's own (process_server_socket in 0.11): wait for the next
// request while the server listens, at most keep_alive_max_count requests,
// the last one answered with `Connection: close`.
class HttpServer::Listener final : public httplib::Server, private FastPathHost {
 public:
  explicit Listener(HttpServer& server) : server_(server) {}
  void RaiseBacklog() { ::listen(svr_sock_, kListenBacklog); }

 private:
  // Each request takes the fast path (fast_request.hpp) when it can, else
  // the library's process_request with the request still in the buffer.
  bool process_and_close_socket(socket_t sock) override {
    bool ok = false;
    {
      ConnectionStream stream(sock, read_timeout_sec_, write_timeout_sec_);
      const int idle_ms = static_cast<int>(keep_alive_timeout_sec_ * 1000);
      // The library's Keep-Alive value (it builds it with a stringstream per
      // response).
      const std::string keep_alive = "timeout=" + std::to_string(keep_alive_timeout_sec_) +
                                     ", max=" + std::to_string(keep_alive_max_count_);
      std::string scratch;
      static const std::function<void(httplib::Request&)> kNoSetup;
      for (size_t left = keep_alive_max_count_;
           left > 0 && stream.WaitForRequest(idle_ms, svr_sock_); --left) {
        const bool close_connection = left == 1;
        bool connection_closed = false;
        const FastOutcome fast = ServeFast(stream, close_connection, payload_max_length_,
                                           keep_alive, *this, scratch);
        if (fast.served) {
          ok = fast.ok;
          connection_closed = fast.connection_closed;
        } else {
          ok = process_request(stream, close_connection, connection_closed, kNoSetup);
          if (std::exchange(t_close_after_response, false)) connection_closed = true;
        }
        if (!stream.FinishResponse()) ok = false;
        if (!ok || connection_closed) break;
      }
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  bool HandleUnlessStream(const httplib::Request& req, httplib::Response& res) override {
    return server_.Serve(req, res, /*may_stream=*/false);
  }
  void OnError(const httplib::Request& req, httplib::Response& res) override {
    server_.OnLibraryError(req, res);
  }
  void OnException(const httplib::Request& req, httplib::Response& res) override {
    server_.OnUncaught(req, res);
  }
  void OnServed() override { server_.metrics_->CountFastPath(); }

  HttpServer& server_;
};

void SetBody(httplib::Response& res, std::string body, const std::string& content_type) {
  // What Response::set_content does, with the body moved instead of copied.
  static const std::string kContentType = "Content-Type";
  res.body = std::move(body);
  res.headers.erase(kContentType);
  res.set_header(kContentType, content_type);
}

std::string PresentedCredential(const httplib::Request& req) {
  // The first Authorization header (as get_header_value picks it), read in
  // place: get_header_value would copy the token once more.
  const auto range = req.headers.equal_range("Authorization");
  static const std::string kNone;
  const std::string& auth = range.first == range.second ? kNone : range.first->second;
  if (!auth.empty()) {
    // The scheme is case-insensitive (RFC 7235); anything else is kept
    // whole so that it fails authentication rather than falling back.
    if (auth.size() > 7 && (auth.compare(0, 7, "Bearer ") == 0 ||
                            auth.compare(0, 7, "bearer ") == 0)) {
      return auth.substr(7);
    }
    return auth;
  }
  const std::string cookies = req.get_header_value("Cookie");
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    size_t b = cookies.find_first_not_of(' ', pos);
    if (b != std::string::npos && b < end && cookies.compare(b, 13, "access_token=") == 0) {
      return cookies.substr(b + 13, end - b - 13);
    }
    pos = end + 1;
  }
  return "";
}

HttpServer::HttpServer(Assistant& core, const ServerConfig& config, Logger& logger,
                       const ProductMetrics* product)
    : core_(core),
      config_(config),
      logger_(logger),
      product_(product),
      auth_limiter_(config.rate_limit_auth),
      api_limiter_(config.rate_limit_api),
      stream_slots_(config.max_streams, config.max_streams_per_user),
      http_(std::make_unique<Listener>(*this)) {
  routes_ = BuildRoutes(*this);
  std::vector<Metrics::RouteLabel> labels;
  for (auto& r : routes_) {
    for (auto seg : SplitPath(r.path)) r.segments.emplace_back(seg);
    if (r.segments.size() > kMaxRouteSegments) std::abort();  // raise kMaxRouteSegments
    labels.push_back({r.method, r.path});
  }
  metrics_ = std::make_unique<Metrics>(std::move(labels));
  openapi_ = Dump(BuildOpenApi(routes_));

  Listener& s = *http_;
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(kKeepAliveMaxRequests);
  s.set_keep_alive_timeout(kKeepAliveTimeoutSeconds);
  s.set_read_timeout(kReadTimeoutSeconds, 0);
  s.set_write_timeout(kWriteTimeoutSeconds, 0);
  s.set_payload_max_length(config_.body_limit);
  // Worker model (docs/server.md): a connection holds a worker while it is
  // served, and a stream for its whole life, so streams get workers of their
  // own on top of --threads and are admitted only up to --max-streams
  // (AdmitStream); ordinary requests always keep --threads workers.
  const size_t threads = static_cast<size_t>(config_.threads) +
                         static_cast<size_t>(config_.max_streams);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  auto handle = [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); };
  s.Get(".*", handle);
  s.Post(".*", handle);
  s.Put(".*", handle);
  s.Patch(".*", handle);
  s.Delete(".*", handle);
  s.Options(".*", handle);
  // Every request without a body is served here, before cpp-httplib's own
  // routing, which would match each registered `.*` regex against the path
  // only for Handle to match it again. Requests with a body go on so that
  // the library reads it first, and reach Handle through the `.*` routes.
  // cpp-httplib 0.11 answers 400 to a POST/PUT/PATCH that has neither
  // Content-Length nor Transfer-Encoding (`curl -X POST` without data, a
  // common way to call logout). RFC 9112 says such a request has an empty
  // body, so it counts as bodiless here.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const bool framed = req.has_header("Content-Length") || req.has_header("Transfer-Encoding");
    const bool body_method = req.method == "POST" || req.method == "PUT" ||
                             req.method == "PATCH" || req.method == "DELETE";
    if (body_method && framed) return httplib::Server::HandlerResponse::Unhandled;
    if (framed && !(req.get_header_value("Content-Length") == "0" &&
                    !req.has_header("Transfer-Encoding"))) {
      // cpp-httplib 0.11 never reads the body of a GET, HEAD or OPTIONS:
      // its bytes would be parsed as the next request on the connection,
      // one a proxy in front never sent (request smuggling). Refused, and
      // the connection closes after the answer.
      t_close_after_response = true;
      res.status = 400;
      res.set_header("Connection", "close");
      OnLibraryError(req, res, "a " + req.method + " request must not carry a body");
      return httplib::Server::HandlerResponse::Handled;
    }
    Handle(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_error_handler(
      [this](const httplib::Request& req, httplib::Response& res) { OnLibraryError(req, res); });
  s.set_exception_handler([this](const httplib::Request& req, httplib::Response& res,
                                 std::exception_ptr) { OnUncaught(req, res); });
}

// Handle catches everything itself; this is the last line of defence.
void HttpServer::OnUncaught(const httplib::Request& req, httplib::Response& res) {
  const std::string id = RequestIdFor(req.get_header_value("X-Request-ID"));
  res.body.clear();
  RenderError(res, InternalError("unexpected exception"), id, "unmatched");
}

std::string HttpServer::RenderMetrics() const {
  std::string out = metrics_->Render();
  if (product_) product_->Render(&out, stream_slots_.open());
  return out;
}

HttpServer::~HttpServer() = default;

namespace {
// Why the last bind failed: the library reports only false, but the failed
// bind(2) or getaddrinfo left errno set.
std::string BindError() {
  if (errno == 0) return "the address cannot be resolved or used";
  return std::strerror(errno);
}
}  // namespace

Status HttpServer::Bind() {
  if (config_.port == 0) {
    errno = 0;
    port_ = http_->bind_to_any_port(config_.host);
    if (port_ <= 0) return UnavailableError("cannot bind " + config_.host + ": " + BindError());
  } else {
    errno = 0;
    if (!http_->bind_to_port(config_.host, config_.port)) {
      return UnavailableError("cannot bind " + config_.host + ":" + std::to_string(config_.port) +
                              ": " + BindError());
    }
    port_ = config_.port;
  }
  http_->RaiseBacklog();
  return Status();
}

void HttpServer::Run() { http_->listen_after_bind(); }

void HttpServer::Stop() { http_->stop(); }

const Route* HttpServer::Match(const std::string& method, const std::string& path,
                               std::vector<std::string>* params, size_t* index,
                               std::string* allowed) const {
  std::string_view segs[kMaxRouteSegments];
  size_t count = 0;
  bool too_many = false;
  ForEachSegment(path, [&](std::string_view seg) {
    if (count == kMaxRouteSegments) {
      too_many = true;
      return false;
    }
    segs[count++] = seg;
    return true;
  });
  if (too_many) return nullptr;  // no route has that many segments
  const std::string_view m = method == "HEAD" ? std::string_view("GET") : std::string_view(method);
  const Route* found = nullptr;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Route& r = routes_[i];
    const size_t n = r.segments.size();
    if (r.rest ? count < n : n != count) continue;
    bool ok = true;
    for (size_t k = 0; k < n && ok; ++k) {
      ok = IsParam(r.segments[k]) ? !segs[k].empty() : r.segments[k] == segs[k];
    }
    if (!ok) continue;
    if (r.method == m && found == nullptr) {
      found = &r;
      *index = i;
      params->clear();
      for (size_t k = 0; k < n; ++k) {
        if (IsParam(r.segments[k])) params->emplace_back(segs[k]);
      }
      for (size_t k = n; k < count; ++k) (params->back() += '/') += segs[k];
    }
    if (allowed->find(r.method) == std::string::npos) {
      *allowed += allowed->empty() ? r.method : ", " + r.method;
    }
  }
  // A literal segment beats a parameter (clear-completed vs {id}): the
  // table lists literal routes first, so the first match is the right one.
  return found;
}

// An unmatched path answers in the error shape of the routes under its first
// segment (/v1/...: OpenAI's), so that the clients of that API can read it.
const Route* HttpServer::DialectOf(const std::string& path) const {
  std::string_view first;
  ForEachSegment(path, [&first](std::string_view seg) {
    first = seg;
    return false;
  });
  if (first.empty()) return nullptr;
  for (const Route& r : routes_) {
    if (r.error_body != nullptr && !r.segments.empty() && r.segments[0] == first) return &r;
  }
  return nullptr;
}

void HttpServer::RenderError(httplib::Response& res, const Status& status,
                             const std::string& request_id, const std::string& route,
                             const Route* route_def) const {
  const ErrorBodyFn error_body = route_def ? route_def->error_body : nullptr;
  const int code = route_def && route_def->error_status ? route_def->error_status(status)
                                                        : HttpStatusFor(status);
  res.status = code;
  if (code >= 500 && status.reason() == "too_many_streams") {
    // Expected under overload, once per refused stream: not an error.
    logger_.Warn("stream refused", {{"request_id", request_id}, {"route", route}});
  } else if (code >= 500) {
    // The cause goes to the log with the request id, never to the client.
    logger_.Error("request failed", {{"request_id", request_id},
                                     {"route", route},
                                     {"status", code},
                                     {"cause", status.ToString()}});
  }
  const Json err = ClientError(status);
  if (code == 401) res.set_header("WWW-Authenticate", "Bearer");
  if (code == 429 && !res.has_header("Retry-After")) res.set_header("Retry-After", "1");
  const std::string& err_code = err["code"].get_ref<const std::string&>();
  const std::string& err_message = err["message"].get_ref<const std::string&>();
  res.set_content(Dump(error_body
                           ? error_body(code, err_code, err_message, request_id, status.field())
                           : ErrorEnvelope(err_code, err_message, request_id, status.field())),
                  "application/json");
}

void HttpServer::ApplyRateHeaders(httplib::Response& res,
                                  const SlidingWindowLimiter::Decision& d) const {
  res.set_header("RateLimit-Limit", std::to_string(d.limit));
  res.set_header("RateLimit-Remaining", std::to_string(d.remaining));
  res.set_header("RateLimit-Reset", std::to_string(d.reset_seconds));
  if (!d.allowed) res.set_header("Retry-After", std::to_string(d.retry_after_seconds));
}

// Adds the CORS headers for an allowed Origin; false when the request has an
// Origin that is not on the allow-list.
bool HttpServer::Cors(const httplib::Request& req, httplib::Response& res,
                      const std::vector<std::string>& extra_origins) const {
  const std::string origin = req.get_header_value("Origin");
  if (origin.empty()) return true;
  auto listed = [&origin](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), origin) != list.end();
  };
  if (listed(config_.cors_origins) || listed(extra_origins)) {
    res.set_header("Access-Control-Allow-Origin", origin);
    res.set_header("Access-Control-Allow-Credentials", "true");
    res.set_header("Access-Control-Expose-Headers",
                   "X-Request-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
                   "Retry-After");
    res.set_header("Vary", "Origin");
    return true;
  }
  res.set_header("Vary", "Origin");
  return false;
}

void HttpServer::Handle(const httplib::Request& req, httplib::Response& res) {
  Serve(req, res, /*may_stream=*/true);
}

bool HttpServer::Serve(const httplib::Request& req, httplib::Response& res, bool may_stream) {
  std::vector<std::string> params;
  size_t route_index = metrics_->unmatched_index();
  std::string allowed;
  const Route* route = Match(req.method, req.path, &params, &route_index, &allowed);
  // The fast path cannot write a stream: it asks before anything is done.
  if (!may_stream && route != nullptr && route->doc.sse) return false;

  const auto start = Clock::now();
  metrics_->AddInFlight(1);

  // Names and values as strings made once: set_header takes std::string,
  // and a literal would build (and allocate) a temporary per request.
  static const std::string kRequestIdHeader = "X-Request-ID";
  static const std::pair<std::string, std::string> kSecurityHeaders[] = {
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
  };

  // 1. Request id.
  const std::string request_id = RequestIdFor(req.get_header_value(kRequestIdHeader));
  res.set_header(kRequestIdHeader, request_id);

  // 2. Security headers.
  for (const auto& [name, value] : kSecurityHeaders) res.set_header(name, value);

  const std::string& route_label = route ? route->path : kUnmatched;
  if (req.path.rfind("/api/auth/", 0) == 0 || req.path.rfind("/api/user/", 0) == 0) {
    res.set_header("Cache-Control", "no-store");
  }

  auto finish = [&] {
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    metrics_->Observe(route_index, res.status, secs);
    metrics_->AddInFlight(-1);
    logger_.Access(request_id, req.method, route_label, res.status, secs * 1e3,
                   req.remote_addr);
    return true;
  };
  const Route* dialect = route ? route : DialectOf(req.path);
  auto fail = [&](const Status& s) {
    RenderError(res, s, request_id, route_label, dialect);
    return finish();
  };

  // 3. CORS, including preflight.
  // A preflight matches no route (OPTIONS has none): the route its GET
  // would take says which extra origins apply.
  std::vector<std::string> extra_origins;
  {
    std::vector<std::string> get_params;
    size_t unused_index = 0;
    std::string unused_allowed;
    const Route* cors_route =
        route != nullptr || req.method != "OPTIONS"
            ? route
            : Match("GET", req.path, &get_params, &unused_index, &unused_allowed);
    if (cors_route != nullptr && cors_route->extra_origins) {
      extra_origins = cors_route->extra_origins(route != nullptr ? params : get_params);
    }
  }
  const bool origin_ok = Cors(req, res, extra_origins);
  if (req.method == "OPTIONS") {
    if (allowed.empty()) return fail(NotFoundError("no such route"));
    if (req.get_header_value("Origin").empty()) {
      // Not a CORS preflight: just say what the path allows.
      res.set_header("Allow", allowed + ", OPTIONS");
      res.status = 204;
      return finish();
    }
    if (!origin_ok) {
      return fail(PermissionDeniedError("origin not allowed", "cors_origin_not_allowed"));
    }
    res.set_header("Access-Control-Allow-Methods", allowed + ", OPTIONS");
    res.set_header("Access-Control-Allow-Headers",
                   "Authorization, Content-Type, X-Request-ID, Last-Event-ID, X-Requested-With");
    res.set_header("Access-Control-Max-Age", "600");
    res.status = 204;
    return finish();
  }
  if (route == nullptr) {
    if (!allowed.empty()) {
      res.set_header("Allow", allowed);
      res.status = 405;
      const std::string message = req.method + " is not allowed here";
      res.set_content(Dump(dialect && dialect->error_body
                               ? dialect->error_body(405, "method_not_allowed", message,
                                                     request_id, {})
                               : ErrorEnvelope("method_not_allowed", message, request_id)),
                      "application/json");
      return finish();
    }
    // The access line names only "unmatched"; say what was refused, capped
    // so a hostile path cannot flood the log.
    logger_.Info("no such route",
                 {{"request_id", request_id},
                  {"method", req.method},
                  {"path", req.path.substr(0, 256)}});
    return fail(NotFoundError("no such route: " + req.method + " " + req.path));
  }

  // 4. Body limit and content type.
  Call call{req, res, std::move(params), Json(), std::nullopt, "", {}};
  if (req.body.size() > config_.body_limit) {
    return fail(ResourceExhaustedError("the request body is too large", "payload_too_large"));
  }
  if (route->body != BodyKind::kNone) {
    if (!req.body.empty() && !IsJsonContentType(req.get_header_value("Content-Type"))) {
      res.status = 415;
      constexpr const char* kCode = "unsupported_media_type";
      constexpr const char* kMessage = "send the body as application/json";
      res.set_content(Dump(route->error_body
                               ? route->error_body(415, kCode, kMessage, request_id, {})
                               : ErrorEnvelope(kCode, kMessage, request_id)),
                      "application/json");
      return finish();
    }
    if (req.body.empty()) {
      if (route->body == BodyKind::kAny) {
        return fail(MalformedError("a JSON body is required"));
      }
      call.body = Json::object();
    } else {
      Result<Json> parsed = ParseJsonInput(req.body);
      if (!parsed.ok()) return fail(parsed.status());
      call.body = std::move(*parsed);
      if (route->body == BodyKind::kObject && !call.body.is_object()) {
        return fail(MalformedError("the body must be a JSON object"));
      }
    }
  }

  call.ctx.ip = req.remote_addr;
  call.ctx.request_id = request_id;
  if (req.has_header("User-Agent")) call.ctx.user_agent = req.get_header_value("User-Agent");

  // 5. Rate limit per client IP on the auth routes.
  if (route->rate == RateClass::kAuth && auth_limiter_.enabled()) {
    const auto d = auth_limiter_.Hit("ip:" + req.remote_addr);
    ApplyRateHeaders(res, d);
    if (!d.allowed) return fail(ResourceExhaustedError("too many requests", "rate_limited"));
  }

  // 6. Authentication.
  if (route->access == Access::kAuthenticated) {
    call.credential = PresentedCredential(req);
    if (call.credential.empty()) {
      return fail(UnauthenticatedError("a credential is required"));
    }
    if (LacksCsrfHeader(req)) {  // authenticated by cookie: cookie_auth.hpp
      return fail(PermissionDeniedError("send X-Requested-With", "csrf_check_failed"));
    }
    if (call.credential.size() > kMaxCredentialBytes) {
      return fail(UnauthenticatedError("invalid credential", "invalid_token"));
    }
    auto principal = core_.auth().Authenticate(call.credential);
    if (!principal.ok()) {
      Status s = principal.status();
      // Only authentication outcomes are 401; a storage failure stays 5xx.
      if (s.code() == StatusCode::kInvalidArgument) {
        s = UnauthenticatedError("invalid credential", "invalid_token");
      }
      return fail(s);
    }
    call.principal = std::move(*principal);
    // 7. Rate limit per principal.
    if (route->rate == RateClass::kApi && api_limiter_.enabled()) {
      const auto d = api_limiter_.Hit("user:" + call.principal->user_id);
      ApplyRateHeaders(res, d);
      if (!d.allowed) return fail(ResourceExhaustedError("too many requests", "rate_limited"));
    }
  }

  // 8. Handler.
  Result<Reply> reply = [&]() -> Result<Reply> {
    try {
      return route->handler(call);
    } catch (const std::exception& e) {
      return InternalError(std::string("exception: ") + e.what());
    } catch (...) {
      return InternalError("unknown exception");
    }
  }();
  if (!reply.ok()) return fail(reply.status());
  if (res.is_chunked_content_provider_) {
    // Every streamed route needs a principal (Access::kAuthenticated).
    const Status admitted =
        AdmitStream(res, call.principal ? call.principal->user_id : std::string());
    if (!admitted.ok()) return fail(admitted);
    if (reply->begin_stream) {
      if (Status begun = reply->begin_stream(); !begun.ok()) {
        DropStream(res);
        return fail(begun);
      }
    }
  }
  res.status = reply->status != 0 ? reply->status : route->success;
  if (!reply->written) {
    if (reply->body) {
      SetBody(res, Dump(*reply->body), kJsonType);
    } else {
      res.body.clear();
    }
  }
  return finish();
}

// A streamed reply holds its worker until it ends, so it takes a stream slot
// (released when cpp-httplib drops the response: the stream ended or the
// client went away). With every slot taken the stream is refused before it
// writes anything or starts any work: the handler only set up the provider.
Status HttpServer::AdmitStream(httplib::Response& res, const std::string& user_id) {
  const StreamSlots::Outcome taken = stream_slots_.Take(user_id);
  if (taken != StreamSlots::Outcome::kTaken) {
    DropStream(res);
    res.set_header("Retry-After", "1");
    if (taken == StreamSlots::Outcome::kServerFull) {
      return UnavailableError("too many streams are open", "too_many_streams");
    }
    return ResourceExhaustedError(
        "this account already has " + std::to_string(stream_slots_.per_user()) +
            " streams open, the most one account may have at once; end one and retry",
        "too_many_user_streams");
  }
  auto previous = std::move(res.content_provider_resource_releaser_);
  auto released = std::make_shared<std::atomic<bool>>(false);
  res.content_provider_resource_releaser_ = [this, previous, released, user_id](bool success) {
    if (!released->exchange(true)) stream_slots_.Release(user_id);
    if (previous) previous(success);
  };
  // Tells the client not to reuse the connection, so that the worker is free
  // as soon as the stream ends instead of idling through the keep-alive.
  res.set_header("Connection", "close");
  return Status();
}

// Responses cpp-httplib makes itself, before any route runs: a request line
// or header it cannot parse (400), a body over the limit (413), a URI too
// long (414). They get the same error JSON, request id and headers.
void HttpServer::OnLibraryError(const httplib::Request& req, httplib::Response& res,
                                const std::string& why) {
  if (!res.body.empty() || res.status < 400) return;  // our own response
  std::string request_id = res.get_header_value("X-Request-ID");
  if (request_id.empty()) {
    request_id = RequestIdFor(req.get_header_value("X-Request-ID"));
    res.set_header("X-Request-ID", request_id);
  }
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  const char* code = "malformed_request";
  const char* message = "the request could not be read";
  switch (res.status) {
    case 413:
      code = "payload_too_large";
      message = "the request body is too large";
      break;
    case 414:
      code = "uri_too_long";
      message = "the request URI is too long";
      break;
    case 404:
      code = "not_found";
      message = "no such route";
      break;
    default:
      break;
  }
  res.set_content(
      Dump(ErrorEnvelope(code, why.empty() ? std::string_view(message) : std::string_view(why),
                         request_id)),
      "application/json");
  metrics_->Observe(metrics_->unmatched_index(), res.status, 0);
  logger_.Info("request", {{"request_id", request_id},
                           {"method", req.method},
                           {"route", "unmatched"},
                           {"status", res.status},
                           {"ip", req.remote_addr}});
}

}  // namespace assistant::server
