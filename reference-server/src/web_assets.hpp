// The web app's files (reference-server/web/), embedded in the binary at
// build time (cmake/embed_web.cmake), as an HTTP layer serves them. Knows
// nothing of any HTTP library, so that any transport can plug it in.
//
// Thread safety: the table is built once, on first use (a function-local
// static), and is read-only afterwards; every function may be called from
// any thread.
#ifndef ASSISTANT_SERVER_WEB_ASSETS_HPP_
#define ASSISTANT_SERVER_WEB_ASSETS_HPP_

#include <string>
#include <string_view>
#include <vector>

namespace assistant::server::web {

struct Asset {
  std::string_view content_type;
  std::string_view body;
  std::string_view gzip_body;  // the body gzip-compressed (level 9, once)
  std::string_view etag;       // strong: "\"<sha-256 of body, 32 hex>\""
  std::string_view cache_control;
};

// The asset at a request path ("/" is /index.html); nullptr when none.
// The returned pointer lives as long as the process.
const Asset* Lookup(std::string_view path);

// Every embedded file's path ("/index.html", "/app.js", ...), sorted.
const std::vector<std::string>& Paths();

// True when an Accept-Encoding header value allows gzip (q > 0).
bool AcceptsGzip(std::string_view accept_encoding);

// True when an If-None-Match header value matches `etag` (or is "*").
bool EtagMatches(std::string_view if_none_match, std::string_view etag);

// The Content-Security-Policy of the page: its own files only, no inline
// script or style, no framing.
extern const char kContentSecurityPolicy[];

}  // namespace assistant::server::web

#endif  // ASSISTANT_SERVER_WEB_ASSETS_HPP_
