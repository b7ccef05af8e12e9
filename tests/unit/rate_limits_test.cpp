// assistant::RateLimiter over storage (two limiters on one storage stand for
// two servers on one database) and in the process only (a gateway's per-IP
// limit, with no storage at all).
#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <string>

#include "assistant/rate_limits.hpp"
#include "assistant/storage_wrapper.hpp"

using namespace assistant;

namespace {

std::unique_ptr<Storage> MemoryStorage() {
  auto s = OpenStorage("sqlite::memory:");
  REQUIRE(s.ok());
  return std::move(s).value();
}

}  // namespace

TEST_SUITE("rate_limits") {

TEST_CASE("by default limits count in the database on PostgreSQL and in the process on SQLite") {
  CHECK(DefaultRateLimitStore("sqlite://assistant.db") == RateLimitStore::kProcess);
  CHECK(DefaultRateLimitStore("sqlite::memory:") == RateLimitStore::kProcess);
  CHECK(DefaultRateLimitStore("mysql://nope") == RateLimitStore::kProcess);
#if ASSISTANT_WITH_POSTGRES
  CHECK(DefaultRateLimitStore("postgresql://u@127.0.0.1:5432/db") == RateLimitStore::kStorage);
  CHECK(DefaultRateLimitStore("postgres://u@127.0.0.1/db") == RateLimitStore::kStorage);
#endif
}

TEST_CASE("the limit is shared by every limiter on the storage; refusals say when to retry") {
  FakeClock clock;
  auto storage = MemoryStorage();
  RateLimiter a(*storage, clock, 4), b(*storage, clock, 4);
  for (int i = 0; i < 4; ++i) {
    auto d = (i % 2 == 0 ? a : b).Hit("user:u");
    REQUIRE(d.ok());
    CHECK(d->allowed);
    CHECK(d->limit == 4);
    CHECK(d->remaining == 3 - i);
    CHECK(d->reset_seconds == 60 - 10 * i);
    clock.Advance(std::chrono::seconds(10));
  }
  auto refused = b.Hit("user:u");
  REQUIRE(refused.ok());
  CHECK_FALSE(refused->allowed);
  CHECK(refused->remaining == 0);
  CHECK(refused->retry_after_seconds == 20);  // the window began 40 s ago
  CHECK(refused->reset_seconds == 20);
  CHECK(a.Hit("user:other")->allowed);
  // Refused hits do not extend the wait: once the window has passed, in.
  clock.Advance(std::chrono::seconds(20));
  auto again = a.Hit("user:u");
  REQUIRE(again.ok());
  CHECK(again->allowed);
  CHECK(again->remaining == 3);
}

TEST_CASE("a limit of 0 is off and writes nothing") {
  FakeClock clock;
  auto storage = MemoryStorage();
  RateLimiter off(*storage, clock, 0);
  CHECK_FALSE(off.enabled());
  for (int i = 0; i < 100; ++i) CHECK(off.Hit("ip:1")->allowed);
  RateLimiter on(*storage, clock, 1);
  CHECK(on.Hit("ip:1")->allowed);  // nothing counted before
}

TEST_CASE("storage that cannot count is an error, not a lifted limit") {
  FakeClock clock;
  auto storage = MemoryStorage();
  class Down : public StorageWrapper {
   public:
    using StorageWrapper::StorageWrapper;
    Result<RateWindow> HitRateLimit(const std::string&, int, std::chrono::milliseconds,
                                    Timestamp) override {
      return UnavailableError("down", "storage_unavailable");
    }
  };
  Down down(std::shared_ptr<Storage>(std::move(storage)));
  RateLimiter limiter(down, clock, 10);
  CHECK(limiter.Hit("ip:1").status().reason() == "storage_unavailable");
}


TEST_CASE("counting in the process decides as counting in storage does (randomized)") {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    FakeClock clock;
    auto storage = MemoryStorage();
    const int limit = 1 + static_cast<int>(rng() % 6);
    const auto window = std::chrono::seconds(1 + rng() % 5);
    RateLimiter stored(*storage, clock, limit, window, RateLimitStore::kStorage);
    RateLimiter process(*storage, clock, limit, window, RateLimitStore::kProcess);
    for (int i = 0; i < 400; ++i) {
      const std::string key = "k" + std::to_string(rng() % 3);
      auto a = stored.Hit(key);
      auto b = process.Hit(key);
      REQUIRE(a.ok());
      REQUIRE(b.ok());
      CHECK(a->allowed == b->allowed);
      CHECK(a->remaining == b->remaining);
      CHECK(a->reset_seconds == b->reset_seconds);
      CHECK(a->retry_after_seconds == b->retry_after_seconds);
      clock.Advance(std::chrono::milliseconds(rng() % 700));
    }
  }
}

TEST_CASE("in the process with no storage: the 11th hit in a minute is refused until the window ends") {
  FakeClock clock;
  RateLimiter limiter(clock, 10);
  CHECK(limiter.enabled());
  for (int i = 0; i < 10; ++i) {
    auto d = limiter.Hit("ip:1");
    REQUIRE(d.ok());
    CHECK(d->allowed);
    CHECK(d->remaining == 9 - i);
    CHECK(d->limit == 10);
    clock.Advance(std::chrono::seconds(1));
  }
  clock.Advance(std::chrono::seconds(20));  // 30 s after the first hit
  auto refused = limiter.Hit("ip:1");
  REQUIRE(refused.ok());
  CHECK_FALSE(refused->allowed);
  CHECK(refused->remaining == 0);
  CHECK(refused->retry_after_seconds == 30);
  // Another key is counted apart.
  CHECK(limiter.Hit("ip:2")->allowed);
  // Refused hits do not extend the wait: each second until the window
  // ends is refused, and the first hit after it is let in.
  for (int i = 1; i < 30; ++i) {
    clock.Advance(std::chrono::seconds(1));
    CHECK_FALSE(limiter.Hit("ip:1")->allowed);
  }
  clock.Advance(std::chrono::seconds(1));
  auto again = limiter.Hit("ip:1");
  CHECK(again->allowed);
  CHECK(again->remaining == 9);
}

TEST_CASE("in the process with no storage: a limit of 0 lets every hit in") {
  FakeClock clock;
  RateLimiter off(clock, 0);
  CHECK_FALSE(off.enabled());
  for (int i = 0; i < 1000; ++i) CHECK(off.Hit("k")->allowed);
}

}  // TEST_SUITE
