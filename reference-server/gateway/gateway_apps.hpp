// The app registry and the app proxy at the gateway (docs/gateway.md
// "Apps at the edge"): GET /api/apps, GET /api/apps/{id} and
// ANY /api/apps/{id}/proxy/{path}, served here from the core's registry
// (--apps, re-read on SIGHUP) with the same proxy call the server makes
// (app_forward.hpp). The identity token is signed with the servers' own
// identity key (--identity-keys: the directory the servers keep it in), so
// apps verify it against the servers' /.well-known/jwks.json as before.
// Each proxied call is audited as an `app.proxied` line in the gateway's
// log: the backends never see the call.
//
// Thread safety: Serve may run on many threads at once, concurrently with
// Reload, which swaps the registry and the key ring whole.
#ifndef ASSISTANT_GATEWAY_GATEWAY_APPS_HPP_
#define ASSISTANT_GATEWAY_GATEWAY_APPS_HPP_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app_pools.hpp"
#include "assistant/apps.hpp"
#include "assistant/jwt.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "logger.hpp"

namespace assistant::gateway {

// Where the servers' identity key is: their key directory (key files), or
// their database, where the key is sealed under the JWT secret
// (docs/storage.md "Signing keys"; rotations are then followed).
struct IdentityKeySource {
  std::string dir;              // --identity-keys
  std::string database_url;     // --database
  std::string jwt_secret_file;  // --jwt-secret-file, with --database
};

class GatewayApps final {
 public:
  // `apps_path` empty: an empty registry, and no key is needed. Otherwise
  // `keys` must name the servers' identity key: a directory that holds it
  // (*.pem), or their database and JWT secret (assistant::
  // OpenIdentityKeyRing, read-only). A key is never created here, in a
  // directory or the database, since a key the servers do not publish would
  // sign tokens no app can check: InvalidArgument naming the flag, or the
  // core's FailedPrecondition "no_signing_key".
  static Result<std::unique_ptr<GatewayApps>> Open(std::string apps_path,
                                                   IdentityKeySource keys,
                                                   std::string issuer,
                                                   std::chrono::milliseconds timeout,
                                                   server::Logger& logger);

  // Reads the registry file and the key directory again, and retires the
  // kept connections of apps that are gone or moved; on an error the old
  // ones stay.
  Status Reload();

  // True for /api/apps and everything under it: served here.
  static bool Owns(const std::string& path);
  // The origins an app allows on its own proxy routes (besides
  // --cors-origins); none for any other path.
  std::vector<std::string> ExtraOrigins(const std::string& path) const;

  // Answers an owned path for an authenticated `caller` (an error in the
  // server's envelope). `client_ip` is the caller's address for the audit
  // line; `forwarded_for` is the X-Forwarded-For the app receives.
  void Serve(const server::http::Request& req, server::http::Response& res,
             const Principal& caller, const std::string& request_id,
             const std::string& client_ip, const std::string& forwarded_for);

 private:
  GatewayApps(IdentityKeySource keys, std::string issuer, std::chrono::milliseconds timeout,
              server::Logger& logger, std::string apps_path);
  Status Answer(const server::http::Request& req, server::http::Response& res,
                const Principal& caller, const std::string& request_id,
                const std::string& client_ip, const std::string& forwarded_for);
  std::shared_ptr<const KeyRing> Ring() const;

  const IdentityKeySource keys_;
  std::shared_ptr<const KeyRing> stored_ring_;  // with --database: reloads itself
  const std::string issuer_;
  const std::chrono::milliseconds timeout_;
  server::Logger& logger_;
  AppRegistry registry_;
  server::AppPools pools_;  // the proxy's kept connections to the apps
  mutable std::mutex mu_;
  std::shared_ptr<const KeyRing> ring_;
};

}  // namespace assistant::gateway

#endif  // ASSISTANT_GATEWAY_GATEWAY_APPS_HPP_
