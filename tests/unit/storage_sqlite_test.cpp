// The SQLite backend: the conformance suite on a file and in memory, plus what
// is specific to SQLite (URLs, migrations, WAL, secure delete, locking, error
// mapping).
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "assistant/identity_token.hpp"
#include "assistant/storage.hpp"
#include "assistant/storage_wrapper.hpp"
#include "storage/sqlite_storage.hpp"
#include "storage_conformance.hpp"
#include "unit/poll_event_loop.hpp"

using namespace assistant;
namespace fs = std::filesystem;

namespace {

// A fresh directory under $ASSISTANT_TEST_TMP (or /tmp), removed afterwards.
class TempDir final {
 public:
  TempDir() {
    const char* env = std::getenv("ASSISTANT_TEST_TMP");
    fs::path base = env && *env ? fs::path(env) : fs::path("/tmp");
    static std::atomic<int> counter{0};
    path_ = base / ("storage-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
                    "-" + NewId().substr(24));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  std::string Url(const std::string& name) const { return "sqlite://" + (path_ / name).string(); }

 private:
  fs::path path_;
};

std::unique_ptr<Storage> MustOpen(const std::string& url, const StorageOptions& options = {}) {
  auto s = OpenStorage(url, options);
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return std::move(*s);
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

UserRecord NewUser(Storage& s, const std::string& email) {
  UserRecord r;
  r.user.id = NewId();
  r.user.email = email;
  r.user.name = "n";
  r.password_hash = "h";
  r.user.created_at = r.user.updated_at = FromUnixMillis(1767225600000);
  REQUIRE(s.CreateUser(r).ok());
  return r;
}

Task NewTask(const std::string& user_id, const std::string& title) {
  Task t;
  t.id = NewId();
  t.user_id = user_id;
  t.title = title;
  t.created_at = t.updated_at = FromUnixMillis(1767225600000);
  return t;
}

}  // namespace

TEST_CASE("sqlite file storage passes the conformance suite") {
  TempDir dir;
  int n = 0;
  conformance::RunStorageConformance([&] {
    StorageOptions options;
    options.read_connections = 3;
    return MustOpen(dir.Url("conformance-" + std::to_string(n++) + ".db"), options);
  });
}

TEST_CASE("sqlite in-memory storage passes the conformance suite") {
  conformance::RunStorageConformance([] { return MustOpen("sqlite::memory:"); });
}

TEST_CASE("sqlite: a new database and its WAL and SHM are 0600 whatever the umask") {
  TempDir dir;
  const mode_t old_umask = ::umask(022);  // a common default: files 0644
  {
    auto s = MustOpen(dir.Url("private.db"));
    const UserRecord u = NewUser(*s, "private@example.com");
    REQUIRE(s->CreateTask(NewTask(u.user.id, "secret words")).ok());
    for (const char* name : {"private.db", "private.db-wal", "private.db-shm"}) {
      CAPTURE(name);
      struct stat st {};
      REQUIRE(::stat((dir.path() / name).c_str(), &st) == 0);
      CHECK((st.st_mode & 0777) == 0600);
    }
  }
  ::umask(old_umask);
}

TEST_CASE("sqlite: database URLs") {
  TempDir dir;
  SUBCASE("absolute path, created on first open") {
    auto s = MustOpen(dir.Url("abs.db"));
    CHECK(s->Backend() == "sqlite");
    CHECK(fs::exists(dir.path() / "abs.db"));
  }
  SUBCASE("relative path is relative to the working directory") {
    fs::path rel = fs::relative(dir.path() / "rel.db", fs::current_path());
    REQUIRE(rel.is_relative());
    auto s = MustOpen("sqlite://" + rel.string());
    CHECK(fs::exists(dir.path() / "rel.db"));
  }
  SUBCASE("every sqlite::memory: is its own private database") {
    auto a = MustOpen("sqlite::memory:");
    auto b = MustOpen("sqlite::memory:");
    NewUser(*a, "x@example.com");
    CHECK(IsNotFound(b->GetUserByEmail("x@example.com").status()));
    CHECK(a->GetUserByEmail("x@example.com").ok());
    CHECK(a->Ping().ok());
    CHECK(a->Checkpoint().ok());
  }
  SUBCASE("bad URLs are clear errors") {
    auto empty = OpenStorage("sqlite://");
    CHECK(IsInvalidArgument(empty.status()));
    auto unknown = OpenStorage("mysql://localhost/db");
    CHECK(IsInvalidArgument(unknown.status()));
    CHECK(unknown.status().message().find("scheme") != std::string::npos);
    // Port 1 on loopback: nothing listens there.
    auto pg = OpenStorage("postgresql://user:secret@127.0.0.1:1/db");
#ifdef ASSISTANT_WITH_POSTGRES
    CHECK(pg.status().code() == StatusCode::kUnavailable);
    CHECK(pg.status().reason() == "storage_unavailable");
#else
    CHECK(pg.status().code() == StatusCode::kUnimplemented);
#endif
    CHECK(pg.status().message().find("PostgreSQL") != std::string::npos);
    CHECK(pg.status().message().find("secret") == std::string::npos);
    StorageOptions none;
    none.read_connections = 0;
    CHECK(IsInvalidArgument(OpenStorage(dir.Url("x.db"), none).status()));
  }
  SUBCASE("a directory that does not exist is Unavailable, not a crash") {
    auto s = OpenStorage(dir.Url("no/such/dir/a.db"));
    CHECK(s.status().code() == StatusCode::kUnavailable);
  }
  SUBCASE("a file that is not a database is DataLoss") {
    std::ofstream(dir.path() / "junk.db") << std::string(8192, 'j');
    auto s = OpenStorage(dir.Url("junk.db"));
    CHECK(s.status().code() == StatusCode::kDataLoss);
  }
}

TEST_CASE("sqlite: migrations record the version and refuse newer schemas") {
  TempDir dir;
  const fs::path file = dir.path() / "m.db";
  { MustOpen(dir.Url("m.db")); }
  auto versions = [&] {
    SQLite::Database db(file.string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(db, "SELECT version FROM schema_version ORDER BY version");
    std::vector<int> out;
    while (q.executeStep()) out.push_back(q.getColumn(0).getInt());
    return out;
  };
  std::vector<int> expected;
  for (int v = 1; v <= storage::kSqliteSchemaVersion; ++v) expected.push_back(v);
  CHECK(versions() == expected);

  // Reopening applies nothing twice and keeps working.
  {
    auto s = MustOpen(dir.Url("m.db"));
    CHECK(s->Ping().ok());
  }
  CHECK(versions() == expected);

  {
    SQLite::Database db(file.string(), SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO schema_version(version, applied_at) VALUES (999, 0)");
  }
  auto s = OpenStorage(dir.Url("m.db"));
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == StatusCode::kFailedPrecondition);
  CHECK(s.status().reason() == "schema_too_new");
  CHECK(s.status().message().find("999") != std::string::npos);
}

// A database as a build that knew migrations 1..version left it.
static void MigrateTo(SQLite::Database& db, int version) {
  db.exec(
      "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT "
      "NULL)");
  for (int v = 1; v <= version; ++v) {
    db.exec(std::string(storage::SqliteMigration(v)));
    db.exec("INSERT INTO schema_version VALUES (" + std::to_string(v) + ", 0)");
  }
}

// User u1 with conversation c1 "chat", written as an older build would.
static void AddUserAndChat(SQLite::Database& db) {
  db.exec(
      "INSERT INTO users(id, email, email_norm, name, password_hash, created_at, updated_at) "
      "VALUES ('u1', 'a@example.com', 'a@example.com', 'A', 'h', 0, 0)");
  db.exec(
      "INSERT INTO conversations(id, user_id, title, created_at, updated_at) VALUES "
      "('c1', 'u1', 'chat', 0, 0)");
}

TEST_CASE("sqlite: a version-1 database is upgraded with its data and search intact") {
  TempDir dir;
  const fs::path file = dir.path() / "v1.db";
  {
    SQLite::Database db(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    MigrateTo(db, 1);
    db.exec(
        "INSERT INTO users(id, email, email_norm, name, password_hash, created_at, updated_at) "
        "VALUES ('u1', 'a@example.com', 'a@example.com', 'A', 'h', 0, 0), "
        "('u2', 'b@example.com', 'b@example.com', 'B', 'h', 0, 0)");
    db.exec(
        "INSERT INTO conversations(id, user_id, title, created_at, updated_at) VALUES "
        "('c1', 'u1', 'Old title', 0, 0), ('c2', 'u2', 'Other title', 0, 0)");
    db.exec(
        "INSERT INTO messages(id, conversation_id, user_id, role, content, status, "
        "created_at) VALUES ('m1', 'c1', 'u1', 'user', 'legacy capybara text', 'completed', 0)");
  }
  auto s = MustOpen("sqlite://" + file.string());
  CHECK(s->Ping().ok());
  auto hits = s->SearchConversations("u1", {"capybara"}, 10, 0);
  REQUIRE(hits.ok());
  REQUIRE(hits->size() == 1);
  CHECK(hits->front().id == "c1");
  CHECK(s->SearchConversations("u1", {"title"}, 10, 0)->size() == 1);
  CHECK(s->SearchConversations("u2", {"capybara"}, 10, 0)->empty());
  CHECK(s->SearchConversations("u2", {"title"}, 10, 0)->size() == 1);
  REQUIRE(s->DeleteConversation("u1", "c1").ok());
  CHECK(s->SearchConversations("u1", {"capybara"}, 10, 0)->empty());
}

TEST_CASE("sqlite: an open without migrating never changes the schema; the identity ring opens that way") {
  TempDir dir;
  const int known = storage::kSqliteSchemaVersion;
  const fs::path file = dir.path() / "old.db";
  {
    SQLite::Database db(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    MigrateTo(db, known - 1);
  }
  auto max_version = [&] {
    SQLite::Database db(file.string(), SQLite::OPEN_READONLY);
    return db.execAndGet("SELECT MAX(version) FROM schema_version").getInt();
  };
  StorageOptions no_migrate;
  no_migrate.migrate = false;
  // Older than this build: refused, naming both versions, and left as it was.
  auto old = OpenStorage(dir.Url("old.db"), no_migrate);
  REQUIRE_FALSE(old.ok());
  CHECK(old.status().code() == StatusCode::kFailedPrecondition);
  CHECK(old.status().reason() == "schema_outdated");
  CHECK(old.status().message().find("version " + std::to_string(known - 1)) != std::string::npos);
  CHECK(old.status().message().find("(" + std::to_string(known) + ")") != std::string::npos);
  auto ring = OpenIdentityKeyRing(dir.Url("old.db"), "the servers' secret");
  REQUIRE_FALSE(ring.ok());
  CHECK(ring.status().reason() == "schema_outdated");
  CHECK(ring.status().field() == "database");
  CHECK(max_version() == known - 1);

  // Newer than this build: refused the same way.
  {
    SQLite::Database db(file.string(), SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO schema_version VALUES (" + std::to_string(known) + ", 0), (" +
            std::to_string(known + 1) + ", 0)");
  }
  ring = OpenIdentityKeyRing(dir.Url("old.db"), "the servers' secret");
  REQUIRE_FALSE(ring.ok());
  CHECK(ring.status().reason() == "schema_too_new");
  CHECK(ring.status().message().find(std::to_string(known + 1)) != std::string::npos);
  CHECK(max_version() == known + 1);

  // This build's schema opens; a missing file is not made.
  { MustOpen(dir.Url("current.db")); }
  auto current = OpenStorage(dir.Url("current.db"), no_migrate);
  REQUIRE_MESSAGE(current.ok(), current.status().ToString());
  CHECK((*current)->Ping().ok());
  CHECK_FALSE(OpenStorage(dir.Url("none.db"), no_migrate).ok());
  CHECK_FALSE(fs::exists(dir.path() / "none.db"));
}

TEST_CASE("sqlite: a version-4 database keeps its run events when they move into chunks") {
  TempDir dir;
  const fs::path file = dir.path() / "v4.db";
  {
    SQLite::Database db(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    MigrateTo(db, 4);
    AddUserAndChat(db);
    db.exec(
        "INSERT INTO runs(id, user_id, conversation_id, message_id, status, created_at, "
        "finished_at, owner) VALUES ('r1', 'u1', 'c1', 'm1', 'completed', 0, 1, 'p')");
    db.exec(
        "INSERT INTO run_events(run_id, seq, type, data) VALUES "
        "('r1', 1, 'message.start', '{\"run_id\":\"r1\"}'), "
        "('r1', 2, 'message.delta', '{\"content\":\"h\\u00e9llo \\\"x\\\"\"}'), "
        "('r1', 3, 'message.done', '{\"message\":{\"id\":\"m1\"}}')");
  }
  auto s = MustOpen("sqlite://" + file.string());
  Result<std::vector<RunEvent>> events = s->ListRunEvents("u1", "r1", 0, 10);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 3);
  CHECK((*events)[0].data["run_id"] == "r1");
  CHECK((*events)[1].type == "message.delta");
  CHECK((*events)[1].data["content"] == "h\u00e9llo \"x\"");
  CHECK((*events)[2].id == 3);
  CHECK((*events)[2].data["message"]["id"] == "m1");
}

// Rows of messages_fts_pending, read on a connection of its own.
static int64_t WaitingMessages(const fs::path& file) {
  SQLite::Database db(file.string(), SQLite::OPEN_READONLY);
  return db.execAndGet("SELECT count(*) FROM messages_fts_pending").getInt64();
}

// Rows of conversations_fts_pending, read on a connection of its own.
static int64_t WaitingTitles(const fs::path& file) {
  SQLite::Database db(file.string(), SQLite::OPEN_READONLY);
  return db.execAndGet("SELECT count(*) FROM conversations_fts_pending").getInt64();
}

TEST_CASE("sqlite: messages enter the search index in batches, and a search indexes the rest") {
  TempDir dir;
  const fs::path file = dir.path() / "batch.db";
  std::string user_id;
  std::string conversation_id;
  {
    auto s = MustOpen("sqlite://" + file.string());
    user_id = NewUser(*s, "a@example.com").user.id;
    Conversation c;
    c.id = NewId();
    c.user_id = user_id;
    c.title = "chat";
    REQUIRE(s->CreateConversation(c).ok());
    conversation_id = c.id;
    auto say = [&](const std::string& text) {
      Message m;
      m.id = NewId();
      m.conversation_id = c.id;
      m.role = MessageRole::kUser;
      m.content = text;
      REQUIRE(s->AppendMessage(user_id, m).ok());
    };
    for (int i = 0; i < 70; ++i) say("entry" + std::to_string(i));
    // 64 were indexed together; the 6 since wait.
    CHECK(WaitingMessages(file) == 6);
    auto hits = s->SearchConversations(user_id, {"entry69"}, 10, 0);
    REQUIRE(hits.ok());
    CHECK(hits->size() == 1);
    CHECK(WaitingMessages(file) == 0);
    for (int i = 0; i < 3; ++i) say("after" + std::to_string(i));
    CHECK(WaitingMessages(file) == 3);
  }
  // Closed (or killed) with messages waiting: they are found after reopening.
  auto s = MustOpen("sqlite://" + file.string());
  auto hits = s->SearchConversations(user_id, {"after2"}, 10, 0);
  REQUIRE(hits.ok());
  REQUIRE(hits->size() == 1);
  CHECK(hits->front().id == conversation_id);
  CHECK(WaitingMessages(file) == 0);
}

TEST_CASE("sqlite: conversation titles enter the search index in batches, edits and deletes included") {
  TempDir dir;
  const fs::path file = dir.path() / "titles.db";
  auto s = MustOpen("sqlite://" + file.string());
  const std::string user_id = NewUser(*s, "t@example.com").user.id;
  std::vector<Conversation> made;
  auto open = [&](const std::string& title) {
    Conversation c;
    c.id = NewId();
    c.user_id = user_id;
    c.title = title;
    REQUIRE(s->CreateConversation(c).ok());
    made.push_back(c);
  };
  for (int i = 0; i < 66; ++i) open("topic" + std::to_string(i));
  // 64 were indexed together; the 2 since wait, and a search still finds them.
  CHECK(WaitingTitles(file) == 2);
  auto hits = s->SearchConversations(user_id, {"topic65"}, 10, 0);
  REQUIRE(hits.ok());
  REQUIRE(hits->size() == 1);
  CHECK(hits->front().id == made.back().id);
  CHECK(hits->front().title == "topic65");
  CHECK(WaitingTitles(file) == 0);
  CHECK(s->SearchConversations(user_id, {"topic3"}, 10, 0)->size() == 1);
  // Renamed and deleted while waiting: found by the new title only; gone.
  open("walrus");
  open("narwhal");
  CHECK(WaitingTitles(file) == 2);
  Conversation renamed = made[made.size() - 2];
  renamed.title = "beluga";
  REQUIRE(s->UpdateConversation(renamed).ok());
  REQUIRE(s->DeleteConversation(user_id, made.back().id).ok());
  CHECK(WaitingTitles(file) == 1);
  CHECK(s->SearchConversations(user_id, {"walrus"}, 10, 0)->empty());
  CHECK(s->SearchConversations(user_id, {"narwhal"}, 10, 0)->empty());
  CHECK(s->SearchConversations(user_id, {"beluga"}, 10, 0)->size() == 1);
  // Renamed once indexed: moves in the index at once.
  renamed.title = "orca";
  REQUIRE(s->UpdateConversation(renamed).ok());
  CHECK(s->SearchConversations(user_id, {"beluga"}, 10, 0)->empty());
  CHECK(s->SearchConversations(user_id, {"orca"}, 10, 0)->size() == 1);
}

TEST_CASE("sqlite: a version-6 database keeps its titles searchable when titles go by batches") {
  TempDir dir;
  const fs::path file = dir.path() / "v6.db";
  {
    SQLite::Database db(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    MigrateTo(db, 6);
    AddUserAndChat(db);
  }
  auto s = MustOpen("sqlite://" + file.string());
  CHECK(WaitingTitles(file) == 0);  // indexed by version 6's trigger already
  Result<Conversation> old = s->GetConversation("u1", "c1");
  REQUIRE(old.ok());
  REQUIRE(s->SearchConversations("u1", {old->title}, 10, 0)->size() == 1);
  old->title = "renamed okapi";
  REQUIRE(s->UpdateConversation(*old).ok());
  CHECK(s->SearchConversations("u1", {"okapi"}, 10, 0)->size() == 1);
}

TEST_CASE("sqlite: a version-5 database keeps its messages searchable when indexing goes by batches") {
  TempDir dir;
  const fs::path file = dir.path() / "v5.db";
  {
    SQLite::Database db(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    MigrateTo(db, 5);
    AddUserAndChat(db);
    db.exec(
        "INSERT INTO messages(id, conversation_id, user_id, role, content, status, "
        "created_at) VALUES ('m1', 'c1', 'u1', 'user', 'old capybara text', 'completed', 0)");
  }
  auto s = MustOpen("sqlite://" + file.string());
  CHECK(WaitingMessages(file) == 0);  // indexed by version 5's trigger already
  CHECK(s->SearchConversations("u1", {"capybara"}, 10, 0)->size() == 1);
  Message m;
  m.id = NewId();
  m.conversation_id = "c1";
  m.role = MessageRole::kUser;
  m.content = "new quokka text";
  REQUIRE(s->AppendMessage("u1", m).ok());
  CHECK(s->SearchConversations("u1", {"quokka"}, 10, 0)->size() == 1);
  // An edit of an indexed message moves it in the index at once.
  Result<Message> old = s->GetMessage("u1", "c1", "m1");
  REQUIRE(old.ok());
  old->content = "renamed okapi text";
  REQUIRE(s->UpdateMessage("u1", *old).ok());
  CHECK(s->SearchConversations("u1", {"capybara"}, 10, 0)->empty());
  CHECK(s->SearchConversations("u1", {"okapi"}, 10, 0)->size() == 1);
}

TEST_CASE("sqlite: WAL mode, and data survives reopening") {
  TempDir dir;
  std::string user_id;
  {
    StorageOptions options;
    options.durability = Durability::kPowerLossSafe;
    auto s = MustOpen(dir.Url("w.db"), options);
    user_id = NewUser(*s, "keep@example.com").user.id;
    REQUIRE(s->CreateTask(NewTask(user_id, "persist me")).ok());
  }
  {
    SQLite::Database db((dir.path() / "w.db").string(), SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
  }
  auto s = MustOpen(dir.Url("w.db"));
  auto user = s->GetUserByEmail("KEEP@example.com");
  REQUIRE(user.ok());
  CHECK(user->user.id == user_id);
  auto tasks = s->ListTasks(user_id, TaskQuery{});
  REQUIRE(tasks.ok());
  REQUIRE(tasks->size() == 1);
  CHECK(tasks->front().title == "persist me");
}

TEST_CASE("sqlite: the WAL is checkpointed into the database file while writes go on") {
  // Checkpoints run on a thread of their own, not inside the writer's
  // commits. Pages reach the main file only through a checkpoint: without
  // one, ~3,000 one-page writes would all still sit in the WAL and the main
  // file would stay at its initial size.
  TempDir dir;
  auto s = MustOpen(dir.Url("c.db"));
  const std::string user_id = NewUser(*s, "ck@example.com").user.id;
  const fs::path main_file = dir.path() / "c.db";
  const auto initial = fs::file_size(main_file);
  for (int i = 0; i < 3000; ++i) {
    Task t = NewTask(user_id, "task " + std::to_string(i));
    t.description = std::string(3000, static_cast<char>('a' + i % 26));
    REQUIRE(s->CreateTask(t).ok());
  }
  // A checkpoint is asked for at every 1,000 WAL pages and runs concurrently;
  // wait for the database file to hold at least two of them.
  const uintmax_t want = initial + 2000u * 4096u;
  for (int i = 0; i < 600 && fs::file_size(main_file) < want; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(fs::file_size(main_file) >= want);
  // The WAL was reused from its start after checkpoints rather than
  // growing with every write: these writes append ~19,000 frames (~80 MB);
  // reused, the largest seen on a quiet machine was 14 MB. How far the
  // writer runs ahead of the checkpoints depends on the machine's load, so
  // the bound only asks that the WAL was reused at all.
  CHECK(fs::file_size(dir.path() / "c.db-wal") < 15000u * 4120u);
  auto tasks = s->ListTasks(user_id, TaskQuery{});
  REQUIRE(tasks.ok());
  CHECK(tasks->size() > 0);
}

TEST_CASE("sqlite: deleted text is gone from the files after Checkpoint") {
  TempDir dir;
  const fs::path file = dir.path() / "d.db";
  auto s = MustOpen(dir.Url("d.db"));
  UserRecord a = NewUser(*s, "a@example.com");
  UserRecord b = NewUser(*s, "b@example.com");
  const Timestamp now = FromUnixMillis(1767225600000);
  Conversation c{NewId(), a.user.id, std::nullopt, "Xylophonequartz plans", now, now};
  REQUIRE(s->CreateConversation(c).ok());
  Message m;
  m.id = NewId();
  m.conversation_id = c.id;
  m.role = MessageRole::kUser;
  m.content = "remember zymurgyplinth forever";
  m.created_at = now;
  REQUIRE(s->AppendMessage(a.user.id, m).ok());
  REQUIRE(s->AddMemory({NewId(), a.user.id, "mnemonicwombatish fact", now}).ok());
  Memory mem{NewId(), b.user.id, "memorablequokkaish fact", now};
  REQUIRE(s->AddMemory(mem).ok());
  // Unrelated text that stays, so segments get merged rather than emptied.
  Conversation keep{NewId(), a.user.id, std::nullopt, "Keeper conversation", now, now};
  REQUIRE(s->CreateConversation(keep).ok());

  auto files_contain = [&](const std::string& word) {
    std::string bytes = ReadFile(file);
    if (fs::exists(file.string() + "-wal")) bytes += ReadFile(file.string() + "-wal");
    return bytes.find(word) != std::string::npos;
  };
  REQUIRE(s->Checkpoint().ok());
  // Control: before the deletes the words are in the file (the check can fail).
  REQUIRE(files_contain("zymurgyplinth"));
  REQUIRE(files_contain("Xylophonequartz"));
  REQUIRE(files_contain("mnemonicwombatish"));

  REQUIRE(s->DeleteConversation(a.user.id, c.id).ok());
  REQUIRE(s->DeleteMemory(b.user.id, mem.id).ok());
  REQUIRE(s->DeleteUser(a.user.id).ok());
  REQUIRE(s->Checkpoint().ok());
  CHECK(fs::file_size(file.string() + "-wal") == 0);
  for (std::string word :
       {"zymurgyplinth", "ymurgyplinth", "Xylophonequartz", "ylophonequartz", "xylophonequartz",
        "mnemonicwombatish", "memorablequokkaish", "a@example.com"}) {
    CAPTURE(word);
    CHECK_FALSE(files_contain(word));
  }
  CHECK(files_contain("b@example.com"));
  auto found = s->SearchConversations(a.user.id, {"zymurgyplinth"}, 10, 0);
  REQUIRE(found.ok());
  CHECK(found->empty());
}

// Where a word can linger: every row of every table (the FTS5 shadow tables
// messages_fts_data, _idx, _content, _docsize included) and the raw bytes of
// the database and WAL files. FTS5 stores a term after the first on a leaf
// page as the suffix it does not share with the term before it, so short
// suffixes are looked for too (the words are unique to their last letters).
std::string PlacesHolding(const fs::path& file, const std::string& word) {
  std::vector<std::string> variants;
  std::string lower = word;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (size_t k = 0; k + 8 <= lower.size(); ++k) variants.push_back(lower.substr(k));
  variants.push_back(word);
  std::string found;  // "place: variant; " for each hit
  std::string bytes = ReadFile(file);
  if (fs::exists(file.string() + "-wal")) bytes += ReadFile(file.string() + "-wal");
  for (const std::string& v : variants) {
    if (bytes.find(v) != std::string::npos) found += "file bytes: " + v + "; ";
  }
  SQLite::Database db(file.string(), SQLite::OPEN_READONLY);
  SQLite::Statement tables(db,
                           "SELECT name FROM sqlite_master WHERE type = 'table' "
                           "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'");
  while (tables.executeStep()) {
    const std::string table = tables.getColumn(0).getString();
    SQLite::Statement cols(db, "SELECT name FROM pragma_table_info(?)");
    cols.bind(1, table);
    while (cols.executeStep()) {
      const std::string col = cols.getColumn(0).getString();
      for (const std::string& v : variants) {
        SQLite::Statement hit(db, "SELECT count(*) FROM \"" + table + "\" WHERE instr(CAST(\"" +
                                      col + "\" AS BLOB), CAST(? AS BLOB)) > 0");
        hit.bind(1, v);
        if (hit.executeStep() && hit.getColumn(0).getInt() > 0) {
          found += table + "." + col + ": " + v + "; ";
        }
      }
    }
  }
  return found;
}

TEST_CASE("sqlite: a deleted word is nowhere: no table, no FTS segment, no file byte") {
  TempDir dir;
  const fs::path file = dir.path() / "w.db";
  auto s = MustOpen(dir.Url("w.db"));
  UserRecord a = NewUser(*s, "gonevexillology@example.com");
  UserRecord b = NewUser(*s, "stays@example.com");
  const Timestamp now = FromUnixMillis(1767225600000);
  // Each of a's words goes by a different path: conversation delete, a
  // message edited, account delete. b's words stay, so the index keeps
  // segments that must be merged rather than dropped whole.
  Conversation dropped{NewId(), b.user.id, std::nullopt, "Quagmirefandangle", now, now};
  Conversation kept{NewId(), b.user.id, std::nullopt, "Keepsakefiddlehead notes", now, now};
  Conversation owned{NewId(), a.user.id, std::nullopt, "Cumulonimbusoctet", now, now};
  for (const Conversation& c : {dropped, kept, owned}) REQUIRE(s->CreateConversation(c).ok());
  auto say = [&](const Conversation& c, const std::string& text) {
    Message m;
    m.id = NewId();
    m.conversation_id = c.id;
    m.role = MessageRole::kUser;
    m.content = text;
    m.created_at = now;
    REQUIRE(s->AppendMessage(c.user_id, m).ok());
    return m;
  };
  say(dropped, "please recall Pumpernickelzebra later");
  Message edited = say(kept, "draft Marzipanvelociraptor text");
  say(kept, "Keepsakefiddlehead stays searchable");
  say(owned, "account words Snorkelgazetteer here");
  // A search indexes every waiting text, so the words reach FTS5 segments.
  for (const std::string& w :
       {"pumpernickelzebra", "marzipanvelociraptor", "keepsakefiddlehead", "quagmirefandangle"}) {
    auto hits = s->SearchConversations(b.user.id, {w}, 10, 0);
    REQUIRE(hits.ok());
    REQUIRE(hits->size() == 1);
  }
  REQUIRE(s->SearchConversations(a.user.id, {"snorkelgazetteer"}, 10, 0)->size() == 1);
  REQUIRE(s->Checkpoint().ok());
  // Control: the scan finds the words in the index's segment data.
  for (const std::string& w : {"pumpernickelzebra", "marzipanvelociraptor", "snorkelgazetteer"}) {
    CAPTURE(w);
    CHECK(PlacesHolding(file, w).find("messages_fts_data.block") != std::string::npos);
  }

  REQUIRE(s->DeleteConversation(b.user.id, dropped.id).ok());
  edited.content = "final text";
  REQUIRE(s->UpdateMessage(b.user.id, edited).ok());
  REQUIRE(s->DeleteUser(a.user.id).ok());
  REQUIRE(s->Checkpoint().ok());
  for (const std::string& w : {"Pumpernickelzebra", "Quagmirefandangle", "Marzipanvelociraptor",
                               "Snorkelgazetteer", "Cumulonimbusoctet", "gonevexillology"}) {
    CAPTURE(w);
    CHECK(PlacesHolding(file, w) == "");
  }
  CHECK_FALSE(PlacesHolding(file, "Keepsakefiddlehead").empty());
  CHECK(s->SearchConversations(b.user.id, {"keepsakefiddlehead"}, 10, 0)->size() == 1);
}

TEST_CASE("sqlite: text deleted before a crash is purged by the next process's Checkpoint") {
  TempDir dir;
  const fs::path file = dir.path() / "r.db";
  const Timestamp now = FromUnixMillis(1767225600000);
  {
    auto s = MustOpen(dir.Url("r.db"));
    UserRecord a = NewUser(*s, "a@example.com");
    Conversation keep{NewId(), a.user.id, std::nullopt, "Keeper conversation", now, now};
    REQUIRE(s->CreateConversation(keep).ok());
    Conversation c{NewId(), a.user.id, std::nullopt, "Quixoticvortex", now, now};
    REQUIRE(s->CreateConversation(c).ok());
    REQUIRE(s->Checkpoint().ok());
    REQUIRE(s->DeleteConversation(a.user.id, c.id).ok());
    // Closed without a Checkpoint(), as a killed process would be.
  }
  auto s = MustOpen(dir.Url("r.db"));
  REQUIRE(s->Checkpoint().ok());
  std::string bytes = ReadFile(file);
  if (fs::exists(file.string() + "-wal")) bytes += ReadFile(file.string() + "-wal");
  CHECK(bytes.find("uixoticvortex") == std::string::npos);
  CHECK(bytes.find("Keeper") != std::string::npos);
}

TEST_CASE("sqlite: many threads writing and reading at once") {
  TempDir dir;
  StorageOptions options;
  options.read_connections = 2;  // fewer readers than threads: readers queue
  auto s = MustOpen(dir.Url("c.db"), options);
  UserRecord a = NewUser(*s, "a@example.com");
  const Timestamp now = FromUnixMillis(1767225600000);
  Conversation c{NewId(), a.user.id, std::nullopt, "busy", now, now};
  REQUIRE(s->CreateConversation(c).ok());
  constexpr int kThreads = 8;
  constexpr int kEach = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        Message m;
        m.id = NewId();
        m.conversation_id = c.id;
        m.role = MessageRole::kUser;
        m.content = "word" + std::to_string(i) + " common";
        m.created_at = now;
        if (!s->AppendMessage(a.user.id, m).ok()) ++failures;
        if (!s->SearchConversations(a.user.id, {"common"}, 10, 0).ok()) ++failures;
        if (!s->ListMessages(a.user.id, c.id, "", 5).ok()) ++failures;
        if (!s->CreateTask(NewTask(a.user.id, "t")).ok()) ++failures;
        if (!s->Ping().ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  auto page = s->ListMessages(a.user.id, c.id, "", 1000);
  REQUIRE(page.ok());
  CHECK(page->messages.size() == kThreads * kEach);
  CHECK(s->Checkpoint().ok());
}

TEST_CASE("sqlite: group commit keeps each write's outcome its own") {
  // Writes from many threads share transactions; a failing write (a
  // constraint, an exception half-way) must take only its own changes with
  // it, and every successful one must be there after reopening.
  TempDir dir;
  constexpr int kThreads = 8;
  constexpr int kEach = 40;
  std::vector<std::string> user_ids;
  {
    auto s = MustOpen(dir.Url("g.db"));
    for (int i = 0; i < kThreads; ++i) {
      user_ids.push_back(NewUser(*s, "u" + std::to_string(i) + "@example.com").user.id);
    }
    std::atomic<int> unexpected{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        const std::string& uid = user_ids[i];
        for (int j = 0; j < kEach; ++j) {
          Task t = NewTask(uid, "t" + std::to_string(j));
          if (!s->CreateTask(t).ok()) ++unexpected;
          // Same id again: a constraint failure inside the shared transaction.
          if (s->CreateTask(t).code() != StatusCode::kAlreadyExists) ++unexpected;
          // Throws inside the shared transaction: nothing of it may stay.
          auto boom = s->UpdateAgentState(
              uid, "boom",
              [](const std::optional<Json>&) -> Result<Json> { throw std::runtime_error("x"); },
              FromUnixMillis(0));
          if (boom.status().code() != StatusCode::kInternal) ++unexpected;
          auto ok = s->UpdateAgentState(
              uid, "",
              [j](const std::optional<Json>&) -> Result<Json> { return Json{{"n", j}}; },
              FromUnixMillis(j));
          if (!ok.ok()) ++unexpected;
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(unexpected == 0);
  }
  auto s = MustOpen(dir.Url("g.db"));
  for (const std::string& uid : user_ids) {
    TaskQuery q;
    q.limit = 1000;
    auto tasks = s->ListTasks(uid, q);
    REQUIRE(tasks.ok());
    CHECK(tasks->size() == static_cast<size_t>(kEach));
    auto state = s->GetAgentState(uid, "");
    REQUIRE(state.ok());
    CHECK(state->state == Json{{"n", kEach - 1}});
    CHECK(IsNotFound(s->GetAgentState(uid, "boom").status()));
  }
}

TEST_CASE("sqlite: a lock held past busy_timeout is Unavailable") {
  TempDir dir;
  StorageOptions options;
  options.busy_timeout = std::chrono::milliseconds(100);
  auto s = MustOpen(dir.Url("b.db"), options);
  UserRecord a = NewUser(*s, "a@example.com");
  SQLite::Database other((dir.path() / "b.db").string(), SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  Status st = s->CreateTask(NewTask(a.user.id, "blocked"));
  CHECK(st.code() == StatusCode::kUnavailable);
  // Reads still work while another process writes (WAL).
  CHECK(s->GetUserById(a.user.id).ok());
  other.exec("ROLLBACK");
  CHECK(s->CreateTask(NewTask(a.user.id, "unblocked")).ok());
}

TEST_CASE("sqlite: an exception from an agent-state update does not escape") {
  auto s = MustOpen("sqlite::memory:");
  UserRecord a = NewUser(*s, "a@example.com");
  auto r = s->UpdateAgentState(
      a.user.id, "",
      [](const std::optional<Json>&) -> Result<Json> { throw std::runtime_error("boom"); },
      FromUnixMillis(0));
  CHECK(r.status().code() == StatusCode::kInternal);
  // The transaction was rolled back; the writer is usable again.
  CHECK(IsNotFound(s->GetAgentState(a.user.id, "").status()));
  CHECK(s->CreateTask(NewTask(a.user.id, "after")).ok());
}

namespace {

// Fails every task write: the fault-injection use of StorageWrapper.
class FailingTaskWrites final : public StorageWrapper {
 public:
  using StorageWrapper::StorageWrapper;
  Status CreateTask(const Task&) override {
    ++calls;
    return ResourceExhaustedError("injected", "storage_full");
  }
  int calls = 0;
};

}  // namespace

TEST_CASE("StorageWrapper forwards every call but the overridden ones") {
  std::shared_ptr<Storage> real = MustOpen("sqlite::memory:");
  FailingTaskWrites wrapped(real);
  CHECK(wrapped.Backend() == "sqlite");
  CHECK(wrapped.target() == real.get());
  UserRecord a = NewUser(wrapped, "a@example.com");
  CHECK(real->GetUserById(a.user.id).ok());  // forwarded to the target
  Status st = wrapped.CreateTask(NewTask(a.user.id, "x"));
  CHECK(st.reason() == "storage_full");
  CHECK(wrapped.calls == 1);
  CHECK(wrapped.ListTasks(a.user.id, TaskQuery{})->empty());
  REQUIRE(real->CreateTask(NewTask(a.user.id, "y")).ok());
  CHECK(wrapped.ListTasks(a.user.id, TaskQuery{})->size() == 1);
}

TEST_CASE("sqlite: ListTasksAsync on a loop's own read connection (file databases only)") {
  TempDir dir;
  // In memory there is one connection, the writer's: nothing fit for a loop.
  CHECK_FALSE(MustOpen("sqlite::memory:")->ListTasksAsyncFitsLoop());

  auto s = MustOpen(dir.Url("loops.db"));
  CHECK(s->ListTasksAsyncFitsLoop());
  const UserRecord u = NewUser(*s, "loops@example.com");
  REQUIRE(s->CreateTask(NewTask(u.user.id, "on the loop")).ok());
  auto list = [&](testing::PollEventLoop& loop) {
    std::optional<Result<std::vector<Task>>> got;
    bool inside = true;
    s->ListTasksAsync(u.user.id, TaskQuery{}, loop, [&](Result<std::vector<Task>> v) {
      CHECK_FALSE(inside);  // never inside the call
      got.emplace(std::move(v));
    });
    inside = false;
    REQUIRE(loop.RunUntil([&] { return got.has_value(); }, std::chrono::seconds(10)));
    REQUIRE_MESSAGE(got->ok(), got->status().ToString());
    return std::move(**got);
  };
  testing::PollEventLoop first;
  REQUIRE(list(first).size() == 1);
  // A write after the loop's connection was opened is seen by its next read.
  REQUIRE(s->CreateTask(NewTask(u.user.id, "written later")).ok());
  CHECK(list(first).size() == 2);
  s->ForgetLoop(first);
  testing::PollEventLoop second;
  CHECK(list(second).size() == 2);
  s->ForgetLoop(second);  // `second` ends before the storage
}
