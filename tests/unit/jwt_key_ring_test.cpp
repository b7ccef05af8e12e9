// KeyRing: signing, verification and the attacks a JWT verifier must refuse,
// for both HS256 and EdDSA rings; rotation and retirement of EdDSA keys.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "assistant/clock.hpp"
#include "assistant/jwt.hpp"
#include "crypto/base64url.hpp"
#include "crypto/crypto_util.hpp"
#include "test_temp_dir.hpp"

using namespace assistant;

namespace {

const Timestamp kNow = FromUnixMillis(1767225600000);  // 2026-01-01
const int64_t kNowSec = 1767225600;

JwtVerifyOptions Opts() {
  JwtVerifyOptions o;
  o.issuer = "iss-a";
  o.audience = "aud-a";
  o.now = kNow;
  return o;
}

Json Claims() {
  return Json{{"sub", "u1"}, {"iss", "iss-a"}, {"aud", "aud-a"}, {"iat", kNowSec},
              {"exp", kNowSec + 900}};
}

std::string B64(const std::string& s) { return Base64UrlEncode(s); }
std::string B64(const Json& j) { return Base64UrlEncode(j.dump()); }

std::string MakeTempDir() { return MakeTestTempDir("jwt"); }

struct Parts {
  std::string header, payload, signature;
};
Parts SplitParts(const std::string& token) {
  size_t a = token.find('.');
  size_t b = token.find('.', a + 1);
  return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
}

void CheckInvalid(const KeyRing& ring, const std::string& token,
                  const JwtVerifyOptions& o = Opts(), const char* reason = "invalid_token") {
  auto r = ring.Verify(token, o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kUnauthenticated);
  CHECK(r.status().reason() == reason);
}

// The attacks common to both algorithms.
void RunCommonAttacks(KeyRing& ring, KeyRing& other_same_alg) {
  auto good = ring.Sign(Claims());
  REQUIRE(good.ok());
  auto ok = ring.Verify(*good, Opts());
  REQUIRE(ok.ok());
  CHECK((*ok)["sub"] == "u1");
  Parts p = SplitParts(*good);
  Json header = Json::parse(*Base64UrlDecode(p.header));
  CHECK(header["alg"] == JwtAlgorithmName(ring.algorithm()));
  CHECK(header["typ"] == "JWT");
  CHECK(header.contains("kid"));

  SUBCASE("a token signed with another key") {
    auto forged = other_same_alg.Sign(Claims());
    REQUIRE(forged.ok());
    CheckInvalid(ring, *forged);
    // Same header as ours (kid included), signature from the other key.
    Parts f = SplitParts(*forged);
    CheckInvalid(ring, p.header + "." + f.payload + "." + f.signature);
  }
  SUBCASE("alg none, with and without a signature part") {
    std::string none = B64(Json{{"alg", "none"}, {"typ", "JWT"}});
    CheckInvalid(ring, none + "." + p.payload + ".");
    CheckInvalid(ring, none + "." + p.payload);
    CheckInvalid(ring, none + "." + p.payload + "." + p.signature);
    std::string none_kid = B64(Json{{"alg", "none"}, {"kid", header["kid"]}});
    CheckInvalid(ring, none_kid + "." + p.payload + ".");
  }
  SUBCASE("missing or non-string alg") {
    Json h = header;
    h.erase("alg");
    CheckInvalid(ring, B64(h) + "." + p.payload + "." + p.signature);
    h["alg"] = Json::array({"HS256", "EdDSA"});
    CheckInvalid(ring, B64(h) + "." + p.payload + "." + p.signature);
    h["alg"] = std::string(JwtAlgorithmName(ring.algorithm())) + " ";
    CheckInvalid(ring, B64(h) + "." + p.payload + "." + p.signature);
  }
  SUBCASE("truncated or empty signature") {
    CheckInvalid(ring, p.header + "." + p.payload + "." + p.signature.substr(0, p.signature.size() - 4));
    CheckInvalid(ring, p.header + "." + p.payload + ".");
    CheckInvalid(ring, p.header + "." + p.payload);
  }
  SUBCASE("tampered payload") {
    Json c = Claims();
    c["sub"] = "someone-else";
    CheckInvalid(ring, p.header + "." + B64(c) + "." + p.signature);
    c = Claims();
    c["exp"] = kNowSec + 999999;
    CheckInvalid(ring, p.header + "." + B64(c) + "." + p.signature);
  }
  SUBCASE("unknown kid") {
    Json h = header;
    h["kid"] = "not-a-key";
    CheckInvalid(ring, B64(h) + "." + p.payload + "." + p.signature);
    h["kid"] = 7;
    CheckInvalid(ring, B64(h) + "." + p.payload + "." + p.signature);
  }
  SUBCASE("expiry") {
    Json c = Claims();
    c["exp"] = kNowSec - 1;
    CheckInvalid(ring, *ring.Sign(c), Opts(), "token_expired");
    c["exp"] = kNowSec;  // expires at exactly now: no longer valid
    CheckInvalid(ring, *ring.Sign(c), Opts(), "token_expired");
    // Leeway lets a slightly late clock through.
    JwtVerifyOptions o = Opts();
    o.leeway = std::chrono::seconds(5);
    c["exp"] = kNowSec - 2;
    CHECK(ring.Verify(*ring.Sign(c), o).ok());
    // No exp at all, or a non-numeric one.
    c.erase("exp");
    CheckInvalid(ring, *ring.Sign(c));
    c["exp"] = std::to_string(kNowSec + 900);
    CheckInvalid(ring, *ring.Sign(c));
  }
  SUBCASE("nbf in the future") {
    Json c = Claims();
    c["nbf"] = kNowSec + 60;
    CheckInvalid(ring, *ring.Sign(c));
    c["nbf"] = kNowSec - 60;
    CHECK(ring.Verify(*ring.Sign(c), Opts()).ok());
    c["nbf"] = "soon";
    CheckInvalid(ring, *ring.Sign(c));
  }
  SUBCASE("issuer and audience") {
    Json c = Claims();
    c["iss"] = "iss-b";
    CheckInvalid(ring, *ring.Sign(c));
    c.erase("iss");
    CheckInvalid(ring, *ring.Sign(c));
    c = Claims();
    c["aud"] = "aud-b";
    CheckInvalid(ring, *ring.Sign(c));
    c["aud"] = Json::array({"aud-b", "aud-c"});
    CheckInvalid(ring, *ring.Sign(c));
    c["aud"] = Json::array({"aud-b", "aud-a"});
    CHECK(ring.Verify(*ring.Sign(c), Opts()).ok());
    c.erase("aud");
    CheckInvalid(ring, *ring.Sign(c));
    // Unchecked when the options leave them empty.
    JwtVerifyOptions o = Opts();
    o.audience.clear();
    CHECK(ring.Verify(*ring.Sign(c), o).ok());
  }
  SUBCASE("garbage, oversized and malformed structure") {
    CheckInvalid(ring, "");
    CheckInvalid(ring, "not a token");
    CheckInvalid(ring, "a.b.c");
    CheckInvalid(ring, "...");
    CheckInvalid(ring, *good + ".extra");
    CheckInvalid(ring, std::string(9000, 'a'));
    // A valid token padded past the size cap by a bogus but parseable claim.
    Json c = Claims();
    c["pad"] = std::string(9000, 'x');
    auto big = ring.Sign(c);
    REQUIRE(big.ok());
    CheckInvalid(ring, *big);
    // Standard base64 (with '+', '/' or padding) is not base64url.
    CheckInvalid(ring, p.header + "=." + p.payload + "." + p.signature);
    CheckInvalid(ring, p.header + "." + p.payload + "." + p.signature + "==");
    // Header or payload that are not JSON objects.
    CheckInvalid(ring, B64(std::string("[1,2]")) + "." + p.payload + "." + p.signature);
    CheckInvalid(ring, p.header + "." + B64(std::string("\"str\"")) + "." + p.signature);
    CheckInvalid(ring, p.header + "." + B64(std::string("{bad json")) + "." + p.signature);
  }
  SUBCASE("a default `now` means the current time, not the epoch") {
    Json c = Claims();
    c["exp"] = 1000;  // 1970
    JwtVerifyOptions o = Opts();
    o.now = Timestamp{};
    CheckInvalid(ring, *ring.Sign(c), o, "token_expired");
  }
}

}  // namespace

