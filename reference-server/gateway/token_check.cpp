#include "token_check.hpp"

#include <optional>
#include <utility>

namespace assistant::gateway {
namespace {

// A cache this large is a flood of distinct credentials: start over.
constexpr size_t kMaxCached = 10000;
// A JWKS or verify answer longer than this is not one: the backend is
// treated as one that failed.
constexpr size_t kMaxAnswerBytes = 256 * 1024;

struct Answer {
  int status = 0;
  std::string body;
};

// GET `target` from `backend`; nullopt when it could not be reached, failed,
// was silent past its timeouts or answered more than kMaxAnswerBytes.
std::optional<Answer> Get(const server::Upstream& backend, const std::string& target,
                          server::http::Headers headers = {}) {
  auto call = server::UpstreamCall::Start(backend, {"GET", target, std::move(headers), {}});
  if (!call.ok()) return std::nullopt;
  Answer a;
  a.status = (*call)->status();
  if (!(*call)->ReadAll(&a.body, kMaxAnswerBytes)) return std::nullopt;
  return a;
}

Status Refused() {
  return UnauthenticatedError("invalid credential", "invalid_token");
}

// An access token has three dot-separated parts; an API key has none.
bool LooksLikeJwt(const std::string& s) {
  const size_t a = s.find('.');
  return a != std::string::npos && s.find('.', a + 1) != std::string::npos;
}

// The principal a token's claims (or a verify answer's) name: `sub` and the
// space-separated `scope`.
Principal FromClaims(const Json& claims) {
  Principal p;
  if (claims.contains("api_key_id")) p.kind = Principal::Kind::kApiKey;
  if (auto sub = claims.find("sub"); sub != claims.end() && sub->is_string()) {
    p.user_id = sub->get<std::string>();
  }
  if (auto scope = claims.find("scope"); scope != claims.end() && scope->is_string()) {
    std::string_view rest = scope->get_ref<const std::string&>();
    while (!rest.empty()) {
      const size_t space = rest.find(' ');
      if (space != 0) p.scopes.emplace(rest.substr(0, space));
      if (space == std::string_view::npos) break;
      rest.remove_prefix(space + 1);
    }
  }
  return p;
}

}  // namespace

TokenCheck::TokenCheck(Mode mode, std::function<std::vector<server::Upstream>()> backends,
                       std::chrono::milliseconds refresh_interval,
                       std::chrono::milliseconds cache_ttl)
    : mode_(mode),
      backends_(std::move(backends)),
      refresh_interval_(refresh_interval),
      cache_ttl_(cache_ttl) {}

Status TokenCheck::Check(const std::string& credential) {
  if (mode_ == Mode::kOff) return Status();
  Result<Principal> who = Identify(credential);
  if (!who.ok() && who.status().code() == StatusCode::kUnavailable) return Status();
  return who.status();
}

std::optional<Status> TokenCheck::CheckCached(const std::string& credential) {
  if (mode_ == Mode::kOff) return Status();
  if (mode_ == Mode::kJwks && LooksLikeJwt(credential)) {
    // A token the ring does not verify may need a fetch (a new kid).
    auto ring = Ring();
    if (ring && ring->Verify(credential, JwtVerifyOptions()).ok()) return Status();
    return std::nullopt;
  }
  auto verdict = CachedVerdict(credential);
  if (!verdict) return std::nullopt;
  if (!verdict->ok()) rejected_.fetch_add(1, std::memory_order_relaxed);
  return verdict->status();
}

std::optional<Result<Principal>> TokenCheck::CachedVerdict(const std::string& credential) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(credential);
  if (it == cache_.end() || it->second.until <= Clock::now()) return std::nullopt;
  if (!it->second.valid) return Result<Principal>(Refused());
  return Result<Principal>(it->second.principal);
}

Result<Principal> TokenCheck::Identify(const std::string& credential) {
  Result<Principal> who = mode_ == Mode::kJwks && LooksLikeJwt(credential)
                              ? IdentifyLocally(credential)
                              : IdentifyWithBackend(credential);
  if (!who.ok() && who.status().code() == StatusCode::kUnauthenticated) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
  }
  return who;
}

std::shared_ptr<const KeyRing> TokenCheck::Ring() {
  std::lock_guard<std::mutex> lock(mu_);
  return ring_;
}

bool TokenCheck::MaybeRefresh() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = Clock::now();
    if (fetched_ && now - last_fetch_ < refresh_interval_) return false;
    // Claimed before the fetch, so concurrent misses make one request.
    fetched_ = true;
    last_fetch_ = now;
  }
  jwks_fetches_.fetch_add(1, std::memory_order_relaxed);
  for (const server::Upstream& backend : backends_()) {
    auto r = Get(backend, "/.well-known/jwks.json");
    if (!r || r->status != 200) continue;
    const Json jwks = Json::parse(r->body, nullptr, false);
    auto ring = KeyRing::FromJwks(jwks);
    if (!ring.ok()) continue;
    std::lock_guard<std::mutex> lock(mu_);
    ring_ = std::shared_ptr<const KeyRing>(std::move(*ring));
    return true;
  }
  return false;
}

Result<Principal> TokenCheck::IdentifyLocally(const std::string& token) {
  // exp is checked; iss and aud are the backend's to check.
  const JwtVerifyOptions options;
  if (auto ring = Ring()) {
    if (auto claims = ring->Verify(token, options); claims.ok()) return FromClaims(*claims);
  }
  if (!MaybeRefresh()) {
    // Nothing new to verify with. With no JWKS at all (no backend answered)
    // a backend decides.
    if (!Ring()) return UnavailableError("no backend's JWKS could be read", "upstream_error");
    return Refused();
  }
  auto ring = Ring();
  if (!ring) return Refused();
  auto claims = ring->Verify(token, options);
  if (!claims.ok()) return Refused();
  return FromClaims(*claims);
}

Result<Principal> TokenCheck::IdentifyWithBackend(const std::string& credential) {
  if (auto verdict = CachedVerdict(credential)) return *std::move(verdict);
  const auto now = Clock::now();
  for (const server::Upstream& backend : backends_()) {
    server::http::Headers headers;
    headers.Add("Authorization", "Bearer " + credential);
    auto r = Get(backend, "/api/auth/verify", std::move(headers));
    if (!r || (r->status != 200 && r->status != 401)) continue;
    Verdict v{r->status == 200, Principal(), now + cache_ttl_};
    if (v.valid) {
      const Json answer = Json::parse(r->body, nullptr, false);
      if (!answer.is_object() || !answer.contains("claims")) continue;
      v.principal = FromClaims(answer["claims"]);
      if (v.principal.user_id.empty()) continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() >= kMaxCached) cache_.clear();
    cache_[credential] = v;
    if (!v.valid) return Refused();
    return v.principal;
  }
  return UnavailableError("no backend could check the credential", "upstream_error");
}

}  // namespace assistant::gateway
