// Password hashing: Argon2id round trips, bcrypt imports, rehash decisions,
// password rules and the pool's fail-fast behaviour.
#include <crypt.h>
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "crypto/password_hasher.hpp"

using namespace assistant;
using crypto::PasswordHasher;

namespace {

PasswordHashOptions Cheap() {
  PasswordHashOptions o;
  o.memory_kib = 1024;
  o.iterations = 1;
  o.parallelism = 1;
  o.threads = 2;
  return o;
}

std::string Bcrypt(const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  REQUIRE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, setting, sizeof setting) != nullptr);
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), setting, data.get(), sizeof(crypt_data));
  REQUIRE(out != nullptr);
  std::string h = out;
  REQUIRE(h.rfind("$2b$04$", 0) == 0);
  return h;
}

}  // namespace

TEST_SUITE("password") {

TEST_CASE("argon2id hashes verify and wrong passwords do not") {
  auto h = PasswordHasher::Create(Cheap());
  REQUIRE(h.ok());
  auto hash = (*h)->Hash("correct horse battery");
  REQUIRE(hash.ok());
  CHECK(hash->rfind("$argon2id$v=19$m=1024,t=1,p=1$", 0) == 0);
  CHECK(hash->find("correct horse") == std::string::npos);
  CHECK((*h)->Verify("correct horse battery", *hash).value());
  CHECK_FALSE((*h)->Verify("correct horse batterz", *hash).value());
  CHECK_FALSE((*h)->Verify("", *hash).value());
  // Salted: the same password hashes differently each time.
  CHECK(*(*h)->Hash("correct horse battery") != *hash);
  // Unknown or malformed formats never match.
  CHECK_FALSE((*h)->Verify("x", "").value());
  CHECK_FALSE((*h)->Verify("correct horse battery", "$argon2id$garbage").value());
  CHECK_FALSE((*h)->Verify("correct horse battery", "plaintext").value());
  CHECK_FALSE((*h)->Verify("correct horse battery", "$1$abc$def").value());
}

TEST_CASE("default cost is OWASP's Argon2id minimum") {
  PasswordHashOptions o;  // defaults
  auto h = PasswordHasher::Create(o);
  REQUIRE(h.ok());
  auto hash = (*h)->Hash("a long enough password");
  REQUIRE(hash.ok());
  CHECK(hash->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0) == 0);
  CHECK((*h)->Verify("a long enough password", *hash).value());
  CHECK_FALSE((*h)->NeedsRehash(*hash));
}

TEST_CASE("imported bcrypt hashes verify and need a rehash") {
  auto h = PasswordHasher::Create(Cheap());
  REQUIRE(h.ok());
  std::string b = Bcrypt("hunter2hunter2");
  CHECK((*h)->Verify("hunter2hunter2", b).value());
  CHECK_FALSE((*h)->Verify("hunter2hunter3", b).value());
  CHECK((*h)->NeedsRehash(b));
  // $2a$ and $2y$ spellings of the same hash are accepted too.
  for (const char* variant : {"$2a$", "$2y$"}) {
    std::string v = variant + b.substr(4);
    CHECK((*h)->Verify("hunter2hunter2", v).value());
  }
  // A NUL byte cannot sneak past bcrypt's C-string handling.
  CHECK_FALSE((*h)->Verify(std::string("hunter2hunter2\0extra", 20), b).value());
}

TEST_CASE("rehash when the stored argon2 cost is below the configured one") {
  auto cheap = PasswordHasher::Create(Cheap());
  REQUIRE(cheap.ok());
  std::string weak = *(*cheap)->Hash("password-one");
  CHECK_FALSE((*cheap)->NeedsRehash(weak));
  PasswordHashOptions stronger = Cheap();
  stronger.iterations = 2;
  auto strong = PasswordHasher::Create(stronger);
  REQUIRE(strong.ok());
  CHECK((*strong)->NeedsRehash(weak));
  CHECK((*strong)->Verify("password-one", weak).value());  // still verifies
  CHECK((*strong)->NeedsRehash("$argon2i$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA"));
  CHECK((*strong)->NeedsRehash("garbage"));
}

TEST_CASE("password rules count characters, not bytes") {
  CHECK(crypto::ValidatePassword("12345678").ok());
  CHECK(crypto::ValidatePassword("1234567").field() == "password");
  CHECK(crypto::ValidatePassword("").code() == StatusCode::kInvalidArgument);
  // Eight characters, sixteen bytes.
  CHECK(crypto::ValidatePassword("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9").ok());
  // Seven two-byte characters are too few even though they are 14 bytes.
  CHECK_FALSE(crypto::ValidatePassword("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9").ok());
  CHECK(crypto::ValidatePassword(std::string(1024, 'a')).ok());
  CHECK(crypto::ValidatePassword(std::string(1025, 'a')).field() == "password");
  CHECK_FALSE(crypto::ValidatePassword("valid-but-\xff-bytes").ok());
}

TEST_CASE("unusable pool or cost options are refused") {
  PasswordHashOptions o = Cheap();
  o.threads = 0;
  CHECK(PasswordHasher::Create(o).status().code() == StatusCode::kInvalidArgument);
  o = Cheap();
  o.iterations = 0;
  CHECK(PasswordHasher::Create(o).status().code() == StatusCode::kInvalidArgument);
  o = Cheap();
  o.parallelism = 0;
  CHECK_FALSE(PasswordHasher::Create(o).ok());
}

TEST_CASE("a saturated pool fails fast with busy") {
  PasswordHashOptions o;
  o.memory_kib = 16 * 1024;
  o.iterations = 3;
  o.parallelism = 1;
  o.threads = 1;
  o.queue_limit = 1;
  auto h = PasswordHasher::Create(o);
  REQUIRE(h.ok());
  PasswordHasher& hasher = **h;
  std::atomic<int> ok{0}, busy{0}, other{0}, ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      // Start together, so the burst really overlaps.
      ++ready;
      while (ready.load() < 8) std::this_thread::yield();
      auto r = hasher.Hash("a password to hash");
      if (r.ok()) {
        ++ok;
      } else if (r.status().code() == StatusCode::kResourceExhausted &&
                 r.status().reason() == "busy") {
        ++busy;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  // One runs, one waits; the rest of the simultaneous burst is refused.
  CHECK(ok >= 2);
  CHECK(busy >= 1);
  CHECK(other == 0);
  CHECK(ok + busy == 8);
  // Once the burst is over the pool serves again.
  CHECK(hasher.Hash("a password to hash").ok());
}

TEST_CASE("with no queue an idle worker still takes a job") {
  PasswordHashOptions o = Cheap();
  o.threads = 1;
  o.queue_limit = 0;
  auto h = PasswordHasher::Create(o);
  REQUIRE(h.ok());
  for (int i = 0; i < 3; ++i) CHECK((*h)->Hash("a password to hash").ok());
}

}  // TEST_SUITE
