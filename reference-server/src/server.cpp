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
#include "cookie_auth.hpp"
#include "app_forward.hpp"
#include "http/transport.hpp"
#include "render.hpp"
#include "request_id.hpp"

namespace assistant::server {
namespace {

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

bool IsJsonContentType(const std::string& ct) {
  std::string base = ct.substr(0, ct.find(';'));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  for (auto& c : base) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return base == "application/json" || base == "application/merge-patch+json";
}

// A stream refused before its first byte: the response becomes a plain one.
// Dropping the stream also gives back a slot it held (AdmitStream).
void DropStream(http::Response& res) {
  res.stream = nullptr;
  res.headers.Erase("X-Accel-Buffering");  // the SSE headers do not apply
  res.headers.Erase("Connection");         // a plain reply keeps the connection
}

}  // namespace

std::string PresentedCredential(std::string_view auth, std::string_view cookies) {
  if (!auth.empty()) {
    // The scheme is case-insensitive (RFC 7235); anything else is kept
    // whole so that it fails authentication rather than falling back.
    if (auth.size() > 7 && (auth.compare(0, 7, "Bearer ") == 0 ||
                            auth.compare(0, 7, "bearer ") == 0)) {
      return std::string(auth.substr(7));
    }
    return std::string(auth);
  }
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string_view::npos) end = cookies.size();
    size_t b = cookies.find_first_not_of(' ', pos);
    if (b != std::string_view::npos && b < end && cookies.compare(b, 13, "access_token=") == 0) {
      return std::string(cookies.substr(b + 13, end - b - 13));
    }
    pos = end + 1;
  }
  return "";
}

// --rate-limit-store: "auto" is the core's default for the database.
static RateLimitStore RateLimitStoreFor(const ServerConfig& c) {
  if (c.rate_limit_store == "database") return RateLimitStore::kStorage;
  if (c.rate_limit_store == "process") return RateLimitStore::kProcess;
  return DefaultRateLimitStore(c.database_url);
}

HttpServer::HttpServer(Assistant& core, const ServerConfig& config, Logger& logger,
                       const ProductMetrics* product)
    : core_(core),
      config_(config),
      logger_(logger),
      product_(product),
      trusted_proxies_(TrustedProxies::Parse(config.trusted_proxies).value_or(TrustedProxies())),
      auth_limiter_(core.storage(), core.clock(), config.rate_limit_auth, std::chrono::minutes(1),
                    RateLimitStoreFor(config)),
      api_limiter_(core.storage(), core.clock(), config.rate_limit_api, std::chrono::minutes(1),
                   RateLimitStoreFor(config)),
      stream_slots_(config.max_streams, config.max_streams_per_user) {
  routes_ = BuildRoutes(*this);
  std::vector<Metrics::RouteLabel> labels;
  for (auto& r : routes_) {
    for (auto seg : SplitPath(r.path)) r.segments.emplace_back(seg);
    if (r.segments.size() > kMaxRouteSegments) std::abort();  // raise kMaxRouteSegments
    labels.push_back({r.method, r.path});
  }
  metrics_ = std::make_unique<Metrics>(std::move(labels));
  openapi_ = Dump(BuildOpenApi(routes_));

  http::TransportOptions t;
  t.host = config_.host;
  t.port = config_.port;
  t.body_limit = config_.body_limit;
  // Worker model (docs/server.md): a request holds a worker while its
  // handler runs, and a stream for its whole life, so streams get workers
  // of their own on top of --threads and are admitted only up to
  // --max-streams (AdmitStream); ordinary requests always keep --threads.
  t.workers = config_.threads + config_.max_streams;
  t.header_timeout = std::chrono::seconds(config_.header_timeout);
  t.max_connections = config_.max_connections;
  t.max_connections_per_ip = config_.max_connections_per_ip;
  t.drain_timeout = std::chrono::seconds(config_.shutdown_timeout + 1);
  // An upload through the app proxy is passed on as it is read, not held.
  t.stream_body = &StreamsToApp;
  // GET /api/tasks on the I/O thread that read it, where the storage's
  // asynchronous read suits a loop (docs/server.md "Request model").
  if (!config_.reads_on_workers && core_.storage().ListTasksAsyncFitsLoop()) {
    t.on_io = [this](http::Request& req, const boost::asio::any_io_executor& io,
                     http::TransportOptions::Completion done) {
      return TakeOnIo(req, io, std::move(done));
    };
  }
  http_ = std::make_unique<http::Transport>(
      std::move(t), [this](const http::Request& req, http::Response& res) { Handle(req, res); },
      [this](int status, const http::Request& req, http::Response& res, const std::string& why) {
        if (status >= 500 && status != 503) return RenderUncaught(req, res);
        RenderTransportError(status, req, res, why);
      });
}

