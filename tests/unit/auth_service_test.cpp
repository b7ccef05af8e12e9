// AuthService scenarios on real SQLite storage: registration, login,
// refresh rotation with grace and reuse detection, logout, sessions,
// password reset, email verification, bcrypt upgrade and the audit trail.
#include <crypt.h>
#include <doctest/doctest.h>

#include "auth_test_fixture.hpp"
#include "crypto/crypto_util.hpp"

using namespace assistant;
using namespace assistant::testing;

TEST_SUITE("auth") {

TEST_CASE("register then login; the access token authenticates with every scope") {
  AuthFixture f;
  auto reg = f.auth().Register({"  Ann@Example.COM ", "correct horse", " Ann\x01 Smith "}, Ctx());
  REQUIRE(reg.ok());
  CHECK(reg->user.email == "ann@example.com");
  CHECK(reg->user.name == "Ann Smith");
  CHECK_FALSE(reg->user.email_verified);
  CHECK(reg->tokens.token_type == "Bearer");
  CHECK(reg->tokens.expires_in == 900);
  CHECK(reg->tokens.refresh_token.rfind("rt_", 0) == 0);
  CHECK_FALSE(reg->tokens.session_id.empty());

  auto p = f.auth().Authenticate(reg->tokens.access_token);
  REQUIRE(p.ok());
  CHECK(p->kind == Principal::Kind::kUser);
  CHECK(p->user_id == reg->user.id);
  CHECK(p->session_id == reg->tokens.session_id);
  CHECK(p->HasScope("tasks:write"));
  CHECK(p->scopes.count("*") == 1);

  auto v = f.auth().Verify(reg->tokens.access_token);
  REQUIRE(v.ok());
  CHECK(v->user.id == reg->user.id);
  CHECK(v->claims["sub"] == reg->user.id);
  CHECK(v->claims["sid"] == reg->tokens.session_id);
  CHECK(v->claims["scope"] == "*");
  CHECK(v->claims["iss"] == "libassistant");
  CHECK(v->claims["aud"] == "libassistant");
  CHECK(v->claims["exp"].get<int64_t>() - v->claims["iat"].get<int64_t>() == 900);
  CHECK(v->claims.contains("jti"));

  // Login is case-insensitive on the email and opens a second session.
  auto login = f.auth().Login("ANN@example.com", "correct horse", Ctx());
  REQUIRE(login.ok());
  CHECK(login->user.id == reg->user.id);
  CHECK(login->tokens.session_id != reg->tokens.session_id);
  CHECK(f.auth().Authenticate(login->tokens.access_token).ok());
  CHECK(f.CountAudit(reg->user.id, "user.registered", "ok") == 1);
  CHECK(f.CountAudit(reg->user.id, "auth.login", "ok") == 1);
}

TEST_CASE("registration validates every field and refuses a taken email") {
  AuthFixture f;
  auto bad_email = f.auth().Register({"not-an-email", "correct horse", "A"}, Ctx());
  CHECK(bad_email.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad_email.status().field() == "email");
  CHECK(f.auth().Register({"", "correct horse", "A"}, Ctx()).status().field() == "email");
  auto short_pw = f.auth().Register({"a@example.com", "short", "A"}, Ctx());
  CHECK(short_pw.status().code() == StatusCode::kInvalidArgument);
  CHECK(short_pw.status().field() == "password");
  CHECK(f.auth().Register({"a@example.com", std::string(1025, 'x'), "A"}, Ctx()).status().field() ==
        "password");
  CHECK(f.auth().Register({"a@example.com", "correct horse", std::string(201, 'n')}, Ctx())
            .status()
            .field() == "name");
  CHECK(f.auth().Register({"a@example.com", "correct horse", "bad \xff utf8"}, Ctx())
            .status()
            .code() == StatusCode::kInvalidArgument);
  // An empty name is allowed.
  f.Register("a@example.com", "correct horse", "");
  auto taken = f.auth().Register({"A@EXAMPLE.com", "another password", "B"}, Ctx());
  CHECK(taken.status().code() == StatusCode::kAlreadyExists);
  CHECK(taken.status().reason() == "email_taken");
}

TEST_CASE("wrong email and wrong password look the same; failures are audited") {
  AuthFixture f;
  AuthResult ann = f.Register("ann@example.com");
  auto wrong_pw = f.auth().Login("ann@example.com", "wrong password", Ctx());
  auto wrong_email = f.auth().Login("nobody@example.com", "correct horse", Ctx());
  auto garbage = f.auth().Login("", "", Ctx());
  for (const auto* r : {&wrong_pw, &wrong_email, &garbage}) {
    REQUIRE_FALSE(r->ok());
    CheckUnauthenticated(r->status(), "invalid_credentials");
  }
  CHECK(wrong_pw.status().message() == wrong_email.status().message());
  // The failed login for the existing account is in its own log.
  CHECK(f.CountAudit(ann.user.id, "auth.login", "failed") == 1);
  // An absurdly long password is refused without work, same answer.
  CheckUnauthenticated(f.auth().Login("ann@example.com", std::string(5000, 'p'), Ctx()).status(),
                       "invalid_credentials");
}

TEST_CASE("refresh rotates the pair; the new refresh token works, the access token too") {
  AuthFixture f;
  AuthResult ann = f.Register("ann@example.com");
  f.clock->Advance(std::chrono::seconds(30));
  auto r1 = f.auth().Refresh(ann.tokens.refresh_token, Ctx());
  REQUIRE(r1.ok());
  CHECK(r1->tokens.refresh_token != ann.tokens.refresh_token);
  CHECK(r1->tokens.access_token != ann.tokens.access_token);
  CHECK(r1->tokens.session_id == ann.tokens.session_id);
  CHECK(r1->user.id == ann.user.id);
  auto p = f.auth().Authenticate(r1->tokens.access_token);
  REQUIRE(p.ok());
  CHECK(p->session_id == ann.tokens.session_id);
  f.clock->Advance(std::chrono::seconds(30));
  auto r2 = f.auth().Refresh(r1->tokens.refresh_token, Ctx());
  REQUIRE(r2.ok());
  CHECK(r2->tokens.refresh_token != r1->tokens.refresh_token);
  CHECK(f.CountAudit(ann.user.id, "auth.refresh", "ok") == 2);
}

TEST_CASE("a reused refresh token within the grace window gets the identical pair") {
  AuthFixture f;
  AuthService& other_server = f.AddInstance();
  AuthResult ann = f.Register("ann@example.com");
  auto first = f.auth().Refresh(ann.tokens.refresh_token, Ctx());
  REQUIRE(first.ok());
  f.clock->Advance(std::chrono::seconds(9));
  auto second = f.auth().Refresh(ann.tokens.refresh_token, Ctx());
  REQUIRE(second.ok());
  CHECK(second->tokens.access_token == first->tokens.access_token);
  CHECK(second->tokens.refresh_token == first->tokens.refresh_token);
  CHECK(second->tokens.expires_in == first->tokens.expires_in);
  // Another server sharing the database and secret answers the same.
  auto third = other_server.Refresh(ann.tokens.refresh_token, Ctx());
  REQUIRE(third.ok());
  CHECK(third->tokens.access_token == first->tokens.access_token);
  CHECK(third->tokens.refresh_token == first->tokens.refresh_token);
  // The session is intact and the successor still rotates normally.
  CHECK(f.auth().Authenticate(first->tokens.access_token).ok());
  auto next = f.auth().Refresh(first->tokens.refresh_token, Ctx());
  REQUIRE(next.ok());
  CHECK(next->tokens.refresh_token != first->tokens.refresh_token);
}

TEST_CASE("reuse after the grace window revokes the family at once") {
  AuthFixture f;
  AuthService& other_server = f.AddInstance();
  AuthResult ann = f.Register("ann@example.com");
  auto first = f.auth().Refresh(ann.tokens.refresh_token, Ctx());
  REQUIRE(first.ok());
  f.clock->Advance(std::chrono::seconds(11));
  // Both servers have just seen the session live (and cached it).
  REQUIRE(f.auth().Authenticate(first->tokens.access_token).ok());
  REQUIRE(other_server.Authenticate(first->tokens.access_token).ok());
  auto reuse = f.auth().Refresh(ann.tokens.refresh_token, Ctx("req-reuse"));
  REQUIRE_FALSE(reuse.ok());
  CheckUnauthenticated(reuse.status(), "refresh_token_reused");
  // On this server the session's access tokens stop at once.
  CheckUnauthenticated(f.auth().Authenticate(first->tokens.access_token).status(), "invalid_token");
  CheckUnauthenticated(f.auth().Authenticate(ann.tokens.access_token).status(), "invalid_token");
  // Another server may answer from its cache for at most session_cache_ttl,
  // then sees the revocation.
  CHECK(other_server.Authenticate(first->tokens.access_token).ok());
  f.clock->Advance(f.options.session_cache_ttl);
  CheckUnauthenticated(other_server.Authenticate(first->tokens.access_token).status(),
                       "invalid_token");
  // The successor is dead too: the whole family is gone.
  CheckUnauthenticated(f.auth().Refresh(first->tokens.refresh_token, Ctx()).status(),
                       "invalid_token");
  bool found = false;
  for (const AuditEvent& e : f.Audit(ann.user.id)) {
    if (e.type == "auth.refresh" && e.outcome == AuditOutcome::kFailed) {
      found = true;
      CHECK(e.details["reason"] == "reuse");
      CHECK(e.request_id == "req-reuse");
    }
  }
  CHECK(found);
}

TEST_CASE("with no grace window any reuse revokes") {
  AuthOptions o = CheapAuthOptions();
  o.refresh_grace = std::chrono::seconds(0);
  AuthFixture f(o);
  AuthResult ann = f.Register("ann@example.com");
  auto first = f.auth().Refresh(ann.tokens.refresh_token, Ctx());
  REQUIRE(first.ok());
  CheckUnauthenticated(f.auth().Refresh(ann.tokens.refresh_token, Ctx()).status(),
                       "refresh_token_reused");
  CheckUnauthenticated(f.auth().Authenticate(first->tokens.access_token).status(), "invalid_token");
}

TEST_CASE("expired and forged refresh tokens are refused") {
  AuthFixture f;
  AuthResult ann = f.Register("ann@example.com");
  for (std::string bad : {std::string(), std::string("rt_"), std::string("rt_x.y"),
                          std::string("garbage"), "rt_" + ann.tokens.session_id + ".forged",
                          ann.tokens.refresh_token + "x", std::string(600, 'r')}) {
    CheckUnauthenticated(f.auth().Refresh(bad, Ctx()).status(), "invalid_token");
  }
  // Swapping in another session's id does not make a token valid.
  AuthResult bob = f.Register("bob@example.com");
  std::string secret = ann.tokens.refresh_token.substr(ann.tokens.refresh_token.find('.'));
  CheckUnauthenticated(f.auth().Refresh("rt_" + bob.tokens.session_id + secret, Ctx()).status(),
                       "invalid_token");
  // The forged attempts did not hurt the real token.
  CHECK(f.auth().Refresh(ann.tokens.refresh_token, Ctx()).ok());
  // Past the refresh lifetime nothing refreshes.
  AuthResult carl = f.Register("carl@example.com");
  f.clock->Advance(f.options.refresh_token_ttl + std::chrono::seconds(1));
  CheckUnauthenticated(f.auth().Refresh(carl.tokens.refresh_token, Ctx()).status(),
                       "invalid_token");
}

TEST_CASE("access tokens expire; garbage credentials are refused") {
  AuthFixture f;
  AuthResult ann = f.Register("ann@example.com");
  for (std::string bad : {std::string(), std::string("Bearer x"), std::string("a.b.c"),
                          std::string(9000, 'a'), std::string("ak_"), std::string("ak_nope")}) {
    CheckUnauthenticated(f.auth().Authenticate(bad).status(), "invalid_token");
  }
  // A token signed with another secret.
  AuthOptions o = CheapAuthOptions();
  o.jwt_secret = "another-secret-entirely-0123456789";
  AuthService& foreign = f.AddInstance(o);
  CheckUnauthenticated(f.auth().Authenticate(
                                ann.tokens.access_token.substr(0, ann.tokens.access_token.size() - 2) +
                                "AA")
                           .status(),
                       "invalid_token");
  CheckUnauthenticated(foreign.Authenticate(ann.tokens.access_token).status(), "invalid_token");
  f.clock->Advance(std::chrono::minutes(15));
  CheckUnauthenticated(f.auth().Authenticate(ann.tokens.access_token).status(), "token_expired");
}

TEST_CASE("a token verified before is still refused once expired or its session ends") {
  // Authenticate remembers verified tokens; the memory must never outlive
  // the token's exp nor skip the session check.
  AuthFixture f;
  AuthResult ann = f.Register("ann@example.com");
  REQUIRE(f.auth().Authenticate(ann.tokens.access_token).ok());
  f.clock->Advance(std::chrono::minutes(14));
  REQUIRE(f.auth().Authenticate(ann.tokens.access_token).ok());
  f.clock->Advance(std::chrono::minutes(1));
  CheckUnauthenticated(f.auth().Authenticate(ann.tokens.access_token).status(), "token_expired");

  AuthResult bob = f.Register("bob@example.com");
  auto who = f.auth().Authenticate(bob.tokens.access_token);
  REQUIRE(who.ok());
  REQUIRE(f.auth().Logout(*who, {}).ok());
  CheckUnauthenticated(f.auth().Authenticate(bob.tokens.access_token).status(), "invalid_token");
}

TEST_CASE("logout revokes the session; an API key cannot log out") {
  AuthFixture f;
  AuthResult ann = f.Register("ann@example.com");
  auto p = f.auth().Authenticate(ann.tokens.access_token);
  REQUIRE(p.ok());
  REQUIRE(f.auth().Logout(*p, Ctx()).ok());
  CheckUnauthenticated(f.auth().Authenticate(ann.tokens.access_token).status(), "invalid_token");
  CheckUnauthenticated(f.auth().Refresh(ann.tokens.refresh_token, Ctx()).status(),
                       "invalid_token");
  CHECK(f.CountAudit(ann.user.id, "auth.logout", "ok") == 1);

  auto login = f.auth().Login("ann@example.com", "correct horse", Ctx());
  REQUIRE(login.ok());
  auto lp = f.auth().Authenticate(login->tokens.access_token);
  REQUIRE(lp.ok());
  auto key = f.auth().CreateApiKey(*lp, {"ci", {"tasks:read"}, std::nullopt}, Ctx());
  REQUIRE(key.ok());
  auto kp = f.auth().Authenticate(key->key);
  REQUIRE(kp.ok());
  Status s = f.auth().Logout(*kp, Ctx());
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(s.reason() == "not_a_session");
  CHECK(f.auth().Logout(Principal::ForUser(ann.user.id), Ctx()).reason() == "not_a_session");
}

TEST_CASE("sessions are listed and revoked by their owner only") {
  AuthFixture f;
  AuthResult ann = f.Register("ann@example.com");
  auto second = f.auth().Login("ann@example.com", "correct horse", Ctx());
  REQUIRE(second.ok());
  AuthResult bob = f.Register("bob@example.com");
  Principal ann_p = *f.auth().Authenticate(ann.tokens.access_token);
  Principal bob_p = *f.auth().Authenticate(bob.tokens.access_token);

  auto list = f.auth().ListSessions(ann_p);
  REQUIRE(list.ok());
  CHECK(list->size() == 2);
  for (const Session& s : *list) {
    CHECK(s.user_id == ann.user.id);
    CHECK(s.ip == "203.0.113.7");
    CHECK(s.user_agent == "test-agent/1.0");
  }
  // Bob cannot see or revoke Ann's session: it is NotFound, like a missing one.
  CHECK(f.auth().RevokeSession(bob_p, ann.tokens.session_id, Ctx()).code() ==
        StatusCode::kNotFound);
  CHECK(f.auth().RevokeSession(bob_p, "no-such-session", Ctx()).code() == StatusCode::kNotFound);
  CHECK(f.auth().Authenticate(ann.tokens.access_token).ok());

  REQUIRE(f.auth().Authenticate(second->tokens.access_token).ok());  // cached live
  REQUIRE(f.auth().RevokeSession(ann_p, second->tokens.session_id, Ctx()).ok());
  CheckUnauthenticated(f.auth().Authenticate(second->tokens.access_token).status(),
                       "invalid_token");
  CHECK(f.auth().ListSessions(ann_p)->size() == 1);
  CHECK(f.CountAudit(ann.user.id, "session.revoked", "ok") == 1);

  // Scopes: listing needs user:read, revoking user:write.
  auto key = f.auth().CreateApiKey(ann_p, {"reader", {"user:read"}, std::nullopt}, Ctx());
  REQUIRE(key.ok());
  Principal kp = *f.auth().Authenticate(key->key);
  CHECK(f.auth().ListSessions(kp).ok());
  Status denied = f.auth().RevokeSession(kp, ann.tokens.session_id, Ctx());
  CHECK(denied.code() == StatusCode::kPermissionDenied);
  CHECK(denied.reason() == "insufficient_scope");
}

TEST_CASE("password reset by mail: single use, expiring, revokes every session") {
  AuthFixture f;
  AuthResult ann = f.Register("ann@example.com");
  auto second = f.auth().Login("ann@example.com", "correct horse", Ctx());
  REQUIRE(second.ok());

  // Unknown addresses get the same OK and no mail.
  REQUIRE(f.auth().ForgotPassword("nobody@example.com", Ctx()).ok());
  CHECK(f.mailer->sent().empty());
  CHECK(f.auth().ForgotPassword("not an email", Ctx()).field() == "email");

  REQUIRE(f.auth().ForgotPassword("ANN@example.com", Ctx()).ok());
  REQUIRE(f.mailer->sent().size() == 1);
  MailMessage m = f.mailer->sent()[0];
  CHECK(m.to == "ann@example.com");
  CHECK(m.kind == "password_reset");
  CHECK_FALSE(m.token.empty());
  CHECK(m.body.find(m.token) != std::string::npos);

  // Both sessions are live and cached right before the reset.
  REQUIRE(f.auth().Authenticate(ann.tokens.access_token).ok());
  REQUIRE(f.auth().Authenticate(second->tokens.access_token).ok());
  // A bad new password does not use the token up.
  CHECK(f.auth().ResetPassword(m.token, "short", Ctx()).field() == "password");
  REQUIRE(f.auth().ResetPassword(m.token, "a brand new password", Ctx()).ok());
  CheckUnauthenticated(f.auth().Authenticate(ann.tokens.access_token).status(), "invalid_token");
  CheckUnauthenticated(f.auth().Authenticate(second->tokens.access_token).status(),
                       "invalid_token");
  CheckUnauthenticated(f.auth().Refresh(second->tokens.refresh_token, Ctx()).status(),
                       "invalid_token");
  CheckUnauthenticated(f.auth().Login("ann@example.com", "correct horse", Ctx()).status(),
                       "invalid_credentials");
  CHECK(f.auth().Login("ann@example.com", "a brand new password", Ctx()).ok());
  // Single use.
  CheckUnauthenticated(f.auth().ResetPassword(m.token, "yet another password", Ctx()),
                       "invalid_token");
  CheckUnauthenticated(f.auth().ResetPassword("made-up-token", "yet another password", Ctx()),
                       "invalid_token");
  CHECK(f.CountAudit(ann.user.id, "auth.password_reset", "ok") == 1);

  // Expired after password_reset_ttl.
  REQUIRE(f.auth().ForgotPassword("ann@example.com", Ctx()).ok());
  REQUIRE(f.mailer->sent().size() == 2);
  std::string late = f.mailer->sent()[1].token;
  f.clock->Advance(f.options.password_reset_ttl + std::chrono::seconds(1));
  CheckUnauthenticated(f.auth().ResetPassword(late, "yet another password", Ctx()),
                       "invalid_token");
}

TEST_CASE("email verification by mail") {
  AuthFixture f;
  AuthResult ann = f.Register("ann@example.com");
  Principal p = *f.auth().Authenticate(ann.tokens.access_token);
  REQUIRE(f.auth().SendVerificationEmail(p, Ctx()).ok());
  REQUIRE(f.mailer->sent().size() == 1);
  MailMessage m = f.mailer->sent()[0];
  CHECK(m.kind == "email_verification");
  CHECK(m.to == "ann@example.com");
  // A verification token is not a reset token.
  CheckUnauthenticated(f.auth().ResetPassword(m.token, "a brand new password", Ctx()),
                       "invalid_token");
  // (Consuming with the wrong purpose must not have used it up.)
  REQUIRE(f.auth().VerifyEmail(m.token, Ctx()).ok());
  auto v = f.auth().Verify(ann.tokens.access_token);
  REQUIRE(v.ok());
  CHECK(v->user.email_verified);
  CheckUnauthenticated(f.auth().VerifyEmail(m.token, Ctx()), "invalid_token");
  CHECK(f.auth().SendVerificationEmail(p, Ctx()).reason() == "already_verified");
}

TEST_CASE("an imported bcrypt hash logs in and is upgraded to argon2id") {
  AuthFixture f;
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  REQUIRE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, setting, sizeof setting) != nullptr);
  auto data = std::make_unique<crypt_data>();
  const char* bcrypt = crypt_rn("legacy password", setting, data.get(), sizeof(crypt_data));
  REQUIRE(bcrypt != nullptr);
  UserRecord rec;
  rec.user.id = NewId();
  rec.user.email = "old@example.com";
  rec.user.name = "Old";
  rec.user.created_at = rec.user.updated_at = f.clock->Now();
  rec.password_hash = bcrypt;
  REQUIRE(f.storage->CreateUser(rec).ok());

  CheckUnauthenticated(f.auth().Login("old@example.com", "wrong password", Ctx()).status(),
                       "invalid_credentials");
  CHECK(f.storage->GetUserById(rec.user.id)->password_hash.rfind("$2b$04$", 0) == 0);
  auto login = f.auth().Login("old@example.com", "legacy password", Ctx());
  REQUIRE(login.ok());
  std::string upgraded = f.storage->GetUserById(rec.user.id)->password_hash;
  CHECK(upgraded.rfind("$argon2id$v=19$m=1024,t=1,p=1$", 0) == 0);
  CHECK(f.auth().Login("old@example.com", "legacy password", Ctx()).ok());
}

