// Serves the embedded web app (web_assets.hpp) at / and at each file's
// path (a route per file, so that other paths stay the API's 404): GET and
// HEAD, 304 on a matching If-None-Match, gzip when the client accepts it,
// and the page's own Content-Security-Policy. Off with --no-web.
//
// Thread safety: the handlers only read the embedded table; safe on any
// number of worker threads.
#ifndef ASSISTANT_SERVER_WEB_ROUTES_HPP_
#define ASSISTANT_SERVER_WEB_ROUTES_HPP_

#include <vector>

#include "server.hpp"

namespace assistant::server {

// Appends the web app's routes (none with --no-web).
void WebRoutes(HttpServer& server, std::vector<Route>& routes);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_WEB_ROUTES_HPP_
