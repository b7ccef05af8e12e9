#include <doctest/doctest.h>

#include <string>

#include "common/cursor.hpp"

using namespace assistant;

TEST_SUITE("cursor") {

TEST_CASE("positions round-trip through opaque base64url cursors") {
  PagePosition pos{FromUnixMillis(1767225600123), NewId()};
  std::string c = cursor::Encode(pos);
  CHECK(c.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
  CHECK(c.find(pos.id) == std::string::npos);  // opaque: the id is not readable as is
  auto back = cursor::Decode(c);
  REQUIRE(back.ok());
  CHECK(back->time == pos.time);
  CHECK(back->id == pos.id);
}

TEST_CASE("offset cursors round-trip and are distinct from position cursors") {
  auto o = cursor::DecodeOffset(cursor::EncodeOffset(150));
  REQUIRE(o.ok());
  CHECK(*o == 150);
  CHECK_FALSE(cursor::Decode(cursor::EncodeOffset(150)).ok());
  CHECK_FALSE(cursor::DecodeOffset(cursor::Encode({FromUnixMillis(5), "abc"})).ok());
}

TEST_CASE("garbage cursors are invalid_cursor on field cursor") {
  for (const std::string& bad :
       {std::string("!!!"), std::string("x"), std::string("aGVsbG8"), std::string(300, 'A'),
        std::string("cDE6MTIzOg"),  // "p1:123:" (no id)
        std::string("cDE6YWJjOmlk"),  // "p1:abc:id" (time not a number)
        std::string("cDI6MTIzOmlk"),  // "p2:123:id" (unknown version)
        std::string("bzE6LTE"),        // "o1:-1"
        // "p1:99999999999999:x": past what the clock holds (found by tests/fuzz)
        std::string("cDE6OTk5OTk5OTk5OTk5OTk6eA"),
        std::string("\xC3\xA9")}) {
    auto r = cursor::Decode(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().field() == "cursor");
    CHECK(r.status().reason() == "invalid_cursor");
    auto o = cursor::DecodeOffset(bad);
    REQUIRE_FALSE(o.ok());
    CHECK(o.status().reason() == "invalid_cursor");
  }
  // An id with characters no record id has is rejected too.
  CHECK_FALSE(cursor::Decode(cursor::Encode({FromUnixMillis(1), "a'; DROP"})).ok());
}

TEST_CASE("ClampLimit: default 50, at most 200") {
  CHECK(cursor::ClampLimit(0) == 50);
  CHECK(cursor::ClampLimit(-5) == 50);
  CHECK(cursor::ClampLimit(1) == 1);
  CHECK(cursor::ClampLimit(200) == 200);
  CHECK(cursor::ClampLimit(201) == 200);
  CHECK(cursor::ClampLimit(100000) == 200);
}

}  // TEST_SUITE