TEST_CASE("the audit trail records auth events without secrets") {
  AuthFixture f;
  const std::string password = "correct horse";
  AuthResult ann = f.Register("ann@example.com", password);
  CHECK_FALSE(f.auth().Login("ann@example.com", "my wrong secret", Ctx()).ok());
  auto refreshed = f.auth().Refresh(ann.tokens.refresh_token, Ctx());
  REQUIRE(refreshed.ok());
  Principal p = *f.auth().Authenticate(refreshed->tokens.access_token);
  auto key = f.auth().CreateApiKey(p, {"ci", {"tasks:read"}, 3600}, Ctx());
  REQUIRE(key.ok());
  REQUIRE(f.auth().RevokeApiKey(p, key->api_key.id, Ctx()).ok());
  REQUIRE(f.auth().ForgotPassword("ann@example.com", Ctx()).ok());
  std::string reset_token = f.mailer->sent().back().token;
  REQUIRE(f.auth().ResetPassword(reset_token, "the new password", Ctx()).ok());
  f.clock->Advance(std::chrono::seconds(20));
  CHECK_FALSE(f.auth().Refresh(ann.tokens.refresh_token, Ctx()).ok());

  std::vector<AuditEvent> events = f.Audit(ann.user.id);
  std::set<std::string> types;
  for (const AuditEvent& e : events) {
    types.insert(e.type + "/" + AuditOutcomeName(e.outcome));
    CHECK(e.ip == "203.0.113.7");
    CHECK(e.user_agent == std::optional<std::string>("test-agent/1.0"));
    CHECK(e.details.is_object());
    std::string all = e.details.dump() + e.type + AuditOutcomeName(e.outcome) + e.request_id + e.ip;
    for (const std::string& secret :
         {password, std::string("my wrong secret"), std::string("the new password"),
          ann.tokens.refresh_token, ann.tokens.access_token, refreshed->tokens.refresh_token,
          refreshed->tokens.access_token, key->key, reset_token,
          crypto::Sha256Hex(ann.tokens.refresh_token), crypto::Sha256Hex(key->key)}) {
      CHECK_MESSAGE(all.find(secret) == std::string::npos, e.type);
    }
  }
  for (const char* t : {"user.registered/ok", "auth.login/failed", "auth.refresh/ok",
                        "apikey.created/ok", "apikey.revoked/ok", "auth.password_reset/ok"}) {
    CHECK_MESSAGE(types.count(t) == 1, t);
  }
}

