// Black-box: the web app served at / by the real binary (web_routes.hpp),
// and --no-web.
#include <doctest/doctest.h>

#include "harness.hpp"

using namespace http_test;

TEST_SUITE("http.web") {

TEST_CASE("the page, its script and style, with a strict CSP, ETag and gzip") {
  ServerProcess s;
  REQUIRE(s.started());
  auto page = s.Call("GET", "/");
  REQUIRE(page.status == 200);
  CHECK(page.Header("Content-Type") == "text/html; charset=utf-8");
  CHECK(page.body.find("<script type=\"module\" src=\"/app.js\">") != std::string::npos);
  const std::string csp = page.Header("Content-Security-Policy");
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(page.Header("Cache-Control") == "no-cache");

  auto js = s.Call("GET", "/app.js");
  REQUIRE(js.status == 200);
  CHECK(js.Header("Content-Type") == "text/javascript; charset=utf-8");
  CHECK(s.Call("GET", "/style.css").Header("Content-Type") == "text/css; charset=utf-8");

  const std::string etag = js.Header("ETag");
  REQUIRE(etag.size() > 2);
  auto again = s.Call("GET", "/app.js", std::nullopt, "", {{"If-None-Match", etag}});
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  CHECK(s.Call("GET", "/app.js", std::nullopt, "", {{"If-None-Match", "\"other\""}}).status == 200);

  auto gz = s.Call("GET", "/app.js", std::nullopt, "", {{"Accept-Encoding", "gzip"}});
  CHECK(gz.status == 200);
  CHECK(gz.Header("Content-Encoding") == "gzip");
  CHECK(gz.Header("Vary").find("Accept-Encoding") != std::string::npos);
  CHECK(js.Header("Content-Encoding").empty());

  auto head = s.Call("HEAD", "/");
  CHECK(head.status == 200);
  CHECK(head.body.empty());

  // Unknown files are the API's JSON 404; the API is unchanged.
  auto missing = s.Call("GET", "/nope.js");
  CHECK(missing.status == 404);
  CHECK(missing.ErrorCode() == "not_found");
  CHECK(s.Call("GET", "/healthz").json["status"] == "ok");
  CHECK(s.Call("GET", "/healthz").Header("Content-Security-Policy") ==
        "default-src 'none'; frame-ancestors 'none'");
}

TEST_CASE("--no-web serves no page") {
  ServerProcess s({"--no-web"});
  REQUIRE(s.started());
  auto page = s.Call("GET", "/");
  CHECK(page.status == 404);
  CHECK(page.ErrorCode() == "not_found");
  CHECK(s.Call("GET", "/app.js").status == 404);
}

}

TEST_SUITE("http.web") {

TEST_CASE("the refresh token cookie rotates, and cookie requests need X-Requested-With") {
  ServerProcess s;
  REQUIRE(s.started());
  auto reg = s.Call("POST", "/api/auth/register",
                    Json{{"email", "web@example.com"}, {"password", "correct horse"}});
  REQUIRE(reg.status == 201);
  std::string access, refresh;
  for (auto [it, end] = reg.headers.equal_range("Set-Cookie"); it != end; ++it) {
    const std::string& c = it->second;
    if (c.rfind("access_token=", 0) == 0) access = c.substr(13, c.find(';') - 13);
    if (c.rfind("refresh_token=", 0) == 0) {
      refresh = c.substr(14, c.find(';') - 14);
      CHECK(c.find("Path=/api/auth/refresh;") != std::string::npos);
      CHECK(c.find("HttpOnly") != std::string::npos);
      CHECK(c.find("SameSite=Strict") != std::string::npos);
    }
  }
  REQUIRE(!access.empty());
  REQUIRE(refresh == reg.json["refresh_token"].get<std::string>());

  const httplib::Headers page = {{"Cookie", "access_token=" + access},
                                 {"X-Requested-With", "fetch"}};
  const httplib::Headers forged = {{"Cookie", "access_token=" + access}};
  // A cross-site form could send the cookie but not the header.
  auto csrf = s.Call("POST", "/api/tasks", Json{{"title", "forged"}}, "", forged);
  CHECK(csrf.status == 403);
  CHECK(csrf.ErrorCode() == "csrf_check_failed");
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, "", forged).status == 200);  // reads are safe
  CHECK(s.Call("POST", "/api/tasks", Json{{"title", "mine"}}, "", page).status == 201);
  // Bearer requests are unaffected.
  CHECK(s.Call("POST", "/api/tasks", Json{{"title", "sdk"}}, access).status == 201);

  // Refresh by cookie alone: needs the header, then rotates both cookies.
  const httplib::Headers by_cookie = {{"Cookie", "refresh_token=" + refresh}};
  auto no_header = s.Call("POST", "/api/auth/refresh", Json::object(), "", by_cookie);
  CHECK(no_header.status == 403);
  httplib::Headers with_header = by_cookie;
  with_header.emplace("X-Requested-With", "fetch");
  auto rotated = s.Call("POST", "/api/auth/refresh", Json::object(), "", with_header);
  REQUIRE(rotated.status == 200);
  CHECK(rotated.json["refresh_token"] != refresh);
  bool new_cookie = false;
  for (auto [it, end] = rotated.headers.equal_range("Set-Cookie"); it != end; ++it) {
    new_cookie |= it->second.rfind("refresh_token=" + rotated.json["refresh_token"].get<std::string>() + ";", 0) == 0;
  }
  CHECK(new_cookie);
  // The body's token is still accepted.
  auto by_body = s.Call("POST", "/api/auth/refresh",
                        Json{{"refresh_token", rotated.json["refresh_token"]}});
  CHECK(by_body.status == 200);

  // Logout clears both cookies.
  auto out = s.Call("POST", "/api/auth/logout", std::nullopt, by_body.json["access_token"]);
  CHECK(out.status == 204);
  int cleared = 0;
  for (auto [it, end] = out.headers.equal_range("Set-Cookie"); it != end; ++it) {
    cleared += it->second.find("Max-Age=0") != std::string::npos;
  }
  CHECK(cleared == 2);
}

}
