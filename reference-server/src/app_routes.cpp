#include "app_routes.hpp"

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
}

}  // namespace assistant::server