TEST_SUITE("jwt") {

TEST_CASE("base64url encodes without padding and decodes strictly") {
  CHECK(Base64UrlEncode("") == "");
  CHECK(Base64UrlEncode("f") == "Zg");
  CHECK(Base64UrlEncode("fo") == "Zm8");
  CHECK(Base64UrlEncode("foo") == "Zm9v");
  CHECK(Base64UrlEncode(std::string("\xfb\xff\xbf", 3)) == "-_-_");
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    CHECK(Base64UrlDecode(Base64UrlEncode(s)) == s);
  }
  CHECK(Base64UrlDecode("-_-_") == std::string("\xfb\xff\xbf", 3));
  CHECK_FALSE(Base64UrlDecode("Zg==").has_value());  // padding
  CHECK_FALSE(Base64UrlDecode("+/+/").has_value());  // standard alphabet
  CHECK_FALSE(Base64UrlDecode("Z").has_value());     // impossible length
  CHECK_FALSE(Base64UrlDecode("Zh").has_value());    // stray low bits
  CHECK_FALSE(Base64UrlDecode("Zm 9").has_value());
  CHECK_FALSE(Base64UrlDecode(std::string("Zm\0v", 4)).has_value());
}

TEST_CASE("algorithm names parse exactly") {
  CHECK(ParseJwtAlgorithm("HS256").value() == JwtAlgorithm::kHS256);
  CHECK(ParseJwtAlgorithm("EdDSA").value() == JwtAlgorithm::kEdDSA);
  CHECK_FALSE(ParseJwtAlgorithm("hs256").ok());
  CHECK_FALSE(ParseJwtAlgorithm("none").ok());
  CHECK(std::string(JwtAlgorithmName(JwtAlgorithm::kEdDSA)) == "EdDSA");
}

