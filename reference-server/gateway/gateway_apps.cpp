#include "gateway_apps.hpp"

#include <filesystem>
#include <optional>
#include <system_error>

#include "app_forward.hpp"
#include "assistant/http_status.hpp"
#include "assistant/identity_token.hpp"
#include "assistant/settings.hpp"
#include "render.hpp"

namespace assistant::gateway {
namespace {

constexpr char kPrefix[] = "/api/apps";

// The servers' identity key ring from `dir`, which must already hold a key.
Result<std::shared_ptr<const KeyRing>> LoadRing(const std::string& dir) {
  std::error_code ec;
  bool any = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".pem") any = true;
  }
  if (ec || !any) {
    return InvalidArgumentError(
        "--identity-keys must name the servers' identity key directory (it holds no key)",
        "identity_keys");
  }
  auto ring = KeyRing::LoadOrCreateEd25519(dir);
  if (!ring.ok()) return InvalidArgumentError(ring.status().message(), "identity_keys");
  return std::shared_ptr<const KeyRing>(std::move(*ring));
}

// The servers' identity key ring from their database, opened with their
// JWT secret; it follows rotations by itself.
Result<std::shared_ptr<const KeyRing>> OpenStoredRing(const IdentityKeySource& keys) {
  ASSISTANT_ASSIGN_OR_RETURN(std::string secret, ReadSecretFile(keys.jwt_secret_file));
  ASSISTANT_ASSIGN_OR_RETURN(std::unique_ptr<KeyRing> ring,
                             OpenIdentityKeyRing(keys.database_url, std::move(secret)));
  return std::shared_ptr<const KeyRing>(std::move(ring));
}

// "/api/apps/{id}[/proxy/{rest}]" -> id (and rest); nullopt for another shape.
struct AppPath {
  std::string id;
  bool proxy = false;
  std::string rest;
};
std::optional<AppPath> ParseAppPath(const std::string& path) {
  const std::string base = std::string(kPrefix) + "/";
  if (path.compare(0, base.size(), base) != 0) return std::nullopt;
  AppPath p;
  const size_t slash = path.find('/', base.size());
  p.id = path.substr(base.size(), slash == std::string::npos ? std::string::npos
                                                             : slash - base.size());
  if (p.id.empty()) return std::nullopt;
  if (slash == std::string::npos) return p;
  static const std::string kProxy = "/proxy/";
  if (path.compare(slash, kProxy.size(), kProxy) != 0) return std::nullopt;
  p.proxy = true;
  p.rest = path.substr(slash + kProxy.size());
  return p;
}

}  // namespace

GatewayApps::GatewayApps(IdentityKeySource keys, std::string issuer,
                         std::chrono::milliseconds timeout, server::Logger& logger,
                         std::string apps_path)
    : keys_(std::move(keys)),
      issuer_(std::move(issuer)),
      timeout_(timeout),
      logger_(logger),
      registry_(std::move(apps_path)) {}

Result<std::unique_ptr<GatewayApps>> GatewayApps::Open(std::string apps_path,
                                                       IdentityKeySource keys,
                                                       std::string issuer,
                                                       std::chrono::milliseconds timeout,
                                                       server::Logger& logger) {
  if (!apps_path.empty() && keys.dir.empty() && keys.database_url.empty()) {
    return InvalidArgumentError(
        "--apps needs --identity-keys (the servers' identity key directory) or --database "
        "and --jwt-secret-file (their database, where the key is stored)",
        "identity_keys");
  }
  if (!keys.database_url.empty() && keys.jwt_secret_file.empty()) {
    return InvalidArgumentError("--database needs --jwt-secret-file, the servers' JWT secret",
                                "jwt_secret_file");
  }
  std::unique_ptr<GatewayApps> apps(new GatewayApps(std::move(keys), std::move(issuer),
                                                    timeout, logger, std::move(apps_path)));
  ASSISTANT_RETURN_IF_ERROR(apps->Reload());
  return apps;
}

