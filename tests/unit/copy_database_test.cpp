// CopyDatabase (assistant/copy.hpp): every kind of record survives a copy
// from SQLite into SQLite and into PostgreSQL, a non-empty target is refused,
// and a table the copy does not know fails it.
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#ifdef ASSISTANT_WITH_POSTGRES
#include <pqxx/pqxx>
#endif

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "assistant/copy.hpp"
#include "assistant/storage.hpp"
#include "storage_conformance.hpp"
#include "test_temp_dir.hpp"

using namespace assistant;
using namespace assistant::conformance::detail;

namespace {

std::unique_ptr<Storage> MustOpen(const std::string& url) {
  auto s = OpenStorage(url);
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return std::move(*s);
}

// Every kind of record, two users so the copy keeps ownership apart.
struct Fixture {
  UserRecord ann;
  UserRecord bob;
  Session session;
  Conversation conversation;
  Run run;
};

Fixture Fill(Storage& s) {
  Fixture f;
  f.ann = MakeUser(s, "ann@example.com");
  f.bob = MakeUser(s, "bob@example.com");
  f.session = MakeSession(s, f.ann.user.id, "refresh-hash-1", T(0), T(86400000));
  MakeApiKey(s, f.ann.user.id, "key-hash-1", T(1));
  REQUIRE(
      s.CreateOneTimeToken({"ott-hash", f.ann.user.id, TokenPurpose::kPasswordReset, T(0), T(86400000)}).ok());
  MakeTask(s, f.ann.user.id, "buy milk", T(1));
  MakeTask(s, f.ann.user.id, "file taxes", T(2), true);
  MakeTask(s, f.bob.user.id, "bob's task", T(3));
  f.conversation = MakeConversation(s, f.ann.user.id, "Trip to Lisbon", T(2));
  AddMessage(s, f.ann.user.id, f.conversation.id, "pack the umbrella", T(3));
  AddMessage(s, f.ann.user.id, f.conversation.id, "and the tickets", T(4), MessageRole::kAssistant);
  f.run = MakeStartedRun(s, f.ann.user.id, f.conversation.id, "owner-1");
  REQUIRE(s.AppendRunEvents({{f.ann.user.id,
                              f.run.id,
                              {RunEvent{f.run.id, 2, "message.delta", Json{{"text", "hi"}}},
                               RunEvent{f.run.id, 3, "message.end", Json::object()}}}})
              .ok());
  REQUIRE(s.UpdateAgentState(f.ann.user.id, "", Increment, T(5)).ok());
  REQUIRE(s.AddMemory({NewId(), f.ann.user.id, "likes green tea", T(6)}).ok());
  REQUIRE(s.PutUserData({f.ann.user.id, "prefs", "units", Json{{"metric", true}}, T(7)}).ok());
  SigningKey key;
  key.kid = "kid-1";
  key.purpose = KeyPurpose::kIdentity;
  key.alg = "EdDSA";
  key.sealed_key = "sealed-bytes";
  key.created_at = T(8);
  REQUIRE(s.AddSigningKey(key).ok());
  return f;
}

const std::map<std::string, int64_t> kFilledCounts = {
    {"users", 2},         {"sessions", 1},        {"refresh_tokens", 1},
    {"api_keys", 1},      {"one_time_tokens", 1}, {"tasks", 3},
    {"conversations", 1}, {"messages", 2},        {"agent_state", 1},
    {"memories", 1},      {"user_data", 1},       {"audit_events", 1},
    {"runs", 1},          {"run_events", 3},      {"signing_keys", 1},
};

// What a user relies on after the move, read through the target's storage.
void CheckCopied(Storage& s, const Fixture& f) {
  auto ann = s.GetUserByEmail("ANN@example.com");
  REQUIRE(ann.ok());
  CHECK(ann->password_hash == f.ann.password_hash);
  CHECK(ann->user.preferences == f.ann.user.preferences);
  CHECK(s.GetSession(f.session.id).ok());
  auto rotated =
      s.RotateRefreshToken("refresh-hash-1", Successor(f.session, "refresh-hash-2", T(10)), T(10));
  CHECK(rotated.ok());
  CHECK(s.GetApiKeyByHash("key-hash-1").ok());
  auto keys = s.ListSigningKeys(KeyPurpose::kIdentity);
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 1);
  CHECK((*keys)[0].sealed_key == "sealed-bytes");
  CHECK((*keys)[0].created_at == T(8));
  CHECK_FALSE((*keys)[0].retired_at.has_value());
  CHECK(s.ConsumeOneTimeToken("ott-hash", TokenPurpose::kPasswordReset, T(10)).ok());
  auto tasks = s.ListTasks(f.ann.user.id, TaskQuery{});
  REQUIRE(tasks.ok());
  CHECK(tasks->size() == 2);
  auto completed = s.ListTasks(f.ann.user.id, TaskQuery{TaskFilter::kCompleted});
  REQUIRE(completed.ok());
  REQUIRE(completed->size() == 1);
  CHECK((*completed)[0].title == "file taxes");
  // The search index was rebuilt from the copied text, per owner.
  CHECK(SearchIds(s, f.ann.user.id, {"umbrella"}) == std::set<std::string>{f.conversation.id});
  CHECK(SearchIds(s, f.ann.user.id, {"lisb*"}) == std::set<std::string>{f.conversation.id});
  CHECK(SearchIds(s, f.bob.user.id, {"umbrella"}).empty());
  // A message appended after the copy comes after the copied ones.
  AddMessage(s, f.ann.user.id, f.conversation.id, "new after the move", T(20));
  auto page = s.ListMessages(f.ann.user.id, f.conversation.id, "", 10);
  REQUIRE(page.ok());
  REQUIRE(page->messages.size() == 3);
  CHECK(page->messages[0].content == "pack the umbrella");
  CHECK(page->messages[2].content == "new after the move");
  MakeConversation(s, f.ann.user.id, "second after the move", T(21));
  auto events = s.ListRunEvents(f.ann.user.id, f.run.id, 0, 10);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 3);
  CHECK((*events)[1].type == "message.delta");
  CHECK((*events)[1].data == Json{{"text", "hi"}});
  auto state = s.GetAgentState(f.ann.user.id, "");
  REQUIRE(state.ok());
  CHECK(state->state == Json{{"count", 1}});
  auto memories = s.ListMemories(f.ann.user.id, 10);
  REQUIRE(memories.ok());
  REQUIRE(memories->size() == 1);
  CHECK((*memories)[0].content == "likes green tea");
  auto data = s.GetUserData(f.ann.user.id, "prefs", "units");
  REQUIRE(data.ok());
  CHECK(data->value == Json{{"metric", true}});
  auto audit = s.ListAudit(f.ann.user.id, 10, std::nullopt);
  REQUIRE(audit.ok());
  CHECK(audit->size() == 1);
}

