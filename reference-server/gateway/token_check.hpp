// The gateway's check of a presented credential before it forwards
// (docs/gateway.md "Tokens at the edge"). kJwks: EdDSA access tokens are
// verified locally against the backends' JWKS, fetched again when a token
// does not verify (a rotation brings a new kid), at most once per
// `refresh_interval` so that a flood of bad tokens cannot hammer a backend.
// kVerify (and API keys in either mode, which only the database knows):
// the backends' GET /api/auth/verify, its answer cached for `cache_ttl`.
// Identify also gives the caller's user id and scopes, for the routes the
// gateway serves itself (gateway_apps.hpp).
// Both ask the backends over the forwarder's client (forwarder.hpp): the
// backends' kept connections, timeouts and https verification. What it
// cannot see: a revoked session's tokens keep passing the local check
// until they expire; the backend that serves the request still refuses
// them.
//
// Thread safety: Check may run on many threads at once.
#ifndef ASSISTANT_GATEWAY_TOKEN_CHECK_HPP_
#define ASSISTANT_GATEWAY_TOKEN_CHECK_HPP_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "assistant/jwt.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"
#include "forwarder.hpp"

namespace assistant::gateway {

class TokenCheck {
 public:
  enum class Mode { kOff, kJwks, kVerify };
  using Clock = std::chrono::steady_clock;

  // `backends` gives the backends to ask, best first, as the gateway
  // forwards to them (pool and timeouts).
  TokenCheck(Mode mode, std::function<std::vector<server::Upstream>()> backends,
             std::chrono::milliseconds refresh_interval, std::chrono::milliseconds cache_ttl);

  // OK, or Unauthenticated ("invalid_token") for a credential the backends
  // refuse. When no backend can be asked the answer is OK: the backend that
  // serves the request decides.
  Status Check(const std::string& credential);
  // Check's answer when it needs no backend: a token the cached JWKS
  // verifies, a cached verify verdict, or --token-check off. nullopt when
  // only Check (which may ask a backend) can tell. Never blocks: for the
  // gateway's I/O threads.
  std::optional<Status> CheckCached(const std::string& credential);
  // Who the credential names (user id and scopes, from the token's claims
  // or the verify answer's), for what the gateway serves itself; in every
  // mode, kOff included. Unauthenticated as Check; Unavailable when neither
  // a JWKS nor a backend could be asked.
  Result<Principal> Identify(const std::string& credential);

  uint64_t jwks_fetches() const { return jwks_fetches_.load(); }
  uint64_t rejected() const { return rejected_.load(); }

 private:
  Result<Principal> IdentifyLocally(const std::string& token);
  Result<Principal> IdentifyWithBackend(const std::string& credential);
  // A verify answer still fresh in the cache, as Identify returns it.
  std::optional<Result<Principal>> CachedVerdict(const std::string& credential);
  std::shared_ptr<const KeyRing> Ring();
  // Fetches the JWKS unless it was fetched within refresh_interval.
  bool MaybeRefresh();

  const Mode mode_;
  const std::function<std::vector<server::Upstream>()> backends_;
  const std::chrono::milliseconds refresh_interval_;
  const std::chrono::milliseconds cache_ttl_;

  std::mutex mu_;
  std::shared_ptr<const KeyRing> ring_;
  Clock::time_point last_fetch_{};
  bool fetched_ = false;
  struct Verdict {
    bool valid;
    Principal principal;
    Clock::time_point until;
  };
  std::unordered_map<std::string, Verdict> cache_;

  std::atomic<uint64_t> jwks_fetches_{0};
  std::atomic<uint64_t> rejected_{0};
};

}  // namespace assistant::gateway

#endif  // ASSISTANT_GATEWAY_TOKEN_CHECK_HPP_
