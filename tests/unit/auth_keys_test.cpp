// API keys, identity tokens for apps, the JWKS document and EdDSA mode.
#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <filesystem>

#include "auth_test_fixture.hpp"
#include "crypto/base64url.hpp"
#include "crypto/crypto_util.hpp"
#include "test_temp_dir.hpp"

using namespace assistant;
using namespace assistant::testing;

namespace {

Principal Login(AuthFixture& f, const AuthResult& r) {
  auto p = f.auth().Authenticate(r.tokens.access_token);
  REQUIRE(p.ok());
  return *p;
}

// What an app does with X-Assistant-Identity: find the key in the JWKS by
// kid and check the Ed25519 signature with OpenSSL alone.
std::optional<Json> VerifyWithJwks(const Json& jwks, const std::string& token) {
  size_t a = token.find('.');
  size_t b = token.find('.', a + 1);
  if (a == std::string::npos || b == std::string::npos) return std::nullopt;
  Json header = Json::parse(*Base64UrlDecode(token.substr(0, a)));
  if (header["alg"] != "EdDSA") return std::nullopt;
  for (const Json& k : jwks["keys"]) {
    if (k["kid"] != header["kid"]) continue;
    std::string x = *Base64UrlDecode(k["x"].get<std::string>());
    EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x.data()), x.size());
    REQUIRE(pkey != nullptr);
    std::string sig = *Base64UrlDecode(token.substr(b + 1));
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1 &&
              EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                               reinterpret_cast<const unsigned char*>(token.data()), b) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    if (!ok) return std::nullopt;
    return Json::parse(*Base64UrlDecode(token.substr(a + 1, b - a - 1)));
  }
  return std::nullopt;
}

std::string TempDir() { return MakeTestTempDir("auth"); }

}  // namespace

TEST_SUITE("auth") {

TEST_CASE("API keys: created once, hashed, scoped, listed, revoked") {
  AuthFixture f;
  AuthResult ann = f.Register("ann@example.com");
  Principal p = Login(f, ann);
  auto created = f.auth().CreateApiKey(p, {" CI key ", {"tasks:write", "tasks:read", "tasks:read"},
                                            std::nullopt}, Ctx());
  REQUIRE(created.ok());
  const std::string& key = created->key;
  CHECK(key.rfind("ak_", 0) == 0);
  CHECK(key.size() == 3 + 43);
  CHECK(created->api_key.prefix == key.substr(0, 10));
  CHECK(created->api_key.name == "CI key");
  CHECK(created->api_key.scopes == std::vector<std::string>{"tasks:read", "tasks:write"});
  CHECK_FALSE(created->api_key.expires_at.has_value());
  CHECK(created->api_key.key_hash == crypto::Sha256Hex(key));

  auto kp = f.auth().Authenticate(key);
  REQUIRE(kp.ok());
  CHECK(kp->kind == Principal::Kind::kApiKey);
  CHECK(kp->user_id == ann.user.id);
  CHECK(kp->api_key_id == created->api_key.id);
  CHECK(kp->HasScope("tasks:read"));
  CHECK_FALSE(kp->HasScope("agent"));
  CHECK(kp->session_id.empty());

  auto v = f.auth().Verify(key);
  REQUIRE(v.ok());
  CHECK(v->claims["sub"] == ann.user.id);
  CHECK(v->claims["scope"] == "tasks:read tasks:write");
  CHECK(v->claims["api_key_id"] == created->api_key.id);
  CHECK(v->user.email == "ann@example.com");

  // Use is recorded (at most once a minute).
  auto listed = f.auth().ListApiKeys(p);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].last_used_at.has_value());
  CHECK((*listed)[0].prefix == created->api_key.prefix);

  // A near miss is not a key.
  std::string wrong = key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  CheckUnauthenticated(f.auth().Authenticate(wrong).status(), "invalid_token");

  // Revoked: refused at once; another user cannot revoke it.
  AuthResult bob = f.Register("bob@example.com");
  CHECK(f.auth().RevokeApiKey(Login(f, bob), created->api_key.id, Ctx()).code() ==
        StatusCode::kNotFound);
  CHECK(f.auth().Authenticate(key).ok());
  REQUIRE(f.auth().RevokeApiKey(p, created->api_key.id, Ctx()).ok());
  CheckUnauthenticated(f.auth().Authenticate(key).status(), "invalid_token");
  CHECK(f.auth().ListApiKeys(p)->empty());
  CHECK(f.CountAudit(ann.user.id, "apikey.created", "ok") == 1);
  CHECK(f.CountAudit(ann.user.id, "apikey.revoked", "ok") == 1);
}

