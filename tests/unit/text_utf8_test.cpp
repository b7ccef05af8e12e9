#include <doctest/doctest.h>

#include <string>

#include "common/text.hpp"

using namespace assistant;

TEST_SUITE("text") {

TEST_CASE("strict UTF-8 accepts valid text and rejects hostile sequences") {
  CHECK(text::IsValidUtf8(""));
  CHECK(text::IsValidUtf8("plain ascii"));
  CHECK(text::IsValidUtf8("caf\xC3\xA9"));                 // é
  CHECK(text::IsValidUtf8("\xE2\x82\xAC"));                // €
  CHECK(text::IsValidUtf8("\xF0\x9F\x98\x80"));            // U+1F600
  CHECK(text::IsValidUtf8("\xF4\x8F\xBF\xBF"));            // U+10FFFF, the last code point
  CHECK(text::IsValidUtf8("\xED\x9F\xBF"));                // U+D7FF, just below surrogates
  CHECK(text::IsValidUtf8(std::string("a\0b", 3)));        // NUL is valid UTF-8 (stripped later)

  CHECK_FALSE(text::IsValidUtf8("\xC0\xAF"));              // overlong '/'
  CHECK_FALSE(text::IsValidUtf8("\xC1\xBF"));              // overlong
  CHECK_FALSE(text::IsValidUtf8("\xE0\x80\xAF"));          // overlong 3-byte
  CHECK_FALSE(text::IsValidUtf8("\xF0\x80\x80\xAF"));      // overlong 4-byte
  CHECK_FALSE(text::IsValidUtf8("\xED\xA0\x80"));          // U+D800 surrogate
  CHECK_FALSE(text::IsValidUtf8("\xED\xBF\xBF"));          // U+DFFF surrogate
  CHECK_FALSE(text::IsValidUtf8("\xF4\x90\x80\x80"));      // U+110000
  CHECK_FALSE(text::IsValidUtf8("\xF5\x80\x80\x80"));      // lead byte beyond range
  CHECK_FALSE(text::IsValidUtf8("\xFF"));
  CHECK_FALSE(text::IsValidUtf8("\x80"));                  // stray continuation
  CHECK_FALSE(text::IsValidUtf8("abc\xC3"));               // truncated at the end
  CHECK_FALSE(text::IsValidUtf8("\xE2\x82"));              // truncated 3-byte
  CHECK_FALSE(text::IsValidUtf8("\xF0\x9F\x98"));          // truncated 4-byte
  CHECK_FALSE(text::IsValidUtf8("\xE2\x28\xA1"));          // bad continuation
}

TEST_CASE("character counts are code points, not bytes") {
  CHECK(text::CharCount("") == 0);
  CHECK(text::CharCount("abc") == 3);
  CHECK(text::CharCount("caf\xC3\xA9") == 4);
  CHECK(text::CharCount("\xF0\x9F\x98\x80\xE2\x82\xAC") == 2);
}

TEST_CASE("control characters are stripped, C1 included; multi-line keeps tab and newline") {
  const std::string in = "a\x01" "b\tc\nd\x7F" "e\xC2\x85" "f\xC2\x9F" "g\r\nh\ri";
  CHECK(text::StripControl(in, false) == "abcdefghi");
  CHECK(text::StripControl(in, true) == "ab\tc\ndefg\nh\ni");
  // U+00A0 (C2 A0) is not a control character and stays.
  CHECK(text::StripControl("a\xC2\xA0" "b", false) == "a\xC2\xA0" "b");
  CHECK(text::StripControl(std::string("x\0y", 3), true) == "xy");
}

TEST_CASE("CleanText: invalid UTF-8 is malformed, lengths count characters") {
  auto bad = text::CleanText("bad \xC0\xAF", "title", 1, 10, false);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().reason() == "malformed_request");
  CHECK(bad.status().message() == "invalid UTF-8 in title");

  std::string e500;
  for (int i = 0; i < 500; ++i) e500 += "\xC3\xA9";
  auto ok = text::CleanText(e500, "title", 1, 500, false);
  REQUIRE(ok.ok());
  CHECK(*ok == e500);
  auto too_long = text::CleanText(e500 + "\xC3\xA9", "title", 1, 500, false);
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.status().field() == "title");
  CHECK(too_long.status().reason() == "invalid_field");

  auto empty = text::CleanText("  \x01\x02  ", "title", 1, 500, false);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().field() == "title");

  auto trimmed = text::CleanText("  buy\tmilk \n", "title", 1, 500, false);
  REQUIRE(trimmed.ok());
  CHECK(*trimmed == "buymilk");

  auto multi = text::CleanText("line 1\r\n\tline 2\x07", "description", 0, 100, true);
  REQUIRE(multi.ok());
  CHECK(*multi == "line 1\n\tline 2");
}

TEST_CASE("NormalizeEmail lower-cases and rejects what is not an address") {
  CHECK(text::NormalizeEmail("  Ann@Example.COM ") == "ann@example.com");
  CHECK(text::NormalizeEmail("a@b") == "a@b");
  CHECK(text::NormalizeEmail("") == "");
  CHECK(text::NormalizeEmail("no-at-sign") == "");
  CHECK(text::NormalizeEmail("@example.com") == "");
  CHECK(text::NormalizeEmail("ann@") == "");
  CHECK(text::NormalizeEmail("a@b@c") == "");
  CHECK(text::NormalizeEmail("an n@example.com") == "");
  CHECK(text::NormalizeEmail("ann\x01@example.com") == "");
  CHECK(text::NormalizeEmail(std::string(250, 'a') + "@b.co") == "");
}

}  // TEST_SUITE
