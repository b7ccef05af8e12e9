#include "token_check.hpp"

#include <httplib.h>

namespace assistant::gateway {
namespace {

// A cache this large is a flood of distinct credentials: start over.
constexpr size_t kMaxCached = 10000;

Status Refused() {
  return UnauthenticatedError("invalid credential", "invalid_token");
}

// An access token has three dot-separated parts; an API key has none.
bool LooksLikeJwt(const std::string& s) {
  const size_t a = s.find('.');
  return a != std::string::npos && s.find('.', a + 1) != std::string::npos;
}

}  // namespace

TokenCheck::TokenCheck(Mode mode, std::function<std::vector<std::string>()> backends,
                       std::chrono::milliseconds refresh_interval,
                       std::chrono::milliseconds cache_ttl)
    : mode_(mode),
      backends_(std::move(backends)),
      refresh_interval_(refresh_interval),
      cache_ttl_(cache_ttl) {}

Status TokenCheck::Check(const std::string& credential) {
  Status s;
  if (mode_ == Mode::kOff) return s;
  if (mode_ == Mode::kJwks && LooksLikeJwt(credential)) {
    s = CheckLocally(credential);
  } else {
    s = CheckWithBackend(credential);
  }
  if (!s.ok()) rejected_.fetch_add(1, std::memory_order_relaxed);
  return s;
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
  for (const std::string& origin : backends_()) {
    httplib::Client cli(origin);
    cli.set_connection_timeout(1, 0);
    cli.set_read_timeout(2, 0);
    auto r = cli.Get("/.well-known/jwks.json");
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

Status TokenCheck::CheckLocally(const std::string& token) {
  // exp is checked; iss and aud are the backend's to check.
  const JwtVerifyOptions options;
  if (auto ring = Ring(); ring && ring->Verify(token, options).ok()) return Status();
  if (!MaybeRefresh()) {
    // Nothing new to verify with. With no JWKS at all (no backend answered)
    // the backend decides.
    return Ring() ? Refused() : Status();
  }
  auto ring = Ring();
  return ring && ring->Verify(token, options).ok() ? Status() : Refused();
}

Status TokenCheck::CheckWithBackend(const std::string& credential) {
  const auto now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(credential);
    if (it != cache_.end() && it->second.until > now) {
      return it->second.valid ? Status() : Refused();
    }
  }
  for (const std::string& origin : backends_()) {
    httplib::Client cli(origin);
    cli.set_connection_timeout(1, 0);
    cli.set_read_timeout(5, 0);
    auto r = cli.Get("/api/auth/verify", {{"Authorization", "Bearer " + credential}});
    if (!r || (r->status != 200 && r->status != 401)) continue;
    const bool valid = r->status == 200;
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() >= kMaxCached) cache_.clear();
    cache_[credential] = Verdict{valid, now + cache_ttl_};
    return valid ? Status() : Refused();
  }
  return Status();
}

}  // namespace assistant::gateway