TEST_CASE("API key input is validated") {
  AuthFixture f;
  Principal p = Login(f, f.Register("ann@example.com"));
  auto unknown = f.auth().CreateApiKey(p, {"k", {"tasks:read", "root"}, std::nullopt}, Ctx());
  CHECK(unknown.status().code() == StatusCode::kInvalidArgument);
  CHECK(unknown.status().field() == "scopes");
  CHECK(f.auth().CreateApiKey(p, {"k", {"*"}, std::nullopt}, Ctx()).status().field() == "scopes");
  CHECK(f.auth().CreateApiKey(p, {"k", {}, std::nullopt}, Ctx()).status().field() == "scopes");
  CHECK(f.auth().CreateApiKey(p, {"", {"agent"}, std::nullopt}, Ctx()).status().field() == "name");
  CHECK(f.auth().CreateApiKey(p, {std::string(101, 'n'), {"agent"}, std::nullopt}, Ctx())
            .status()
            .field() == "name");
  CHECK(f.auth().CreateApiKey(p, {"k", {"agent"}, 0}, Ctx()).status().field() == "expires_in");
  CHECK(f.auth().CreateApiKey(p, {"k", {"agent"}, -5}, Ctx()).status().field() == "expires_in");
  // Every documented scope is accepted.
  CHECK(f.auth().CreateApiKey(p, {"all", KnownScopes(), std::nullopt}, Ctx()).ok());
  CHECK(KnownScopes().size() == 9);
}

TEST_CASE("API keys expire") {
  AuthFixture f;
  Principal p = Login(f, f.Register("ann@example.com"));
  auto created = f.auth().CreateApiKey(p, {"short", {"agent"}, 60}, Ctx());
  REQUIRE(created.ok());
  REQUIRE(created->api_key.expires_at.has_value());
  CHECK(*created->api_key.expires_at == f.clock->Now() + std::chrono::seconds(60));
  CHECK(f.auth().Authenticate(created->key).ok());
  f.clock->Advance(std::chrono::seconds(60));
  CheckUnauthenticated(f.auth().Authenticate(created->key).status(), "invalid_token");
}

TEST_CASE("a key needs `keys` to make keys and never makes a broader one") {
  AuthFixture f;
  Principal p = Login(f, f.Register("ann@example.com"));
  auto plain = f.auth().CreateApiKey(p, {"plain", {"tasks:read", "tasks:write"}, std::nullopt}, Ctx());
  REQUIRE(plain.ok());
  Principal plain_p = *f.auth().Authenticate(plain->key);
  auto denied = f.auth().CreateApiKey(plain_p, {"child", {"tasks:read"}, std::nullopt}, Ctx());
  CHECK(denied.status().code() == StatusCode::kPermissionDenied);
  CHECK(f.auth().ListApiKeys(plain_p).status().code() == StatusCode::kPermissionDenied);

  auto manager = f.auth().CreateApiKey(p, {"mgr", {"keys", "tasks:read"}, std::nullopt}, Ctx());
  REQUIRE(manager.ok());
  Principal mgr = *f.auth().Authenticate(manager->key);
  auto broader = f.auth().CreateApiKey(mgr, {"child", {"tasks:read", "tasks:write"}, std::nullopt},
                                       Ctx());
  CHECK(broader.status().code() == StatusCode::kPermissionDenied);
  auto narrower = f.auth().CreateApiKey(mgr, {"child", {"tasks:read"}, std::nullopt}, Ctx());
  REQUIRE(narrower.ok());
  CHECK(f.auth().Authenticate(narrower->key)->scopes == std::set<std::string>{"tasks:read"});
  // A manager key may also mint another manager of the same breadth.
  CHECK(f.auth().CreateApiKey(mgr, {"peer", {"keys", "tasks:read"}, std::nullopt}, Ctx()).ok());
}

