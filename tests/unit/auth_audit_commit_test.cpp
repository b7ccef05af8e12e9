// An audited action and its audit row commit together: a login, a
// registration, a refresh, a logout, a session or key change or a password
// reset whose audit row cannot be written fails and leaves nothing behind,
// instead of succeeding with only a log line. The row is
// made unwritable inside SQLite itself (a trigger), so the real storage's
// transaction is what is tested.
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

#include "assistant/storage_wrapper.hpp"
#include "core_fixture.hpp"
#include "test_temp_dir.hpp"

using namespace assistant;
using assistant::testing::CoreFixture;
using assistant::testing::FastOptions;

namespace {

void SetAuditWritable(const std::string& db_path, bool writable) {
  SQLite::Database db(db_path, SQLite::OPEN_READWRITE);
  db.exec(writable ? "DROP TRIGGER IF EXISTS audit_unwritable"
                   : "CREATE TRIGGER audit_unwritable BEFORE INSERT ON audit_events "
                     "BEGIN SELECT RAISE(ABORT, 'audit row unwritable'); END");
}

int64_t Count(const std::string& db_path, const std::string& sql) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  return db.execAndGet(sql).getInt64();
}

}  // namespace

TEST_CASE("auth: a login whose audit row cannot be written fails and starts no session") {
  const std::string dir = MakeTestTempDir("audit-commit-");
  const std::string db = dir + "/a.db";
  Options o = FastOptions(nullptr);
  o.database_url = "sqlite://" + db;
  {
    CoreFixture f(o);
    auto reg = f.core->auth().Register({"ann@example.com", "correct horse battery", "Ann"}, f.ctx);
    REQUIRE(reg.ok());
    const int64_t sessions = Count(db, "SELECT count(*) FROM sessions");
    const int64_t logins =
        Count(db, "SELECT count(*) FROM audit_events WHERE type = 'auth.login'");

    SetAuditWritable(db, false);
    auto login = f.core->auth().Login("ann@example.com", "correct horse battery", f.ctx);
    CHECK_FALSE(login.ok());
    CHECK(Count(db, "SELECT count(*) FROM sessions") == sessions);
    auto again = f.core->auth().Register({"bob@example.com", "correct horse battery", "Bob"},
                                         f.ctx);
    CHECK_FALSE(again.ok());
    CHECK(Count(db, "SELECT count(*) FROM sessions") == sessions);

    SetAuditWritable(db, true);
    login = f.core->auth().Login("ann@example.com", "correct horse battery", f.ctx);
    REQUIRE(login.ok());
    CHECK(Count(db, "SELECT count(*) FROM sessions") == sessions + 1);
    CHECK(Count(db, "SELECT count(*) FROM audit_events WHERE type = 'auth.login'") == logins + 1);
    CHECK(Count(db, "SELECT count(*) FROM audit_events WHERE type = 'auth.login' AND "
                    "details LIKE '%" + login->tokens.session_id + "%'") == 1);
  }
  std::filesystem::remove_all(dir);
}

