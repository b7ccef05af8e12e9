// The PostgreSQL backend: the conformance suite, plus what is specific to it
// (URL forms and passwords, migrations under a lock, lost connections).
//
// Needs a server: $ASSISTANT_TEST_PG_URL names a role that may create
// databases (scripts/pg-test-server.sh starts one and sets it; scripts/test.sh
// runs every test under it). Without it the tests fail when CI is set, since
// a missing PostgreSQL is an install step, and otherwise say plainly that
// they did not run.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "assistant/identity_token.hpp"
#include "assistant/storage.hpp"
#include "storage_conformance.hpp"
#include "unit/poll_event_loop.hpp"

#ifdef ASSISTANT_WITH_POSTGRES
#include <signal.h>

#include <pqxx/pqxx>

#include "storage/postgres_storage.hpp"
#endif

using namespace assistant;

namespace {

// The server's URL, or "" after reporting why the test cannot run.
std::string TestUrl() {
  const char* url = std::getenv("ASSISTANT_TEST_PG_URL");
  const char* ci = std::getenv("CI");
  const bool in_ci = ci != nullptr && std::string(ci) == "true";
#ifndef ASSISTANT_WITH_POSTGRES
  if (in_ci) FAIL("this build has no PostgreSQL backend (ASSISTANT_WITH_POSTGRES is OFF)");
  MESSAGE("NOT RUN: this build has no PostgreSQL backend");
  return "";
#endif
  if (url == nullptr || *url == '\0') {
    if (in_ci) FAIL("ASSISTANT_TEST_PG_URL is not set: run the tests through scripts/test.sh");
    MESSAGE("NOT RUN: ASSISTANT_TEST_PG_URL is not set (scripts/pg-test-server.sh sets it)");
    return "";
  }
  return url;
}

#ifdef ASSISTANT_WITH_POSTGRES

// `url` with its database name replaced by `db`.
std::string WithDatabase(const std::string& url, const std::string& db) {
  const size_t authority = url.find("://") + 3;
  const size_t slash = url.find('/', authority);
  const size_t query = url.find('?', authority);
  const std::string head = url.substr(0, std::min(slash, query));
  const std::string tail = query == std::string::npos ? "" : url.substr(query);
  return head + "/" + db + tail;
}

// `url` with the password taken out of its user info.
std::string WithoutPassword(const std::string& url) {
  const size_t authority = url.find("://") + 3;
  const size_t at = url.find('@', authority);
  const size_t colon = url.find(':', authority);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon) + url.substr(at);
}

std::string PasswordOf(const std::string& url) {
  const size_t authority = url.find("://") + 3;
  const size_t at = url.find('@', authority);
  const size_t colon = url.find(':', authority);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return "";
  return url.substr(colon + 1, at - colon - 1);
}

void Admin(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::nontransaction n(c);
  n.exec(sql);
}

// A user with a fixed creation time and the given email.
UserRecord SomeUser(const std::string& email) {
  UserRecord r;
  r.user.id = NewId();
  r.user.email = email;
  r.user.name = "U";
  r.user.preferences = Json::object();
  r.user.created_at = r.user.updated_at = FromUnixMillis(1767225600000);
  r.password_hash = "h";
  return r;
}

std::unique_ptr<Storage> MustOpen(const std::string& url, const StorageOptions& options = {}) {
  auto s = OpenStorage(url, options);
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return std::move(*s);
}

