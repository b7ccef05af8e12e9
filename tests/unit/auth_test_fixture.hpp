// Shared set-up of the auth tests: real in-memory SQLite storage, a fake
// clock, a memory mailer, and cheap Argon2 costs so the suite stays fast.
#ifndef ASSISTANT_TESTS_UNIT_AUTH_TEST_FIXTURE_HPP_
#define ASSISTANT_TESTS_UNIT_AUTH_TEST_FIXTURE_HPP_

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "assistant/auth.hpp"
#include "assistant/clock.hpp"
#include "assistant/mailer.hpp"
#include "assistant/options.hpp"
#include "assistant/storage.hpp"
#include "auth/auth_service_impl.hpp"
#include "services/audit_log.hpp"

namespace assistant::testing {

inline AuthOptions CheapAuthOptions() {
  AuthOptions o;
  o.jwt_secret = "test-secret-0123456789abcdef0123456789";
  o.password_hash.memory_kib = 1024;
  o.password_hash.iterations = 1;
  o.password_hash.parallelism = 1;
  return o;
}

inline RequestContext Ctx(std::string request_id = "req-1") {
  RequestContext c;
  c.ip = "203.0.113.7";
  c.user_agent = "test-agent/1.0";
  c.request_id = std::move(request_id);
  return c;
}

// One "server": an AuthService over shared storage and clock.
struct AuthInstance {
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<AuthService> auth;
};

struct AuthFixture {
  std::shared_ptr<Storage> storage;
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::shared_ptr<MemoryMailer> mailer = std::make_shared<MemoryMailer>();
  AuthOptions options;
  std::vector<AuthInstance> instances;

  explicit AuthFixture(AuthOptions o = CheapAuthOptions()) : options(std::move(o)) {
    auto s = OpenStorage("sqlite::memory:");
    REQUIRE(s.ok());
    storage = std::shared_ptr<Storage>(std::move(s).value());
    AddInstance();
  }

  // Another server on the same database and keys.
  AuthService& AddInstance(AuthOptions o) {
    AuthInstance inst;
    inst.audit = std::make_unique<AuditLog>(*storage, *clock);
    AuthDeps deps;
    deps.storage = storage;
    deps.clock = clock.get();
    deps.mailer = mailer;
    deps.audit = inst.audit.get();
    deps.options = std::move(o);
    auto a = NewAuthService(std::move(deps));
    REQUIRE(a.ok());
    inst.auth = std::move(a).value();
    instances.push_back(std::move(inst));
    return *instances.back().auth;
  }
  AuthService& AddInstance() { return AddInstance(options); }

  AuthService& auth() { return *instances.front().auth; }

  AuthResult Register(const std::string& email, const std::string& password = "correct horse",
                      const std::string& name = "Ann") {
    auto r = auth().Register({email, password, name}, Ctx());
    REQUIRE(r.ok());
    return std::move(r).value();
  }

  std::vector<AuditEvent> Audit(const std::string& user_id) {
    auto r = storage->ListAudit(user_id, 200, std::nullopt);
    REQUIRE(r.ok());
    return std::move(r).value();
  }

  int CountAudit(const std::string& user_id, const std::string& type, const std::string& outcome) {
    int n = 0;
    for (const AuditEvent& e : Audit(user_id)) {
      if (e.type == type && AuditOutcomeName(e.outcome) == outcome) ++n;
    }
    return n;
  }
};

inline void CheckUnauthenticated(const Status& s, const char* reason) {
  CHECK(s.code() == StatusCode::kUnauthenticated);
  CHECK(s.reason() == reason);
}

}  // namespace assistant::testing

#endif  // ASSISTANT_TESTS_UNIT_AUTH_TEST_FIXTURE_HPP_
