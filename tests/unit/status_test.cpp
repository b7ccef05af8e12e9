#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "assistant/status.hpp"
#include "assistant/types.hpp"

using namespace assistant;

namespace {
Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("odd", "x");
  return x / 2;
}
Result<int> Quarter(int x) {
  ASSISTANT_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}
}  // namespace

TEST_CASE("status carries code, reason, message and field") {
  Status s = InvalidArgumentError("title is empty", "title");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.reason() == "invalid_field");
  CHECK(s.field() == "title");
  CHECK(s.ToString() == "invalid_field: title is empty (field title)");
  CHECK(Status().ok());
  CHECK(NotFoundError("x").reason() == "not_found");
  CHECK(Status(StatusCode::kUnavailable, "down").reason() == "unavailable");
}

TEST_CASE("result propagates errors through ASSIGN_OR_RETURN") {
  CHECK(Quarter(8).value() == 2);
  auto r = Quarter(6);  // 6/2 = 3 is odd
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().field() == "x");
  Result<int> from_ok = Status();  // an OK status without a value is a bug
  CHECK(from_ok.status().code() == StatusCode::kInternal);
}

TEST_CASE("times format and parse as RFC 3339 UTC") {
  Timestamp t = FromUnixMillis(1767225600123);
  CHECK(FormatTime(t) == "2026-01-01T00:00:00.123Z");
  CHECK(ParseTime("2026-01-01T00:00:00.123Z") == t);
  CHECK(ParseTime("2026-01-01T01:00:00.123+01:00") == t);
  CHECK(ParseTime("2025-12-31T19:00:00.123-05:00") == t);
  CHECK(ParseTime("2026-01-01T00:00:00Z") == FromUnixMillis(1767225600000));
  CHECK_FALSE(ParseTime("2026-02-30T00:00:00Z"));
  CHECK_FALSE(ParseTime("2026-01-01"));
  CHECK_FALSE(ParseTime("2026-01-01T00:00:00"));
  CHECK_FALSE(ParseTime("garbage"));
  // Outside what the nanosecond clock holds: refused, not wrapped around
  // (9999-12-31 used to come back as 1816-03-30).
  CHECK_FALSE(ParseTime("9999-12-31T00:00:00Z"));
  CHECK_FALSE(ParseTime("2262-01-01T00:00:00Z"));
  CHECK_FALSE(ParseTime("1677-12-31T23:59:59Z"));
  CHECK(FormatTime(*ParseTime("2261-12-31T23:59:59+00:00")) == "2261-12-31T23:59:59.000Z");
  CHECK(FormatTime(*ParseTime("1678-01-01T00:00:00-23:59")) == "1678-01-01T23:59:00.000Z");
}

TEST_CASE("times format like gmtime_r across leap years, centuries and before 1970") {
  // The formatter computes the calendar itself; gmtime_r is the reference.
  auto reference = [](int64_t ms) {
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms - secs * 1000));
    return std::string(buf);
  };
  const int64_t edges[] = {0,   -1,  999, 1000, -1000, -1001, 86399999, 86400000,
                           951782400000,            // 2000-02-29 (a leap century)
                           4107542400000,           // 2100-03-01 (not a leap year)
                           -2208988800000,          // 1900-01-01
                           -8520336000000,          // 1700-01-01
                           9183110399999};          // 2260-12-31T23:59:59.999
  for (int64_t ms : edges) CHECK(FormatTime(FromUnixMillis(ms)) == reference(ms));
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 100000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    // Anywhere in what a Timestamp (nanoseconds in 64 bits) holds: 1700-2260.
    const int64_t ms = -8520336000000 + static_cast<int64_t>(x % 17703446400000ull);
    REQUIRE(FormatTime(FromUnixMillis(ms)) == reference(ms));
  }
}

TEST_CASE("ids made in threads at once are distinct and random in their last 62 bits") {
  std::vector<std::string> ids[4];
  std::vector<std::thread> threads;
  for (auto& out : ids) {
    threads.emplace_back([&out] {
      for (int i = 0; i < 5000; ++i) out.push_back(NewId());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  std::set<std::string> tails;  // rand_b, after the variant bits
  for (const auto& v : ids) {
    for (const std::string& id : v) {
      all.insert(id);
      tails.insert(id.substr(20));
    }
  }
  CHECK(all.size() == 20000);
  CHECK(tails.size() == 20000);
}

TEST_CASE("a forked child makes different ids from its parent") {
  // Random bytes are pooled per thread; a child must not reuse the pool it
  // inherited, or parent and child would make the same ids.
  NewId();  // the pool is filled before the fork
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const std::string id = NewId();
    const ssize_t w = ::write(fds[1], id.data(), id.size());
    ::_exit(w == static_cast<ssize_t>(id.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  const std::string mine = NewId();
  char buf[36];
  size_t got = 0;
  while (got < sizeof buf) {
    const ssize_t r = ::read(fds[0], buf + got, sizeof buf - got);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(got == sizeof buf);
  CHECK(WIFEXITED(status));
  CHECK(std::string(buf, sizeof buf).substr(20) != mine.substr(20));
}

TEST_CASE("ids are UUIDv7 and increase within a process") {
  std::string prev = NewId();
  CHECK(prev.size() == 36);
  CHECK(prev[14] == '7');
  for (int i = 0; i < 10000; ++i) {
    std::string id = NewId();
    REQUIRE(id > prev);
    prev = id;
  }
}

TEST_CASE("using the value of a failed Result aborts after printing its status") {
  // A newcomer's first `*result` on an error must say why it died.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The abort is the expected outcome: without the default action,
    // doctest's handler in the child reports a crash into the suite's log.
    std::signal(SIGABRT, SIG_DFL);
    ::dup2(fds[1], STDERR_FILENO);
    Result<int> failed = NotFoundError("no task 42", "task_missing");
    const int value = *failed;
    ::_exit(value);  // not reached
  }
  ::close(fds[1]);
  std::string said;
  char buf[512];
  for (ssize_t r; (r = ::read(fds[0], buf, sizeof buf)) > 0;) said.append(buf, static_cast<size_t>(r));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  INFO(said);
  CHECK(said.find("no task 42") != std::string::npos);
  CHECK(said.find("task_missing") != std::string::npos);
}