// Fresh, empty databases: each a copy of one migrated template, which is
// much faster than migrating each.
class Databases final {
 public:
  explicit Databases(std::string url) : url_(std::move(url)) {
    prefix_ = "t" + NewId().substr(24);
    template_ = prefix_ + "_template";
    Admin(url_, "CREATE DATABASE " + template_);
    MustOpen(WithDatabase(url_, template_)).reset();  // migrates, then disconnects
  }
  ~Databases() {
    try {
      for (const std::string& db : made_) Admin(url_, "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
      Admin(url_, "DROP DATABASE IF EXISTS " + template_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // The throwaway server goes away anyway.
    }
  }
  Databases(const Databases&) = delete;
  Databases& operator=(const Databases&) = delete;

  // A URL of a new database with the current schema and no rows.
  std::string Fresh() {
    const std::string db = prefix_ + "_" + std::to_string(made_.size());
    Admin(url_, "CREATE DATABASE " + db + " TEMPLATE " + template_);
    made_.push_back(db);
    return WithDatabase(url_, db);
  }
  // A URL of a new database without any schema.
  std::string Empty() {
    const std::string db = prefix_ + "_" + std::to_string(made_.size());
    Admin(url_, "CREATE DATABASE " + db);
    made_.push_back(db);
    return WithDatabase(url_, db);
  }

 private:
  std::string url_;
  std::string prefix_;
  std::string template_;
  std::vector<std::string> made_;
};

#endif

}  // namespace

TEST_CASE("postgresql storage passes the conformance suite") {
  const std::string url = TestUrl();
  if (url.empty()) return;
#ifdef ASSISTANT_WITH_POSTGRES
  Databases dbs(url);
  conformance::RunStorageConformance([&] {
    StorageOptions options;
    options.pool_connections = 4;
    return MustOpen(dbs.Fresh(), options);
  });
#endif
}

#ifdef ASSISTANT_WITH_POSTGRES
TEST_CASE("postgresql: URL forms, passwords, migrations, lost connections") {
  const std::string url = TestUrl();
  if (url.empty()) return;
  Databases dbs(url);

  SUBCASE("postgres:// works as postgresql:// does, and the backend says its name") {
    const std::string fresh = dbs.Fresh();
    auto s = MustOpen("postgres://" + fresh.substr(fresh.find("://") + 3));
    CHECK(s->Backend() == "postgresql");
    CHECK(s->Ping().ok());
  }

  SUBCASE("the password may come from PGPASSWORD instead of the URL") {
    const std::string fresh = dbs.Fresh();
    const std::string password = PasswordOf(fresh);
    REQUIRE_FALSE(password.empty());
    ::setenv("PGPASSWORD", password.c_str(), 1);
    auto with_env = OpenStorage(WithoutPassword(fresh));
    ::unsetenv("PGPASSWORD");
    REQUIRE_MESSAGE(with_env.ok(), with_env.status().ToString());
    CHECK((*with_env)->Ping().ok());
  }

  SUBCASE("a Unix socket directory as the host connects over the socket, in both URL forms") {
    // The one-box form docs/storage.md recommends: no TCP stack between the
    // server and the database. scripts/pg-test-server.sh listens there too.
    const char* dir = std::getenv("ASSISTANT_TEST_PG_SOCKET_DIR");
    if (dir == nullptr || *dir == '\0') {
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") {
        FAIL("ASSISTANT_TEST_PG_SOCKET_DIR is not set (scripts/pg-test-server.sh sets it)");
      }
      MESSAGE("NOT RUN: ASSISTANT_TEST_PG_SOCKET_DIR is not set");
      return;
    }
    const std::string fresh = dbs.Fresh();
    // postgresql://user:password@host:port/db -> the parts around host.
    const size_t authority = fresh.find("://") + 3;
    const size_t at = fresh.find('@', authority);
    const size_t colon = fresh.find(':', at);
    const size_t slash = fresh.find('/', at);
    REQUIRE(at != std::string::npos);
    REQUIRE(colon < slash);
    const std::string user_info = fresh.substr(authority, at - authority);
    const std::string port = fresh.substr(colon + 1, slash - colon - 1);
    const std::string db = fresh.substr(slash + 1);
    std::string encoded;  // the directory as a URI host: '/' percent-encoded
    for (const char c : std::string(dir)) encoded += c == '/' ? std::string("%2F") : std::string(1, c);
    // Each form names its connections, so the check below finds only its own.
    const std::string forms[] = {
        "postgresql://" + user_info + "@" + encoded + ":" + port + "/" + db +
            "?application_name=socket_host",
        "postgresql://" + user_info + "@:" + port + "/" + db + "?host=" + dir +
            "&application_name=socket_param",
    };
    for (const std::string& form : forms) {
      const std::string name = form.substr(form.find("application_name=") + 17);
      CAPTURE(name);
      auto s = MustOpen(form);
      REQUIRE(s->Ping().ok());  // its pooled connection stays open, idle
      // A client on a Unix socket has no client address; one on TCP has.
      pqxx::connection c(fresh);
      pqxx::nontransaction n(c);
      const pqxx::row r = n.exec_params1(
          "SELECT count(*) FILTER (WHERE client_addr IS NULL), count(*) FROM pg_stat_activity"
          " WHERE datname = $1 AND application_name = $2",
          db, name);
      CHECK(r[1].as<int>() >= 1);
      CHECK(r[0].as<int>() == r[1].as<int>());
    }
  }

