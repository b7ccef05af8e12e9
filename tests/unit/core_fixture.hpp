// An embedded instance on a private in-memory SQLite database with a fake
// clock and a memory mailer, plus helpers to make users and principals.
#ifndef ASSISTANT_TESTS_UNIT_CORE_FIXTURE_HPP_
#define ASSISTANT_TESTS_UNIT_CORE_FIXTURE_HPP_

#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>

#include "assistant/clock.hpp"
#include "assistant/core.hpp"
#include "assistant/mailer.hpp"

namespace assistant::testing {

inline Options FastOptions(std::shared_ptr<FakeClock> clock) {
  Options o;
  o.database_url = "sqlite::memory:";
  o.clock = std::move(clock);
  o.mailer = std::make_shared<MemoryMailer>();
  o.auth.jwt_secret = "unit-test-secret-unit-test-secret-0123";
  // Tests only: Argon2 at its cheapest.
  o.auth.password_hash.memory_kib = 8;
  o.auth.password_hash.iterations = 1;
  o.auth.password_hash.parallelism = 1;
  return o;
}

struct CoreFixture {
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::unique_ptr<Assistant> core;
  RequestContext ctx{"127.0.0.1", std::string("unit-test"), "req-1"};

  CoreFixture() : CoreFixture(FastOptions(nullptr)) {}
  explicit CoreFixture(Options o) : CoreFixture(std::move(o), nullptr) {}
  // On storage the test opened (or wrapped); null: the options' database.
  CoreFixture(Options o, std::shared_ptr<Storage> storage) {
    if (!o.clock) o.clock = clock;
    auto opened = storage ? Assistant::Open(o, std::move(storage)) : Assistant::Open(o);
    if (!opened.ok()) FAIL(opened.status().ToString());
    core = std::move(*opened);
  }

  // A user stored directly (no password work), as the embedding program
  // would see it: Principal::ForUser carries every scope.
  Principal NewUser(const std::string& email) {
    UserRecord r;
    r.user.id = NewId();
    r.user.email = email;
    r.user.name = email.substr(0, email.find('@'));
    r.user.created_at = r.user.updated_at = clock->Now();
    r.password_hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    Status s = core->storage().CreateUser(r);
    if (!s.ok()) FAIL(s.ToString());
    return Principal::ForUser(r.user.id);
  }

  // What an API key with exactly these scopes authenticates as.
  static Principal WithScopes(const Principal& user, std::set<std::string> scopes) {
    Principal p;
    p.kind = Principal::Kind::kApiKey;
    p.user_id = user.user_id;
    p.api_key_id = "key-" + user.user_id;
    p.scopes = std::move(scopes);
    return p;
  }
};

}  // namespace assistant::testing

#endif  // ASSISTANT_TESTS_UNIT_CORE_FIXTURE_HPP_
