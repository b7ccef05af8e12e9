#include "rate_limiter.hpp"

#include <functional>

namespace assistant::server {
namespace {

int CeilSeconds(std::chrono::steady_clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms <= 0) return 0;
  return static_cast<int>((ms + 999) / 1000);
}

// Idle keys are dropped every this many calls per shard, so memory follows
// the number of active clients rather than every address ever seen.
constexpr uint64_t kSweepEvery = 1024;

}  // namespace

SlidingWindowLimiter::SlidingWindowLimiter(int limit, std::chrono::milliseconds window)
    : limit_(limit), window_(window) {}

SlidingWindowLimiter::Decision SlidingWindowLimiter::Hit(const std::string& key,
                                                         TimePoint now) {
  Decision d;
  d.limit = limit_;
  if (limit_ <= 0) return d;
  Shard& shard = shards_[std::hash<std::string>{}(key) % shards_.size()];
  std::lock_guard<std::mutex> lock(shard.mu);
  if (++shard.calls % kSweepEvery == 0) Sweep(shard, now);
  auto& times = shard.hits[key];
  while (!times.empty() && times.front() + window_ <= now) times.pop_front();
  if (static_cast<int>(times.size()) >= limit_) {
    d.allowed = false;
    d.remaining = 0;
    d.reset_seconds = CeilSeconds(times.front() + window_ - now);
    if (d.reset_seconds < 1) d.reset_seconds = 1;
    d.retry_after_seconds = d.reset_seconds;
    return d;
  }
  times.push_back(now);
  d.remaining = limit_ - static_cast<int>(times.size());
  d.reset_seconds = CeilSeconds(times.front() + window_ - now);
  return d;
}

void SlidingWindowLimiter::Sweep(Shard& shard, TimePoint now) {
  for (auto it = shard.hits.begin(); it != shard.hits.end();) {
    if (it->second.empty() || it->second.back() + window_ <= now) {
      it = shard.hits.erase(it);
    } else {
      ++it;
    }
  }
}

size_t SlidingWindowLimiter::TrackedKeys() {
  size_t n = 0;
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    n += shard.hits.size();
  }
  return n;
}

}  // namespace assistant::server
