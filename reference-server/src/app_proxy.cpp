#include "app_proxy.hpp"

#include <chrono>

#include "app_forward.hpp"
#include "assistant/apps.hpp"

namespace assistant::server {
namespace {

void Audit(HttpServer& s, const Call& c, const std::string& app_id, const std::string& path,
           const AppCallOutcome& outcome) {
  AuditEvent e;
  e.id = NewId();
  e.user_id = c.principal->user_id;
  e.type = "app.proxied";
  e.outcome = outcome.ok ? AuditOutcome::kOk : AuditOutcome::kFailed;
  e.ip = c.ctx.ip;
  e.user_agent = c.ctx.user_agent;
  e.request_id = c.ctx.request_id;
  // The path without its query, which may carry an app's own secrets.
  e.details = {{"app", app_id}, {"method", c.req.method}, {"path", path},
               {"status", outcome.status}};
  e.created_at = std::chrono::time_point_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now());
  if (Status st = s.core().storage().AppendAudit(e); !st.ok()) {
    s.logger().Error("audit: could not record an app call",
                     {{"request_id", c.ctx.request_id}, {"cause", st.ToString()}});
  }
}

}  // namespace

Result<Reply> ProxyToApp(HttpServer& s, Call& c) {
  ASSISTANT_ASSIGN_OR_RETURN(App app, s.core().apps().Get(c.params[0]));
  AppForward f;
  f.app = &app;
  f.caller = &*c.principal;
  f.rest = c.params[1];
  f.request_id = c.ctx.request_id;
  f.forwarded_for = c.req.remote_addr;
  f.timeout = std::chrono::seconds(s.config().apps_timeout);
  f.pools = &s.app_pools();
  f.sign_identity = [&s](const Principal& me, const App& a) {
    return s.core().auth().IssueIdentityToken(me, a.id, a.scopes);
  };
  std::optional<AppCallOutcome> outcome;
  const Status st = ForwardToApp(f, c.req, c.res, &outcome);
  if (outcome) Audit(s, c, app.id, "/" + c.params[1], *outcome);
  ASSISTANT_RETURN_IF_ERROR(st);
  return Reply{outcome->status, std::nullopt, true};
}

}  // namespace assistant::server
