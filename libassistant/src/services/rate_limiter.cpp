#include "assistant/rate_limits.hpp"

#include <algorithm>

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

}  // namespace

RateLimiter::RateLimiter(Storage& storage, Clock& clock, int limit,
                         std::chrono::milliseconds window)
    : storage_(storage),
      clock_(clock),
      limit_(limit),
      window_(std::clamp<std::chrono::milliseconds>(window, std::chrono::seconds(1), kPruneAge)) {}

Result<RateDecision> RateLimiter::Hit(const std::string& key) {
  RateDecision d;
  d.limit = limit_;
  if (limit_ <= 0) return d;
  const Timestamp now = clock_.Now();
  if (hits_.fetch_add(1, std::memory_order_relaxed) % kPruneEvery == kPruneEvery - 1) {
    storage_.DeleteRateLimitsBefore(now - kPruneAge).status().IgnoreError();  // tidying only
  }
  ASSISTANT_ASSIGN_OR_RETURN(RateWindow w, storage_.HitRateLimit(key, limit_, window_, now));
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(w.window_start + window_ - now);
  d.allowed = w.counted;
  d.remaining = std::max(0, limit_ - w.hits);
  d.reset_seconds = CeilSeconds(left);
  if (!d.allowed) d.retry_after_seconds = d.reset_seconds = std::max(1, d.reset_seconds);
  return d;
}

}  // namespace assistant