namespace {

// Storage whose audit rows fail while `fail` is set: the storage wrapper an
// operator's disk fault or a monitoring hook would be.
class FailingAudit final : public StorageWrapper {
 public:
  using StorageWrapper::StorageWrapper;
  std::atomic<bool> fail{false};
  Status AppendAudit(const AuditEvent& e) override {
    if (fail) return ResourceExhaustedError("database or disk is full", "storage_full");
    return StorageWrapper::AppendAudit(e);
  }
};

// Every row an action could leave, so "nothing changed" is one comparison.
std::string Snapshot(const std::string& db_path) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  std::string out;
  for (const char* sql :
       {"SELECT group_concat(id || ':' || coalesce(revoked_at, '-'), ',') FROM "
        "(SELECT * FROM sessions ORDER BY id)",
        "SELECT group_concat(token_hash || ':' || coalesce(used_at, '-'), ',') FROM "
        "(SELECT * FROM refresh_tokens ORDER BY token_hash)",
        "SELECT group_concat(id || ':' || coalesce(revoked_at, '-'), ',') FROM "
        "(SELECT * FROM api_keys ORDER BY id)",
        "SELECT group_concat(password_hash, ',') FROM users",
        "SELECT count(*) FROM one_time_tokens", "SELECT count(*) FROM audit_events"}) {
    SQLite::Statement st(db, sql);
    st.executeStep();
    out += st.getColumn(0).getString() + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("auth: every audited action fails whole when its audit row cannot be written") {
  const std::string dir = MakeTestTempDir("audit-faults-");
  const std::string db = dir + "/a.db";
  Options o = FastOptions(nullptr);
  o.database_url = "sqlite://" + db;
  auto opened = OpenStorage(o.database_url, {});
  REQUIRE(opened.ok());
  auto storage = std::make_shared<FailingAudit>(std::shared_ptr<Storage>(std::move(*opened)));
  auto mailer = std::make_shared<MemoryMailer>();
  o.mailer = mailer;
  {
    CoreFixture f(o, storage);
    AuthService& auth = f.core->auth();
    auto reg = auth.Register({"ann@example.com", "correct horse battery", "Ann"}, f.ctx);
    REQUIRE(reg.ok());
    auto second = auth.Login("ann@example.com", "correct horse battery", f.ctx);
    REQUIRE(second.ok());
    auto principal = auth.Authenticate(reg->tokens.access_token);
    REQUIRE(principal.ok());
    auto key = auth.CreateApiKey(*principal, {"k", {"tasks:read"}, std::nullopt}, f.ctx);
    REQUIRE(key.ok());
    REQUIRE(auth.ForgotPassword("ann@example.com", f.ctx).ok());
    REQUIRE(mailer->sent().size() == 1);
    const std::string reset_token = mailer->sent()[0].token;

    // Each action, tried while the audit row cannot be written: it fails
    // with the storage's error and every table is as it was.
    auto refused = [&](const char* what, const std::function<Status()>& action) {
      CAPTURE(what);
      const std::string before = Snapshot(db);
      storage->fail = true;
      Status s = action();
      storage->fail = false;
      CHECK(s.reason() == "storage_full");
      CHECK(Snapshot(db) == before);
    };
    refused("refresh", [&] { return auth.Refresh(reg->tokens.refresh_token, f.ctx).status(); });
    refused("logout", [&] { return auth.Logout(*principal, f.ctx); });
    refused("session delete",
            [&] { return auth.RevokeSession(*principal, second->tokens.session_id, f.ctx); });
    refused("key create", [&] {
      return auth.CreateApiKey(*principal, {"k2", {"tasks:read"}, std::nullopt}, f.ctx).status();
    });
    refused("key revoke", [&] { return auth.RevokeApiKey(*principal, key->api_key.id, f.ctx); });
    refused("password reset",
            [&] { return auth.ResetPassword(reset_token, "a brand new password", f.ctx); });

    // Once the fault clears each succeeds (the refused ones changed nothing,
    // so the same tokens still work), with its row.
    auto rows = [&](const std::string& type) {
      return Count(db, "SELECT count(*) FROM audit_events WHERE type = '" + type + "'");
    };
    const int64_t refreshes = rows("auth.refresh");
    REQUIRE(auth.Refresh(reg->tokens.refresh_token, f.ctx).ok());
    CHECK(rows("auth.refresh") == refreshes + 1);
    REQUIRE(auth.RevokeSession(*principal, second->tokens.session_id, f.ctx).ok());
    CHECK(rows("session.revoked") == 1);
    REQUIRE(auth.RevokeApiKey(*principal, key->api_key.id, f.ctx).ok());
    CHECK(rows("apikey.revoked") == 1);
    REQUIRE(auth.ResetPassword(reset_token, "a brand new password", f.ctx).ok());
    CHECK(rows("auth.password_reset") == 1);
    CHECK(Count(db, "SELECT count(*) FROM sessions WHERE revoked_at IS NULL") == 0);
  }
  std::filesystem::remove_all(dir);
}
