#include "assistant/rate_limits.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace assistant {
namespace {

// Counters of windows that began this long ago are deleted every
// kPruneEvery hits of one limiter, so the table follows the active keys.
constexpr auto kPruneAge = std::chrono::hours(1);
constexpr uint64_t kPruneEvery = 4096;

int CeilSeconds(std::chrono::milliseconds d) {
  if (d.count() <= 0) return 0;
  return static_cast<int>((d.count() + 999) / 1000);
}

// Windows longer than kPruneAge would be pruned while still open.
std::chrono::milliseconds ClampWindow(std::chrono::milliseconds window) {
  return std::clamp<std::chrono::milliseconds>(window, std::chrono::seconds(1), kPruneAge);
}

}  // namespace

// RateLimitStore::kProcess: what Storage::HitRateLimit does to its table,
// on a map (docs/storage.md "Rate limits" states the rule once).
struct RateLimiter::ProcessCounters {
  std::mutex mu;
  std::unordered_map<std::string, RateWindow> windows;

  RateWindow Hit(const std::string& key, int limit, std::chrono::milliseconds window,
                 Timestamp now) {
    std::lock_guard<std::mutex> lock(mu);
    auto [it, fresh] = windows.try_emplace(key);
    RateWindow& w = it->second;
    if (fresh || w.window_start <= now - window) {
      w.window_start = now;
      w.hits = 1;
      w.counted = true;
    } else {
      w.counted = w.hits < limit;
      if (w.counted) ++w.hits;
    }
    return w;
  }

  void DeleteBefore(Timestamp cutoff) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = windows.begin(); it != windows.end();) {
      it = it->second.window_start < cutoff ? windows.erase(it) : std::next(it);
    }
  }
};

RateLimiter::RateLimiter(Storage& storage, Clock& clock, int limit,
                         std::chrono::milliseconds window, RateLimitStore store)
    : storage_(&storage),
      clock_(clock),
      limit_(limit),
      window_(ClampWindow(window)),
      process_(store == RateLimitStore::kProcess ? std::make_unique<ProcessCounters>()
                                                 : nullptr) {}

RateLimiter::RateLimiter(Clock& clock, int limit, std::chrono::milliseconds window)
    : storage_(nullptr),
      clock_(clock),
      limit_(limit),
      window_(ClampWindow(window)),
      process_(std::make_unique<ProcessCounters>()) {}

RateLimiter::~RateLimiter() = default;

Result<RateDecision> RateLimiter::Hit(const std::string& key) {
  RateDecision d;
  d.limit = limit_;
  if (limit_ <= 0) return d;
  const Timestamp now = clock_.Now();
  if (hits_.fetch_add(1, std::memory_order_relaxed) % kPruneEvery == kPruneEvery - 1) {
    if (process_) {
      process_->DeleteBefore(now - kPruneAge);
    } else {
      storage_->DeleteRateLimitsBefore(now - kPruneAge).status().IgnoreError();  // tidying only
    }
  }
  RateWindow w;
  if (process_) {
    w = process_->Hit(key, limit_, window_, now);
  } else {
    ASSISTANT_ASSIGN_OR_RETURN(w, storage_->HitRateLimit(key, limit_, window_, now));
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(w.window_start + window_ - now);
  d.allowed = w.counted;
  d.remaining = std::max(0, limit_ - w.hits);
  d.reset_seconds = CeilSeconds(left);
  if (!d.allowed) d.retry_after_seconds = d.reset_seconds = std::max(1, d.reset_seconds);
  return d;
}

RateLimitStore DefaultRateLimitStore(const std::string& database_url) {
  const auto url = ParseDatabaseUrl(database_url);
  const bool shared = url.ok() && url->backend == DatabaseUrl::Backend::kPostgres;
  return shared ? RateLimitStore::kStorage : RateLimitStore::kProcess;
}

}  // namespace assistant