void CheckReport(const CopyReport& report) {
  std::vector<std::string> names;
  for (const CopiedTable& t : report.tables) {
    names.push_back(t.table);
    INFO(t.table);
    REQUIRE(kFilledCounts.count(t.table) == 1);
    CHECK(t.rows == kFilledCounts.at(t.table));
  }
  CHECK(names == CopiedTableNames());
}

}  // namespace

TEST_CASE("copy: SQLite to SQLite keeps every record, and refuses a non-empty target") {
  const std::string dir = MakeTestTempDir("copy-");
  const std::string from = "sqlite://" + dir + "/from.db";
  Fixture f;
  {
    auto s = MustOpen(from);
    f = Fill(*s);
  }
  // A plain path is a SQLite file too.
  auto report = CopyDatabase(from, dir + "/to.db");
  REQUIRE_MESSAGE(report.ok(), report.status().ToString());
  CheckReport(*report);
  {
    auto s = MustOpen("sqlite://" + dir + "/to.db");
    CheckCopied(*s, f);
  }
  auto again = CopyDatabase(from, "sqlite://" + dir + "/to.db");
  CHECK(again.status().reason() == "target_not_empty");
  CHECK(CopyDatabase(from, from).status().code() == StatusCode::kInvalidArgument);
  CHECK(IsNotFound(CopyDatabase(dir + "/missing.db", dir + "/x.db").status()));
}

