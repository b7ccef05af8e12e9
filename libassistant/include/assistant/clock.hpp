// File: assistant/clock.hpp
//
// Time as a pluggable interface, so tests control expiry, grace windows and
// rate limits without sleeping. `Clock::Default()` is the system clock; it
// belongs to the library and is never deleted. `FakeClock` is the second
// implementation, for tests and for simulations in embedding programs.
//
// Thread safety: every Clock is safe to call from many threads.
#ifndef ASSISTANT_CLOCK_HPP_
#define ASSISTANT_CLOCK_HPP_

#include <atomic>
#include <chrono>

#include "assistant/types.hpp"

namespace assistant {

class Clock {
 public:
  virtual ~Clock() = default;
  // The current wall-clock time, millisecond precision or better.
  virtual Timestamp Now() = 0;
  // The system clock. Never delete it.
  static Clock* Default();
};

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Timestamp start = FromUnixMillis(1767225600000))  // 2026-01-01
      : now_ms_(ToUnixMillis(start)) {}
  Timestamp Now() override { return FromUnixMillis(now_ms_.load()); }
  void Set(Timestamp t) { now_ms_.store(ToUnixMillis(t)); }
  void Advance(std::chrono::milliseconds d) { now_ms_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace assistant

#endif  // ASSISTANT_CLOCK_HPP_
