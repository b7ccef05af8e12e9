// The app routes (docs/apps.md): GET /api/apps and GET /api/apps/{id} serve
// the core's registry (Assistant::apps(), re-read on SIGHUP), and
// ANY /api/apps/{id}/proxy/{path} forwards to the app's upstream with the
// caller's identity (app_proxy.hpp).
//
// Thread safety: the handlers read the registry, which swaps its whole set
// atomically on reload; safe on any number of worker threads.
#ifndef ASSISTANT_SERVER_APP_ROUTES_HPP_
#define ASSISTANT_SERVER_APP_ROUTES_HPP_

#include <vector>

#include "server.hpp"

namespace assistant::server {

// Appends the registry and proxy routes.
void AppRoutes(HttpServer& server, std::vector<Route>& routes);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_APP_ROUTES_HPP_