TEST_CASE("unusable options are refused") {
  auto storage = OpenStorage("sqlite::memory:");
  REQUIRE(storage.ok());
  std::shared_ptr<Storage> s(std::move(storage).value());
  FakeClock clock;
  AuditLog audit(*s, clock);
  AuthDeps deps;
  deps.storage = s;
  deps.clock = &clock;
  deps.mailer = std::make_shared<MemoryMailer>();
  deps.audit = &audit;
  deps.options = CheapAuthOptions();
  deps.options.jwt_secret.clear();
  auto r = NewAuthService(deps);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().field() == "jwt_secret");
  deps.options = CheapAuthOptions();
  deps.options.access_token_ttl = std::chrono::seconds(0);
  CHECK(NewAuthService(deps).status().code() == StatusCode::kInvalidArgument);
  deps.options = CheapAuthOptions();
  deps.mailer = nullptr;
  CHECK_FALSE(NewAuthService(deps).ok());
}

}  // TEST_SUITE

TEST_CASE("AuthenticateCached answers from memory what Authenticate would, or declines") {
  AuthFixture f;
  AuthService& other_server = f.AddInstance();
  AuthResult ann = f.Register("ann@example.com");
  const std::string& token = ann.tokens.access_token;
  // Refused without any lookup: nothing, or too long to be ours (over 8 KiB).
  auto empty = f.auth().AuthenticateCached("");
  REQUIRE(empty.has_value());
  CheckUnauthenticated(empty->status(), "invalid_token");
  REQUIRE(f.auth().AuthenticateCached(std::string(9000, 'a')).has_value());
  // Never verified here: a signature check is needed, so no answer.
  CHECK_FALSE(f.auth().AuthenticateCached("x.y.z").has_value());
  CHECK_FALSE(other_server.AuthenticateCached(token).has_value());

  Result<Principal> full = f.auth().Authenticate(token);
  REQUIRE(full.ok());
  auto cached = f.auth().AuthenticateCached(token);
  REQUIRE(cached.has_value());
  REQUIRE(cached->ok());
  CHECK(cached->value().user_id == full->user_id);
  CHECK(cached->value().session_id == full->session_id);
  CHECK(cached->value().scopes == full->scopes);

  SUBCASE("once the session's answer is older than session_cache_ttl: declined") {
    f.clock->Advance(f.options.session_cache_ttl);
    CHECK_FALSE(f.auth().AuthenticateCached(token).has_value());
    REQUIRE(f.auth().Authenticate(token).ok());  // checked again
    CHECK(f.auth().AuthenticateCached(token).has_value());
  }
  SUBCASE("a session ended on another server: the stale answer lasts at most session_cache_ttl") {
    Principal p = *other_server.Authenticate(token);
    REQUIRE(other_server.Logout(p, Ctx()).ok());
    CHECK(f.auth().AuthenticateCached(token).value().ok());  // still within the ttl
    f.clock->Advance(f.options.session_cache_ttl);
    CHECK_FALSE(f.auth().AuthenticateCached(token).has_value());
    CheckUnauthenticated(f.auth().Authenticate(token).status(), "invalid_token");
    // Now the cache knows the session ended.
    auto ended = f.auth().AuthenticateCached(token);
    REQUIRE(ended.has_value());
    CheckUnauthenticated(ended->status(), "invalid_token");
  }
  SUBCASE("a session ended here: never answered from the old entry") {
    REQUIRE(f.auth().Logout(*full, Ctx()).ok());
    auto after = f.auth().AuthenticateCached(token);
    CHECK((!after.has_value() || !after->ok()));
  }
  SUBCASE("an API key is always a storage read: declined") {
    auto key = f.auth().CreateApiKey(*full, {"ci", {"tasks:read"}, std::nullopt}, Ctx());
    REQUIRE(key.ok());
    REQUIRE(f.auth().Authenticate(key->key).ok());
    CHECK_FALSE(f.auth().AuthenticateCached(key->key).has_value());
  }
}
