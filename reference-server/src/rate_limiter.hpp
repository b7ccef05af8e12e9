// A sliding-window rate limiter (SPEC.md "Rate limits": requests per minute,
// 0 = off). Keeps the times of the accepted requests of each key within the
// window, so the count is exact rather than a fixed-window approximation.
// Refused requests are not counted: a client that waits Retry-After gets in.
//
// Thread safety: Hit may be called from many threads; keys are spread over
// shards, each with its own lock.
#ifndef ASSISTANT_SERVER_RATE_LIMITER_HPP_
#define ASSISTANT_SERVER_RATE_LIMITER_HPP_

#include <array>
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace assistant::server {

class SlidingWindowLimiter final {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  struct Decision {
    bool allowed = true;
    int limit = 0;
    int remaining = 0;
    // Seconds until the oldest counted request leaves the window (when the
    // next slot frees up); RateLimit-Reset.
    int reset_seconds = 0;
    // Set when refused; Retry-After.
    int retry_after_seconds = 0;
  };

  // `limit` requests per `window`; limit <= 0 disables the limiter.
  explicit SlidingWindowLimiter(int limit,
                                std::chrono::milliseconds window = std::chrono::minutes(1));

  bool enabled() const { return limit_ > 0; }
  int limit() const { return limit_; }

  Decision Hit(const std::string& key, TimePoint now);
  Decision Hit(const std::string& key) { return Hit(key, std::chrono::steady_clock::now()); }

  // Keys currently tracked (for tests and metrics).
  size_t TrackedKeys();

 private:
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, std::deque<TimePoint>> hits;
    uint64_t calls = 0;
  };
  void Sweep(Shard& shard, TimePoint now);

  const int limit_;
  const std::chrono::milliseconds window_;
  std::array<Shard, 16> shards_;
};

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_RATE_LIMITER_HPP_