TEST_CASE("copy: every table of the schema is one the copy knows") {
  const std::string dir = MakeTestTempDir("copy-");
  MustOpen("sqlite://" + dir + "/fresh.db").reset();
  // A fresh database of today's schema copies: the copy knows every table.
  auto fresh = CopyDatabase(dir + "/fresh.db", dir + "/fresh-copy.db");
  REQUIRE_MESSAGE(fresh.ok(), fresh.status().ToString());
  CHECK(fresh->tables.size() == CopiedTableNames().size());
  // A table a later migration adds fails the copy loudly until the copy
  // learns it, instead of being left behind.
  {
    SQLite::Database db(dir + "/fresh.db", SQLite::OPEN_READWRITE);
    db.exec("CREATE TABLE later_table (kid TEXT PRIMARY KEY, key TEXT NOT NULL)");
  }
  auto added = CopyDatabase(dir + "/fresh.db", dir + "/other.db");
  CHECK(added.status().reason() == "unknown_table");
  CHECK(added.status().message().find("later_table") != std::string::npos);
  // So does a column.
  MustOpen("sqlite://" + dir + "/col.db").reset();
  {
    SQLite::Database db(dir + "/col.db", SQLite::OPEN_READWRITE);
    db.exec("ALTER TABLE tasks ADD COLUMN color TEXT");
  }
  auto column = CopyDatabase(dir + "/col.db", dir + "/col-copy.db");
  CHECK(column.status().reason() == "column_mismatch");
  CHECK(column.status().message().find("tasks") != std::string::npos);
}

TEST_CASE("copy: SQLite to PostgreSQL keeps every record, all or nothing") {
  const char* base = std::getenv("ASSISTANT_TEST_PG_URL");
  const char* ci = std::getenv("CI");
  const bool in_ci = ci != nullptr && std::string(ci) == "true";
  if (base == nullptr || *base == '\0') {
    if (in_ci) FAIL("ASSISTANT_TEST_PG_URL is not set: run the tests through scripts/test.sh");
    MESSAGE("NOT RUN: ASSISTANT_TEST_PG_URL is not set (scripts/pg-test-server.sh sets it)");
    return;
  }
#ifndef ASSISTANT_WITH_POSTGRES
  FAIL("this build has no PostgreSQL backend");
#else
  const std::string url(base);
  const size_t authority = url.find("://") + 3;
  const size_t slash = url.find('/', authority);
  const size_t query = url.find('?', authority);
  const std::string tail = query == std::string::npos ? "" : url.substr(query);
  const std::string db = "copy_" + NewId().substr(24);
  auto admin = [&](const std::string& sql) {
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    n.exec(sql);
  };
  admin("CREATE DATABASE " + db);
  const std::string target = url.substr(0, std::min(slash, query)) + "/" + db + tail;

  const std::string dir = MakeTestTempDir("copy-");
  const std::string from = "sqlite://" + dir + "/from.db";
  Fixture f;
  {
    auto s = MustOpen(from);
    f = Fill(*s);
  }
  auto report = CopyDatabase(from, target);
  REQUIRE_MESSAGE(report.ok(), report.status().ToString());
  CheckReport(*report);
  {
    auto s = MustOpen(target);
    CheckCopied(*s, f);
  }
  auto again = CopyDatabase(from, target);
  CHECK(again.status().reason() == "target_not_empty");

  // A row the target refuses after others went in (memories come after
  // users, tasks, messages...) leaves the target as empty as it was.
  const std::string db2 = db + "_b";
  admin("CREATE DATABASE " + db2);
  const std::string target2 = url.substr(0, std::min(slash, query)) + "/" + db2 + tail;
  {
    SQLite::Database raw(dir + "/from.db", SQLite::OPEN_READWRITE);
    // SQLite stores what PostgreSQL's BIGINT refuses.
    raw.exec("UPDATE memories SET created_at = 'not a time'");
  }
  auto broken = CopyDatabase(from, target2);
  CHECK_FALSE(broken.ok());
  {
    auto s = MustOpen(target2);
    CHECK(IsNotFound(s->GetUserByEmail("ann@example.com").status()));
  }
  admin("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
  admin("DROP DATABASE IF EXISTS " + db2 + " WITH (FORCE)");
#endif
}