// Handle catches everything itself; this is the last line of defence.
void HttpServer::RenderUncaught(const http::Request& req, http::Response& res) {
  const std::string id = RequestIdFor(req.headers.Get("X-Request-ID"));
  res.body.clear();
  RenderError(res, InternalError("unexpected exception"), id, "unmatched");
}

std::string HttpServer::RenderMetrics() const {
  std::string out = metrics_->Render();
  if (product_) product_->Render(&out, stream_slots_.open());
  return out;
}

HttpServer::~HttpServer() = default;

EventLoop& HttpServer::LoopOf(const boost::asio::any_io_executor& io) {
  const void* context = &boost::asio::query(io, boost::asio::execution::context);
  std::lock_guard<std::mutex> lock(loops_mu_);
  std::unique_ptr<http::AsioEventLoop>& loop = loops_[context];
  if (!loop) loop = std::make_unique<http::AsioEventLoop>(io);
  return *loop;
}

Status HttpServer::Bind() {
  ASSISTANT_RETURN_IF_ERROR(http_->Bind());
  port_ = http_->port();
  return Status();
}

void HttpServer::Run() {
  http_->Run();
  // The loops have stopped; the storage may outlive them (a test's core) or
  // close right after this (main's): either way they are released now,
  // while both exist.
  std::lock_guard<std::mutex> lock(loops_mu_);
  for (auto& [context, loop] : loops_) core_.storage().ForgetLoop(*loop);
  loops_.clear();
}

void HttpServer::Stop() { http_->Stop(); }

Status HttpServer::ReloadApps() {
  ASSISTANT_RETURN_IF_ERROR(core_.apps().Reload());
  app_pools_.Keep(core_.apps().List());
  return Status();
}

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

void HttpServer::RenderError(http::Response& res, const Status& status,
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
  if (code == 401) res.headers.Add("WWW-Authenticate", "Bearer");
  if (code == 429 && !res.headers.Has("Retry-After")) res.headers.Add("Retry-After", "1");
  const std::string& err_code = err["code"].get_ref<const std::string&>();
  const std::string& err_message = err["message"].get_ref<const std::string&>();
  res.SetBody(Dump(error_body
                       ? error_body(code, err_code, err_message, request_id, status.field())
                       : ErrorEnvelope(err_code, err_message, request_id, status.field())),
              kJsonType);
}

void HttpServer::ApplyRateHeaders(http::Response& res, const RateDecision& d) const {
  res.headers.Add("RateLimit-Limit", std::to_string(d.limit));
  res.headers.Add("RateLimit-Remaining", std::to_string(d.remaining));
  res.headers.Add("RateLimit-Reset", std::to_string(d.reset_seconds));
  if (!d.allowed) res.headers.Add("Retry-After", std::to_string(d.retry_after_seconds));
}

// Adds the CORS headers for an allowed Origin; false when the request has an
// Origin that is not on the allow-list.
bool HttpServer::Cors(const http::Request& req, http::Response& res,
                      const std::vector<std::string>& extra_origins) const {
  const std::string& origin = req.headers.Get("Origin");
  if (origin.empty()) return true;
  auto listed = [&origin](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), origin) != list.end();
  };
  if (listed(config_.cors_origins) || listed(extra_origins)) {
    res.headers.Add("Access-Control-Allow-Origin", origin);
    res.headers.Add("Access-Control-Allow-Credentials", "true");
    res.headers.Add("Access-Control-Expose-Headers",
                    "X-Request-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
                    "Retry-After");
    res.headers.Add("Vary", "Origin");
    return true;
  }
  res.headers.Add("Vary", "Origin");
  return false;
}

void HttpServer::Handle(const http::Request& req, http::Response& res) {
  Serve(req, res);
}

// One request on its way through the pipeline: what the steps before the
// handler found, kept for the steps after it, which may run later, on the
// loop that answers the handler (TakeOnIo).
struct HttpServer::Exchange {
  Exchange(const http::Request& request, http::Response& response)
      : req(request), res(response) {}
  const http::Request& req;
  http::Response& res;
  const Route* route = nullptr;
  std::vector<std::string> params;
  size_t route_index = 0;
  std::string allowed;  // the methods the path allows, for 405 and OPTIONS
  Clock::time_point start;
  std::string client_ip;
  std::string request_id;
  const Route* dialect = nullptr;
  std::optional<Call> call;  // set once the handler may run
};

