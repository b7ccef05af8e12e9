// Signing keys held in storage (src/auth/stored_key_ring.hpp): two rings on
// one storage stand for two servers on one database.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "assistant/identity_token.hpp"
#include "assistant/storage.hpp"
#include "auth/stored_key_ring.hpp"
#include "test_temp_dir.hpp"
#include "crypto/base64url.hpp"

using namespace assistant;

namespace {

constexpr auto kReload = std::chrono::seconds(10);
constexpr auto kLifetime = std::chrono::seconds(900);

std::shared_ptr<Storage> MemoryStorage() {
  auto s = OpenStorage("sqlite::memory:");
  REQUIRE(s.ok());
  return std::shared_ptr<Storage>(std::move(s).value());
}

std::unique_ptr<KeyRing> Open(std::shared_ptr<Storage> storage, Clock& clock,
                              const std::string& secret = "a shared jwt secret",
                              const std::string& import_dir = "") {
  StoredKeyRingOptions o;
  o.purpose = KeyPurpose::kAccess;
  o.seal_secret = secret;
  o.import_dir = import_dir;
  o.reload_interval = kReload;
  o.token_lifetime = kLifetime;
  auto ring = OpenStoredKeyRing(std::move(storage), clock, o);
  REQUIRE(ring.ok());
  return std::move(ring).value();
}

std::string KidOf(const std::string& token) {
  return Json::parse(*Base64UrlDecode(token.substr(0, token.find('.'))))["kid"];
}

JwtVerifyOptions At(Clock& clock) {
  JwtVerifyOptions v;
  v.now = clock.Now();
  return v;
}

Json Claims(Clock& clock) {
  return Json{{"sub", "u1"}, {"exp", ToUnixMillis(clock.Now()) / 1000 + 600}};
}

}  // namespace

TEST_SUITE("auth.stored_keys") {

TEST_CASE("a key rotated on one ring is trusted by the other at once and signs there within the reload interval") {
  FakeClock clock;
  auto storage = MemoryStorage();
  auto a = Open(storage, clock);
  auto b = Open(storage, clock);
  const std::string before = *a->Sign(Claims(clock));
  CHECK(KidOf(*b->Sign(Claims(clock))) == KidOf(before));  // one key for both

  clock.Advance(std::chrono::seconds(2));
  REQUIRE(a->Rotate().ok());
  const std::string after = *a->Sign(Claims(clock));
  CHECK(KidOf(after) != KidOf(before));
  // B has not read the keys since before the rotation: the unknown kid makes it.
  CHECK(b->Verify(after, At(clock)).ok());
  CHECK(b->Verify(before, At(clock)).ok());  // the retired key still verifies
  // B read them for that token, so it signs with the new key already; a ring
  // that was not asked signs with it once its copy is older than the interval.
  CHECK(KidOf(*b->Sign(Claims(clock))) == KidOf(after));
  auto c = Open(storage, clock);
  REQUIRE(a->Rotate().ok());
  const std::string third = *a->Sign(Claims(clock));
  CHECK(KidOf(*c->Sign(Claims(clock))) != KidOf(third));
  clock.Advance(kReload);
  CHECK(KidOf(*c->Sign(Claims(clock))) == KidOf(third));
  CHECK(c->Jwks()["keys"].size() == 3);
  CHECK(c->Jwks()["keys"][0]["kid"] == KidOf(third));  // newest first
}

TEST_CASE("a forged kid makes at most one read of storage a second") {
  FakeClock clock;
  auto storage = MemoryStorage();
  auto a = Open(storage, clock);
  auto b = Open(storage, clock);
  clock.Advance(std::chrono::seconds(2));
  REQUIRE(a->Rotate().ok());
  const std::string fresh = *a->Sign(Claims(clock));
  // A token naming a kid nobody has: B reads storage for it...
  const std::string forged = Base64UrlEncode(R"({"alg":"EdDSA","typ":"JWT","kid":"nope"})") + "." +
                             Base64UrlEncode(R"({"exp":9999999999})") + ".AAAA";
  CHECK_FALSE(b->Verify(forged, At(clock)).ok());
  // ...and then not again within the second, even for a real new key...
  REQUIRE(a->Rotate().ok());
  const std::string newer = *a->Sign(Claims(clock));
  CHECK(b->Verify(newer, At(clock)).status().message() == "unknown key id");
  clock.Advance(std::chrono::seconds(1));
  CHECK(b->Verify(newer, At(clock)).ok());
  CHECK(b->Verify(fresh, At(clock)).ok());
}

TEST_CASE("stored private keys are sealed with the JWT secret; another secret does not use them") {
  FakeClock clock;
  auto storage = MemoryStorage();
  auto a = Open(storage, clock);
  auto keys = storage->ListSigningKeys(KeyPurpose::kAccess);
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 1);
  const std::string& sealed = (*keys)[0].sealed_key;
  CHECK(sealed.find("PRIVATE KEY") == std::string::npos);
  CHECK(Base64UrlDecode(sealed)->find("PRIVATE KEY") == std::string::npos);
  CHECK((*keys)[0].alg == "EdDSA");
  CHECK((*keys)[0].kid == KidOf(*a->Sign(Claims(clock))));

  // An instance with another secret makes a key of its own; neither
  // trusts the other's tokens.
  auto other = Open(storage, clock, "another secret");
  const std::string mine = *a->Sign(Claims(clock));
  const std::string theirs = *other->Sign(Claims(clock));
  CHECK(KidOf(theirs) != KidOf(mine));
  clock.Advance(std::chrono::seconds(2));
  CHECK(other->Verify(mine, At(clock)).status().message() == "unknown key id");
  CHECK(a->Verify(theirs, At(clock)).status().message() == "unknown key id");
  CHECK(storage->ListSigningKeys(KeyPurpose::kAccess)->size() == 2);
}

