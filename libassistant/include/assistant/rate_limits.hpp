// File: assistant/rate_limits.hpp
//
// Rate limits counted in storage (Storage::HitRateLimit), so a limit holds
// for every instance on one database: N requests per window per key, on
// whichever server each lands. Adding servers does not multiply it
// (docs/storage.md "Rate limits").
//
// A window begins at a key's first counted hit and lasts `window`; hits past
// the limit are refused and not counted, so a client that waits
// `retry_after_seconds` gets in. In RateLimitStore::kStorage each counted or
// refused hit costs one storage write (docs/performance.md has its price);
// RateLimitStore::kProcess counts the same way in this process's memory, for
// a deployment with one instance on its database (the server's default on
// SQLite), where the write buys nothing, or for a tier with no database (a
// gateway's per-IP limit).
//
// Thread safety: Hit may be called from many threads at once.
//
// Example:
//   assistant::RateLimiter per_user(core->storage(), core->clock(), 100);
//   auto d = per_user.Hit("user:" + principal.user_id);
//   if (d.ok() && !d->allowed) return TooManyRequests(d->retry_after_seconds);
#ifndef ASSISTANT_RATE_LIMITS_HPP_
#define ASSISTANT_RATE_LIMITS_HPP_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "assistant/clock.hpp"
#include "assistant/status.hpp"
#include "assistant/storage.hpp"

namespace assistant {

struct RateDecision {
  bool allowed = true;
  int limit = 0;
  int remaining = 0;        // hits left in the window (RateLimit-Remaining)
  int reset_seconds = 0;    // until the window ends (RateLimit-Reset)
  int retry_after_seconds = 0;  // when refused (Retry-After); at least 1
};

// Where the counters live: in storage, shared by every instance on it, or
// in this process only.
enum class RateLimitStore { kStorage, kProcess };

// The store for a deployment on `database_url` when none was chosen:
// kStorage on PostgreSQL, which several servers share; kProcess on SQLite,
// where one process is the usual deployment and a write per request would
// halve its reads (docs/performance.md). kProcess for a URL
// ParseDatabaseUrl refuses (opening the storage reports that).
RateLimitStore DefaultRateLimitStore(const std::string& database_url);

class RateLimiter {
 public:
  // `limit` hits per `window` for each key; limit <= 0 turns it off (every
  // hit allowed, nothing written). `storage` and `clock` outlive it.
  // REQUIRES: window between 1 s and 1 h.
  RateLimiter(Storage& storage, Clock& clock, int limit,
              std::chrono::milliseconds window = std::chrono::minutes(1),
              RateLimitStore store = RateLimitStore::kStorage);
  // Counts in this process only (RateLimitStore::kProcess), with no
  // storage. `clock` outlives it. REQUIRES as above.
  RateLimiter(Clock& clock, int limit, std::chrono::milliseconds window = std::chrono::minutes(1));
  ~RateLimiter();

  bool enabled() const { return limit_ > 0; }
  int limit() const { return limit_; }
  // Where the counters live: a hit in kStorage is a storage write.
  RateLimitStore store() const {
    return process_ != nullptr ? RateLimitStore::kProcess : RateLimitStore::kStorage;
  }

  // Counts a hit of `key` (callers namespace keys, e.g. "ip:..." and
  // "user:..."). Storage errors as storage reports them: a limit that
  // cannot be checked is not silently lifted.
  Result<RateDecision> Hit(const std::string& key);

 private:
  Storage* const storage_;  // null when counting in the process only
  Clock& clock_;
  const int limit_;
  const std::chrono::milliseconds window_;
  std::atomic<uint64_t> hits_{0};
  struct ProcessCounters;
  std::unique_ptr<ProcessCounters> process_;  // set for kProcess
};

}  // namespace assistant

#endif  // ASSISTANT_RATE_LIMITS_HPP_