TEST_CASE("HS256 ring refuses forged, altered and expired tokens") {
  auto ring = KeyRing::Hs256("secret-number-one-0123456789abcdef");
  auto other = KeyRing::Hs256("secret-number-two-0123456789abcdef");
  REQUIRE(ring.ok());
  REQUIRE(other.ok());
  CHECK((*ring)->algorithm() == JwtAlgorithm::kHS256);
  RunCommonAttacks(**ring, **other);
}

TEST_CASE("EdDSA ring refuses forged, altered and expired tokens") {
  auto ring = KeyRing::EphemeralEd25519();
  auto other = KeyRing::EphemeralEd25519();
  REQUIRE(ring.ok());
  REQUIRE(other.ok());
  CHECK((*ring)->algorithm() == JwtAlgorithm::kEdDSA);
  RunCommonAttacks(**ring, **other);
}

TEST_CASE("HS256 kid names the key without revealing the secret") {
  const std::string secret = "0123456789abcdef0123456789abcdef";
  auto ring = KeyRing::Hs256(secret);
  REQUIRE(ring.ok());
  auto token = (*ring)->Sign(Claims());
  Json header = Json::parse(*Base64UrlDecode(SplitParts(*token).header));
  std::string kid = header["kid"];
  CHECK_FALSE(kid.empty());
  CHECK(kid.find(secret.substr(0, 8)) == std::string::npos);
  CHECK(token->find(Base64UrlEncode(secret).substr(0, 12)) == std::string::npos);
  // A token without a kid still verifies (other issuers omit it).
  Json h = header;
  h.erase("kid");
  std::string input = B64(h) + "." + SplitParts(*token).payload;
  std::string sig = Base64UrlEncode(crypto::HmacSha256(secret, input));
  CHECK((*ring)->Verify(input + "." + sig, Opts()).ok());
  // Correctly signed, but naming another key: refused.
  Json other_kid = header;
  other_kid["kid"] = "someone-elses-key";
  std::string other_input = B64(other_kid) + "." + SplitParts(*token).payload;
  CheckInvalid(**ring, other_input + "." + Base64UrlEncode(crypto::HmacSha256(secret, other_input)));
  // A correctly signed token with a critical extension we do not implement.
  h["crit"] = Json::array({"b64"});
  h["b64"] = false;
  input = B64(h) + "." + SplitParts(*token).payload;
  sig = Base64UrlEncode(crypto::HmacSha256(secret, input));
  CheckInvalid(**ring, input + "." + sig);
  CHECK((*ring)->Jwks()["keys"].empty());
  CHECK((*ring)->Rotate().code() == StatusCode::kUnimplemented);
  CHECK_FALSE(KeyRing::Hs256("").ok());
}