bool HttpServer::Serve(const http::Request& req, http::Response& res) {
  Exchange x(req, res);
  x.route_index = metrics_->unmatched_index();
  x.route = Match(req.method, req.path, &x.params, &x.route_index, &x.allowed);
  if (!Begin(x, nullptr)) return true;
  Finish(x, RunHandler(x));
  return true;
}

// The handler's reply; an exception is an internal error, not a crash.
Result<Reply> HttpServer::RunHandler(Exchange& x) {
  try {
    return x.route->handler(*x.call);
  } catch (const std::exception& e) {
    return InternalError(std::string("exception: ") + e.what());
  } catch (...) {
    return InternalError("unknown exception");
  }
}

bool HttpServer::Done(Exchange& x) {
  const double secs = std::chrono::duration<double>(Clock::now() - x.start).count();
  metrics_->Observe(x.route_index, x.res.status, secs);
  metrics_->AddInFlight(-1);
  logger_.Access(x.request_id, x.req.method, x.route ? x.route->path : kUnmatched, x.res.status,
                 secs * 1e3, x.client_ip);
  return false;
}

bool HttpServer::Fail(Exchange& x, const Status& s) {
  RenderError(x.res, s, x.request_id, x.route ? x.route->path : kUnmatched, x.dialect);
  return Done(x);
}

