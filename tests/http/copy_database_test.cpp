// assistant-server --copy-database, over real HTTP: a SQLite deployment
// moved to PostgreSQL keeps its users, tokens and data; a backup taken while
// a server writes is consistent; a SQLite-to-SQLite copy serves the same data.
// Registered as its own ctest (http_copy_database): it starts SQLite servers
// itself, and its PostgreSQL part needs $ASSISTANT_TEST_PG_URL.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

using namespace http_test;

namespace {

// A SQLite server whose secret and keys live in `dir`/state, so a server on
// the copy (same state dir) verifies the tokens this one issued.
std::vector<std::string> ServerArgs(const std::string& database, const std::string& dir) {
  return {"--port",
          "0",
          "--database",
          database,
          "--state-dir",
          dir + "/state",
          "--argon2-memory-kib",
          "256",
          "--argon2-iterations",
          "1",
          "--rate-limit-auth",
          "0",
          "--rate-limit-api",
          "0"};
}

// Everything a user can list or search, as the API answers it.
Json Snapshot(const ServerProcess& s, const std::string& token, const std::string& conversation,
              const std::string& run) {
  Json out;
  for (const std::string& path : std::vector<std::string>{
           "/api/user/me", "/api/tasks?limit=100", "/api/tasks?status=completed",
           "/api/tasks?q=milk", "/api/conversations", "/api/conversations?q=umbrella",
           "/api/conversations?q=lisb*", "/api/agent/history?conversation_id=" + conversation,
           "/api/conversations/" + conversation + "/messages", "/api/agent/state?app_id=notes",
           "/api/agent/memory", "/api/user/data/app1", "/api/user/audit?limit=100",
           "/api/auth/api-keys", "/api/auth/sessions", "/api/agent/runs/" + run}) {
    const Response r = s.Call("GET", path, std::nullopt, token);
    INFO(path);
    CHECK(r.status == 200);
    out[path] = r.json;
  }
  // Using a session's access token moves its last_used_at: the snapshot's
  // own requests would make two snapshots differ.
  for (Json& session : out["/api/auth/sessions"]["sessions"]) session.erase("last_used_at");
  // A finished run's events replay in full and the stream ends.
  out["events"] = s.Call("GET", "/api/agent/runs/" + run + "/events", std::nullopt, token).body;
  return out;
}

struct Deployment {
  User user;
  std::string second_access_token;
  std::string api_key;
  std::string conversation;
  std::string run;
};

// Every kind of record, made through the API.
Deployment Fill(const ServerProcess& s) {
  Deployment d;
  d.user = Register(s);
  REQUIRE_FALSE(d.user.id.empty());
  const std::string& t = d.user.access_token;
  auto login = s.Call("POST", "/api/auth/login",
                      Json{{"email", d.user.email}, {"password", d.user.password}});
  REQUIRE(login.status == 200);
  d.second_access_token = login.json["access_token"];
  auto key = s.Call("POST", "/api/auth/api-keys",
                    Json{{"name", "sdk"}, {"scopes", {"tasks:read", "tasks:write"}}}, t);
  REQUIRE(key.status == 201);
  d.api_key = key.json["key"];
  REQUIRE(s.Call("POST", "/api/tasks", Json{{"title", "buy milk"}}, t).status == 201);
  auto done = s.Call("POST", "/api/tasks", Json{{"title", "file taxes"}}, t);
  REQUIRE(done.status == 201);
  REQUIRE(s.Call("PATCH", "/api/tasks/" + done.json["task"]["id"].get<std::string>(),
                 Json{{"completed", true}}, t)
              .status == 200);
  auto conv = s.Call("POST", "/api/conversations", Json{{"title", "Trip to Lisbon"}}, t);
  REQUIRE(conv.status == 201);
  d.conversation = conv.json["conversation"]["id"];
  auto turn = s.Call(
      "POST", "/api/agent/message",
      Json{{"message", "add task pack the umbrella"}, {"conversation_id", d.conversation}}, t);
  REQUIRE(turn.status == 200);
  d.run = turn.json["run_id"];
  REQUIRE(s.Call("PUT", "/api/agent/state?app_id=notes", Json{{"mode", "brief"}}, t).status == 200);
  REQUIRE(s.Call("POST", "/api/agent/memory", Json{{"content", "likes green tea"}}, t).status ==
          201);
  REQUIRE(s.Call("PUT", "/api/user/data/app1/handoff", Json{{"items", {1, 2, 3}}}, t).status ==
          200);
  return d;
}

// The same user, the same password, the same tokens, the same data.
void CheckMoved(const ServerProcess& to, const Deployment& d, const Json& before) {
  CHECK(Snapshot(to, d.user.access_token, d.conversation, d.run) == before);
  CHECK(to.Call("GET", "/api/user/me", std::nullopt, d.second_access_token).status == 200);
  auto by_key = to.Call("GET", "/api/tasks?limit=100", std::nullopt, d.api_key);
  CHECK(by_key.status == 200);
  CHECK(by_key.json["tasks"] == before["/api/tasks?limit=100"]["tasks"]);
  auto refreshed =
      to.Call("POST", "/api/auth/refresh", Json{{"refresh_token", d.user.refresh_token}});
  CHECK(refreshed.status == 200);
  auto login = to.Call("POST", "/api/auth/login",
                       Json{{"email", d.user.email}, {"password", d.user.password}});
  CHECK(login.status == 200);
  CHECK(to.Call("POST", "/api/tasks", Json{{"title", "after the move"}}, d.user.access_token)
            .status == 201);
}

// A SQLite server on `database` filled by Fill and stopped; what it showed.
Json FilledAndStopped(const std::string& database, const std::string& dir, Deployment* d) {
  ServerProcess from(ServerArgs(database, dir), dir, false);
  REQUIRE(from.started());
  *d = Fill(from);
  const Json shown = Snapshot(from, d->user.access_token, d->conversation, d->run);
  REQUIRE(from.Terminate() == 0);
  return shown;
}

// The count the copy printed for `table` ("table   N" lines), -1 if none.
long long Reported(const std::string& output, const std::string& table) {
  size_t at = 0;
  while ((at = output.find(table + " ", at)) != std::string::npos) {
    if (at == 0 || output[at - 1] == '\n') return std::stoll(output.substr(at + table.size()));
    at += table.size();
  }
  return -1;
}

}  // namespace

