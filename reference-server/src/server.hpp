// assistant-server's HTTP layer: a route table over the core library and
// the request path every request takes, in one sequence of steps (Begin,
// the handler, Finish), on a worker (Handle) or, for a route with an
// asynchronous handler, on the I/O thread that read it (TakeOnIo):
//
//   request id -> security headers -> route match -> CORS -> body limit and
//   content type -> per-IP auth rate limit -> authentication -> per-principal
//   rate limit -> handler -> uniform error JSON -> metrics and access log
//
// The per-principal limit runs right after authentication because that is
// where the principal becomes known; the per-IP limit of the auth routes
// runs before (those routes have no principal). Handlers only parse, call
// the core and render.
//
// Thread safety: Handle runs on many worker threads at once, TakeOnIo on
// the I/O threads; the route table is built once before the server starts
// and never changes.
#ifndef ASSISTANT_SERVER_SERVER_HPP_
#define ASSISTANT_SERVER_SERVER_HPP_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "app_pools.hpp"
#include "assistant/core.hpp"
#include "config.hpp"
#include "http/asio_event_loop.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "http/transport.hpp"
#include "logger.hpp"
#include "metrics.hpp"
#include "product_metrics.hpp"
#include "assistant/rate_limits.hpp"
#include "stream_slots.hpp"
#include "trusted_proxies.hpp"

namespace assistant::server {

enum class Access { kPublic, kAuthenticated };
enum class RateClass { kNone, kAuth, kApi };
// kObject: a JSON object (an empty body reads as {}); kAny: any JSON value
// (user data, agent state); kNone: the body is ignored.
enum class BodyKind { kNone, kObject, kAny };

// One request as a handler sees it, in the server's own types (http/): no
// handler depends on the transport that read the request.
struct Call {
  const http::Request& req;
  http::Response& res;
  std::vector<std::string> params;  // path parameters, in order
  Json body;                        // parsed body (null for kNone)
  std::optional<Principal> principal;
  std::string credential;  // as presented, for /api/auth/verify
  RequestContext ctx;

  const std::string& Query(const char* name) const { return req.Query(name); }
  bool HasQuery(const char* name) const { return req.HasQuery(name); }
};

struct Reply {
  // 0: the route's success status (Route::success), which is stated once, in
  // the route table; a handler sets another only for a different outcome.
  int status = 0;
  std::optional<Json> body;  // nullopt: no body (204)
  // The handler wrote the body itself (a stream, or text that is not JSON).
  bool written = false;
  // For a stream: the work it follows (an agent turn), begun only once the
  // stream has its slot, so a refused stream starts nothing. A failure is
  // the response, a plain error like the handler's own.
  std::function<Status()> begin_stream = {};
};

using Handler = std::function<Result<Reply>(Call&)>;
// A handler whose work is asynchronous (the core's *Async calls): it starts
// the work on `loop` and returns; the reply goes to `reply`, once, on that
// loop. It may throw only before it handed `reply` on.
using ReplyFn = std::function<void(Result<Reply>)>;
using AsyncHandler = std::function<void(Call&, EventLoop& loop, ReplyFn reply)>;

// Writes an error body for a route whose clients expect another shape than
// ErrorEnvelope's (the OpenAI-compatible routes: OpenAI's SDKs read theirs).
// Takes the HTTP status, then what ErrorEnvelope takes.
using ErrorBodyFn = Json (*)(int http_status, std::string_view code, std::string_view message,
                             std::string_view request_id, std::string_view field);
// The HTTP status of a failure, for a route whose clients expect other
// statuses than HttpStatusFor's (http_status.hpp has both tables).
using ErrorStatusFn = int (*)(const Status& status);

// What /openapi.json says about a route. Schemas are JSON Schema objects
// (usually {"$ref": "#/components/schemas/X"}).
struct RouteDoc {
  std::string summary;
  std::string tag;
  Json request;   // null: no body
  Json response;  // null: no body
  std::vector<std::string> query;  // query parameter names
  // Can answer text/event-stream (a streamed reply).
  bool sse = false;
  // Error statuses this route answers beyond those its kind implies (body,
  // auth, path ids, query, rate limit, 414, 431, 500), so /openapi.json lists
  // every status the server really sends; the description comes from the
  // status itself.
  std::vector<int> errors;
  // The answer is another program's (the app proxy): any status, headers
  // and content type, so the document lists one `default` response.
  bool passthrough = false;
};

struct Route {
  std::string method;
  std::string path;  // /api/tasks/{id}
  Access access = Access::kAuthenticated;
  RateClass rate = RateClass::kApi;
  BodyKind body = BodyKind::kNone;
  int success = 200;
  Handler handler;
  // Set on the routes that can answer on an I/O thread (HttpServer::TakeOnIo)
  // with the same reply as `handler`: GET /api/tasks. Null: workers only.
  AsyncHandler async_handler;
  RouteDoc doc;
  ErrorBodyFn error_body = nullptr;      // null: ErrorEnvelope's shape
  ErrorStatusFn error_status = nullptr;  // null: HttpStatusFor
  // The last path parameter takes the rest of the path: one or more
  // segments, joined with '/'.
  bool rest = false;
  // Origins allowed besides --cors-origins, given the path parameters (an
  // app's allowed_origins on its proxy routes). Null: none.
  std::function<std::vector<std::string>(const std::vector<std::string>& params)> extra_origins;
  std::vector<std::string> segments;  // filled by the server
};

class HttpServer;
// The route table (routes.cpp).
std::vector<Route> BuildRoutes(HttpServer& server);
// The OpenAPI 3.1 document for `routes` (openapi.cpp).
Json BuildOpenApi(const std::vector<Route>& routes);

class HttpServer final {
 public:
  // `product`: the core's Observer, rendered on /metrics beside the HTTP
  // series; null = HTTP series only. It must outlive the server.
  HttpServer(Assistant& core, const ServerConfig& config, Logger& logger,
             const ProductMetrics* product = nullptr);
  ~HttpServer();