TEST_CASE("identity tokens carry the caller's scopes within the app's, verifiable by JWKS") {
  AuthFixture f;  // HS256 access tokens
  AuthResult ann = f.Register("ann@example.com");
  Principal p = Login(f, ann);
  Json jwks = f.auth().Jwks();
  // HS256 keys are never published; the identity key always is.
  REQUIRE(jwks["keys"].size() == 1);
  CHECK(jwks["keys"][0]["crv"] == "Ed25519");

  auto token = f.auth().IssueIdentityToken(p, "notes-app", {"tasks:read", "apps"});
  REQUIRE(token.ok());
  auto claims = VerifyWithJwks(jwks, *token);
  REQUIRE(claims.has_value());
  CHECK((*claims)["iss"] == "libassistant");
  CHECK((*claims)["sub"] == ann.user.id);
  CHECK((*claims)["aud"] == "notes-app");
  CHECK((*claims)["exp"].get<int64_t>() - (*claims)["iat"].get<int64_t>() == 60);
  CHECK((*claims)["iat"].get<int64_t>() == ToUnixMillis(f.clock->Now()) / 1000);
  CHECK((*claims)["jti"].is_string());
  CHECK((*claims)["scope"] == "tasks:read apps");  // caller "*" gets the app's scopes

  auto key = f.auth().CreateApiKey(p, {"k", {"tasks:read", "agent"}, std::nullopt}, Ctx());
  REQUIRE(key.ok());
  Principal kp = *f.auth().Authenticate(key->key);
  auto narrowed = f.auth().IssueIdentityToken(kp, "notes-app", {"tasks:read", "apps"});
  REQUIRE(narrowed.ok());
  CHECK((*VerifyWithJwks(jwks, *narrowed))["scope"] == "tasks:read");
  auto none = f.auth().IssueIdentityToken(kp, "notes-app", {"apps"});
  REQUIRE(none.ok());
  CHECK((*VerifyWithJwks(jwks, *none))["scope"] == "");

  // An identity token is not an access token.
  CheckUnauthenticated(f.auth().Authenticate(*token).status(), "invalid_token");
  CHECK(f.auth().IssueIdentityToken(p, "", {}).status().field() == "app_id");
  CHECK(f.auth().IssueIdentityToken(p, "bad app/id", {}).status().field() == "app_id");
  CHECK(f.auth().IssueIdentityToken(Principal{}, "notes-app", {}).status().code() ==
        StatusCode::kUnauthenticated);
}

TEST_CASE("EdDSA mode: published keys, identical grace pairs across servers, persisted keys") {
  std::string dir = TempDir();
  AuthOptions o = CheapAuthOptions();
  o.jwt_algorithm = JwtAlgorithm::kEdDSA;
  o.jwt_secret.clear();  // the derivation key then lives beside the keys
  o.jwt_key_dir = dir + "/jwt";
  o.identity_key_dir = dir + "/identity";
  AuthFixture f(o);
  AuthService& other = f.AddInstance();
  AuthResult ann = f.Register("ann@example.com");

  Json jwks = f.auth().Jwks();
  CHECK(jwks["keys"].size() == 2);  // access key + identity key
  CHECK(other.Jwks() == jwks);
  // The access token verifies against the published keys, and on the other server.
  auto claims = VerifyWithJwks(jwks, ann.tokens.access_token);
  REQUIRE(claims.has_value());
  CHECK((*claims)["sub"] == ann.user.id);
  CHECK(other.Authenticate(ann.tokens.access_token).ok());

  auto first = f.auth().Refresh(ann.tokens.refresh_token, Ctx());
  REQUIRE(first.ok());
  f.clock->Advance(std::chrono::seconds(5));
  auto again = other.Refresh(ann.tokens.refresh_token, Ctx());
  REQUIRE(again.ok());
  CHECK(again->tokens.access_token == first->tokens.access_token);
  CHECK(again->tokens.refresh_token == first->tokens.refresh_token);

  // The derivation secret is a private file; keys are private too.
  auto perms = std::filesystem::status(o.jwt_key_dir + "/refresh-derivation.key").permissions();
  CHECK((perms & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));

  // An HS256 token cannot pass an EdDSA server.
  AuthFixture hs;
  AuthResult h = hs.Register("ann@example.com");
  CheckUnauthenticated(f.auth().Authenticate(h.tokens.access_token).status(), "invalid_token");
}

TEST_CASE("EdDSA mode without a key directory keeps keys in memory") {
  AuthOptions o = CheapAuthOptions();
  o.jwt_algorithm = JwtAlgorithm::kEdDSA;
  o.jwt_secret.clear();
  AuthFixture f(o);
  AuthResult ann = f.Register("ann@example.com");
  CHECK(f.auth().Authenticate(ann.tokens.access_token).ok());
  auto r1 = f.auth().Refresh(ann.tokens.refresh_token, Ctx());
  auto r2 = f.auth().Refresh(ann.tokens.refresh_token, Ctx());
  REQUIRE(r1.ok());
  REQUIRE(r2.ok());
  CHECK(r1->tokens.refresh_token == r2->tokens.refresh_token);
  CHECK(f.auth().Jwks()["keys"].size() == 2);
}

}  // TEST_SUITE