  SUBCASE("a wrong password is Unavailable and never echoed") {
    const std::string fresh = dbs.Fresh();
    const std::string wrong = "wrong-Pa55word-xyz";
    const std::string bad =
        WithoutPassword(fresh).insert(WithoutPassword(fresh).find('@'), ":" + wrong);
    auto s = OpenStorage(bad);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == StatusCode::kUnavailable);
    CHECK(s.status().reason() == "storage_unavailable");
    CHECK(s.status().message().find(wrong) == std::string::npos);
  }

  SUBCASE("servers opening a new database at once migrate it once") {
    const std::string empty = dbs.Empty();
    std::vector<std::thread> threads;
    std::vector<Status> results(4);
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] {
        auto s = OpenStorage(empty);
        results[i] = s.ok() ? (*s)->Ping() : s.status();
      });
    }
    for (auto& t : threads) t.join();
    for (const Status& r : results) CHECK_MESSAGE(r.ok(), r.ToString());
    pqxx::connection c(empty);
    pqxx::nontransaction n(c);
    CHECK(n.exec("SELECT count(*) FROM schema_version")[0][0].as<int>() ==
          storage::kPostgresSchemaVersion);
  }

  SUBCASE("a schema newer than this build is refused with schema_too_new") {
    const std::string fresh = dbs.Fresh();
    Admin(fresh, "INSERT INTO schema_version(version, applied_at) VALUES (" +
                     std::to_string(storage::kPostgresSchemaVersion + 1) + ", 0)");
    auto s = OpenStorage(fresh);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == StatusCode::kFailedPrecondition);
    CHECK(s.status().reason() == "schema_too_new");
  }

  SUBCASE("an open without migrating never changes the schema; the identity ring opens that way") {
    StorageOptions no_migrate;
    no_migrate.migrate = false;
    const std::string empty = dbs.Empty();
    auto none = OpenStorage(empty, no_migrate);
    REQUIRE_FALSE(none.ok());
    CHECK(none.status().reason() == "schema_outdated");
    CHECK(none.status().message().find("version 0 ") != std::string::npos);
    CHECK(none.status().message().find("(" + std::to_string(storage::kPostgresSchemaVersion) +
                                       ")") != std::string::npos);
    auto ring = OpenIdentityKeyRing(empty, "the servers' secret");
    REQUIRE_FALSE(ring.ok());
    CHECK(ring.status().reason() == "schema_outdated");
    CHECK(ring.status().field() == "database");
    {
      pqxx::connection c(empty);
      pqxx::nontransaction n(c);
      CHECK(n.exec("SELECT to_regclass('schema_version') IS NULL")[0][0].as<bool>());
    }

    const std::string fresh = dbs.Fresh();
    auto current = OpenStorage(fresh, no_migrate);
    REQUIRE_MESSAGE(current.ok(), current.status().ToString());
    CHECK((*current)->Ping().ok());
    Admin(fresh, "INSERT INTO schema_version(version, applied_at) VALUES (" +
                     std::to_string(storage::kPostgresSchemaVersion + 1) + ", 0)");
    ring = OpenIdentityKeyRing(fresh, "the servers' secret");
    REQUIRE_FALSE(ring.ok());
    CHECK(ring.status().reason() == "schema_too_new");
    CHECK(ring.status().message().find(std::to_string(storage::kPostgresSchemaVersion + 1)) !=
          std::string::npos);
  }

  SUBCASE("a database that cannot be reached fails fast with storage_unavailable") {
    // A loopback port nobody listens on: the server's own port plus one is
    // as good as any, and checked below.
    std::string dead = WithDatabase(url, "nowhere");
    const size_t at = dead.find('@');
    const size_t colon = dead.find(':', at);
    const size_t slash = dead.find('/', colon);
    const int port = std::stoi(dead.substr(colon + 1, slash - colon - 1));
    dead = dead.substr(0, colon + 1) + std::to_string(port == 65535 ? 1 : port + 1) +
           dead.substr(slash);
    auto s = OpenStorage(dead);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == StatusCode::kUnavailable);
    CHECK(s.status().reason() == "storage_unavailable");
  }

  SUBCASE("connections killed under it are replaced, and the data is all there") {
    const std::string fresh = dbs.Fresh();
    StorageOptions options;
    options.pool_connections = 3;
    auto s = MustOpen(fresh, options);
    const UserRecord r = SomeUser("kill@example.com");
    REQUIRE(s->CreateUser(r).ok());
    // As a database restart does to every open connection.
    const std::string db = fresh.substr(fresh.rfind('/') + 1);
    Admin(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db +
                   "' AND pid <> pg_backend_pid()");
    auto back = s->GetUserById(r.user.id);
    REQUIRE_MESSAGE(back.ok(), back.status().ToString());
    CHECK(back->user.email == "kill@example.com");
    CHECK(s->Ping().ok());
  }

  SUBCASE("more calls at once than connections: every call is served, on at most that many") {
    // Callers wait for a connection and each one returned wakes one of them;
    // a wake-up lost here would leave a caller waiting for ever.
    const std::string fresh = dbs.Fresh();
    StorageOptions options;
    options.pool_connections = 2;
    auto s = MustOpen(fresh, options);
    const UserRecord r = SomeUser("pool@example.com");
    REQUIRE(s->CreateUser(r).ok());
    constexpr int kThreads = 12;
    constexpr int kCalls = 40;
    std::vector<int> served(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kCalls; ++i) {
          auto u = s->GetUserById(r.user.id);
          if (u.ok() && u->user.email == "pool@example.com") ++served[t];
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) CHECK(served[t] == kCalls);
    const std::string db = fresh.substr(fresh.rfind('/') + 1);
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    CHECK(n.exec("SELECT count(*) FROM pg_stat_activity WHERE datname = " + n.quote(db))[0][0]
              .as<int>() <= 2);
  }

  SUBCASE("a rate-limit hit is one statement, without BEGIN and COMMIT") {
    // Every limited request pays for this call: a transaction around its one
    // upsert would be three round trips instead of one. What PostgreSQL saw
    // is read from its log (scripts/pg-test-server.sh names it).
    const char* log_path = std::getenv("ASSISTANT_TEST_PG_LOG");
    if (log_path == nullptr || *log_path == '\0') {
      MESSAGE("ASSISTANT_TEST_PG_LOG unset: the statement count is not checked");
      return;
    }
    const std::string fresh = dbs.Fresh();
    const std::string db = fresh.substr(fresh.rfind('/') + 1);
    // Only this database's connections log their statements.
    Admin(url, "ALTER DATABASE " + db + " SET log_statement = 'all'");
    auto s = MustOpen(fresh);
    const std::uintmax_t before = std::filesystem::file_size(log_path);
    const std::string key = "ip:autocommit-" + NewId();
    const Timestamp now = FromUnixMillis(1767225600000);
    for (int i = 0; i < 3; ++i) {
      auto w = s->HitRateLimit(key, 2, std::chrono::minutes(1), now);
      REQUIRE_MESSAGE(w.ok(), w.status().ToString());
      CHECK(w->counted == (i < 2));  // the third finds the window full
      CHECK(w->hits == std::min(i + 1, 2));
    }
    std::ifstream in(log_path);
    in.seekg(static_cast<std::streamoff>(before));
    int upserts = 0, transactions = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.find("INSERT INTO rate_limits") != std::string::npos) ++upserts;
      if (line.find("statement: BEGIN") != std::string::npos ||
          line.find("statement: COMMIT") != std::string::npos) {
        ++transactions;
      }
    }
    CHECK(upserts == 3);
    CHECK(transactions == 0);
  }

  SUBCASE("a deleted word is in no row of any table, search vectors included") {
    const std::string db_url = dbs.Fresh();
    auto s = MustOpen(db_url);
    // Every table of the schema, each row as text (its generated tsvector
    // columns too), searched for the word.
    auto rows_holding = [&](const std::string& word) {
      pqxx::connection c(db_url);
      pqxx::nontransaction n(c);
      std::string places;
      for (const auto& t : n.exec("SELECT table_name FROM information_schema.tables "
                                  "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")) {
        const std::string table = t[0].as<std::string>();
        const auto hit = n.exec_params("SELECT count(*) FROM " + n.quote_name(table) +
                                           " AS r WHERE lower(r::text) LIKE '%' || $1 || '%'",
                                       word);
        if (hit[0][0].as<int64_t>() > 0) places += table + " ";
      }
      return places;
    };
    auto user = [&](const std::string& email) {
      UserRecord r;
      r.user.id = NewId();
      r.user.email = email;
      r.user.name = "N";
      r.user.preferences = Json::object();
      r.password_hash = "h";
      REQUIRE(s->CreateUser(r).ok());
      return r.user.id;
    };
    const std::string a = user("gonevexillology@example.com");
    const std::string b = user("stays@example.com");
    auto conversation = [&](const std::string& owner, const std::string& title) {
      Conversation c;
      c.id = NewId();
      c.user_id = owner;
      c.title = title;
      REQUIRE(s->CreateConversation(c).ok());
      return c;
    };
    auto say = [&](const Conversation& c, const std::string& text) {
      Message m;
      m.id = NewId();
      m.conversation_id = c.id;
      m.role = MessageRole::kUser;
      m.content = text;
      REQUIRE(s->AppendMessage(c.user_id, m).ok());
      return m;
    };
    // Each word goes by a different path: conversation delete, message
    // edit, account delete; b's other words stay.
    Conversation dropped = conversation(b, "Quagmirefandangle");
    Conversation kept = conversation(b, "Keepsakefiddlehead notes");
    Conversation owned = conversation(a, "Cumulonimbusoctet");
    say(dropped, "please recall Pumpernickelzebra later");
    Message edited = say(kept, "draft Marzipanvelociraptor text");
    say(owned, "account words Snorkelgazetteer here");
    for (const std::string& w : {"pumpernickelzebra", "marzipanvelociraptor", "snorkelgazetteer",
                                 "quagmirefandangle", "gonevexillology"}) {
      CAPTURE(w);
      CHECK_FALSE(rows_holding(w).empty());  // the scan sees them before
    }
    REQUIRE(s->DeleteConversation(b, dropped.id).ok());
    edited.content = "final text";
    REQUIRE(s->UpdateMessage(b, edited).ok());
    REQUIRE(s->DeleteUser(a).ok());
    REQUIRE(s->Checkpoint().ok());
    for (const std::string& w : {"pumpernickelzebra", "quagmirefandangle", "marzipanvelociraptor",
                                 "snorkelgazetteer", "cumulonimbusoctet", "gonevexillology"}) {
      CAPTURE(w);
      CHECK(rows_holding(w) == "");
    }
    CHECK(rows_holding("keepsakefiddlehead") != "");
    CHECK(s->SearchConversations(b, {"marzipanvelociraptor"}, 10, 0)->empty());
  }

  SUBCASE("search text is never query syntax, even with quotes and backslashes") {
    auto s = MustOpen(dbs.Fresh());
    UserRecord r;
    r.user.id = NewId();
    r.user.email = "q@example.com";
    r.user.name = "Q";
    r.user.preferences = Json::object();
    r.password_hash = "h";
    REQUIRE(s->CreateUser(r).ok());
    Conversation c;
    c.id = NewId();
    c.user_id = r.user.id;
    c.title = "It's an e-mail from Zoë";
    REQUIRE(s->CreateConversation(c).ok());
    for (const std::vector<std::string>& words :
         std::vector<std::vector<std::string>>{{"it's"}, {"e-mail"}, {"ZOË"}, {"zo\\'ë"}}) {
      auto found = s->SearchConversations(r.user.id, words, 10, 0);
      CAPTURE(words.front());
      REQUIRE_MESSAGE(found.ok(), found.status().ToString());
      CHECK(found->size() == (words.front() == "zo\\'ë" ? 0u : 1u));
    }
    for (const std::vector<std::string>& words : std::vector<std::vector<std::string>>{
             {"'"}, {"\\"}, {"':*"}, {"!"}, {"a & b"}, {"<->"}, {"|"}}) {
      auto found = s->SearchConversations(r.user.id, words, 10, 0);
      REQUIRE_MESSAGE(found.ok(), found.status().ToString());
      CHECK(found->empty());
    }
  }
}
#endif

