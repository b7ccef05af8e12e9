// The app proxy, ANY /api/apps/{id}/proxy/{path} (docs/apps.md): forwards
// the caller's method, path, query and body to the app's upstream and
// streams the answer back (forwarder.hpp). The app receives
// X-Assistant-User-Id, X-Assistant-App-Id and X-Assistant-Identity (a 60 s
// EdDSA token with aud = the app, scope = the caller's scopes within the
// app's) and never the caller's Authorization, cookies or own copies of
// X-Assistant-*. Every call is audited as `app.proxied`.
//
// Thread safety: a handler per request; shares only the core and config.
#ifndef ASSISTANT_SERVER_APP_PROXY_HPP_
#define ASSISTANT_SERVER_APP_PROXY_HPP_

#include "server.hpp"

namespace assistant::server {

// The handler; c.params = {app id, rest of the path}.
Result<Reply> ProxyToApp(HttpServer& server, Call& c);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_APP_PROXY_HPP_