TEST_CASE("algorithm confusion between HS256 and EdDSA is refused") {
  auto ed = KeyRing::EphemeralEd25519();
  REQUIRE(ed.ok());
  Json jwk = (*ed)->Jwks()["keys"][0];
  std::string kid = jwk["kid"];
  std::string pub = *Base64UrlDecode(jwk["x"].get<std::string>());
  REQUIRE(pub.size() == 32);

  // The classic attack: an HS256 token whose HMAC key is the public key.
  for (const std::string& key : {pub, jwk.dump(), jwk["x"].get<std::string>()}) {
    std::string input = B64(Json{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", kid}}) + "." +
                        B64(Claims());
    std::string token = input + "." + Base64UrlEncode(crypto::HmacSha256(key, input));
    CheckInvalid(**ed, token);
  }
  // An EdDSA header on an HS256 ring, and an HS256 header with the EdDSA
  // ring's genuine signature.
  auto hs = KeyRing::Hs256("a-secret-a-secret-a-secret-a-secret");
  REQUIRE(hs.ok());
  Parts ed_tok = SplitParts(*(*ed)->Sign(Claims()));
  CheckInvalid(**hs, ed_tok.header + "." + ed_tok.payload + "." + ed_tok.signature);
  Parts hs_tok = SplitParts(*(*hs)->Sign(Claims()));
  CheckInvalid(**ed, hs_tok.header + "." + hs_tok.payload + "." + hs_tok.signature);
  Json swapped = {{"alg", "HS256"}, {"typ", "JWT"}, {"kid", kid}};
  CheckInvalid(**ed, B64(swapped) + "." + ed_tok.payload + "." + ed_tok.signature);
}

TEST_CASE("EdDSA signatures are deterministic and JWKS has the public key only") {
  auto ring = KeyRing::EphemeralEd25519();
  REQUIRE(ring.ok());
  CHECK(*(*ring)->Sign(Claims()) == *(*ring)->Sign(Claims()));
  Json jwks = (*ring)->Jwks();
  REQUIRE(jwks["keys"].size() == 1);
  Json k = jwks["keys"][0];
  CHECK(k["kty"] == "OKP");
  CHECK(k["crv"] == "Ed25519");
  CHECK(k["alg"] == "EdDSA");
  CHECK(k["use"] == "sig");
  CHECK_FALSE(k.contains("d"));
  CHECK(Base64UrlDecode(k["x"].get<std::string>())->size() == 32);
  // kid is the RFC 7638 thumbprint.
  std::string thumb_hex =
      crypto::Sha256Hex(R"({"crv":"Ed25519","kty":"OKP","x":")" + k["x"].get<std::string>() + "\"}");
  std::string kid_hex;
  std::string kid_raw = Base64UrlDecode(k["kid"].get<std::string>()).value_or("");
  CHECK(kid_raw.size() == 32);
  for (unsigned char c : kid_raw) {
    static const char* h = "0123456789abcdef";
    kid_hex += h[c >> 4];
    kid_hex += h[c & 15];
  }
  CHECK(kid_hex == thumb_hex);
}

TEST_CASE("EdDSA rotation: old tokens verify until their key is retired") {
  auto ring = KeyRing::EphemeralEd25519();
  REQUIRE(ring.ok());
  KeyRing& r = **ring;
  std::string old_token = *r.Sign(Claims());
  std::string old_kid = r.Jwks()["keys"][0]["kid"];
  // The signing key cannot be retired while it signs.
  CHECK(r.Retire(old_kid).code() == StatusCode::kFailedPrecondition);
  REQUIRE(r.Rotate().ok());
  Json jwks = r.Jwks();
  REQUIRE(jwks["keys"].size() == 2);
  std::string new_token = *r.Sign(Claims());
  Json new_header = Json::parse(*Base64UrlDecode(SplitParts(new_token).header));
  CHECK(new_header["kid"] != old_kid);
  CHECK(r.Verify(old_token, Opts()).ok());
  CHECK(r.Verify(new_token, Opts()).ok());
  REQUIRE(r.Retire(old_kid).ok());
  CheckInvalid(r, old_token);
  CHECK(r.Verify(new_token, Opts()).ok());
  CHECK(r.Jwks()["keys"].size() == 1);
  CHECK(r.Retire("nope").code() == StatusCode::kNotFound);
}

TEST_CASE("EdDSA key directory: created private, reloaded, rotation persisted") {
  std::string dir = MakeTempDir() + "/keys/nested";
  std::string token, first_kid;
  {
    auto ring = KeyRing::LoadOrCreateEd25519(dir);
    REQUIRE(ring.ok());
    token = *(*ring)->Sign(Claims());
    first_kid = (*ring)->Jwks()["keys"][0]["kid"];
  }
  struct stat st{};
  REQUIRE(stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  int pem_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".pem") continue;
    ++pem_files;
    REQUIRE(stat(e.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::string head(27, '\0');
    FILE* f = fopen(e.path().c_str(), "r");
    REQUIRE(f != nullptr);
    CHECK(fread(head.data(), 1, head.size(), f) == head.size());
    fclose(f);
    CHECK(head == "-----BEGIN PRIVATE KEY-----");  // PKCS#8
  }
  CHECK(pem_files == 1);

  // A second instance on the same directory verifies the first one's tokens.
  {
    auto ring = KeyRing::LoadOrCreateEd25519(dir);
    REQUIRE(ring.ok());
    CHECK((*ring)->Verify(token, Opts()).ok());
    REQUIRE((*ring)->Rotate().ok());
  }
  // After a restart the rotated (newest) key signs and both verify.
  auto ring = KeyRing::LoadOrCreateEd25519(dir);
  REQUIRE(ring.ok());
  CHECK((*ring)->Jwks()["keys"].size() == 2);
  std::string t2 = *(*ring)->Sign(Claims());
  Json h2 = Json::parse(*Base64UrlDecode(SplitParts(t2).header));
  CHECK(h2["kid"] != first_kid);
  CHECK((*ring)->Verify(token, Opts()).ok());
  // Retiring removes the file, so the key stays gone after a restart.
  REQUIRE((*ring)->Retire(first_kid).ok());
  auto again = KeyRing::LoadOrCreateEd25519(dir);
  REQUIRE(again.ok());
  CHECK((*again)->Jwks()["keys"].size() == 1);
  CheckInvalid(**again, token);
}

TEST_CASE("EdDSA key directory with a broken key file is an error") {
  std::string dir = MakeTempDir();
  FILE* f = fopen((dir + "/broken.pem").c_str(), "w");
  REQUIRE(f != nullptr);
  fputs("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n", f);
  fclose(f);
  auto ring = KeyRing::LoadOrCreateEd25519(dir);
  REQUIRE_FALSE(ring.ok());
  CHECK(ring.status().code() == StatusCode::kInvalidArgument);
  CHECK_FALSE(KeyRing::LoadOrCreateEd25519("").ok());
}

}  // TEST_SUITE

TEST_CASE("a ring from a JWKS verifies the publisher's tokens and nothing else") {
  auto signer = KeyRing::EphemeralEd25519();
  REQUIRE(signer.ok());
  auto token = (*signer)->Sign(Claims());
  REQUIRE(token.ok());
  auto ring = KeyRing::FromJwks((*signer)->Jwks());
  REQUIRE(ring.ok());
  auto claims = (*ring)->Verify(*token, Opts());
  REQUIRE(claims.ok());
  CHECK((*claims)["sub"] == "u1");
  CHECK((*ring)->Jwks() == (*signer)->Jwks());

  // Another key's token, and a rotated publisher's new key, are unknown
  // until the JWKS is read again.
  auto other = KeyRing::EphemeralEd25519();
  REQUIRE(other.ok());
  CHECK_FALSE((*ring)->Verify(*(*other)->Sign(Claims()), Opts()).ok());
  REQUIRE((*signer)->Rotate().ok());
  auto rotated = (*signer)->Sign(Claims());
  CHECK_FALSE((*ring)->Verify(*rotated, Opts()).ok());
  auto again = KeyRing::FromJwks((*signer)->Jwks());
  REQUIRE(again.ok());
  CHECK((*again)->Verify(*rotated, Opts()).ok());
  CHECK((*again)->Verify(*token, Opts()).ok());

  // Public keys only: it cannot sign.
  CHECK_FALSE((*ring)->Sign(Claims()).ok());
  CHECK_FALSE((*ring)->Rotate().ok());
  CHECK_FALSE(KeyRing::FromJwks(Json::array()).ok());
  CHECK_FALSE(KeyRing::FromJwks(Json{{"keys", {{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}}}}}).ok());
}

