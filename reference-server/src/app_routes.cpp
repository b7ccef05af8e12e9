#include "app_routes.hpp"

#include "app_proxy.hpp"
#include "assistant/apps.hpp"

namespace assistant::server {
namespace {

Json Ref(const char* name) {
  return {{"$ref", std::string("#/components/schemas/") + name}};
}

Route Make(const char* method, const char* path, int success, RouteDoc doc, Handler handler) {
  Route r;
  r.method = method;
  r.path = path;
  r.access = Access::kAuthenticated;
  r.rate = RateClass::kApi;
  r.body = BodyKind::kNone;
  r.success = success;
  r.doc = std::move(doc);
  r.handler = std::move(handler);
  return r;
}

RouteDoc Doc(const char* summary, Json response) {
  RouteDoc d;
  d.summary = summary;
  d.tag = "apps";
  d.response = std::move(response);
  return d;
}

}  // namespace

void AppRoutes(HttpServer& s, std::vector<Route>& r) {
  auto& core = s.core();
  // The shapes are the core's (AppToJson), as the C ABI's apps.list and
  // apps.get render them: the upstream URL never reaches a client.
  r.push_back(Make("GET", "/api/apps", 200, Doc("The apps sharing this backend", Ref("AppList")),
                   [&core](Call&) -> Result<Reply> {
                     Json out = Json::array();
                     for (const auto& app : core.apps().List()) out.push_back(AppToJson(app));
                     return Reply{0, Json{{"apps", std::move(out)}}, false};
                   }));
  r.push_back(Make("GET", "/api/apps/{id}", 200, Doc("One app of the registry", Ref("AppEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto app, core.apps().Get(c.params[0]));
                     return Reply{0, Json{{"app", AppToJson(app)}}, false};
                   }));
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    RouteDoc doc = Doc("Forwarded to the app's upstream with the caller's identity; the "
                       "answer is the app's (any status; the server's own refusals use the "
                       "Error envelope, 502/504 when the app is down or silent)",
                       nullptr);
    doc.passthrough = true;
    doc.errors = {400, 403, 502, 503, 504};
    doc.sse = true;  // the answer may stream: not for the fast path
    r.push_back(Make(method, "/api/apps/{id}/proxy/{path}", 200, std::move(doc),
                     [&s](Call& c) { return ProxyToApp(s, c); }));
    r.back().rest = true;
    // An app's allowed_origins add to --cors-origins on its proxy only (docs/apps.md).
    r.back().extra_origins = [&core](const std::vector<std::string>& params) {
      auto app = core.apps().Get(params[0]);
      return app.ok() ? app->allowed_origins : std::vector<std::string>();
    };
  }
}

}  // namespace assistant::server
