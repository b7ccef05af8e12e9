// The small primitives every stored secret depends on.
#include <doctest/doctest.h>

#include <set>

#include "crypto/crypto_util.hpp"

using namespace assistant;

TEST_SUITE("crypto") {

TEST_CASE("SHA-256 and HMAC match the published test vectors") {
  CHECK(crypto::Sha256Hex("") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(crypto::Sha256Hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2.
  std::string mac = crypto::HmacSha256("Jefe", "what do ya want for nothing?");
  REQUIRE(mac.size() == 32);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : mac) {
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  CHECK(hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(crypto::HmacSha256("", "x").size() == 32);
}

TEST_CASE("random bytes and tokens are fresh and sized") {
  CHECK(crypto::RandomBytes(0).empty());
  CHECK(crypto::RandomBytes(32).size() == 32);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(crypto::RandomToken(16));
  CHECK(seen.size() == 100);
  std::string t = crypto::RandomToken(32);
  CHECK(t.size() == 43);
  CHECK(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
}

TEST_CASE("constant-time comparison") {
  CHECK(crypto::ConstantTimeEquals("", ""));
  CHECK(crypto::ConstantTimeEquals("abc", "abc"));
  CHECK_FALSE(crypto::ConstantTimeEquals("abc", "abd"));
  CHECK_FALSE(crypto::ConstantTimeEquals("abc", "ab"));
  CHECK_FALSE(crypto::ConstantTimeEquals("", "a"));
  CHECK_FALSE(crypto::ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // TEST_SUITE
