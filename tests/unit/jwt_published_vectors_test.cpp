// The JWT code checked against the published test vectors rather than only
// against itself: RFC 7515 Appendix A.1 (HS256) and RFC 8037 Appendix A
// (the Ed25519 key A.1, its public JWK A.2, its thumbprint A.3, the JWS A.4).
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "assistant/jwt.hpp"
#include "crypto/base64url.hpp"
#include "crypto/crypto_util.hpp"
#include "test_temp_dir.hpp"

using namespace assistant;

namespace {

// RFC 7515 A.1: the HMAC key (JWK "k") and the complete JWS. Its header and
// payload carry CRLFs, so no JSON serialiser of ours could have produced it.
constexpr const char* kRfc7515Key =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
constexpr const char* kRfc7515SigningInput =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr const char* kRfc7515Signature = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr int64_t kRfc7515Exp = 1300819380;

// RFC 8037 A.1 (private "d", public "x"), A.3 (thumbprint) and A.4 (JWS).
constexpr const char* kRfc8037D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr const char* kRfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr const char* kRfc8037Thumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
constexpr const char* kRfc8037Header = "eyJhbGciOiJFZERTQSJ9";
constexpr const char* kRfc8037Payload = "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
constexpr const char* kRfc8037Signature =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string Decoded(const char* b64) {
  auto bytes = Base64UrlDecode(b64);
  REQUIRE(bytes.has_value());
  return *bytes;
}

const unsigned char* Bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// An independent Ed25519 verification (OpenSSL with the raw public key), so
// what the ring signs is judged by something other than the ring.
bool OpenSslEd25519Verify(const std::string& public_key, const std::string& message,
                          const std::string& signature) {
  Pkey pub(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(public_key),
                                       public_key.size()));
  REQUIRE(pub != nullptr);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  REQUIRE(EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pub.get()) == 1);
  return EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(message),
                          message.size()) == 1;
}

// A key directory holding exactly the RFC 8037 A.1 private key, as PKCS#8 PEM
// (the form an operator would drop in).
std::string DirWithRfc8037Key() {
  std::string dir = MakeTestTempDir("rfc8037");
  std::string d = Decoded(kRfc8037D);
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(d), d.size()));
  REQUIRE(key != nullptr);
  std::string path = dir + "/rfc8037.pem";
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  CHECK(PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
  std::fclose(f);
  std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::owner_write);
  return dir;
}

JwtVerifyOptions Rfc7515Options(int64_t now_sec) {
  JwtVerifyOptions o;
  o.issuer = "joe";
  o.now = FromUnixMillis(now_sec * 1000);
  return o;
}

}  // namespace

TEST_SUITE("jwt") {
  TEST_CASE("RFC 7515 A.1: the HS256 signature and the verified claims") {
    const std::string key = Decoded(kRfc7515Key);
    CHECK(Base64UrlEncode(crypto::HmacSha256(key, kRfc7515SigningInput)) == kRfc7515Signature);
    CHECK(Decoded("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9") ==
          "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}");

    auto ring = KeyRing::Hs256(key);
    REQUIRE(ring.ok());
    const std::string token = std::string(kRfc7515SigningInput) + "." + kRfc7515Signature;
    auto claims = (*ring)->Verify(token, Rfc7515Options(kRfc7515Exp - 10));
    REQUIRE(claims.ok());
    CHECK((*claims)["iss"] == "joe");
    CHECK((*claims)["exp"] == kRfc7515Exp);
    CHECK((*claims)["http://example.com/is_root"] == true);

    // The same token once its exp has passed, and with one signature byte
    // changed, must both be refused.
    auto late = (*ring)->Verify(token, Rfc7515Options(kRfc7515Exp));
    REQUIRE_FALSE(late.ok());
    CHECK(late.status().reason() == "token_expired");
    std::string forged = token;
    forged[forged.size() - 2] = forged[forged.size() - 2] == 'X' ? 'Y' : 'X';
    auto bad = (*ring)->Verify(forged, Rfc7515Options(kRfc7515Exp - 10));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().reason() == "invalid_token");
  }

  TEST_CASE("RFC 8037 A.1-A.3: the ring publishes the key's x and its thumbprint as kid") {
    auto ring = KeyRing::LoadOrCreateEd25519(DirWithRfc8037Key());
    REQUIRE(ring.ok());
    Json jwks = (*ring)->Jwks();
    REQUIRE(jwks["keys"].size() == 1);
    const Json& jwk = jwks["keys"][0];
    CHECK(jwk["kty"] == "OKP");
    CHECK(jwk["crv"] == "Ed25519");
    CHECK(jwk["x"] == kRfc8037X);
    CHECK(jwk["kid"] == kRfc8037Thumbprint);
    CHECK_FALSE(jwk.contains("d"));
  }

  TEST_CASE("RFC 8037 A.4: the JWS verifies under the published key; the ring's own tokens too") {
    CHECK(Base64UrlEncode("{\"alg\":\"EdDSA\"}") == kRfc8037Header);
    CHECK(Base64UrlEncode("Example of Ed25519 signing") == kRfc8037Payload);
    const std::string x = Decoded(kRfc8037X);
    const std::string signing_input = std::string(kRfc8037Header) + "." + kRfc8037Payload;
    CHECK(OpenSslEd25519Verify(x, signing_input, Decoded(kRfc8037Signature)));
    CHECK_FALSE(OpenSslEd25519Verify(x, signing_input + "!", Decoded(kRfc8037Signature)));

    auto ring = KeyRing::LoadOrCreateEd25519(DirWithRfc8037Key());
    REQUIRE(ring.ok());
    // A.4 itself is a JWS but not a token this ring accepts: it names no key
    // and its payload is not a claims object.
    const std::string a4 = signing_input + "." + kRfc8037Signature;
    auto refused = (*ring)->Verify(a4, JwtVerifyOptions{});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().reason() == "invalid_token");

    // What the ring signs with the A.1 key verifies under the published A.2
    // public key, and carries the A.3 thumbprint as its kid.
    auto token = (*ring)->Sign(Json{{"sub", "u1"}, {"exp", 4102444800}});
    REQUIRE(token.ok());
    const size_t last_dot = token->rfind('.');
    CHECK(OpenSslEd25519Verify(x, token->substr(0, last_dot), Decoded(token->c_str() + last_dot + 1)));
    Json header = Json::parse(Decoded(token->substr(0, token->find('.')).c_str()));
    CHECK(header["alg"] == "EdDSA");
    CHECK(header["kid"] == kRfc8037Thumbprint);
    CHECK((*ring)->Verify(*token, JwtVerifyOptions{}).ok());
  }
}
