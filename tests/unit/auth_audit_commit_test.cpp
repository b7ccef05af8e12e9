// An audited action and its audit row commit together: a login or a
// registration whose audit row cannot be written fails and leaves no
// session behind, instead of succeeding with only a log line. The row is
// made unwritable inside SQLite itself (a trigger), so the real storage's
// transaction is what is tested.
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

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