#ifdef ASSISTANT_WITH_POSTGRES
TEST_CASE("postgresql: ListTasksAsync on the loop's own connections") {
  const std::string url = TestUrl();
  if (url.empty()) return;
  Databases dbs(url);
  testing::PollEventLoop loop;
  const std::string fresh = dbs.Fresh();
  const std::string db = fresh.substr(fresh.rfind('/') + 1);
  StorageOptions options;
  options.pool_connections = 2;
  options.busy_timeout = std::chrono::milliseconds(150);
  auto s = MustOpen(fresh, options);
  const UserRecord r = SomeUser("async@example.com");
  REQUIRE(s->CreateUser(r).ok());
  Task t;
  t.id = NewId();
  t.user_id = r.user.id;
  t.title = "async";
  t.created_at = t.updated_at = FromUnixMillis(1767225600000);
  REQUIRE(s->CreateTask(t).ok());
  // One call, answered on the loop within `limit`.
  auto list = [&](std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::optional<Result<std::vector<Task>>> got;
    s->ListTasksAsync(r.user.id, TaskQuery{}, loop,
                      [&](Result<std::vector<Task>> v) { got.emplace(std::move(v)); });
    REQUIRE_MESSAGE(loop.RunUntil([&] { return got.has_value(); }, limit), "no answer");
    return std::move(*got);
  };
  auto the_task = [&](const Result<std::vector<Task>>& v) {
    REQUIRE_MESSAGE(v.ok(), v.status().ToString());
    REQUIRE(v->size() == 1);
    CHECK((*v)[0].id == t.id);
  };
  auto backends = [&] {
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    std::vector<int> pids;
    for (const auto& row : n.exec("SELECT pid FROM pg_stat_activity WHERE datname = " +
                                  n.quote(db) + " AND backend_type = 'client backend'")) {
      pids.push_back(row[0].as<int>());
    }
    return pids;
  };
  the_task(list());  // its connection is open now

  SUBCASE("connections killed between calls are replaced, and the call answers") {
    for (int round = 0; round < 3; ++round) {
      Admin(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
                     db + "'");
      the_task(list());
    }
  }

  SUBCASE("while the database refuses connections: storage_unavailable at once, then back") {
    Admin(url, "ALTER DATABASE " + db + " ALLOW_CONNECTIONS false");
    Admin(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db +
                   "'");
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) {
      auto down = list();
      REQUIRE_FALSE(down.ok());
      CHECK(down.status().reason() == "storage_unavailable");
    }
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
    Admin(url, "ALTER DATABASE " + db + " ALLOW_CONNECTIONS true");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the reconnect pause
    the_task(list());
  }

  SUBCASE("a server that stops answering: the call is not left hanging") {
    // Every backend of the database stopped (as a host that vanished): the
    // query's timer (2 x busy_timeout) gives up on its connection, and the
    // query sent once more on a new one is answered.
    const std::vector<int> stopped = backends();
    REQUIRE_FALSE(stopped.empty());
    struct Resume {  // even when a check below throws
      const std::vector<int>& pids;
      ~Resume() {
        for (int pid : pids) ::kill(pid, SIGCONT);
      }
    } resume{stopped};
    for (int pid : stopped) REQUIRE(::kill(pid, SIGSTOP) == 0);
    const auto start = std::chrono::steady_clock::now();
    auto v = list(std::chrono::seconds(5));
    const auto took = std::chrono::steady_clock::now() - start;
    the_task(v);
    CHECK(took >= std::chrono::milliseconds(250));
    CHECK(took < std::chrono::seconds(3));
  }

  SUBCASE("more calls than connections on one loop: all answered, on at most that many") {
    constexpr int kCalls = 50;
    int answered = 0;
    int right = 0;
    for (int i = 0; i < kCalls; ++i) {
      s->ListTasksAsync(r.user.id, TaskQuery{}, loop, [&](Result<std::vector<Task>> v) {
        ++answered;
        if (v.ok() && v->size() == 1 && (*v)[0].id == t.id) ++right;
      });
    }
    REQUIRE(loop.RunUntil([&] { return answered == kCalls; }));
    CHECK(right == kCalls);
    // The loop's two and the pool's (CreateUser, CreateTask: one at a time).
    CHECK(backends().size() <= 3);
  }

  SUBCASE("ForgetLoop closes the loop's connections; a loop after it gets new ones") {
    const size_t before = backends().size();
    REQUIRE(before >= 1);
    s->ForgetLoop(loop);
    // PQfinish has sent Terminate: the backends go as soon as they read it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (backends().size() >= before && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(backends().size() < before);
    testing::PollEventLoop other;
    std::optional<Result<std::vector<Task>>> got;
    s->ListTasksAsync(r.user.id, TaskQuery{}, other,
                      [&](Result<std::vector<Task>> v) { got.emplace(std::move(v)); });
    REQUIRE(other.RunUntil([&] { return got.has_value(); }, std::chrono::seconds(10)));
    the_task(*got);
    s->ForgetLoop(other);  // `other` ends before the storage
  }
  CHECK(s->ListTasksAsyncFitsLoop());
}
#endif