TEST_CASE("keys rotated within one millisecond still load newest last") {
  const std::string dir = MakeTempDir() + "/fast";
  // The ring's clock stands still: every key is made in the same
  // millisecond, and then the clock goes back a second.
  FakeClock clock;
  auto ring = KeyRing::LoadOrCreateEd25519(dir, clock);
  REQUIRE(ring.ok());
  for (int i = 0; i < 30; ++i) REQUIRE((*ring)->Rotate().ok());
  clock.Advance(std::chrono::milliseconds(-1000));
  REQUIRE((*ring)->Rotate().ok());
  const std::string signed_now = *(*ring)->Sign(Claims());
  auto reloaded = KeyRing::LoadOrCreateEd25519(dir, clock);
  REQUIRE(reloaded.ok());
  const std::string signed_after = *(*reloaded)->Sign(Claims());
  CHECK(Json::parse(*Base64UrlDecode(SplitParts(signed_after).header))["kid"] ==
        Json::parse(*Base64UrlDecode(SplitParts(signed_now).header))["kid"]);
}

TEST_CASE("a ring checks expiry against its clock when the options give no time") {
  FakeClock clock;
  auto ring = KeyRing::EphemeralEd25519(clock);
  REQUIRE(ring.ok());
  const int64_t now_s = ToUnixMillis(clock.Now()) / 1000;
  const std::string token = *(*ring)->Sign(Json{{"sub", "u"}, {"exp", now_s + 60}});
  CHECK((*ring)->Verify(token, JwtVerifyOptions{}).ok());
  clock.Advance(std::chrono::seconds(61));
  CHECK((*ring)->Verify(token, JwtVerifyOptions{}).status().reason() == "token_expired");
  auto hs = KeyRing::Hs256("a secret", clock);
  REQUIRE(hs.ok());
  const std::string hs_token = *(*hs)->Sign(Json{{"sub", "u"}, {"exp", now_s + 60}});
  CHECK((*hs)->Verify(hs_token, JwtVerifyOptions{}).status().reason() == "token_expired");
}