TEST_CASE("copy-database: SQLite to SQLite serves the same data") {
  TempDir dir;
  const std::string from_db = "sqlite://" + dir.path() + "/assistant.db";
  Deployment d;
  const Json before = FilledAndStopped(from_db, dir.path(), &d);
  // A plain path as the target.
  const RunResult copy =
      RunServerToExit({"--copy-database", from_db, dir.path() + "/copy.db"}, dir.path(), 120);
  INFO(copy.output);
  REQUIRE(copy.exit_code == 0);
  {
    // Restored without its state dir: a new secret is made, every token
    // issued before fails, and the log says why.
    TempDir elsewhere;
    ServerProcess lost(ServerArgs("sqlite://" + dir.path() + "/copy.db", elsewhere.path()),
                       dir.path(), false);
    REQUIRE(lost.started());
    CHECK(lost.Call("GET", "/api/user/me", std::nullopt, d.user.access_token).status == 401);
    CHECK(lost.log().find("a new JWT secret was generated for a database that already has users") !=
          std::string::npos);
  }
  ServerProcess to(ServerArgs("sqlite://" + dir.path() + "/copy.db", dir.path()), dir.path(),
                   false);
  REQUIRE(to.started());
  CHECK(to.log().find("new JWT secret") == std::string::npos);
  CheckMoved(to, d, before);
}