TEST_CASE("keys of a key directory are imported once, so tokens they signed stay valid") {
  FakeClock clock;
  const std::string dir = MakeTestTempDir("stored-keys");
  auto files = KeyRing::LoadOrCreateEd25519(dir);
  REQUIRE(files.ok());
  REQUIRE((*files)->Rotate().ok());  // two keys: the newer signs
  const std::string old_token = *(*files)->Sign(Claims(clock));

  auto storage = MemoryStorage();
  auto ring = Open(storage, clock, "a shared jwt secret", dir);
  CHECK(ring->Verify(old_token, At(clock)).ok());
  CHECK(KidOf(*ring->Sign(Claims(clock))) == KidOf(old_token));
  CHECK(storage->ListSigningKeys(KeyPurpose::kAccess)->size() == 2);
  // Later rotations in the directory are not read: the database holds the keys.
  REQUIRE((*files)->Rotate().ok());
  auto again = Open(storage, clock, "a shared jwt secret", dir);
  CHECK(storage->ListSigningKeys(KeyPurpose::kAccess)->size() == 2);
  CHECK(KidOf(*again->Sign(Claims(clock))) == KidOf(old_token));
}

TEST_CASE("a retired key verifies until its tokens have expired, then it is deleted") {
  FakeClock clock;
  auto storage = MemoryStorage();
  auto ring = Open(storage, clock);
  const std::string old_token = *ring->Sign(Claims(clock));
  REQUIRE(ring->Rotate().ok());
  // A server that had not reloaded may sign with it for one more interval;
  // its tokens live kLifetime: the key verifies past both (and a minute).
  clock.Advance(kLifetime + kReload);
  JwtVerifyOptions unexpired = At(clock);
  unexpired.leeway = std::chrono::hours(1);  // judge the key, not the token's exp
  CHECK(ring->Verify(old_token, unexpired).ok());
  CHECK(storage->ListSigningKeys(KeyPurpose::kAccess)->size() == 2);
  clock.Advance(std::chrono::minutes(1) + std::chrono::seconds(1));
  unexpired = At(clock);
  unexpired.leeway = std::chrono::hours(1);
  CHECK_FALSE(ring->Verify(old_token, unexpired).ok());
  CHECK(storage->ListSigningKeys(KeyPurpose::kAccess)->size() == 1);
  // The signing key is never retired by age, and cannot be retired by hand.
  const std::string kid = KidOf(*ring->Sign(Claims(clock)));
  CHECK(ring->Retire(kid).code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("OpenIdentityKeyRing reads the servers' identity key and never makes one") {
  const std::string dir = MakeTestTempDir("identity-ring");
  const std::string url = "sqlite://" + dir + "/a.db";
  const std::string secret = "the servers' jwt secret";
  // No file: refused, and none is made.
  auto missing = OpenIdentityKeyRing(url, secret);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().reason() == "no_signing_key");
  CHECK_FALSE(std::filesystem::exists(dir + "/a.db"));
  {
    // A database without an identity key: refused, still without one.
    auto storage = OpenStorage(url);
    REQUIRE(storage.ok());
    auto none = OpenIdentityKeyRing(url, secret);
    REQUIRE_FALSE(none.ok());
    CHECK(none.status().reason() == "no_signing_key");
    CHECK((*storage)->ListSigningKeys(KeyPurpose::kIdentity)->empty());
  }
  // A server's ring makes the key; the read-only ring signs with it.
  FakeClock clock;
  auto storage = OpenStorage(url);
  REQUIRE(storage.ok());
  StoredKeyRingOptions o;
  o.purpose = KeyPurpose::kIdentity;
  o.seal_secret = secret;
  auto server = OpenStoredKeyRing(std::shared_ptr<Storage>(std::move(*storage)), clock, o);
  REQUIRE(server.ok());
  auto ring = OpenIdentityKeyRing(url, secret);
  REQUIRE(ring.ok());
  CHECK((*ring)->Jwks() == (*server)->Jwks());
  CHECK((*ring)->Rotate().code() == StatusCode::kFailedPrecondition);
  // Another secret opens none of it.
  CHECK(OpenIdentityKeyRing(url, "another secret").status().reason() == "no_signing_key");
  std::filesystem::remove_all(dir);
}

}  // TEST_SUITE
