#include "web_routes.hpp"

#include <string>

#include "web_assets.hpp"

namespace assistant::server {
namespace {

Result<Reply> Serve(Call& c, const std::string& path) {
  const web::Asset* a = web::Lookup(path);
  if (a == nullptr) return NotFoundError("no such route: GET " + path);
  auto& res = c.res;
  // Replaces the API's "default-src 'none'", which would block the page's
  // own script and style.
  res.headers.Set("Content-Security-Policy", web::kContentSecurityPolicy);
  res.headers.Add("ETag", std::string(a->etag));
  res.headers.Add("Cache-Control", std::string(a->cache_control));
  res.headers.Add("Vary", "Accept-Encoding");
  if (web::EtagMatches(c.req.headers.Get("If-None-Match"), a->etag)) {
    res.body.clear();
    return Reply{304, std::nullopt, true};
  }
  const bool gzip = web::AcceptsGzip(c.req.headers.Get("Accept-Encoding"));
  if (gzip) res.headers.Add("Content-Encoding", "gzip");
  res.SetBody(std::string(gzip ? a->gzip_body : a->body), std::string(a->content_type));
  return Reply{200, std::nullopt, true};
}

Route WebRoute(const std::string& path, Handler handler) {
  Route r;
  r.method = "GET";
  r.path = path;
  r.access = Access::kPublic;
  r.rate = RateClass::kNone;
  r.handler = std::move(handler);
  r.doc.summary = "The web app (HTML, JavaScript, CSS); off with --no-web";
  r.doc.tag = "web";
  // 304: If-None-Match matched the ETag; 404: a server started with
  // --no-web (the document lists the page either way).
  r.doc.errors = {304, 404};
  return r;
}

}  // namespace

void WebRoutes(HttpServer& server, std::vector<Route>& routes) {
  if (!server.config().web) return;
  routes.push_back(WebRoute("/", [](Call& c) { return Serve(c, "/"); }));
  for (const std::string& path : web::Paths()) {
    routes.push_back(WebRoute(path, [path](Call& c) { return Serve(c, path); }));
  }
}

}  // namespace assistant::server