  // Binds host:port (port 0 = any free port). Unavailable when it cannot.
  Status Bind();
  int port() const { return port_; }
  // Serves until Stop(); returns when in-flight requests have finished.
  void Run();
  // Stops accepting; safe from any thread (and from the signal thread).
  void Stop();

  Assistant& core() { return core_; }
  // The app proxy's kept connections to the registry's apps.
  AppPools& app_pools() { return app_pools_; }
  // Re-reads the core's app registry (SIGHUP) and retires the kept
  // connections of apps that are gone or moved; on an error the old
  // registry and connections stay. Safe from any thread.
  Status ReloadApps();
  const ServerConfig& config() const { return config_; }
  Logger& logger() { return logger_; }
  Metrics& metrics() { return *metrics_; }
  // The /metrics document: HTTP series, then the product's.
  std::string RenderMetrics() const;
  const std::vector<Route>& routes() const { return routes_; }
  const std::string& openapi() const { return openapi_; }

  // The pipeline; public so that the tests' in-process use is possible.
  // A streamed reply is left in res.stream for the transport to run.
  void Handle(const http::Request& req, http::Response& res);
  // The answer to a request the transport refused before any route saw it
  // (`status`: 400 malformed or badly framed, 413, 414, 431, 503 ...), in the
  // same error JSON with a request id and the security headers. `why`
  // replaces the status's generic message.
  void RenderTransportError(int status, const http::Request& req, http::Response& res,
                            const std::string& why = std::string());
  // The last line of defence: an exception escaped the transport's call.
  void RenderUncaught(const http::Request& req, http::Response& res);

 private:

  const Route* Match(const std::string& method, const std::string& path,
                     std::vector<std::string>* params, size_t* index,
                     std::string* allowed) const;
  const Route* DialectOf(const std::string& path) const;
  void RenderError(http::Response& res, const Status& status, const std::string& request_id,
                   const std::string& route, const Route* route_def = nullptr) const;
  void ApplyRateHeaders(http::Response& res, const RateDecision& d) const;
  bool Cors(const http::Request& req, http::Response& res,
            const std::vector<std::string>& extra_origins) const;
  // Handle's body; true when it answered (always).
  bool Serve(const http::Request& req, http::Response& res);
  // The pipeline in steps (server.cpp), shared by Serve on a worker and
  // TakeOnIo on an I/O thread.
  struct Exchange;
  bool Begin(Exchange& x, const std::optional<Result<Principal>>* cached);
  Result<Reply> RunHandler(Exchange& x);
  void Finish(Exchange& x, Result<Reply> reply);
  bool Fail(Exchange& x, const Status& s);
  bool Done(Exchange& x);
  // The transport's on_io, set when the storage's asynchronous read suits a
  // loop (Storage::ListTasksAsyncFitsLoop) and --reads-on-workers is off.
  bool TakeOnIo(http::Request& req, const boost::asio::any_io_executor& io,
                http::TransportOptions::Completion done);
  // The core's view of the I/O thread's loop `io`, made on first use.
  EventLoop& LoopOf(const boost::asio::any_io_executor& io);
  // Takes a stream slot of `user_id` for a streamed reply; otherwise the
  // reply is made empty, with Retry-After, and the refusal returned (503
  // when --max-streams are open, 429 when the user has
  // --max-streams-per-user).
  Status AdmitStream(http::Response& res, const std::string& user_id);

  Assistant& core_;
  const ServerConfig config_;
  Logger& logger_;
  std::vector<Route> routes_;
  std::string openapi_;
  std::unique_ptr<Metrics> metrics_;
  const ProductMetrics* const product_;
  // Parsed once here; ParseConfig already refused a bad entry.
  const TrustedProxies trusted_proxies_;
  // Counted in the database, so they hold across servers (docs/server.md).
  RateLimiter auth_limiter_;
  RateLimiter api_limiter_;
  // Before the listener: streams it still serves give their slots back
  // while it shuts down, so the slots must outlive it.
  StreamSlots stream_slots_;
  AppPools app_pools_;
  std::unique_ptr<http::Transport> http_;
  int port_ = 0;
  // After http_: destroyed before the transport's loops, once the storage
  // forgot them (at the end of Run).
  std::mutex loops_mu_;
  std::unordered_map<const void*, std::unique_ptr<http::AsioEventLoop>> loops_;  // guarded
};

// Extracts the presented credential from a request's Authorization and
// Cookie fields: `Authorization: Bearer X` first, else the access_token
// cookie. Empty when none.
std::string PresentedCredential(std::string_view authorization, std::string_view cookies);
inline std::string PresentedCredential(const http::Request& req) {
  return PresentedCredential(req.headers.Get("Authorization"), req.headers.Get("Cookie"));
}

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_SERVER_HPP_