Status GatewayApps::Reload() {
  if (registry_.path().empty()) return Status();
  std::shared_ptr<const KeyRing> ring;
  if (!keys_.database_url.empty()) {
    if (!stored_ring_) {
      ASSISTANT_ASSIGN_OR_RETURN(stored_ring_, OpenStoredRing(keys_));
    }
    ring = stored_ring_;
  } else {
    ASSISTANT_ASSIGN_OR_RETURN(ring, LoadRing(keys_.dir));
  }
  ASSISTANT_RETURN_IF_ERROR(registry_.Reload());
  pools_.Keep(registry_.List());
  std::lock_guard<std::mutex> lock(mu_);
  ring_ = std::move(ring);
  return Status();
}

std::shared_ptr<const KeyRing> GatewayApps::Ring() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ring_;
}

bool GatewayApps::Owns(const std::string& path) {
  return path == kPrefix || path.rfind(std::string(kPrefix) + "/", 0) == 0;
}

std::vector<std::string> GatewayApps::ExtraOrigins(const std::string& path) const {
  auto p = ParseAppPath(path);
  if (!p || !p->proxy) return {};
  auto app = registry_.Get(p->id);
  return app.ok() ? app->allowed_origins : std::vector<std::string>();
}

void GatewayApps::Serve(const server::http::Request& req, server::http::Response& res,
                        const Principal& caller, const std::string& request_id,
                        const std::string& client_ip, const std::string& forwarded_for) {
  if (Status st = Answer(req, res, caller, request_id, client_ip, forwarded_for); !st.ok()) {
    res.status = HttpStatusFor(st);
    res.SetBody(server::Dump(server::ErrorEnvelope(st, request_id)), "application/json");
  }
}

Status GatewayApps::Answer(const server::http::Request& req, server::http::Response& res,
                           const Principal& caller, const std::string& request_id,
                           const std::string& client_ip, const std::string& forwarded_for) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  auto p = ParseAppPath(req.path);
  if (req.path == kPrefix) {
    if (!get) return NotFoundError("no such route");
    Json out = Json::array();
    for (const auto& app : registry_.List()) out.push_back(AppToJson(app));
    res.SetBody(Json{{"apps", std::move(out)}}.dump(), "application/json");
    return Status();
  }
  if (!p) return NotFoundError("no such route");
  ASSISTANT_ASSIGN_OR_RETURN(App app, registry_.Get(p->id));
  if (!p->proxy) {
    if (!get) return NotFoundError("no such route");
    res.SetBody(Json{{"app", AppToJson(app)}}.dump(), "application/json");
    return Status();
  }

  server::AppForward f;
  f.app = &app;
  f.caller = &caller;
  f.rest = p->rest;
  f.request_id = request_id;
  f.forwarded_for = forwarded_for;
  f.timeout = timeout_;
  f.pools = &pools_;
  f.sign_identity = [this](const Principal& me, const App& a) -> Result<std::string> {
    auto ring = Ring();
    if (!ring) return UnavailableError("no identity key is loaded", "upstream_error");
    const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
    return SignIdentityToken(*ring, issuer_, me, a.id, a.scopes, now);
  };
  std::optional<server::AppCallOutcome> outcome;
  server::http::Response answer = res;  // the edge's headers, kept on an error
  const Status st = server::ForwardToApp(f, req, answer, &outcome);
  if (st.ok()) res = std::move(answer);
  if (outcome) {
    // The audit record: the backends never see this call, so the gateway's
    // log is where it is kept (the path without its query, which may carry
    // an app's own secrets).
    logger_.Info("app.proxied", {{"request_id", request_id},
                                 {"user_id", caller.user_id},
                                 {"ip", client_ip},
                                 {"app", app.id},
                                 {"method", req.method},
                                 {"path", "/" + p->rest},
                                 {"status", outcome->status},
                                 {"outcome", outcome->ok ? "ok" : "failed"}});
  }
  return st;
}

}  // namespace assistant::gateway