// Every step before the handler. False when the request is answered already
// (a refusal, a preflight, 404, 405): Done ran. True when the handler is
// to run on x.call. `cached`: Authenticate's answer, taken from the caches
// by the caller that must not wait on storage (TakeOnIo); null to ask.
bool HttpServer::Begin(Exchange& x, const std::optional<Result<Principal>>* cached) {
  const http::Request& req = x.req;
  http::Response& res = x.res;
  const Route* const route = x.route;
  x.start = Clock::now();
  metrics_->AddInFlight(1);
  // The client's address for limits, audit and logs (trusted_proxies.hpp).
  x.client_ip = trusted_proxies_.ClientAddress(req.remote_addr, req.headers);

  static const std::pair<const char*, const char*> kSecurityHeaders[] = {
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
  };

  // 1. Request id.
  x.request_id = RequestIdFor(req.headers.Get("X-Request-ID"));
  const std::string& request_id = x.request_id;
  res.headers.Add("X-Request-ID", request_id);

  // 2. Security headers.
  for (const auto& [name, value] : kSecurityHeaders) res.headers.Add(name, value);

  if (req.path.rfind("/api/auth/", 0) == 0 || req.path.rfind("/api/user/", 0) == 0) {
    res.headers.Add("Cache-Control", "no-store");
  }

  x.dialect = route ? route : DialectOf(req.path);
  auto fail = [&](const Status& s) { return Fail(x, s); };

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
      extra_origins = cors_route->extra_origins(route != nullptr ? x.params : get_params);
    }
  }
  const bool origin_ok = Cors(req, res, extra_origins);
  if (req.method == "OPTIONS") {
    if (x.allowed.empty()) return fail(NotFoundError("no such route"));
    if (req.headers.Get("Origin").empty()) {
      // Not a CORS preflight: just say what the path allows.
      res.headers.Add("Allow", x.allowed + ", OPTIONS");
      res.status = 204;
      return Done(x);
    }
    if (!origin_ok) {
      return fail(PermissionDeniedError("origin not allowed", "cors_origin_not_allowed"));
    }
    res.headers.Add("Access-Control-Allow-Methods", x.allowed + ", OPTIONS");
    res.headers.Add("Access-Control-Allow-Headers",
                    "Authorization, Content-Type, X-Request-ID, Last-Event-ID, X-Requested-With");
    res.headers.Add("Access-Control-Max-Age", "600");
    res.status = 204;
    return Done(x);
  }
  if (route == nullptr) {
    if (!x.allowed.empty()) {
      res.headers.Add("Allow", x.allowed);
      res.status = 405;
      const std::string message = req.method + " is not allowed here";
      res.SetBody(Dump(x.dialect && x.dialect->error_body
                           ? x.dialect->error_body(405, "method_not_allowed", message,
                                                   request_id, {})
                           : ErrorEnvelope("method_not_allowed", message, request_id)),
                  kJsonType);
      return Done(x);
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
  x.call.emplace(Call{req, res, std::move(x.params), Json(), std::nullopt, "", {}});
  Call& call = *x.call;
  if (req.body.size() > config_.body_limit) {
    return fail(ResourceExhaustedError("the request body is too large", "payload_too_large"));
  }
  if (route->body != BodyKind::kNone) {
    if (!req.body.empty() && !IsJsonContentType(req.headers.Get("Content-Type"))) {
      res.status = 415;
      constexpr const char* kCode = "unsupported_media_type";
      constexpr const char* kMessage = "send the body as application/json";
      res.SetBody(Dump(route->error_body
                           ? route->error_body(415, kCode, kMessage, request_id, {})
                           : ErrorEnvelope(kCode, kMessage, request_id)),
                  kJsonType);
      return Done(x);
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

  call.ctx.ip = x.client_ip;
  call.ctx.request_id = request_id;
  if (req.headers.Has("User-Agent")) call.ctx.user_agent = req.headers.Get("User-Agent");

  // 5. Rate limit per client IP on the auth routes.
  if (route->rate == RateClass::kAuth && auth_limiter_.enabled()) {
    const auto d = auth_limiter_.Hit("ip:" + x.client_ip);
    if (!d.ok()) return fail(d.status());
    ApplyRateHeaders(res, *d);
    if (!d->allowed) return fail(ResourceExhaustedError("too many requests", "rate_limited"));
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
    auto principal = cached != nullptr && cached->has_value()
                         ? **cached
                         : core_.auth().Authenticate(call.credential);
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
      if (!d.ok()) return fail(d.status());
      ApplyRateHeaders(res, *d);
      if (!d->allowed) return fail(ResourceExhaustedError("too many requests", "rate_limited"));
    }
  }
  return true;
}

// 8. The handler's reply rendered, then the metrics and the access line.
void HttpServer::Finish(Exchange& x, Result<Reply> reply) {
  http::Response& res = x.res;
  const Call& call = *x.call;
  if (!reply.ok()) {
    res.stream = nullptr;  // a handler that failed after setting one up
    Fail(x, reply.status());
    return;
  }
  if (res.stream) {
    // Every streamed route needs a principal (Access::kAuthenticated).
    const Status admitted =
        AdmitStream(res, call.principal ? call.principal->user_id : std::string());
    if (!admitted.ok()) {
      Fail(x, admitted);
      return;
    }
    if (reply->begin_stream) {
      if (Status begun = reply->begin_stream(); !begun.ok()) {
        DropStream(res);
        Fail(x, begun);
        return;
      }
    }
  }
  res.status = reply->status != 0 ? reply->status : x.route->success;
  if (!reply->written) {
    if (reply->body) {
      res.SetBody(Dump(*reply->body), kJsonType);
    } else {
      res.body.clear();
    }
  }
  Done(x);
}

// A request the transport offers on its I/O thread (TransportOptions::on_io).
// Taken only when no step would block that thread: the route has an
// asynchronous handler, no rate limit it passes counts in storage, and the
// credential's answer is in the caches. Everything else declines, untouched,
// to a worker, where the same steps run.
bool HttpServer::TakeOnIo(http::Request& req, const boost::asio::any_io_executor& io,
                          http::TransportOptions::Completion done) {
  std::vector<std::string> params;
  size_t route_index = metrics_->unmatched_index();
  std::string allowed;
  const Route* route = Match(req.method, req.path, &params, &route_index, &allowed);
  if (route == nullptr || !route->async_handler || req.method == "OPTIONS") return false;
  auto counts_in_storage = [](const RateLimiter& l) {
    return l.enabled() && l.store() == RateLimitStore::kStorage;
  };
  if ((route->rate == RateClass::kAuth && counts_in_storage(auth_limiter_)) ||
      (route->rate == RateClass::kApi && counts_in_storage(api_limiter_))) {
    return false;
  }
  std::optional<Result<Principal>> cached;
  if (route->access == Access::kAuthenticated) {
    const std::string credential = PresentedCredential(req);
    // A missing, oversized or cookie-without-header credential is refused
    // by Begin before any lookup.
    if (!credential.empty() && credential.size() <= kMaxCredentialBytes &&
        !LacksCsrfHeader(req)) {
      cached = core_.auth().AuthenticateCached(credential);
      if (!cached) return false;
    }
  }

  // The request and its answer live as long as the handler's work does.
  struct OnIo {
    explicit OnIo(http::Request r) : req(std::move(r)), x(req, res) {}
    http::Request req;
    http::Response res;
    Exchange x;
  };
  metrics_->CountOnIo();
  auto on = std::make_shared<OnIo>(std::move(req));
  on->x.route = route;
  on->x.params = std::move(params);
  on->x.route_index = route_index;
  on->x.allowed = std::move(allowed);
  if (!Begin(on->x, &cached)) {
    done(std::move(on->res));
    return true;
  }
  // Run by the core on this loop, or here: nothing may escape into either.
  auto answer = [this, on, done](Result<Reply> reply) {
    try {
      Finish(on->x, std::move(reply));
    } catch (...) {
      on->res = http::Response();
      RenderUncaught(on->req, on->res);
    }
    done(std::move(on->res));
  };
  // The handler calls `answer` once, or throws before it handed it on.
  try {
    route->async_handler(*on->x.call, LoopOf(io), answer);
  } catch (const std::exception& e) {
    answer(InternalError(std::string("exception: ") + e.what()));
  } catch (...) {
    answer(InternalError("unknown exception"));
  }
  return true;
}

namespace {
// Gives a stream slot back when the stream that holds it is destroyed: it
// ended, the client went away, or the transport never ran it.
class SlotHold {
 public:
  SlotHold(StreamSlots& slots, std::string user_id) : slots_(slots), user_id_(std::move(user_id)) {}
  ~SlotHold() { slots_.Release(user_id_); }
  SlotHold(const SlotHold&) = delete;
  SlotHold& operator=(const SlotHold&) = delete;

 private:
  StreamSlots& slots_;
  const std::string user_id_;
};
}  // namespace

// A streamed reply holds its worker until it ends, so it takes a stream slot.
// With every slot taken the stream is refused before it writes anything or
// starts any work: the handler only described the stream.
Status HttpServer::AdmitStream(http::Response& res, const std::string& user_id) {
  const StreamSlots::Outcome taken = stream_slots_.Take(user_id);
  if (taken != StreamSlots::Outcome::kTaken) {
    DropStream(res);
    res.headers.Add("Retry-After", "1");
    if (taken == StreamSlots::Outcome::kServerFull) {
      return UnavailableError("too many streams are open", "too_many_streams");
    }
    return ResourceExhaustedError(
        "this account already has " + std::to_string(stream_slots_.per_user()) +
            " streams open, the most one account may have at once; end one and retry",
        "too_many_user_streams");
  }
  auto hold = std::make_shared<SlotHold>(stream_slots_, user_id);
  res.stream = [fn = std::move(res.stream), hold](http::StreamWriter& w) { return fn(w); };
  // Tells the client not to reuse the connection, so that the worker is free
  // as soon as the stream ends instead of idling through the keep-alive.
  res.headers.Add("Connection", "close");
  return Status();
}

void HttpServer::RenderTransportError(int status, const http::Request& req, http::Response& res,
                                      const std::string& why) {
  const std::string request_id = RequestIdFor(req.headers.Get("X-Request-ID"));
  res.status = status;
  res.headers.Add("X-Request-ID", request_id);
  res.headers.Add("X-Content-Type-Options", "nosniff");
  res.headers.Add("X-Frame-Options", "DENY");
  const char* code = "malformed_request";
  const char* message = "the request could not be read";
  switch (status) {
    case 413:
      code = "payload_too_large";
      message = "the request body is too large";
      break;
    case 414:
      code = "uri_too_long";
      message = "the request URI is too long";
      break;
    case 415:
      code = "unsupported_media_type";
      message = "the request's content coding is not supported";
      break;
    case 431:
      code = "header_fields_too_large";
      message = "the request's header fields are too large or too many";
      break;
    case 503:
      code = "unavailable";
      message = "the server is at its connection limit";
      break;
    case 404:
      code = "not_found";
      message = "no such route";
      break;
    default:
      break;
  }
  res.SetBody(Dump(ErrorEnvelope(
                  code, why.empty() ? std::string_view(message) : std::string_view(why),
                  request_id)),
              kJsonType);
  metrics_->Observe(metrics_->unmatched_index(), status, 0);
  logger_.Info("request", {{"request_id", request_id},
                           {"method", req.method},
                           {"route", "unmatched"},
                           {"status", status},
                           {"ip", trusted_proxies_.ClientAddress(req.remote_addr, req.headers)}});
}

}  // namespace assistant::server