TEST_CASE("copy-database: a backup of a SQLite database a server keeps writing is consistent") {
  TempDir dir;
  const std::string live = "sqlite://" + dir.path() + "/assistant.db";
  ServerProcess server(ServerArgs(live, dir.path()), dir.path(), false);
  REQUIRE(server.started());
  const User u = Register(server);
  REQUIRE_FALSE(u.id.empty());
  // Two writers create tasks without pause; each counts what was acknowledged.
  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop; ++i) {
        auto r = server.Call("POST", "/api/tasks",
                             Json{{"title", "w" + std::to_string(w) + "-" + std::to_string(i)}},
                             u.access_token);
        if (r.status == 201) {
          ++acknowledged;
        } else {
          ++failed;
        }
      }
    });
  }
  while (acknowledged < 50) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int before_copy = acknowledged;
  const RunResult copy =
      RunServerToExit({"--copy-database", live, dir.path() + "/backup.db"}, dir.path(), 120);
  const int after_copy = acknowledged;
  // The server kept writing during the copy.
  while (acknowledged < after_copy + 20) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  for (auto& t : writers) t.join();
  INFO(copy.output);
  REQUIRE(copy.exit_code == 0);
  CHECK(failed == 0);

  // The backup holds one instant: between what was acknowledged before the
  // copy started and after it ended, and exactly what it reported.
  const long long reported = Reported(copy.output, "tasks");
  CHECK(reported >= before_copy);
  CHECK(reported <= after_copy);
  MESSAGE("tasks acknowledged before the copy " << before_copy << ", in the backup " << reported
                                                << ", acknowledged when it ended " << after_copy);
  ServerProcess restored(ServerArgs("sqlite://" + dir.path() + "/backup.db", dir.path()),
                         dir.path(), false);
  REQUIRE(restored.started());
  int listed = 0;
  std::string cursor;
  do {
    auto page =
        restored.Call("GET", "/api/tasks?limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor),
                      std::nullopt, u.access_token);
    REQUIRE(page.status == 200);
    listed += static_cast<int>(page.json["tasks"].size());
    cursor =
        page.json["next_cursor"].is_string() ? page.json["next_cursor"].get<std::string>() : "";
  } while (!cursor.empty());
  CHECK(listed == reported);
}

// Last: without a PostgreSQL server outside CI the harness ends the run as
// not run, after the SQLite cases above have run.
TEST_CASE("copy-database: SQLite to PostgreSQL keeps users, tokens and data") {
  TempDir dir;
  const std::string sqlite = "sqlite://" + dir.path() + "/assistant.db";
  Deployment d;
  const Json before = FilledAndStopped(sqlite, dir.path(), &d);
  TempDir pg_dir;
  const std::string pg = PostgresDatabaseFor(pg_dir.path());
  const RunResult copy = RunServerToExit({"--copy-database", sqlite, pg}, dir.path(), 120);
  INFO(copy.output);
  REQUIRE(copy.exit_code == 0);
  CHECK(Reported(copy.output, "users") == 1);
  CHECK(Reported(copy.output, "sessions") == 2);
  CHECK(Reported(copy.output, "api_keys") == 1);
  CHECK(Reported(copy.output, "conversations") == 1);
  CHECK(Reported(copy.output, "messages") >= 2);
  CHECK(Reported(copy.output, "runs") == 1);
  CHECK(Reported(copy.output, "run_events") > 2);
  CHECK(copy.output.find("postgresql://") == std::string::npos);  // no URL, no password

  {
    ServerProcess to(ServerArgs(pg, dir.path()), dir.path(), false);
    REQUIRE(to.started());
    // The secret came along with the state dir: no warning about lost tokens.
    CHECK(to.log().find("new JWT secret") == std::string::npos);
    CheckMoved(to, d, before);
  }
  const RunResult again = RunServerToExit({"--copy-database", sqlite, pg}, dir.path(), 120);
  CHECK(again.exit_code != 0);
  CHECK(again.output.find("target_not_empty") != std::string::npos);
}
