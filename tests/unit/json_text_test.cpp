// DumpJson must give nlohmann's dump(-1, ' ', false, replace) byte for byte:
// stored rows, responses and logs switched from one to the other, and a
// reader comparing or hashing old and new text must see no difference.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "assistant/types.hpp"
#include "common/json_text.hpp"

using namespace assistant;

namespace {

std::string Reference(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Strings that stress the escaper: plain runs longer and shorter than a
// word, every control byte, quotes, DEL, well-formed UTF-8 of each length,
// and ill-formed sequences (stray continuations, truncations, overlongs,
// surrogates, bytes beyond U+10FFFF).
std::string RandomString(std::mt19937_64& rng) {
  static const char* const kPieces[] = {
      "a", "plain text ", "0123456789abcdef", "\"", "\\", "/", "\x7f", " ",
      "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf",
      "\xee\x80\x80", "\xc2\x80", "\xdf\xbf"};
  static const char* const kBroken[] = {
      "\xff", "\x80", "\xbf", "\xc3", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe2\x82",
      "\xed\xa0\x80", "\xf0\x80\x80\xaf", "\xf0\x9f\x98", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
      "\xe2\x28\xa1", "\xc3\x28"};
  std::string s;
  const int pieces = static_cast<int>(rng() % 12);
  const bool broken = rng() % 8 == 0;
  for (int i = 0; i < pieces; ++i) {
    switch (rng() % 6) {
      case 0:
        s += static_cast<char>(rng() % 0x20);  // a control byte
        break;
      case 1:
        s += static_cast<char>(rng() % 256);  // any byte (broken UTF-8 allowed only below)
        if (!broken && static_cast<unsigned char>(s.back()) >= 0x80) s.back() = 'x';
        break;
      case 2:
        if (broken) {
          s += kBroken[rng() % (sizeof kBroken / sizeof *kBroken)];
          break;
        }
        [[fallthrough]];
      default:
        s += kPieces[rng() % (sizeof kPieces / sizeof *kPieces)];
    }
  }
  return s;
}

Json RandomJson(std::mt19937_64& rng, int depth) {
  switch (rng() % (depth > 3 ? 7 : 9)) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: {
      static const int64_t kInts[] = {0, 1, -1, 42, std::numeric_limits<int64_t>::min(),
                                      std::numeric_limits<int64_t>::max()};
      return rng() % 2 ? Json(kInts[rng() % 6]) : Json(static_cast<int64_t>(rng()));
    }
    case 3: return Json(static_cast<uint64_t>(rng()));
    case 4: {
      static const double kFloats[] = {0.0, -0.0, 0.1, 1.0, -2.5, 1e100, 1e-300, 123456789.125,
                                       std::numeric_limits<double>::quiet_NaN(),
                                       std::numeric_limits<double>::infinity()};
      return rng() % 2 ? Json(kFloats[rng() % 10])
                       : Json(static_cast<double>(static_cast<int64_t>(rng())) / 977.0);
    }
    case 5:
    case 6: return RandomString(rng);
    case 7: {
      Json a = Json::array();
      for (int i = static_cast<int>(rng() % 5); i > 0; --i) a.push_back(RandomJson(rng, depth + 1));
      return a;
    }
    default: {
      Json o = Json::object();
      for (int i = static_cast<int>(rng() % 5); i > 0; --i) o[RandomString(rng)] = RandomJson(rng, depth + 1);
      return o;
    }
  }
}

}  // namespace

TEST_SUITE("json_text") {

TEST_CASE("DumpJson matches nlohmann's compact dump on fixed cases") {
  const Json cases[] = {
      nullptr, true, false, 0, -7, 18446744073709551615ULL, 0.5, 1e21, -0.0,
      std::numeric_limits<double>::quiet_NaN(), "", "\x7f", "\b\f\n\r\t\x01\x1f", "\"\\/",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "bad \xff end", "cut \xe2\x82", "\xed\xa0\x80",
      Json::array(), Json::object(), Json::array({1, "two", nullptr, Json::object()}),
      Json{{"b", 1}, {"a", Json{{"\n", Json::array()}}}, {"\xc3\xa9", "v"}},
      Json::binary({1, 2, 3}),
  };
  for (const Json& j : cases) {
    CHECK(DumpJson(j) == Reference(j));
    std::string appended = "prefix";
    AppendJson(appended, j);
    CHECK(appended == "prefix" + Reference(j));
  }
}

TEST_CASE("DumpJson matches nlohmann's compact dump on random documents") {
  std::mt19937_64 rng(20261122);
  for (int i = 0; i < 20000; ++i) {
    const Json j = RandomJson(rng, 0);
    const std::string ours = DumpJson(j);
    const std::string ref = Reference(j);
    REQUIRE_MESSAGE(ours == ref, "document " << i);
  }
}

TEST_CASE("AppendJsonString escapes each special byte wherever it falls in a word-sized scan") {
  // Strings are checked eight bytes at a time: put each kind of byte that
  // needs care at every offset across two such words.
  const char* const specials[] = {"\"", "\\", "\n", "\b", "\x01", "\x1f", "\x7f", "\xc3\xa9",
                                  "\xf0\x9f\x98\x80", "\xff", "\xc3", "\xed\xa0\x80"};
  for (const char* raw : specials) {
    for (size_t before = 0; before <= 17; ++before) {
      const std::string s = std::string(before, 'a') + raw + std::string(17 - before, 'b');
      std::string out;
      AppendJsonString(out, s);
      CHECK_MESSAGE(out == Reference(Json(s)), before);
    }
  }
  std::string out = "x";
  AppendJsonString(out, "\xc3");
  CHECK(out == "x\"\xEF\xBF\xBD\"");  // a truncated sequence becomes U+FFFD
}

}  // TEST_SUITE
