// One call of the app proxy, ANY /api/apps/{id}/proxy/{path}, as the
// server and assistant-gateway both make it (docs/apps.md "The app proxy"):
// checks the caller may use the app, forwards the caller's method, path,
// query and body to the app's upstream with X-Assistant-User-Id,
// X-Assistant-App-Id and the signed X-Assistant-Identity token, and streams
// the answer back (forwarder.hpp). The app never receives the caller's
// Authorization, cookies or own copies of X-Assistant-*. Who signs the
// identity token, where the call is audited and which connections to the
// app are kept (app_pools.hpp) is the caller's.
//
// Thread safety: a call per request; shares only f.pools, which is
// thread-safe.
#ifndef ASSISTANT_SERVER_APP_FORWARD_HPP_
#define ASSISTANT_SERVER_APP_FORWARD_HPP_

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "assistant/apps.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

namespace assistant::server {

class AppPools;

struct AppForward {
  const App* app = nullptr;
  const Principal* caller = nullptr;
  std::string rest;              // {path} as routed (decoded), without its leading '/'
  std::string request_id;
  std::string forwarded_for;     // X-Forwarded-For as the app receives it
  std::chrono::milliseconds timeout{30000};  // to connect, and of silence while reading
  // The kept connections to the registry's apps; null: a new connection
  // per call.
  AppPools* pools = nullptr;
  // Signs X-Assistant-Identity for (caller, app).
  std::function<Result<std::string>(const Principal&, const App&)> sign_identity;
};

// What to audit of a call that was forwarded or tried: the app's status,
// or 502/504 when it could not be reached in time (ok = false).
struct AppCallOutcome {
  int status = 0;
  bool ok = false;
};

// Whether a request to the app proxy has its body passed on as it is read
// (TransportOptions::stream_body): a large upload there (IsLargeUpload,
// forwarder.hpp); a smaller body is read whole. Either way the answer
// streams back when it is large.
bool StreamsToApp(const http::Request& head);

// Forwards `req` to f.app and puts the app's answer into `res` (status
// included). Refusals before anything is forwarded: PermissionDenied
// ("insufficient_scope") without the `apps` scope, Malformed for a . or ..
// segment. Unavailable ("upstream_error") or DeadlineExceeded
// ("upstream_timeout") when the app is down or silent. A streamed body
// (req.body_reader) that could not be read is ResourceExhausted
// ("payload_too_large") over the body limit, else Malformed. `outcome` is
// set once the app was tried.
Status ForwardToApp(const AppForward& f, const http::Request& req, http::Response& res,
                    std::optional<AppCallOutcome>* outcome);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_APP_FORWARD_HPP_
