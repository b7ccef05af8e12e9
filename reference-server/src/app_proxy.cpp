#include "app_proxy.hpp"

#include <chrono>
#include <string_view>

#include "assistant/apps.hpp"
#include "forwarder.hpp"
#include "header_policy.hpp"

namespace assistant::server {
namespace {

// Never sent to an app: the caller's credentials, the identity headers the
// server sets itself, framing the client re-does (Expect was answered
// here), and the caller's Host and Accept-Encoding (the upstream's own
// host; identity, so that the body can be re-framed and compressed here as
// for any answer). cpp-httplib files the peer's addresses as REMOTE_ and
// LOCAL_ pseudo-headers.
const HeaderPolicy& RequestPolicy() {
  static const HeaderPolicy p{{"Authorization", "Cookie", "Host", "Content-Length", "Expect",
                               "Accept-Encoding", "X-Request-ID", "X-Forwarded-For",
                               "REMOTE_ADDR", "REMOTE_PORT", "LOCAL_ADDR", "LOCAL_PORT"},
                              {"X-Assistant-"}};
  return p;
}

// Never taken from an app's answer: what the server sets on every answer
// (request id, security headers, CORS, rate-limit headers), framing, and
// cookies (an app must not set the server's access_token cookie).
const HeaderPolicy& ResponsePolicy() {
  static const HeaderPolicy p{{"Content-Length", "Content-Type", "Set-Cookie", "X-Request-ID",
                               "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                               "Content-Security-Policy", "Vary", "Retry-After"},
                              {"Access-Control-", "RateLimit-"}};
  return p;
}

// "http://host:9000/base" -> {"http://host:9000", "/base"}. The registry
// checked the URL's form when it loaded it.
std::pair<std::string, std::string> SplitUpstream(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return {url, ""};
  std::string base = url.substr(slash);
  while (!base.empty() && base.back() == '/') base.pop_back();
  return {url.substr(0, slash), base};
}

// The request target after /api/apps/{id}/proxy, as the client sent it
// (still percent-encoded, trailing slash kept), with its query.
std::string RawTail(const std::string& target) {
  size_t i = 0;
  const size_t end = target.find('?') == std::string::npos ? target.size() : target.find('?');
  for (int seen = 0; seen < 4 && i < end; ++seen) {
    while (i < end && target[i] == '/') ++i;
    while (i < end && target[i] != '/') ++i;
  }
  return target.substr(i);
}

bool HasDotSegment(std::string_view path) {
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view seg = path.substr(0, slash);
    if (seg == "." || seg == "..") return true;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return false;
}

void Audit(HttpServer& s, const Call& c, const std::string& app_id, const std::string& path,
           int status, bool ok) {
  AuditEvent e;
  e.id = NewId();
  e.user_id = c.principal->user_id;
  e.type = "app.proxied";
  e.outcome = ok ? "ok" : "failed";
  e.ip = c.ctx.ip;
  e.user_agent = c.ctx.user_agent;
  e.request_id = c.ctx.request_id;
  // The path without its query, which may carry an app's own secrets.
  e.details = {{"app", app_id}, {"method", c.req.method}, {"path", path}, {"status", status}};
  e.created_at = std::chrono::time_point_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now());
  if (Status st = s.core().storage().AppendAudit(e); !st.ok()) {
    s.logger().Error("audit: could not record an app call",
                     {{"request_id", c.ctx.request_id}, {"cause", st.ToString()}});
  }
}

}  // namespace

Result<Reply> ProxyToApp(HttpServer& s, Call& c) {
  const Principal& me = *c.principal;
  ASSISTANT_ASSIGN_OR_RETURN(App app, s.core().apps().Get(c.params[0]));
  if (!me.HasScope("apps")) {
    return PermissionDeniedError("this credential lacks the apps scope", "insufficient_scope");
  }
  if (HasDotSegment(c.params[1])) {
    return MalformedError("the proxied path must not contain . or .. segments");
  }
  ASSISTANT_ASSIGN_OR_RETURN(std::string identity,
                             s.core().auth().IssueIdentityToken(me, app.id, app.scopes));

  auto [origin, base] = SplitUpstream(app.upstream);
  OutboundRequest out;
  out.method = c.req.method;
  out.target = base + RawTail(c.req.target);
  out.headers = EndToEndHeaders(httplib::Headers(c.req.headers.begin(), c.req.headers.end()),
                                RequestPolicy());
  out.headers.emplace("Accept-Encoding", "identity");
  out.headers.emplace("X-Request-ID", c.ctx.request_id);
  out.headers.emplace("X-Forwarded-For", c.req.remote_addr);
  out.headers.emplace("X-Assistant-User-Id", me.user_id);
  out.headers.emplace("X-Assistant-App-Id", app.id);
  out.headers.emplace("X-Assistant-Identity", identity);
  out.body = c.req.body;

  Upstream upstream;
  upstream.origin = std::move(origin);
  upstream.connect_timeout = std::chrono::seconds(s.config().apps_timeout);
  upstream.read_timeout = std::chrono::seconds(s.config().apps_timeout);
  const std::string path = "/" + c.params[1];
  auto call = UpstreamCall::Start(upstream, std::move(out));
  if (!call.ok()) {
    Audit(s, c, app.id, path, call.status().code() == StatusCode::kDeadlineExceeded ? 504 : 502,
          false);
    return call.status();
  }
  std::shared_ptr<UpstreamCall> up = *std::move(call);
  Audit(s, c, app.id, path, up->status(), true);

  ASSISTANT_RETURN_IF_ERROR(RelayAnswer(up, ResponsePolicy(), c.req.method, c.res));
  return Reply{up->status(), std::nullopt, true};
}

}  // namespace assistant::server
