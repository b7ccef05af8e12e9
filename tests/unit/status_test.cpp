#include <doctest/doctest.h>

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
