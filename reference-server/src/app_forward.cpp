#include "app_forward.hpp"

#include <string_view>
#include <utility>

#include "app_pools.hpp"
#include "forwarder.hpp"
#include "header_policy.hpp"

namespace assistant::server {
namespace {

// Never sent to an app: the caller's credentials, the identity headers set
// here, framing the client re-does (Expect was answered before), and the
// caller's Host and Accept-Encoding (the upstream's own host; identity, so
// that the body can be re-framed and compressed here as for any answer).
const HeaderPolicy& RequestPolicy() {
  static const HeaderPolicy p{{"Authorization", "Cookie", "Host", "Content-Length", "Expect",
                               "Accept-Encoding", "X-Request-ID", "X-Forwarded-For"},
                              {"X-Assistant-"}};
  return p;
}

// Never taken from an app's answer: what the proxy sets on every answer
// (request id, security headers, CORS, rate-limit headers), framing, and
// cookies (an app must not set the access_token cookie).
const HeaderPolicy& ResponsePolicy() {
  static const HeaderPolicy p{{"Content-Length", "Content-Type", "Set-Cookie", "X-Request-ID",
                               "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                               "Content-Security-Policy", "Vary", "Retry-After"},
                              {"Access-Control-", "RateLimit-"}};
  return p;
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

// A body the transport streams (StreamsToApp), passed on as it is read; the
// app's answer is relayed as any other.
Status ForwardUpload(const Upstream& upstream, const OutboundRequest& out,
                     const http::Request& req, http::Response& res,
                     std::optional<AppCallOutcome>* outcome) {
  http::BodyReader& body = *req.body_reader;
  auto answer = UpstreamCall::StartUpload(upstream, out, DeclaredLength(req), body);
  switch (body.error()) {
    case http::BodyReader::Error::kTooLarge:
      return ResourceExhaustedError("the request body is too large", "payload_too_large");
    case http::BodyReader::Error::kMalformed:
    case http::BodyReader::Error::kGone:
      return MalformedError("the request body could not be read");
    case http::BodyReader::Error::kNone:
      break;
  }
  if (!answer.ok()) {
    *outcome = AppCallOutcome{
        answer.status().code() == StatusCode::kDeadlineExceeded ? 504 : 502, false};
    return answer.status();
  }
  *outcome = AppCallOutcome{(*answer)->status(), true};
  res.status = (*answer)->status();
  return RelayAnswer(*std::move(answer), ResponsePolicy(), req.method, res);
}

}  // namespace

bool StreamsToApp(const http::Request& head) {
  if (!IsLargeUpload(head)) return false;
  // /api/apps/{id}/proxy/...
  static const std::string kPrefix = "/api/apps/";
  if (head.path.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  const size_t slash = head.path.find('/', kPrefix.size());
  return slash != std::string::npos && head.path.compare(slash, 7, "/proxy/") == 0;
}

Status ForwardToApp(const AppForward& f, const http::Request& req, http::Response& res,
                    std::optional<AppCallOutcome>* outcome) {
  const App& app = *f.app;
  const Principal& me = *f.caller;
  if (!me.HasScope("apps")) {
    return PermissionDeniedError("this credential lacks the apps scope", "insufficient_scope");
  }
  if (HasDotSegment(f.rest)) {
    return MalformedError("the proxied path must not contain . or .. segments");
  }
  ASSISTANT_ASSIGN_OR_RETURN(std::string identity, f.sign_identity(me, app));

  auto [origin, base] = SplitAppUpstream(app.upstream);
  OutboundRequest out;
  out.method = req.method;
  out.target = base + RawTail(req.target);
  out.headers = EndToEndHeaders(req.headers, RequestPolicy());
  out.headers.Add("Accept-Encoding", "identity");
  out.headers.Add("X-Request-ID", f.request_id);
  out.headers.Add("X-Forwarded-For", f.forwarded_for);
  out.headers.Add("X-Assistant-User-Id", me.user_id);
  out.headers.Add("X-Assistant-App-Id", app.id);
  out.headers.Add("X-Assistant-Identity", std::move(identity));

  Upstream upstream;
  upstream.origin = std::move(origin);
  if (f.pools) upstream.pool = f.pools->For(app);
  upstream.connect_timeout = f.timeout;
  upstream.read_timeout = f.timeout;
  if (req.body_reader) return ForwardUpload(upstream, out, req, res, outcome);
  out.body = req.body;
  auto call = UpstreamCall::Start(upstream, std::move(out));
  if (!call.ok()) {
    *outcome = AppCallOutcome{
        call.status().code() == StatusCode::kDeadlineExceeded ? 504 : 502, false};
    return call.status();
  }
  std::shared_ptr<UpstreamCall> up = *std::move(call);
  *outcome = AppCallOutcome{up->status(), true};
  res.status = up->status();
  return RelayAnswer(up, ResponsePolicy(), req.method, res);
}

}  // namespace assistant::server
