// The embedded web app (web_assets.hpp): what a browser gets for each path.
#include <zlib.h>

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "web_assets.hpp"

using namespace assistant::server;

namespace {

std::string Gunzip(std::string_view in) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  std::string out;
  char buf[16384];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  CHECK(rc == Z_STREAM_END);
  return out;
}

std::string SourceFile(const char* name) {
  std::ifstream f(std::string(ASSISTANT_WEB_DIR) + "/" + name, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TEST_SUITE("web assets") {
  TEST_CASE("the page and its files are embedded byte for byte, with their types") {
    const auto* index = web::Lookup("/");
    REQUIRE(index != nullptr);
    CHECK(index == web::Lookup("/index.html"));
    CHECK(index->content_type == "text/html; charset=utf-8");
    CHECK(index->body == SourceFile("index.html"));
    REQUIRE(web::Lookup("/app.js") != nullptr);
    CHECK(web::Lookup("/app.js")->content_type == "text/javascript; charset=utf-8");
    CHECK(web::Lookup("/app.js")->body == SourceFile("app.js"));
    REQUIRE(web::Lookup("/style.css") != nullptr);
    CHECK(web::Lookup("/style.css")->content_type == "text/css; charset=utf-8");
    CHECK(index->cache_control == "no-cache");
    CHECK(web::Paths() == std::vector<std::string>{"/api.js", "/app.js", "/favicon.svg", "/index.html", "/style.css"});
  }

  TEST_CASE("unknown paths and path tricks find nothing") {
    CHECK(web::Lookup("/nope.js") == nullptr);
    CHECK(web::Lookup("/../CMakeLists.txt") == nullptr);
    CHECK(web::Lookup("") == nullptr);
    CHECK(web::Lookup("/api/tasks") == nullptr);
  }

  TEST_CASE("the gzip body inflates to the body") {
    for (const char* p : {"/", "/app.js", "/api.js", "/style.css"}) {
      const auto* a = web::Lookup(p);
      REQUIRE(a != nullptr);
      CHECK(a->gzip_body.size() < a->body.size());
      CHECK(Gunzip(a->gzip_body) == a->body);
    }
  }

  TEST_CASE("ETags are strong, stable and differ between files") {
    const auto* a = web::Lookup("/app.js");
    const auto* b = web::Lookup("/style.css");
    CHECK(a->etag.front() == '"');
    CHECK(a->etag.back() == '"');
    CHECK(a->etag.size() == 34);
    CHECK(a->etag != b->etag);
    CHECK(std::string(web::Lookup("/app.js")->etag) == std::string(a->etag));
  }

  TEST_CASE("If-None-Match") {
    const std::string e(web::Lookup("/app.js")->etag);
    CHECK(web::EtagMatches(e, e));
    CHECK(web::EtagMatches("\"x\", " + e, e));
    CHECK(web::EtagMatches("W/" + e, e));
    CHECK(web::EtagMatches("*", e));
    CHECK_FALSE(web::EtagMatches("\"x\"", e));
    CHECK_FALSE(web::EtagMatches("", e));
  }

  TEST_CASE("Accept-Encoding") {
    CHECK(web::AcceptsGzip("gzip, deflate, br"));
    CHECK(web::AcceptsGzip("br;q=1.0, GZIP;q=0.5"));
    CHECK(web::AcceptsGzip("*"));
    CHECK_FALSE(web::AcceptsGzip(""));
    CHECK_FALSE(web::AcceptsGzip("br, deflate"));
    CHECK_FALSE(web::AcceptsGzip("gzip;q=0"));
    CHECK_FALSE(web::AcceptsGzip("gzip;q=0.000"));
  }

  TEST_CASE("the Content-Security-Policy allows no inline script or style") {
    const std::string csp = web::kContentSecurityPolicy;
    CHECK(csp.find("'unsafe-inline'") == std::string::npos);
    CHECK(csp.find("script-src 'self'") != std::string::npos);
    CHECK(csp.find("style-src 'self'") != std::string::npos);
    CHECK(csp.find("default-src 'none'") != std::string::npos);
  }
}
