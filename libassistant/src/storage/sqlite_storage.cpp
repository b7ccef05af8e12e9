// SQLite implementation of assistant::Storage.
//
// Connection model (also in docs/storage.md):
//   - File databases run in WAL mode with foreign_keys=ON, secure_delete=ON,
//     busy_timeout from StorageOptions, and synchronous=NORMAL
//     (kProcessCrashSafe) or FULL (kPowerLossSafe).
//   - One writer connection behind a mutex. SQLite admits one writer at a
//     time anyway; funnelling this process's writes through one connection
//     avoids SQLITE_BUSY storms between our own threads and lets every write
//     start with BEGIN IMMEDIATE, so the lock is taken up front and a
//     transaction never fails half-way on a lock upgrade. busy_timeout then
//     only matters against other processes sharing the file.
//   - Group commit: writes that arrive while a transaction is committing
//     queue up, and the next writer to run (the "leader") executes all of them
//     in one transaction, each inside its own SAVEPOINT, then commits once.
//     A commit (a WAL append, and an fsync under kPowerLossSafe) costs more
//     than most single writes, so under concurrency this multiplies write
//     throughput. Semantics stay per write: a write that fails is rolled back
//     to its savepoint alone; every caller returns only after the commit that
//     holds its write, with that commit's outcome (if the commit fails, every
//     write in it reports the failure and none is applied). A write that runs
//     alone takes no savepoint.
//   - Checkpoints run on a thread with a connection of its own
//     (wal_checkpointer.hpp), not inside the writer's commits.
//   - A small pool of read-only reader connections (StorageOptions::
//     read_connections). WAL lets them read concurrently with the writer, each
//     seeing the last committed state when its statement starts.
//   - `sqlite::memory:` is one private database per connection, so it uses a
//     single connection for reads and writes, behind the writer mutex.
//   - Prepared statements are cached per connection (keyed by SQL text) and
//     reset after every use, so no statement holds a read snapshot open
//     (that would pin the WAL and stop checkpoints).
//   - Every SQLiteCpp exception is caught in Read()/Write() and mapped to a
//     Status (MapError); nothing escapes.
//   - Deleted text: secure_delete zeroes freed cells and pages; the FTS5
//     index keeps deleted terms in old segments until they are merged, so
//     Checkpoint() first runs FTS5 'optimize' when anything indexed was
//     deleted or rewritten, then `wal_checkpoint(TRUNCATE)`.
#include "storage/sqlite_storage.hpp"
#include "common/json_text.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/rate_limit_sql.hpp"
#include "storage/row_mapping.hpp"
#include "storage/schema_check.hpp"
#include "storage/search_terms.hpp"
#include "storage/wal_checkpointer.hpp"

namespace assistant::storage {

namespace {

// ---------------------------------------------------------------- schema

// Migration N brings the schema from version N-1 to N. Append only; never
// edit a released migration.
const char* const kMigrations[] = {
    // 1: initial schema.
    R"sql(
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  email_norm TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  email_verified INTEGER NOT NULL DEFAULT 0,
  preferences TEXT NOT NULL DEFAULT '{}',
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  ip TEXT NOT NULL,
  user_agent TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id, created_at);
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX api_keys_user ON api_keys(user_id, created_at);
CREATE TABLE one_time_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  purpose TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX one_time_tokens_user ON one_time_tokens(user_id);
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  completed INTEGER NOT NULL DEFAULT 0,
  due_at INTEGER,
  priority INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX tasks_user ON tasks(user_id, created_at, id);
CREATE INDEX tasks_user_completed ON tasks(user_id, completed, created_at, id);
-- seq gives conversations and messages a stable integer key for the FTS
-- tables' rowids; the public id stays the UUID.
CREATE TABLE conversations (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  app_id TEXT,
  title TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX conversations_user ON conversations(user_id, updated_at, id);
CREATE TABLE messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  tool_calls TEXT,
  tool_call_id TEXT,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, seq);
CREATE INDEX messages_user ON messages(user_id);
CREATE TABLE agent_state (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  app_id TEXT NOT NULL,
  state TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, app_id)
);
CREATE TABLE memories (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  content TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX memories_user ON memories(user_id, created_at, id);
CREATE TABLE user_data (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, ns, key)
);
-- user_id is NULL for events with no known account.
CREATE TABLE audit_events (
  id TEXT PRIMARY KEY,
  user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  outcome TEXT NOT NULL,
  ip TEXT NOT NULL,
  user_agent TEXT,
  request_id TEXT NOT NULL,
  details TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX audit_events_user ON audit_events(user_id, created_at, id);
-- Regular (content-holding) FTS5 tables kept in sync by triggers, so a
-- deleted row's text leaves the index too (no external content to go stale).
CREATE VIRTUAL TABLE conversations_fts USING fts5(title, tokenize = 'unicode61');
CREATE VIRTUAL TABLE messages_fts USING fts5(content, tokenize = 'unicode61');
CREATE TRIGGER conversations_fts_ai AFTER INSERT ON conversations BEGIN
  INSERT INTO conversations_fts(rowid, title) VALUES (new.seq, new.title);
END;
CREATE TRIGGER conversations_fts_ad AFTER DELETE ON conversations BEGIN
  DELETE FROM conversations_fts WHERE rowid = old.seq;
END;
CREATE TRIGGER conversations_fts_au AFTER UPDATE OF title ON conversations BEGIN
  DELETE FROM conversations_fts WHERE rowid = old.seq;
  INSERT INTO conversations_fts(rowid, title) VALUES (new.seq, new.title);
END;
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
END;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
  DELETE FROM messages_fts WHERE rowid = old.seq;
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN
  DELETE FROM messages_fts WHERE rowid = old.seq;
  INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
END;
)sql",
    // 2: the search index carries an owner token ('u' || hex(user_id)), so a
    // search intersects with the caller's rows inside FTS5 instead of
    // matching every user's rows and filtering afterwards.
    R"sql(
DROP TRIGGER conversations_fts_ai;
DROP TRIGGER conversations_fts_ad;
DROP TRIGGER conversations_fts_au;
DROP TRIGGER messages_fts_ai;
DROP TRIGGER messages_fts_ad;
DROP TRIGGER messages_fts_au;
DROP TABLE conversations_fts;
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE conversations_fts USING fts5(title, owner, tokenize = 'unicode61');
CREATE VIRTUAL TABLE messages_fts USING fts5(content, owner, tokenize = 'unicode61');
CREATE TRIGGER conversations_fts_ai AFTER INSERT ON conversations BEGIN
  INSERT INTO conversations_fts(rowid, title, owner)
    VALUES (new.seq, new.title, 'u' || hex(new.user_id));
END;
CREATE TRIGGER conversations_fts_ad AFTER DELETE ON conversations BEGIN
  DELETE FROM conversations_fts WHERE rowid = old.seq;
END;
CREATE TRIGGER conversations_fts_au AFTER UPDATE OF title ON conversations BEGIN
  DELETE FROM conversations_fts WHERE rowid = old.seq;
  INSERT INTO conversations_fts(rowid, title, owner)
    VALUES (new.seq, new.title, 'u' || hex(new.user_id));
END;
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts(rowid, content, owner)
    VALUES (new.seq, new.content, 'u' || hex(new.user_id));
END;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
  DELETE FROM messages_fts WHERE rowid = old.seq;
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN
  DELETE FROM messages_fts WHERE rowid = old.seq;
  INSERT INTO messages_fts(rowid, content, owner)
    VALUES (new.seq, new.content, 'u' || hex(new.user_id));
END;
INSERT INTO conversations_fts(rowid, title, owner)
  SELECT seq, title, 'u' || hex(user_id) FROM conversations;
INSERT INTO messages_fts(rowid, content, owner)
  SELECT seq, content, 'u' || hex(user_id) FROM messages;
)sql",
    // 3: agent runs (assistant/runs.hpp). A run goes with its user and its
    // conversation; its events (which hold reply text) go with the run.
    R"sql(
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  message_id TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  owner TEXT NOT NULL
);
CREATE INDEX runs_user ON runs(user_id);
CREATE INDEX runs_conversation ON runs(conversation_id);
CREATE INDEX runs_finished ON runs(finished_at) WHERE finished_at IS NOT NULL;
-- What an owning process polls for: small, since requests are rare.
CREATE INDEX runs_cancel_requested ON runs(owner)
  WHERE cancel_requested = 1 AND status = 'running';
CREATE TABLE run_events (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
)sql",
    // 4: runs carry the owning process's last sign of life, so a run whose
    // process died can be told from a slow one.
    R"sql(
ALTER TABLE runs ADD COLUMN heartbeat_at INTEGER;
)sql",
    // 5: a run's events are stored in chunks, one row per batch written
    // (`events` is a JSON array of [seq, type, data]). A turn streams many
    // small deltas, and a row per event made storing them the largest part
    // of a turn. Chunks never share an event id (see InsertRunEvents), but
    // their [first_seq, last_seq] ranges may interleave.
    R"sql(
CREATE TABLE run_event_chunks (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  events TEXT NOT NULL,
  PRIMARY KEY (run_id, first_seq)
) WITHOUT ROWID;
CREATE INDEX run_event_chunks_last ON run_event_chunks(run_id, last_seq);
INSERT INTO run_event_chunks(run_id, first_seq, last_seq, events)
  SELECT run_id, seq, seq, json_array(json_array(seq, type, json(data))) FROM run_events;
DROP TABLE run_events;
)sql",
    // 6: messages enter the search index in batches. Indexing one message
    // per transaction (a trigger per insert) made FTS5 write a new segment
    // per turn: about as many WAL pages and as much CPU as the rest of the
    // turn's writes. A new message's seq now waits in messages_fts_pending
    // until IndexPendingText indexes every waiting one at once (when
    // enough wait, and always before a search reads the index).
    R"sql(
CREATE TABLE messages_fts_pending (seq INTEGER PRIMARY KEY);
DROP TRIGGER messages_fts_ai;
DROP TRIGGER messages_fts_ad;
DROP TRIGGER messages_fts_au;
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts_pending(seq) VALUES (new.seq);
END;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
  DELETE FROM messages_fts_pending WHERE seq = old.seq;
  DELETE FROM messages_fts WHERE rowid = old.seq;
END;
-- A message still waiting is indexed with whatever content it has then.
CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages
  WHEN NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE seq = old.seq) BEGIN
  DELETE FROM messages_fts WHERE rowid = old.seq;
  INSERT INTO messages_fts(rowid, content, owner)
    VALUES (new.seq, new.content, 'u' || hex(new.user_id));
END;
)sql",
    // 7: conversation titles enter the search index in batches too, for the
    // same reason as messages (6): every new conversation (an agent turn
    // without conversation_id, POST /api/conversations) made FTS5 write a
    // segment of its own. A title waits in conversations_fts_pending and is
    // indexed with the waiting messages.
    R"sql(
CREATE TABLE conversations_fts_pending (seq INTEGER PRIMARY KEY);
DROP TRIGGER conversations_fts_ai;
DROP TRIGGER conversations_fts_ad;
DROP TRIGGER conversations_fts_au;
CREATE TRIGGER conversations_fts_ai AFTER INSERT ON conversations BEGIN
  INSERT INTO conversations_fts_pending(seq) VALUES (new.seq);
END;
CREATE TRIGGER conversations_fts_ad AFTER DELETE ON conversations BEGIN
  DELETE FROM conversations_fts_pending WHERE seq = old.seq;
  DELETE FROM conversations_fts WHERE rowid = old.seq;
END;
-- A title still waiting is indexed as it is then.
CREATE TRIGGER conversations_fts_au AFTER UPDATE OF title ON conversations
  WHEN NOT EXISTS (SELECT 1 FROM conversations_fts_pending WHERE seq = old.seq) BEGIN
  DELETE FROM conversations_fts WHERE rowid = old.seq;
  INSERT INTO conversations_fts(rowid, title, owner)
    VALUES (new.seq, new.title, 'u' || hex(new.user_id));
END;
)sql",
    // 8: token signing keys live in the database, so a key rotated on one
    // server is used and trusted by every other (docs/storage.md "Signing
    // keys"). The private key is sealed by the core before it gets here.
    R"sql(
CREATE TABLE signing_keys (
  purpose TEXT NOT NULL,
  kid TEXT NOT NULL,
  alg TEXT NOT NULL,
  sealed_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  retired_at INTEGER,
  PRIMARY KEY (purpose, kid)
) WITHOUT ROWID;
)sql",
    // 9: rate-limit counters, so a limit holds across every server on the
    // database (docs/storage.md "Rate limits").
    R"sql(
CREATE TABLE rate_limits (
  key TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  hits INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX rate_limits_window ON rate_limits(window_start);
)sql",
};
constexpr int kMigrationCount = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);
static_assert(kMigrationCount == kSqliteSchemaVersion,
              "kSqliteSchemaVersion must equal the number of migrations");

// ---------------------------------------------------------------- helpers

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

int64_t Ms(Timestamp t) { return ToUnixMillis(t); }

void BindOptTime(SQLite::Statement& st, int i, const std::optional<Timestamp>& t) {
  if (t) {
    st.bind(i, Ms(*t));
  } else {
    st.bind(i);
  }
}

void BindOptText(SQLite::Statement& st, int i, const std::optional<std::string>& s) {
  if (s) {
    st.bind(i, *s);
  } else {
    st.bind(i);
  }
}

Timestamp TimeCol(const SQLite::Statement& st, int i) {
  return FromUnixMillis(st.getColumn(i).getInt64());
}

std::string TextCol(const SQLite::Statement& st, int i) { return st.getColumn(i).getString(); }

// Throws nlohmann::json::parse_error on a corrupt document; Read()/Write()
// turn that into DataLoss.
Json JsonCol(const SQLite::Statement& st, int i) { return Json::parse(TextCol(st, i)); }

// A statement borrowed from a connection's cache; reset on scope exit so it
// never keeps a read transaction open.
class Stmt final {
 public:
  explicit Stmt(SQLite::Statement& st) : st_(st) {}
  ~Stmt() { st_.tryReset(); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  SQLite::Statement* operator->() { return &st_; }
  SQLite::Statement& operator*() { return st_; }

 private:
  SQLite::Statement& st_;
};

// A statement on the raw sqlite3 handle, for the hottest reads (tasks):
// SQLiteCpp's getColumn() builds a Column that shares ownership of the
// statement (an atomic count up and down per value read) and getString()
// copies through a temporary. Borrowed from a connection's cache; reset and
// its bindings cleared on scope exit, so it never keeps a read transaction
// open nor points at a bound string that is gone.
class RawStmt final {
 public:
  RawStmt(sqlite3* db, sqlite3_stmt* st) : db_(db), st_(st) {}
  ~RawStmt() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  RawStmt(const RawStmt&) = delete;
  RawStmt& operator=(const RawStmt&) = delete;

  sqlite3_stmt* get() const { return st_; }
  // Not copied: `text` must outlive this borrow.
  void BindText(int i, std::string_view text) {
    Check(sqlite3_bind_text(st_, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC));
  }
  void BindInt64(int i, int64_t v) { Check(sqlite3_bind_int64(st_, i, v)); }
  // True while there is a row; throws SQLite::Exception (Guard maps it).
  bool Step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SQLite::Exception(db_, rc);
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK) throw SQLite::Exception(db_, rc);
  }
  sqlite3* db_;
  sqlite3_stmt* st_;
};

struct FinalizeStmt {
  void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
};

struct Connection {
  Connection(const std::string& path, int flags, int busy_ms) : db(path, flags, busy_ms) {}

  RawStmt PrepareRaw(const std::string& sql) {
    auto it = raw_cache.find(sql);
    if (it == raw_cache.end()) {
      sqlite3_stmt* st = nullptr;
      const int rc = sqlite3_prepare_v3(db.getHandle(), sql.c_str(), static_cast<int>(sql.size()),
                                        SQLITE_PREPARE_PERSISTENT, &st, nullptr);
      if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        throw SQLite::Exception(db.getHandle(), rc);
      }
      it = raw_cache.emplace(sql, std::unique_ptr<sqlite3_stmt, FinalizeStmt>(st)).first;
    }
    return RawStmt(db.getHandle(), it->second.get());
  }

  Stmt Prepare(const std::string& sql) {
    auto it = cache.find(sql);
    if (it == cache.end()) {
      it = cache.emplace(sql, std::make_unique<SQLite::Statement>(db, sql)).first;
    }
    SQLite::Statement& st = *it->second;
    st.reset();
    st.clearBindings();
    return Stmt(st);
  }

  int Changes() const { return db.getChanges(); }

  SQLite::Database db;
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> cache;
  // After db: finalized before it closes.
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, FinalizeStmt>> raw_cache;
};

Status MapError(const SQLite::Exception& e) {
  const int code = e.getErrorCode() & 0xFF;
  const int ext = e.getExtendedErrorCode();
  const std::string what = e.what();
  switch (code) {
    case SQLITE_CONSTRAINT:
      if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
        if (what.find("users.email_norm") != std::string::npos) {
          return AlreadyExistsError("a user with this email already exists", "email_taken");
        }
        return AlreadyExistsError("a record with this id or key already exists");
      }
      if (ext == SQLITE_CONSTRAINT_FOREIGNKEY) {
        return NotFoundError(
            "the record refers to a user, session or conversation "
            "that does not exist");
      }
      return InvalidArgumentError("storage constraint failed: " + what, "", "invalid_record");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return UnavailableError("database is busy past the busy timeout: " + what);
    case SQLITE_FULL:
      return ResourceExhaustedError("database or disk is full", "storage_full");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLossError("database file is corrupt or not a database: " + what);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return UnavailableError("database cannot be reached: " + what);
    default:
      return InternalError("storage error: " + what);
  }
}

// Runs `fn`, turning every exception into a Status.
template <typename Fn>
auto Guard(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const SQLite::Exception& e) {
    return MapError(e);
  } catch (const Json::exception& e) {
    return DataLossError(std::string("stored JSON is corrupt: ") + e.what());
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("out of memory");
  } catch (const std::exception& e) {
    return InternalError(std::string("storage error: ") + e.what());
  } catch (...) {
    return InternalError("storage error: unknown exception");
  }
}

// Builds an FTS5 MATCH expression from user words (ParseSearchTerms keeps
// only plain tokens): each word becomes one quoted phrase of its tokens, with
// `*` after it when it is a prefix. Phrases are ANDed. Empty when no word has
// a token.
std::string BuildMatch(const std::vector<std::string>& words) {
  std::string out;
  for (const SearchTerm& term : ParseSearchTerms(words)) {
    std::string phrase;
    for (const std::string& token : term.tokens) {
      if (!phrase.empty()) phrase += ' ';
      phrase += token;
    }
    if (!out.empty()) out += ' ';
    // Only '"' is special inside an FTS5 string, and it cannot occur here.
    out += '"' + phrase + '"';
    if (term.prefix) out += '*';
  }
  return out;
}

// The search index's owner token for a user: 'u' || hex(user_id), exactly as
// the triggers compute it. One alphanumeric token whatever the id holds.
std::string OwnerToken(const std::string& user_id) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out = "u";
  for (unsigned char c : user_id) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

std::string EscapeLike(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// ---------------------------------------------------------------- row readers

// Column lists and readers are shared with PostgreSQL (row_mapping.hpp);
// this adapts a SQLiteCpp statement's current row to them.
struct SqliteRow {
  const SQLite::Statement& st;
  std::string Text(int i) const { return st.getColumn(i).getString(); }
  std::optional<std::string> OptText(int i) const {
    SQLite::Column c = st.getColumn(i);
    if (c.isNull()) return std::nullopt;
    return c.getString();
  }
  int64_t Int(int i) const { return st.getColumn(i).getInt64(); }
  std::optional<int64_t> OptInt(int i) const {
    SQLite::Column c = st.getColumn(i);
    if (c.isNull()) return std::nullopt;
    return c.getInt64();
  }
};

using namespace rows::columns;  // kUserCols, kTaskCols, ...

UserRecord ReadUser(const SQLite::Statement& st) { return rows::ReadUser(SqliteRow{st}); }
Session ReadSession(const SQLite::Statement& st) { return rows::ReadSession(SqliteRow{st}); }
RefreshToken ReadRefresh(const SQLite::Statement& st) { return rows::ReadRefresh(SqliteRow{st}); }
ApiKey ReadApiKey(const SQLite::Statement& st) { return rows::ReadApiKey(SqliteRow{st}); }
Conversation ReadConversation(const SQLite::Statement& st) {
  return rows::ReadConversation(SqliteRow{st});
}
Message ReadMessage(const SQLite::Statement& st) { return rows::ReadMessage(SqliteRow{st}); }
Memory ReadMemory(const SQLite::Statement& st) { return rows::ReadMemory(SqliteRow{st}); }
UserDataEntry ReadUserData(const SQLite::Statement& st) {
  return rows::ReadUserData(SqliteRow{st});
}
AuditEvent ReadAudit(const SQLite::Statement& st) { return rows::ReadAudit(SqliteRow{st}); }
Run ReadRun(const SQLite::Statement& st) { return rows::ReadRun(SqliteRow{st}); }

// Straight from the raw statement (RawStmt says why).
void AssignText(std::string& out, sqlite3_stmt* st, int i) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
  if (text == nullptr) {
    out.clear();
  } else {
    out.assign(text, static_cast<size_t>(sqlite3_column_bytes(st, i)));
  }
}
Task ReadTask(sqlite3_stmt* st) {
  Task t;
  AssignText(t.id, st, 0);
  AssignText(t.user_id, st, 1);
  AssignText(t.title, st, 2);
  AssignText(t.description, st, 3);
  t.completed = sqlite3_column_int(st, 4) != 0;
  if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
    t.due_at = FromUnixMillis(sqlite3_column_int64(st, 5));
  }
  t.priority = sqlite3_column_int(st, 6);
  t.created_at = FromUnixMillis(sqlite3_column_int64(st, 7));
  t.updated_at = FromUnixMillis(sqlite3_column_int64(st, 8));
  return t;
}

std::string Sql(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out += p;
  return out;
}

// ---------------------------------------------------------------- storage

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(std::unique_ptr<Connection> writer,
                std::vector<std::unique_ptr<Connection>> readers)
      : writer_(std::move(writer)), readers_(std::move(readers)) {
    for (auto& r : readers_) free_readers_.push_back(r.get());
  }

  // Called once, before the storage is shared: checkpoints leave the
  // writer's commits for a thread of their own (wal_checkpointer.hpp).
  void AttachCheckpointer(std::unique_ptr<WalCheckpointer> checkpointer) {
    std::lock_guard<std::mutex> lock(writer_mu_);
    checkpointer_ = std::move(checkpointer);
    checkpointer_->Attach(writer_->db.getHandle());
  }

  // Called once, before the storage is shared: from then on reads use the
  // pool instead of the writer.
  void AttachReaders(std::vector<std::unique_ptr<Connection>> readers, std::string file,
                     int busy_ms) {
    readers_ = std::move(readers);
    for (auto& r : readers_) free_readers_.push_back(r.get());
    file_ = std::move(file);
    busy_ms_ = busy_ms;
  }

  // Applies pending migrations in one write transaction.
  Status Migrate() {
    return Write([&](Connection& c) -> Status {
      c.db.exec(
          "CREATE TABLE IF NOT EXISTS schema_version ("
          "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
      int current = 0;
      {
        Stmt st = c.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version");
        if (st->executeStep()) current = st->getColumn(0).getInt();
      }
      if (current > kSqliteSchemaVersion) {
        return FailedPreconditionError("database schema version " + std::to_string(current) +
                                           " is newer than this build supports (" +
                                           std::to_string(kSqliteSchemaVersion) +
                                           "); upgrade libassistant or use another database",
                                       "schema_too_new");
      }
      for (int v = current + 1; v <= kSqliteSchemaVersion; ++v) {
        c.db.exec(kMigrations[v - 1]);
        Stmt ins = c.Prepare("INSERT INTO schema_version(version, applied_at) VALUES (?, ?)");
        ins->bind(1, v);
        ins->bind(2, Ms(std::chrono::system_clock::now()));
        ins->exec();
      }
      return Status();
    });
  }

  Status Ping() override {
    return Read([&](Connection& c) -> Status {
      Stmt st = c.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version");
      int v = st->executeStep() ? st->getColumn(0).getInt() : 0;
      if (v != kSqliteSchemaVersion) {
        return FailedPreconditionError(
            "database schema version " + std::to_string(v) + " differs from this build's " +
                std::to_string(kSqliteSchemaVersion),
            v > kSqliteSchemaVersion ? "schema_too_new" : "schema_outdated");
      }
      return Status();
    });
  }

  std::string Backend() const override { return "sqlite"; }

  // ---- users

  Status CreateUser(const UserRecord& r) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare(
          "INSERT INTO users(id, email, email_norm, name, email_verified, preferences, "
          "password_hash, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)");
      st->bind(1, r.user.id);
      st->bind(2, r.user.email);
      st->bind(3, AsciiLower(r.user.email));
      st->bind(4, r.user.name);
      st->bind(5, r.user.email_verified ? 1 : 0);
      st->bind(6, DumpJson(r.user.preferences));
      st->bind(7, r.password_hash);
      st->bind(8, Ms(r.user.created_at));
      st->bind(9, Ms(r.user.updated_at));
      st->exec();
      return Status();
    });
  }

  Result<UserRecord> GetUserById(const std::string& id) override {
    return Read([&](Connection& c) -> Result<UserRecord> {
      Stmt st = c.Prepare(Sql({"SELECT ", kUserCols, " FROM users WHERE id = ?"}));
      st->bind(1, id);
      if (!st->executeStep()) return NotFoundError("user not found");
      return ReadUser(*st);
    });
  }

  Result<UserRecord> GetUserByEmail(const std::string& email) override {
    return Read([&](Connection& c) -> Result<UserRecord> {
      Stmt st = c.Prepare(Sql({"SELECT ", kUserCols, " FROM users WHERE email_norm = ?"}));
      st->bind(1, AsciiLower(email));
      if (!st->executeStep()) return NotFoundError("user not found");
      return ReadUser(*st);
    });
  }

  Status UpdateUser(const UserRecord& r) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare(
          "UPDATE users SET name = ?, email = ?, email_norm = ?, email_verified = ?, "
          "preferences = ?, password_hash = ?, updated_at = ? WHERE id = ?");
      st->bind(1, r.user.name);
      st->bind(2, r.user.email);
      st->bind(3, AsciiLower(r.user.email));
      st->bind(4, r.user.email_verified ? 1 : 0);
      st->bind(5, DumpJson(r.user.preferences));
      st->bind(6, r.password_hash);
      st->bind(7, Ms(r.user.updated_at));
      st->bind(8, r.user.id);
      if (st->exec() == 0) return NotFoundError("user not found");
      return Status();
    });
  }

  Status DeleteUser(const std::string& id) override {
    Status s = Write([&](Connection& c) -> Status {
      // Messages and conversations first and explicitly, so their FTS
      // triggers run; the rest goes by ON DELETE CASCADE.
      for (const char* sql :
           {"DELETE FROM messages WHERE user_id = ?", "DELETE FROM conversations WHERE user_id = ?",
            "DELETE FROM audit_events WHERE user_id = ?"}) {
        Stmt st = c.Prepare(sql);
        st->bind(1, id);
        st->exec();
      }
      Stmt st = c.Prepare("DELETE FROM users WHERE id = ?");
      st->bind(1, id);
      if (st->exec() == 0) return NotFoundError("user not found");
      return Status();
    });
    if (s.ok()) fts_dirty_ = true;
    return s;
  }

  // ---- sessions and refresh tokens

  Status CreateSession(const Session& s, const RefreshToken& t, const AuditEvent& audit) override {
    return Write([&](Connection& c) -> Status {
      Stmt st =
          c.Prepare(Sql({"INSERT INTO sessions(", kSessionCols, ") VALUES (?,?,?,?,?,?,?,?)"}));
      st->bind(1, s.id);
      st->bind(2, s.user_id);
      st->bind(3, Ms(s.created_at));
      st->bind(4, Ms(s.last_used_at));
      st->bind(5, Ms(s.expires_at));
      BindOptTime(*st, 6, s.revoked_at);
      st->bind(7, s.ip);
      st->bind(8, s.user_agent);
      st->exec();
      InsertRefresh(c, t);
      InsertAudit(c, audit);
      return Status();
    });
  }

  Result<Session> GetSession(const std::string& session_id) override {
    return Read([&](Connection& c) -> Result<Session> {
      Stmt st = c.Prepare(Sql({"SELECT ", kSessionCols, " FROM sessions WHERE id = ?"}));
      st->bind(1, session_id);
      if (!st->executeStep()) return NotFoundError("session not found");
      return ReadSession(*st);
    });
  }

  Result<std::vector<Session>> ListSessions(const std::string& user_id, Timestamp now) override {
    return Read([&](Connection& c) -> Result<std::vector<Session>> {
      Stmt st = c.Prepare(Sql({"SELECT ", kSessionCols,
                               " FROM sessions WHERE user_id = ? AND revoked_at IS NULL "
                               "AND expires_at > ? ORDER BY created_at DESC, id DESC"}));
      st->bind(1, user_id);
      st->bind(2, Ms(now));
      std::vector<Session> out;
      while (st->executeStep()) out.push_back(ReadSession(*st));
      return out;
    });
  }

  Status TouchSession(const std::string& session_id, Timestamp now) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare("UPDATE sessions SET last_used_at = ? WHERE id = ?");
      st->bind(1, Ms(now));
      st->bind(2, session_id);
      if (st->exec() == 0) return NotFoundError("session not found");
      return Status();
    });
  }

  Status RevokeSession(const std::string& user_id, const std::string& session_id,
                       Timestamp now) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare(
          "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) "
          "WHERE id = ? AND user_id = ?");
      st->bind(1, Ms(now));
      st->bind(2, session_id);
      st->bind(3, user_id);
      if (st->exec() == 0) return NotFoundError("session not found");
      return Status();
    });
  }

  Result<int> RevokeAllSessions(const std::string& user_id, Timestamp now) override {
    return Write([&](Connection& c) -> Result<int> {
      Stmt st =
          c.Prepare("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL");
      st->bind(1, Ms(now));
      st->bind(2, user_id);
      return st->exec();
    });
  }

  Result<RefreshRotation> RotateRefreshToken(const std::string& token_hash,
                                             const RefreshToken& successor,
                                             Timestamp now) override {
    return Write([&](Connection& c) -> Result<RefreshRotation> {
      RefreshRotation out;
      {
        Stmt st =
            c.Prepare(Sql({"SELECT ", kRefreshCols, " FROM refresh_tokens WHERE token_hash = ?"}));
        st->bind(1, token_hash);
        if (!st->executeStep()) return NotFoundError("refresh token not found");
        out.presented = ReadRefresh(*st);
      }
      if (out.presented.used_at) return out;
      Stmt up = c.Prepare(
          "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL");
      up->bind(1, Ms(now));
      up->bind(2, token_hash);
      up->exec();
      InsertRefresh(c, successor);
      out.rotated = true;
      return out;
    });
  }

  // ---- API keys

  Status CreateApiKey(const ApiKey& k) override {
    return Write([&](Connection& c) -> Status {
      Stmt st =
          c.Prepare(Sql({"INSERT INTO api_keys(", kApiKeyCols, ") VALUES (?,?,?,?,?,?,?,?,?,?)"}));
      st->bind(1, k.id);
      st->bind(2, k.user_id);
      st->bind(3, k.name);
      st->bind(4, k.prefix);
      st->bind(5, k.key_hash);
      st->bind(6, DumpJson(Json(k.scopes)));
      BindOptTime(*st, 7, k.expires_at);
      BindOptTime(*st, 8, k.last_used_at);
      st->bind(9, Ms(k.created_at));
      BindOptTime(*st, 10, k.revoked_at);
      st->exec();
      return Status();
    });
  }

  Result<ApiKey> GetApiKeyByHash(const std::string& key_hash) override {
    return Read([&](Connection& c) -> Result<ApiKey> {
      Stmt st = c.Prepare(Sql({"SELECT ", kApiKeyCols, " FROM api_keys WHERE key_hash = ?"}));
      st->bind(1, key_hash);
      if (!st->executeStep()) return NotFoundError("api key not found");
      return ReadApiKey(*st);
    });
  }

  Result<std::vector<ApiKey>> ListApiKeys(const std::string& user_id) override {
    return Read([&](Connection& c) -> Result<std::vector<ApiKey>> {
      Stmt st = c.Prepare(Sql({"SELECT ", kApiKeyCols,
                               " FROM api_keys WHERE user_id = ? AND revoked_at IS NULL "
                               "ORDER BY created_at DESC, id DESC"}));
      st->bind(1, user_id);
      std::vector<ApiKey> out;
      while (st->executeStep()) out.push_back(ReadApiKey(*st));
      return out;
    });
  }

  Status RevokeApiKey(const std::string& user_id, const std::string& id, Timestamp now) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare(
          "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) "
          "WHERE id = ? AND user_id = ?");
      st->bind(1, Ms(now));
      st->bind(2, id);
      st->bind(3, user_id);
      if (st->exec() == 0) return NotFoundError("api key not found");
      return Status();
    });
  }

  Status TouchApiKey(const std::string& id, Timestamp now) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?");
      st->bind(1, Ms(now));
      st->bind(2, id);
      if (st->exec() == 0) return NotFoundError("api key not found");
      return Status();
    });
  }

  // ---- one-time tokens

  Status CreateOneTimeToken(const OneTimeToken& t) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare(
          "INSERT INTO one_time_tokens(token_hash, user_id, purpose, created_at, expires_at) "
          "VALUES (?,?,?,?,?)");
      st->bind(1, t.token_hash);
      st->bind(2, t.user_id);
      st->bind(3, TokenPurposeName(t.purpose));
      st->bind(4, Ms(t.created_at));
      st->bind(5, Ms(t.expires_at));
      st->exec();
      return Status();
    });
  }

  Result<OneTimeToken> ConsumeOneTimeToken(const std::string& token_hash,
                                           TokenPurpose purpose, Timestamp now) override {
    // nullopt = not usable; the transaction still commits so an expired
    // token's removal sticks.
    auto r = Write([&](Connection& c) -> Result<std::optional<OneTimeToken>> {
      OneTimeToken t;
      {
        Stmt st = c.Prepare(
            "SELECT token_hash, user_id, purpose, created_at, expires_at "
            "FROM one_time_tokens WHERE token_hash = ?");
        st->bind(1, token_hash);
        if (!st->executeStep()) return std::optional<OneTimeToken>();
        t.token_hash = TextCol(*st, 0);
        t.user_id = TextCol(*st, 1);
        // A name no version issues is not usable for any purpose.
        Result<TokenPurpose> stored = ParseTokenPurpose(TextCol(*st, 2));
        if (!stored.ok()) return std::optional<OneTimeToken>();
        t.purpose = *stored;
        t.created_at = TimeCol(*st, 3);
        t.expires_at = TimeCol(*st, 4);
      }
      if (t.purpose != purpose) return std::optional<OneTimeToken>();
      Stmt del = c.Prepare("DELETE FROM one_time_tokens WHERE token_hash = ?");
      del->bind(1, token_hash);
      del->exec();
      if (t.expires_at <= now) return std::optional<OneTimeToken>();
      return std::optional<OneTimeToken>(std::move(t));
    });
    if (!r.ok()) return r.status();
    if (!*r) return NotFoundError("token not found or expired");
    return std::move(**r);
  }

  // ---- tasks

  Status CreateTask(const Task& t) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare(Sql({"INSERT INTO tasks(", kTaskCols, ") VALUES (?,?,?,?,?,?,?,?,?)"}));
      st->bind(1, t.id);
      st->bind(2, t.user_id);
      st->bind(3, t.title);
      st->bind(4, t.description);
      st->bind(5, t.completed ? 1 : 0);
      BindOptTime(*st, 6, t.due_at);
      st->bind(7, t.priority);
      st->bind(8, Ms(t.created_at));
      st->bind(9, Ms(t.updated_at));
      st->exec();
      return Status();
    });
  }

  Result<Task> GetTask(const std::string& user_id, const std::string& id) override {
    return Read([&](Connection& c) -> Result<Task> {
      static const std::string kSql =
          Sql({"SELECT ", kTaskCols, " FROM tasks WHERE id = ? AND user_id = ?"});
      RawStmt st = c.PrepareRaw(kSql);
      st.BindText(1, id);
      st.BindText(2, user_id);
      if (!st.Step()) return NotFoundError("task not found");
      return ReadTask(st.get());
    });
  }

  Status UpdateTask(const Task& t) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare(
          "UPDATE tasks SET title = ?, description = ?, completed = ?, due_at = ?, "
          "priority = ?, updated_at = ? WHERE id = ? AND user_id = ?");
      st->bind(1, t.title);
      st->bind(2, t.description);
      st->bind(3, t.completed ? 1 : 0);
      BindOptTime(*st, 4, t.due_at);
      st->bind(5, t.priority);
      st->bind(6, Ms(t.updated_at));
      st->bind(7, t.id);
      st->bind(8, t.user_id);
      if (st->exec() == 0) return NotFoundError("task not found");
      return Status();
    });
  }

  Status DeleteTask(const std::string& user_id, const std::string& id) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare("DELETE FROM tasks WHERE id = ? AND user_id = ?");
      st->bind(1, id);
      st->bind(2, user_id);
      if (st->exec() == 0) return NotFoundError("task not found");
      return Status();
    });
  }

  Result<std::vector<Task>> ListTasks(const std::string& user_id, const TaskQuery& q) override {
    return Read([&](Connection& c) { return ListTasksOn(c, user_id, q); });
  }

  // On a file database each loop gets a read connection of its own, used
  // only on that loop's thread: no pool to wait for, and WAL readers do not
  // wait for the writer. The read runs in the loop's next turn.
  bool ListTasksAsyncFitsLoop() const override { return !readers_.empty(); }

  void ListTasksAsync(const std::string& user_id, const TaskQuery& q, EventLoop& loop,
                      TaskListDone done) override {
    if (readers_.empty()) return Storage::ListTasksAsync(user_id, q, loop, std::move(done));
    Result<Connection*> reader = LoopReader(loop);
    if (!reader.ok()) {
      loop.Post([failed = reader.status(), done = std::move(done)] { done(failed); });
      return;
    }
    loop.Post([this, c = *reader, user_id, q, done = std::move(done)] {
      done(Guard([&] { return ListTasksOn(*c, user_id, q); }));
    });
  }

  void ForgetLoop(EventLoop& loop) override {
    std::unique_ptr<Connection> gone;  // closed outside the lock
    std::lock_guard<std::mutex> lock(loop_readers_mu_);
    auto it = loop_readers_.find(&loop);
    if (it == loop_readers_.end()) return;
    gone = std::move(it->second);
    loop_readers_.erase(it);
  }

  // ListTasks on `c`: the query's shape, bound and read.
  Result<std::vector<Task>> ListTasksOn(Connection& c, const std::string& user_id,
                                        const TaskQuery& q) {
    // The query's eight shapes are built once: listing is the most frequent
    // call, and the text is also the statement cache's key.
    static const std::array<std::string, 8> kShapes = [] {
      std::array<std::string, 8> shapes;
      for (int i = 0; i < 8; ++i) {
        std::string sql = Sql({"SELECT ", kTaskCols, " FROM tasks WHERE user_id = ?1"});
        if (i & 4) sql += " AND completed = ?2";
        if (i & 2) sql += " AND title LIKE ?3 ESCAPE '\\'";
        if (i & 1) sql += " AND (created_at > ?4 OR (created_at = ?4 AND id > ?5))";
        sql += " ORDER BY created_at, id LIMIT ?6";
        shapes[i] = std::move(sql);
      }
      return shapes;
    }();
    const std::string& sql = kShapes[(q.status != TaskFilter::kAll ? 4 : 0) +
                                     (!q.title_contains.empty() ? 2 : 0) + (q.after ? 1 : 0)];
    // Bound without a copy, so it lives until the statement is reset.
    const std::string pattern =
        q.title_contains.empty() ? std::string() : "%" + EscapeLike(q.title_contains) + "%";
    RawStmt st = c.PrepareRaw(sql);
    st.BindText(1, user_id);
    if (q.status != TaskFilter::kAll) {
      st.BindInt64(2, q.status == TaskFilter::kCompleted ? 1 : 0);
    }
    if (!pattern.empty()) st.BindText(3, pattern);
    if (q.after) {
      st.BindInt64(4, Ms(q.after->time));
      st.BindText(5, q.after->id);
    }
    st.BindInt64(6, std::max(q.limit, 0));
    std::vector<Task> out;
    out.reserve(static_cast<size_t>(std::clamp(q.limit, 0, 256)));
    while (st.Step()) out.push_back(ReadTask(st.get()));
    return out;
  }

  Result<int> DeleteCompletedTasks(const std::string& user_id) override {
    return Write([&](Connection& c) -> Result<int> {
      Stmt st = c.Prepare("DELETE FROM tasks WHERE user_id = ? AND completed = 1");
      st->bind(1, user_id);
      return st->exec();
    });
  }

  // ---- conversations and messages

  Status CreateConversation(const Conversation& conv) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare(
          Sql({"INSERT INTO conversations(", kConversationCols, ") VALUES (?,?,?,?,?,?)"}));
      BindConversation(*st, conv);
      st->exec();
      return Status();
    });
  }

  Result<Conversation> GetConversation(const std::string& user_id, const std::string& id) override {
    return Read([&](Connection& c) -> Result<Conversation> {
      Stmt st = c.Prepare(
          Sql({"SELECT ", kConversationCols, " FROM conversations WHERE id = ? AND user_id = ?"}));
      st->bind(1, id);
      st->bind(2, user_id);
      if (!st->executeStep()) return NotFoundError("conversation not found");
      return ReadConversation(*st);
    });
  }

  Status UpdateConversation(const Conversation& conv) override {
    Status s = Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare(
          "UPDATE conversations SET title = ?, app_id = ?, updated_at = ? "
          "WHERE id = ? AND user_id = ?");
      st->bind(1, conv.title);
      BindOptText(*st, 2, conv.app_id);
      st->bind(3, Ms(conv.updated_at));
      st->bind(4, conv.id);
      st->bind(5, conv.user_id);
      if (st->exec() == 0) return NotFoundError("conversation not found");
      return Status();
    });
    if (s.ok()) fts_dirty_ = true;  // the old title's terms linger in the index
    return s;
  }

  Status DeleteConversation(const std::string& user_id, const std::string& id) override {
    Status s = Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare("DELETE FROM conversations WHERE id = ? AND user_id = ?");
      st->bind(1, id);
      st->bind(2, user_id);
      if (st->exec() == 0) return NotFoundError("conversation not found");
      // Explicit, so the messages' FTS triggers surely run.
      Stmt del = c.Prepare("DELETE FROM messages WHERE conversation_id = ? AND user_id = ?");
      del->bind(1, id);
      del->bind(2, user_id);
      del->exec();
      return Status();
    });
    if (s.ok()) fts_dirty_ = true;
    return s;
  }

  Result<std::vector<Conversation>> ListConversations(const std::string& user_id,
                                                      const ConversationQuery& q) override {
    return Read([&](Connection& c) -> Result<std::vector<Conversation>> {
      std::string sql =
          Sql({"SELECT ", kConversationCols, " FROM conversations WHERE user_id = ?1"});
      if (q.after) sql += " AND (updated_at < ?2 OR (updated_at = ?2 AND id < ?3))";
      sql += " ORDER BY updated_at DESC, id DESC LIMIT ?4";
      Stmt st = c.Prepare(sql);
      st->bind(1, user_id);
      if (q.after) {
        st->bind(2, Ms(q.after->time));
        st->bind(3, q.after->id);
      }
      st->bind(4, std::max(q.limit, 0));
      std::vector<Conversation> out;
      while (st->executeStep()) out.push_back(ReadConversation(*st));
      return out;
    });
  }

  Result<std::vector<Conversation>> SearchConversations(const std::string& user_id,
                                                        const std::vector<std::string>& words,
                                                        int limit, int offset) override {
    const std::string match = BuildMatch(words);
    if (match.empty() || limit <= 0) return std::vector<Conversation>();
    ASSISTANT_RETURN_IF_ERROR(IndexWaitingText());
    return Read([&](Connection& c) -> Result<std::vector<Conversation>> {
      // Best bm25 (most negative) of the conversation's title and messages;
      // the owner column only filters (weight 0).
      Stmt st = c.Prepare(
          "WITH hits(conversation_id, rank) AS ("
          "  SELECT c.id, bm25(conversations_fts, 1.0, 0.0) FROM conversations_fts"
          "    JOIN conversations c ON c.seq = conversations_fts.rowid"
          "    WHERE conversations_fts MATCH ?1 AND c.user_id = ?2"
          "  UNION ALL"
          "  SELECT m.conversation_id, bm25(messages_fts, 1.0, 0.0) FROM messages_fts"
          "    JOIN messages m ON m.seq = messages_fts.rowid"
          "    WHERE messages_fts MATCH ?5 AND m.user_id = ?2)"
          " SELECT c.id, c.user_id, c.app_id, c.title, c.created_at, c.updated_at"
          " FROM (SELECT conversation_id, MIN(rank) AS rank FROM hits"
          "       GROUP BY conversation_id) h"
          " JOIN conversations c ON c.id = h.conversation_id AND c.user_id = ?2"
          " ORDER BY h.rank ASC, c.updated_at DESC, c.id DESC LIMIT ?3 OFFSET ?4");
      const std::string owner = " AND owner : \"" + OwnerToken(user_id) + "\"";
      st->bind(1, "{title} : (" + match + ")" + owner);
      st->bind(2, user_id);
      st->bind(5, "{content} : (" + match + ")" + owner);
      st->bind(3, limit);
      st->bind(4, std::max(offset, 0));
      std::vector<Conversation> out;
      while (st->executeStep()) out.push_back(ReadConversation(*st));
      return out;
    });
  }

  Status AppendMessage(const std::string& user_id, const Message& m) override {
    return Write([&](Connection& c) -> Status { return AppendMessageIn(c, user_id, m); });
  }

  Status UpdateMessage(const std::string& user_id, const Message& m) override {
    Status s = Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare(
          "UPDATE messages SET content = ?, tool_calls = ?, status = ? "
          "WHERE id = ? AND conversation_id = ? AND user_id = ?");
      st->bind(1, m.content);
      if (m.tool_calls && !m.tool_calls->is_null()) {
        st->bind(2, DumpJson(*m.tool_calls));
      } else {
        st->bind(2);
      }
      st->bind(3, MessageStatusName(m.status));
      st->bind(4, m.id);
      st->bind(5, m.conversation_id);
      st->bind(6, user_id);
      if (st->exec() == 0) return NotFoundError("message not found");
      return Status();
    });
    if (s.ok()) fts_dirty_ = true;
    return s;
  }

  Result<Message> GetMessage(const std::string& user_id, const std::string& conversation_id,
                             const std::string& message_id) override {
    return Read([&](Connection& c) -> Result<Message> {
      Stmt st = c.Prepare(Sql({"SELECT ", kMessageCols,
                               " FROM messages WHERE id = ? AND conversation_id = ? "
                               "AND user_id = ?"}));
      st->bind(1, message_id);
      st->bind(2, conversation_id);
      st->bind(3, user_id);
      if (!st->executeStep()) return NotFoundError("message not found");
      return ReadMessage(*st);
    });
  }

  Result<MessagePage> ListMessages(const std::string& user_id, const std::string& conversation_id,
                                   const std::string& before_id, int limit) override {
    return Read([&](Connection& c) -> Result<MessagePage> {
      {
        Stmt st = c.Prepare("SELECT 1 FROM conversations WHERE id = ? AND user_id = ?");
        st->bind(1, conversation_id);
        st->bind(2, user_id);
        if (!st->executeStep()) return NotFoundError("conversation not found");
      }
      int64_t before_seq = INT64_MAX;
      if (!before_id.empty()) {
        Stmt st = c.Prepare("SELECT seq FROM messages WHERE id = ? AND conversation_id = ?");
        st->bind(1, before_id);
        st->bind(2, conversation_id);
        if (!st->executeStep()) return NotFoundError("message not found");
        before_seq = st->getColumn(0).getInt64();
      }
      const int n = std::max(limit, 0);
      Stmt st = c.Prepare(Sql({"SELECT ", kMessageCols,
                               " FROM messages WHERE conversation_id = ? AND seq < ? "
                               "ORDER BY seq DESC LIMIT ?"}));
      st->bind(1, conversation_id);
      st->bind(2, before_seq);
      st->bind(3, n + 1);  // one extra row tells whether older ones exist
      MessagePage page;
      while (st->executeStep()) {
        if (static_cast<int>(page.messages.size()) == n) {
          page.has_more = true;
          break;
        }
        page.messages.push_back(ReadMessage(*st));
      }
      std::reverse(page.messages.begin(), page.messages.end());
      return page;
    });
  }

  Result<Conversation> ForkConversation(const std::string& user_id, const std::string& source_id,
                                        const std::string& upto_message_id,
                                        const Conversation& fork) override {
    return Write([&](Connection& c) -> Result<Conversation> {
      {
        Stmt st = c.Prepare("SELECT 1 FROM conversations WHERE id = ? AND user_id = ?");
        st->bind(1, source_id);
        st->bind(2, user_id);
        if (!st->executeStep()) return NotFoundError("conversation not found");
      }
      int64_t upto_seq = 0;
      {
        Stmt st = c.Prepare(
            "SELECT seq FROM messages WHERE id = ? AND conversation_id = ? AND user_id = ?");
        st->bind(1, upto_message_id);
        st->bind(2, source_id);
        st->bind(3, user_id);
        if (!st->executeStep()) return NotFoundError("message not found");
        upto_seq = st->getColumn(0).getInt64();
      }
      std::vector<Message> copies;
      {
        Stmt st = c.Prepare(Sql({"SELECT ", kMessageCols,
                                 " FROM messages WHERE conversation_id = ? AND seq <= ? "
                                 "ORDER BY seq"}));
        st->bind(1, source_id);
        st->bind(2, upto_seq);
        while (st->executeStep()) copies.push_back(ReadMessage(*st));
      }
      Conversation out = fork;
      out.user_id = user_id;
      {
        Stmt st = c.Prepare(
            Sql({"INSERT INTO conversations(", kConversationCols, ") VALUES (?,?,?,?,?,?)"}));
        BindConversation(*st, out);
        st->exec();
      }
      for (const Message& m : copies) InsertMessage(c, user_id, out.id, NewId(), m);
      return out;
    });
  }

  // ---- agent state

  Result<AgentState> GetAgentState(const std::string& user_id, const std::string& app_id) override {
    return Read([&](Connection& c) -> Result<AgentState> {
      Stmt st =
          c.Prepare("SELECT state, updated_at FROM agent_state WHERE user_id = ? AND app_id = ?");
      st->bind(1, user_id);
      st->bind(2, app_id);
      if (!st->executeStep()) return NotFoundError("agent state not found");
      AgentState s;
      s.user_id = user_id;
      s.app_id = app_id;
      s.state = JsonCol(*st, 0);
      s.updated_at = TimeCol(*st, 1);
      return s;
    });
  }

  Result<AgentState> UpdateAgentState(
      const std::string& user_id, const std::string& app_id,
      const std::function<Result<Json>(const std::optional<Json>&)>& update,
      Timestamp now) override {
    // `update` runs inside the write transaction, holding the writer: it must
    // not call back into this storage.
    return Write([&](Connection& c) -> Result<AgentState> {
      std::optional<Json> current;
      {
        Stmt st = c.Prepare("SELECT state FROM agent_state WHERE user_id = ? AND app_id = ?");
        st->bind(1, user_id);
        st->bind(2, app_id);
        if (st->executeStep()) current = JsonCol(*st, 0);
      }
      Result<Json> next = update(current);
      if (!next.ok()) return next.status();
      Stmt st = c.Prepare(
          "INSERT INTO agent_state(user_id, app_id, state, updated_at) VALUES (?,?,?,?) "
          "ON CONFLICT(user_id, app_id) DO UPDATE SET state = excluded.state, "
          "updated_at = excluded.updated_at");
      st->bind(1, user_id);
      st->bind(2, app_id);
      st->bind(3, DumpJson(*next));
      st->bind(4, Ms(now));
      st->exec();
      AgentState s;
      s.user_id = user_id;
      s.app_id = app_id;
      s.state = std::move(*next);
      s.updated_at = FromUnixMillis(Ms(now));
      return s;
    });
  }

  // ---- memory

  Status AddMemory(const Memory& m) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare(Sql({"INSERT INTO memories(", kMemoryCols, ") VALUES (?,?,?,?)"}));
      st->bind(1, m.id);
      st->bind(2, m.user_id);
      st->bind(3, m.content);
      st->bind(4, Ms(m.created_at));
      st->exec();
      return Status();
    });
  }

  Result<std::vector<Memory>> ListMemories(const std::string& user_id, int limit) override {
    return Read([&](Connection& c) -> Result<std::vector<Memory>> {
      Stmt st = c.Prepare(Sql({"SELECT ", kMemoryCols,
                               " FROM memories WHERE user_id = ? "
                               "ORDER BY created_at DESC, id DESC LIMIT ?"}));
      st->bind(1, user_id);
      st->bind(2, std::max(limit, 0));
      std::vector<Memory> out;
      while (st->executeStep()) out.push_back(ReadMemory(*st));
      return out;
    });
  }

  Status DeleteMemory(const std::string& user_id, const std::string& id) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare("DELETE FROM memories WHERE id = ? AND user_id = ?");
      st->bind(1, id);
      st->bind(2, user_id);
      if (st->exec() == 0) return NotFoundError("memory not found");
      return Status();
    });
  }

  // ---- user data

  Status PutUserData(const UserDataEntry& e) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare(
          "INSERT INTO user_data(user_id, ns, key, value, updated_at) VALUES (?,?,?,?,?) "
          "ON CONFLICT(user_id, ns, key) DO UPDATE SET value = excluded.value, "
          "updated_at = excluded.updated_at");
      st->bind(1, e.user_id);
      st->bind(2, e.ns);
      st->bind(3, e.key);
      st->bind(4, DumpJson(e.value));
      st->bind(5, Ms(e.updated_at));
      st->exec();
      return Status();
    });
  }

  Result<UserDataEntry> GetUserData(const std::string& user_id, const std::string& ns,
                                    const std::string& key) override {
    return Read([&](Connection& c) -> Result<UserDataEntry> {
      Stmt st = c.Prepare(Sql(
          {"SELECT ", kUserDataCols, " FROM user_data WHERE user_id = ? AND ns = ? AND key = ?"}));
      st->bind(1, user_id);
      st->bind(2, ns);
      st->bind(3, key);
      if (!st->executeStep()) return NotFoundError("user data not found");
      return ReadUserData(*st);
    });
  }

  Result<std::vector<UserDataEntry>> ListUserData(const std::string& user_id,
                                                  const std::string& ns) override {
    return Read([&](Connection& c) -> Result<std::vector<UserDataEntry>> {
      Stmt st = c.Prepare(Sql(
          {"SELECT ", kUserDataCols, " FROM user_data WHERE user_id = ? AND ns = ? ORDER BY key"}));
      st->bind(1, user_id);
      st->bind(2, ns);
      std::vector<UserDataEntry> out;
      while (st->executeStep()) out.push_back(ReadUserData(*st));
      return out;
    });
  }

  Status DeleteUserData(const std::string& user_id, const std::string& ns,
                        const std::string& key) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare("DELETE FROM user_data WHERE user_id = ? AND ns = ? AND key = ?");
      st->bind(1, user_id);
      st->bind(2, ns);
      st->bind(3, key);
      if (st->exec() == 0) return NotFoundError("user data not found");
      return Status();
    });
  }

  // ---- audit

  Status AppendAudit(const AuditEvent& a) override {
    return Write([&](Connection& c) -> Status {
      InsertAudit(c, a);
      return Status();
    });
  }

  Result<std::vector<AuditEvent>> ListAudit(const std::string& user_id, int limit,
                                            const std::optional<PagePosition>& after) override {
    return Read([&](Connection& c) -> Result<std::vector<AuditEvent>> {
      std::string sql = Sql({"SELECT ", kAuditCols, " FROM audit_events WHERE user_id = ?1"});
      if (after) sql += " AND (created_at < ?2 OR (created_at = ?2 AND id < ?3))";
      sql += " ORDER BY created_at DESC, id DESC LIMIT ?4";
      Stmt st = c.Prepare(sql);
      st->bind(1, user_id);
      if (after) {
        st->bind(2, Ms(after->time));
        st->bind(3, after->id);
      }
      st->bind(4, std::max(limit, 0));
      std::vector<AuditEvent> out;
      while (st->executeStep()) out.push_back(ReadAudit(*st));
      return out;
    });
  }

  Status InTransaction(const std::function<Status()>& body) override {
    if (open_tx_ == this) return body();
    return Write([&](Connection&) -> Status {
      const SqliteStorage* outer = std::exchange(open_tx_, this);
      struct Restore {
        const SqliteStorage* outer;
        ~Restore() { open_tx_ = outer; }
      } restore{outer};
      return body();
    });
  }

  Status Checkpoint() override {
    std::lock_guard<std::mutex> lock(writer_mu_);
    return Guard([&]() -> Status {
      if (fts_dirty_.exchange(false)) {
        // Merging all segments drops deleted terms from the index; the freed
        // pages are then zeroed by secure_delete.
        Status s = WriteLocked([&](Connection& c) -> Status {
          c.db.exec("INSERT INTO conversations_fts(conversations_fts) VALUES ('optimize')");
          c.db.exec("INSERT INTO messages_fts(messages_fts) VALUES ('optimize')");
          return Status();
        });
        if (!s.ok()) {
          fts_dirty_ = true;
          return s;
        }
      }
      if (readers_.empty()) return Status();  // in-memory: no WAL
      std::unique_lock<std::mutex> passes;
      if (checkpointer_) passes = checkpointer_->HoldPasses();
      Stmt st = writer_->Prepare("PRAGMA wal_checkpoint(TRUNCATE)");
      if (st->executeStep() && st->getColumn(0).getInt() != 0) {
        return UnavailableError("WAL checkpoint could not complete: database busy");
      }
      return Status();
    });
  }

  // ---- agent runs

  Status StartRun(const RunStart& start) override {
    return Write([&](Connection& c) -> Status { return StartRunIn(c, start); });
  }

  Status TouchRuns(const std::string& owner, Timestamp now) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare("UPDATE runs SET heartbeat_at = ? WHERE owner = ? AND status = ?");
      st->bind(1, Ms(now));
      st->bind(2, owner);
      st->bind(3, RunStatusName(RunStatus::kRunning));
      st->exec();
      return Status();
    });
  }

  Result<bool> FailAbandonedRun(const std::string& user_id, const std::string& run_id,
                                Timestamp alive_since, Timestamp now,
                                const RunEvent& error_event) override {
    return Write([&](Connection& c) -> Result<bool> {
      Stmt st = c.Prepare(
          "UPDATE runs SET status = ?, finished_at = ? WHERE id = ? AND user_id = ? "
          "AND status = ? AND COALESCE(heartbeat_at, created_at) < ?");
      st->bind(1, RunStatusName(RunStatus::kFailed));
      st->bind(2, Ms(now));
      st->bind(3, run_id);
      st->bind(4, user_id);
      st->bind(5, RunStatusName(RunStatus::kRunning));
      st->bind(6, Ms(alive_since));
      if (st->exec() == 0) return false;
      Stmt next = c.Prepare(
          "SELECT COALESCE(MAX(last_seq), 0) + 1 FROM run_event_chunks WHERE run_id = ?");
      next->bind(1, run_id);
      next->executeStep();
      RunEvent e = error_event;
      e.id = next->getColumn(0).getInt64();
      InsertRunEvents(c, run_id, {e});
      return true;
    });
  }

  Result<Run> GetRun(const std::string& user_id, const std::string& id) override {
    return Read([&](Connection& c) -> Result<Run> { return SelectRun(c, user_id, id); });
  }

  Status AppendRunEvents(const std::vector<RunEventBatch>& batches) override {
    return Write([&](Connection& c) -> Status {
      for (const RunEventBatch& b : batches) {
        // A run deleted meanwhile (conversation or user deleted, pruned)
        // takes no more events.
        if (!OwnsRun(c, b.user_id, b.run_id)) continue;
        InsertRunEvents(c, b.run_id, b.events);
      }
      return Status();
    });
  }

  Result<std::vector<RunEvent>> ListRunEvents(const std::string& user_id,
                                              const std::string& run_id, int64_t after_id,
                                              int limit) override {
    return Read([&](Connection& c) -> Result<std::vector<RunEvent>> {
      if (!OwnsRun(c, user_id, run_id)) return NotFoundError("run not found");
      return SelectRunEvents(c, run_id, after_id, std::max(limit, 0));
    });
  }

  Status FinishRun(const RunFinish& finish) override {
    // JSON rendered before the write: the writer is one connection shared by
    // every request, and a reply's tool results (a 20-task listing is ~4 KB)
    // are the largest text a turn stores.
    std::optional<std::string> tool_calls;
    if (finish.reply) tool_calls = ToolCallsText(*finish.reply);
    std::vector<std::string> audit_details;
    audit_details.reserve(finish.audit.size());
    for (const AuditEvent& a : finish.audit) audit_details.push_back(DumpJson(a.details));
    return Write([&](Connection& c) -> Status {
      const Run& run = finish.run;
      if (finish.start) {
        // Started and finished in one write: the row goes in as it ends.
        ASSISTANT_RETURN_IF_ERROR(StartRunIn(c, *finish.start, &run));
      } else {
        Stmt st = c.Prepare("UPDATE runs SET status = ?, finished_at = ? WHERE id = ? AND user_id = ?");
        st->bind(1, RunStatusName(run.status));
        BindOptTime(*st, 2, run.finished_at);
        st->bind(3, run.id);
        st->bind(4, run.user_id);
        if (st->exec() == 0) return NotFoundError("run not found");
      }
      InsertRunEvents(c, run.id, finish.events, /*run_is_new=*/finish.start.has_value());
      if (finish.reply) {
        ASSISTANT_RETURN_IF_ERROR(AppendMessageIn(c, run.user_id, *finish.reply, &tool_calls));
      }
      for (size_t i = 0; i < finish.audit.size(); ++i) {
        InsertAudit(c, finish.audit[i], &audit_details[i]);
      }
      return Status();
    });
  }

  Result<Run> RequestRunCancel(const std::string& user_id, const std::string& run_id) override {
    return Write([&](Connection& c) -> Result<Run> {
      Stmt st = c.Prepare(
          "UPDATE runs SET cancel_requested = 1 WHERE id = ? AND user_id = ? AND status = ?");
      st->bind(1, run_id);
      st->bind(2, user_id);
      st->bind(3, RunStatusName(RunStatus::kRunning));
      st->exec();
      return SelectRun(c, user_id, run_id);
    });
  }

  Result<std::vector<std::string>> ListCancelRequestedRuns(const std::string& owner) override {
    return Read([&](Connection& c) -> Result<std::vector<std::string>> {
      Stmt st = c.Prepare(
          "SELECT id FROM runs WHERE owner = ? AND cancel_requested = 1 AND status = 'running'");
      st->bind(1, owner);
      std::vector<std::string> out;
      while (st->executeStep()) out.push_back(TextCol(*st, 0));
      return out;
    });
  }

  Result<int> DeleteRunsFinishedBefore(Timestamp cutoff) override {
    return Write([&](Connection& c) -> Result<int> {
      // Events go by ON DELETE CASCADE.
      Stmt st = c.Prepare("DELETE FROM runs WHERE finished_at IS NOT NULL AND finished_at < ?");
      st->bind(1, Ms(cutoff));
      return st->exec();
    });
  }

  // ---- rate limits

  Result<RateWindow> HitRateLimit(const std::string& key, int limit,
                                  std::chrono::milliseconds window, Timestamp now) override {
    return Write([&](Connection& c) -> Result<RateWindow> {
      static const std::string kHit = HitRateLimitSql('?');
      Stmt st = c.Prepare(kHit);
      st->bind(1, key);
      st->bind(2, Ms(now));
      st->bind(3, Ms(now - window));
      st->bind(4, limit);
      RateWindow w;
      if (st->executeStep()) {
        w.counted = true;
        w.window_start = FromUnixMillis(st->getColumn(0).getInt64());
        w.hits = st->getColumn(1).getInt();
        return w;
      }
      Stmt full = c.Prepare("SELECT window_start, hits FROM rate_limits WHERE key = ?");
      full->bind(1, key);
      if (!full->executeStep()) return InternalError("the rate-limit counter vanished");
      w.window_start = FromUnixMillis(full->getColumn(0).getInt64());
      w.hits = full->getColumn(1).getInt();
      return w;
    });
  }

  Result<int> DeleteRateLimitsBefore(Timestamp cutoff) override {
    return Write([&](Connection& c) -> Result<int> {
      Stmt st = c.Prepare("DELETE FROM rate_limits WHERE window_start < ?");
      st->bind(1, Ms(cutoff));
      return st->exec();
    });
  }

  // ---- signing keys

  Status AddSigningKey(const SigningKey& k) override {
    return Write([&](Connection& c) -> Status {
      Stmt ins = c.Prepare(Sql({"INSERT INTO signing_keys(", kSigningKeyCols,
                                ") VALUES (?,?,?,?,?,NULL)"}));
      ins->bind(1, k.kid);
      ins->bind(2, KeyPurposeName(k.purpose));
      ins->bind(3, k.alg);
      ins->bind(4, k.sealed_key);
      ins->bind(5, Ms(k.created_at));
      ins->exec();
      Stmt retire = c.Prepare(
          "UPDATE signing_keys SET retired_at = ? "
          "WHERE purpose = ? AND kid <> ? AND retired_at IS NULL");
      retire->bind(1, Ms(k.created_at));
      retire->bind(2, KeyPurposeName(k.purpose));
      retire->bind(3, k.kid);
      retire->exec();
      return Status();
    });
  }

  Result<std::vector<SigningKey>> ListSigningKeys(KeyPurpose purpose) override {
    return Read([&](Connection& c) -> Result<std::vector<SigningKey>> {
      Stmt st = c.Prepare(Sql({"SELECT ", kSigningKeyCols,
                               " FROM signing_keys WHERE purpose = ? ORDER BY created_at, kid"}));
      st->bind(1, KeyPurposeName(purpose));
      std::vector<SigningKey> out;
      while (st->executeStep()) out.push_back(rows::ReadSigningKey(SqliteRow{*st}));
      return out;
    });
  }

  Status DeleteSigningKey(KeyPurpose purpose, const std::string& kid) override {
    return Write([&](Connection& c) -> Status {
      Stmt st = c.Prepare("DELETE FROM signing_keys WHERE purpose = ? AND kid = ?");
      st->bind(1, KeyPurposeName(purpose));
      st->bind(2, kid);
      if (st->exec() == 0) return NotFoundError("no signing key with that kid");
      return Status();
    });
  }

  Result<int> DeleteSigningKeysRetiredBefore(KeyPurpose purpose,
                                             Timestamp cutoff) override {
    return Write([&](Connection& c) -> Result<int> {
      Stmt st = c.Prepare(
          "DELETE FROM signing_keys WHERE purpose = ? AND retired_at IS NOT NULL "
          "AND retired_at < ?");
      st->bind(1, KeyPurposeName(purpose));
      st->bind(2, Ms(cutoff));
      return st->exec();
    });
  }

 private:
  static bool OwnsConversation(Connection& c, const std::string& user_id,
                               const std::string& conversation_id) {
    Stmt st = c.Prepare("SELECT 1 FROM conversations WHERE id = ? AND user_id = ?");
    st->bind(1, conversation_id);
    st->bind(2, user_id);
    return st->executeStep();
  }

  static bool OwnsRun(Connection& c, const std::string& user_id, const std::string& run_id) {
    Stmt st = c.Prepare("SELECT 1 FROM runs WHERE id = ? AND user_id = ?");
    st->bind(1, run_id);
    st->bind(2, user_id);
    return st->executeStep();
  }

  static Result<Run> SelectRun(Connection& c, const std::string& user_id,
                               const std::string& run_id) {
    Stmt st = c.Prepare(Sql({"SELECT ", kRunCols, " FROM runs WHERE id = ? AND user_id = ?"}));
    st->bind(1, run_id);
    st->bind(2, user_id);
    if (!st->executeStep()) return NotFoundError("run not found");
    return ReadRun(*st);
  }

  // An id already stored keeps its first content: batches may repeat.
  // Stores `events` as one chunk, leaving out ids some chunk already holds
  // (a late or repeated batch), so every id has exactly one stored content:
  // the first.
  // `run_is_new`: the run was inserted in this transaction, so no chunk of
  // it can exist yet and the probe below is skipped.
  static void InsertRunEvents(Connection& c, const std::string& run_id,
                              const std::vector<RunEvent>& events, bool run_is_new = false) {
    if (events.empty()) return;
    int64_t lo = events.front().id;
    int64_t hi = lo;
    for (const RunEvent& e : events) {
      lo = std::min(lo, e.id);
      hi = std::max(hi, e.id);
    }
    std::set<int64_t> stored;
    if (!run_is_new) {
      // Usually finds nothing: batches of a run arrive in order. Only the
      // (run_id, last_seq) index keeps this one probe; with a first_seq
      // bound as well SQLite picks the primary key and walks every earlier
      // chunk of the run, which made each flush of a long stream slower.
      Stmt st = c.Prepare(
          "SELECT first_seq, events FROM run_event_chunks WHERE run_id = ? AND last_seq >= ?");
      st->bind(1, run_id);
      st->bind(2, lo);
      while (st->executeStep()) {
        if (st->getColumn(0).getInt64() > hi) continue;
        for (const Json& e : Json::parse(TextCol(*st, 1))) stored.insert(e.at(0).get<int64_t>());
      }
    }
    std::string chunk = "[";
    int64_t first = 0;
    int64_t last = 0;
    std::set<int64_t> taken;
    for (const RunEvent& e : events) {
      if (stored.count(e.id) || !taken.insert(e.id).second) continue;
      if (taken.size() == 1) {
        first = last = e.id;
      } else {
        first = std::min(first, e.id);
        last = std::max(last, e.id);
      }
      if (chunk.size() > 1) chunk += ',';
      chunk += '[';
      chunk += std::to_string(e.id);
      chunk += ',';
      chunk += DumpJson(e.type);
      chunk += ',';
      chunk += DumpJson(e.data);
      chunk += ']';
    }
    if (taken.empty()) return;
    chunk += ']';
    Stmt st = c.Prepare(
        "INSERT INTO run_event_chunks(run_id, first_seq, last_seq, events) VALUES (?,?,?,?)");
    st->bind(1, run_id);
    st->bind(2, first);
    st->bind(3, last);
    st->bind(4, chunk);
    st->exec();
  }

  // Events with id > after_id, ascending, at most `limit`. Chunks are read
  // in first_seq order; since their ranges may interleave, reading stops
  // only at a chunk that starts beyond the last event kept.
  static std::vector<RunEvent> SelectRunEvents(Connection& c, const std::string& run_id,
                                               int64_t after_id, int limit) {
    std::vector<RunEvent> out;
    if (limit == 0) return out;
    // Through the (run_id, last_seq) index: a listener polling a long run
    // reads only the chunks after its last event, not the run's every chunk.
    Stmt st = c.Prepare(
        "SELECT first_seq, events FROM run_event_chunks INDEXED BY run_event_chunks_last "
        "WHERE run_id = ? AND last_seq > ? ORDER BY first_seq");
    st->bind(1, run_id);
    st->bind(2, after_id);
    auto by_id = [](const RunEvent& a, const RunEvent& b) { return a.id < b.id; };
    while (st->executeStep()) {
      if (static_cast<int>(out.size()) >= limit &&
          st->getColumn(0).getInt64() > out.back().id) {
        break;
      }
      for (Json& e : Json::parse(TextCol(*st, 1))) {
        const int64_t id = e.at(0).get<int64_t>();
        if (id <= after_id) continue;
        out.push_back(RunEvent{run_id, id, e.at(1).get<std::string>(), std::move(e.at(2))});
      }
      std::sort(out.begin(), out.end(), by_id);
      if (static_cast<int>(out.size()) > limit) out.resize(static_cast<size_t>(limit));
    }
    return out;
  }

  void InsertRefresh(Connection& c, const RefreshToken& t) {
    Stmt st =
        c.Prepare(Sql({"INSERT INTO refresh_tokens(", kRefreshCols, ") VALUES (?,?,?,?,?,?)"}));
    st->bind(1, t.token_hash);
    st->bind(2, t.session_id);
    st->bind(3, t.user_id);
    st->bind(4, Ms(t.created_at));
    st->bind(5, Ms(t.expires_at));
    BindOptTime(*st, 6, t.used_at);
    st->exec();
  }

  static void BindConversation(SQLite::Statement& st, const Conversation& conv) {
    st.bind(1, conv.id);
    st.bind(2, conv.user_id);
    BindOptText(st, 3, conv.app_id);
    st.bind(4, conv.title);
    st.bind(5, Ms(conv.created_at));
    st.bind(6, Ms(conv.updated_at));
  }

  // `details_text`: a.details already rendered, when the caller has it.
  static void InsertAudit(Connection& c, const AuditEvent& a,
                          const std::string* details_text = nullptr) {
    Stmt st =
        c.Prepare(Sql({"INSERT INTO audit_events(", kAuditCols, ") VALUES (?,?,?,?,?,?,?,?,?)"}));
    st->bind(1, a.id);
    if (a.user_id.empty()) {
      st->bind(2);
    } else {
      st->bind(2, a.user_id);
    }
    st->bind(3, a.type);
    st->bind(4, AuditOutcomeName(a.outcome));
    st->bind(5, a.ip);
    BindOptText(*st, 6, a.user_agent);
    st->bind(7, a.request_id);
    if (details_text) {
      st->bindNoCopy(8, *details_text);
    } else {
      st->bind(8, DumpJson(a.details));
    }
    st->bind(9, Ms(a.created_at));
    st->exec();
  }

  // `tool_calls_text`: ToolCallsText(m), when the caller has it.
  static Status AppendMessageIn(Connection& c, const std::string& user_id, const Message& m,
                                const std::optional<std::string>* tool_calls_text = nullptr) {
    {
      Stmt st = c.Prepare("UPDATE conversations SET updated_at = ? WHERE id = ? AND user_id = ?");
      st->bind(1, Ms(m.created_at));
      st->bind(2, m.conversation_id);
      st->bind(3, user_id);
      if (st->exec() == 0) return NotFoundError("conversation not found");
    }
    InsertMessage(c, user_id, m.conversation_id, m.id, m, tool_calls_text);
    return Status();
  }

  // `as_finished`: the run's row as it ended, for a start written with its
  // finish.
  static Status StartRunIn(Connection& c, const RunStart& start,
                           const Run* as_finished = nullptr) {
    const Run& r = as_finished ? *as_finished : start.run;
    if (start.new_conversation) {
      Stmt st = c.Prepare(
          Sql({"INSERT INTO conversations(", kConversationCols, ") VALUES (?,?,?,?,?,?)"}));
      BindConversation(*st, *start.new_conversation);
      st->exec();
    }
    bool owner_checked = false;
    if (start.user_message) {
      ASSISTANT_RETURN_IF_ERROR(AppendMessageIn(c, r.user_id, *start.user_message));
      // Its UPDATE of the conversation, matched by id and user, proved it.
      owner_checked = start.user_message->conversation_id == r.conversation_id;
    }
    if (!owner_checked && !OwnsConversation(c, r.user_id, r.conversation_id)) {
      return NotFoundError("conversation not found");
    }
    Stmt st = c.Prepare(Sql({"INSERT INTO runs(", kRunCols, ") VALUES (?,?,?,?,?,?,?,?,?,?)"}));
    st->bind(1, r.id);
    st->bind(2, r.user_id);
    st->bind(3, r.conversation_id);
    st->bind(4, r.message_id);
    st->bind(5, RunStatusName(r.status));
    st->bind(6, Ms(r.created_at));
    BindOptTime(*st, 7, r.finished_at);
    st->bind(8, r.cancel_requested ? 1 : 0);
    st->bind(9, r.owner);
    BindOptTime(*st, 10, r.heartbeat_at);
    st->exec();
    return Status();
  }

  // A message's tool_calls column: its JSON text, or NULL.
  static std::optional<std::string> ToolCallsText(const Message& m) {
    if (!m.tool_calls || m.tool_calls->is_null()) return std::nullopt;
    return DumpJson(*m.tool_calls);
  }

  static void InsertMessage(Connection& c, const std::string& user_id,
                            const std::string& conversation_id, const std::string& id,
                            const Message& m,
                            const std::optional<std::string>* tool_calls_text = nullptr) {
    Stmt st = c.Prepare(
        "INSERT INTO messages(id, conversation_id, user_id, role, content, tool_calls, "
        "tool_call_id, status, created_at) VALUES (?,?,?,?,?,?,?,?,?)");
    st->bind(1, id);
    st->bind(2, conversation_id);
    st->bind(3, user_id);
    st->bind(4, MessageRoleName(m.role));
    st->bind(5, m.content);
    const std::optional<std::string> rendered = tool_calls_text ? std::nullopt : ToolCallsText(m);
    const std::optional<std::string>& text = tool_calls_text ? *tool_calls_text : rendered;
    if (text) {
      st->bindNoCopy(6, *text);
    } else {
      st->bind(6);
    }
    BindOptText(*st, 7, m.tool_call_id);
    st->bind(8, MessageStatusName(m.status));
    st->bind(9, Ms(m.created_at));
    st->exec();
  }

  // Runs `fn` on the writer inside a transaction shared with the writes
  // queued beside it (group commit, see the file comment). Its changes are
  // kept when it returns OK and the transaction commits; an error or
  // exception rolls back its own changes only. Returns after the commit.
  template <typename Fn>
  auto Write(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
    using R = decltype(fn(std::declval<Connection&>()));
    if (open_tx_ == this) return WriteNested(fn);
    std::optional<R> result;
    PendingWrite w;
    w.run = [&](Connection& c) -> Status {
      result.emplace(Guard([&]() -> R { return fn(c); }));
      return StatusOf(*result);
    };
    CommitInGroup(w);
    if (!w.failure.ok()) return R(w.failure);
    return std::move(*result);
  }

  // Set on the thread running an InTransaction body (the group's leader,
  // which holds the writer): its storage calls run inline on the writer.
  static inline thread_local const SqliteStorage* open_tx_ = nullptr;

  // A write inside InTransaction, in a savepoint of the open transaction so
  // that a write that fails is undone alone.
  template <typename Fn>
  auto WriteNested(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
    using R = decltype(fn(std::declval<Connection&>()));
    Connection& c = *writer_;
    sqlite3* db = c.db.getHandle();
    Status begun = Guard([&]() -> Status {
      c.Prepare("SAVEPOINT nested_write")->exec();
      return Status();
    });
    if (!begun.ok()) return R(begun);
    R r = Guard([&]() -> R { return fn(c); });
    if (!sqlite3_get_autocommit(db)) {  // else SQLite rolled back the whole
      if (!StatusOf(r).ok()) c.db.tryExec("ROLLBACK TO nested_write");
      c.db.tryExec("RELEASE nested_write");
    }
    return r;
  }

  static Status StatusOf(const Status& s) { return s; }
  template <typename T>
  static Status StatusOf(const Result<T>& r) {
    return r.status();
  }

  // One caller's write, waiting in the group-commit queue.
  struct PendingWrite {
    std::function<Status(Connection&)> run;
    Status failure;  // the transaction holding the write did not commit
    bool done = false;
    // Signalled when the write is done, or when it is first in the queue
    // with no leader: each waiter has its own, so finishing a group wakes
    // only the writers in it (and the next leader), not every waiter.
    std::condition_variable wake;
  };

  // Queues `w`; the first waiter finding no leader becomes it and runs
  // everything queued, while later arrivals queue for the next group.
  void CommitInGroup(PendingWrite& w) {
    std::unique_lock<std::mutex> lock(group_mu_);
    group_queue_.push_back(&w);
    bool led = false;
    while (!w.done) {
      if (group_leader_active_) {
        w.wake.wait(lock);
        continue;
      }
      group_leader_active_ = true;
      led = true;
      std::vector<PendingWrite*> group;
      while (!group_queue_.empty() && group.size() < kMaxGroupWrites) {
        group.push_back(group_queue_.front());
        group_queue_.pop_front();
      }
      lock.unlock();
      {
        std::lock_guard<std::mutex> writer_lock(writer_mu_);
        RunGroup(group);
      }
      lock.lock();
      group_leader_active_ = false;
      for (PendingWrite* p : group) {
        p->done = true;
        if (p != &w) p->wake.notify_one();
      }
      // Whoever queued meanwhile leads the next group.
      if (!group_queue_.empty()) group_queue_.front()->wake.notify_one();
    }
    lock.unlock();
    // After its group is released: a batch is this leader's own delay.
    if (led) IndexTextIfMany();
  }

  // Messages and conversation titles wait this many (migrations 6, 7)
  // before a write indexes them.
  static constexpr int64_t kIndexBatch = 64;

  // Adds every waiting message and title to the search index in one go (one
  // FTS5 segment per index).
  static void IndexPendingText(Connection& c) {
    c.Prepare(
         "INSERT INTO messages_fts(rowid, content, owner)"
         " SELECT m.seq, m.content, 'u' || hex(m.user_id)"
         " FROM messages_fts_pending p JOIN messages m ON m.seq = p.seq ORDER BY p.seq")
        ->exec();
    c.Prepare("DELETE FROM messages_fts_pending")->exec();
    c.Prepare(
         "INSERT INTO conversations_fts(rowid, title, owner)"
         " SELECT c.seq, c.title, 'u' || hex(c.user_id)"
         " FROM conversations_fts_pending p JOIN conversations c ON c.seq = p.seq"
         " ORDER BY p.seq")
        ->exec();
    c.Prepare("DELETE FROM conversations_fts_pending")->exec();
  }

  // Indexes the waiting text once kIndexBatch messages or titles wait. Best
  // effort: when it fails they keep waiting, and a search retries (and
  // reports) it.
  void IndexTextIfMany() {
    std::lock_guard<std::mutex> writer_lock(writer_mu_);
    (void)Guard([&]() -> Status {
      {
        Stmt st = writer_->Prepare(
            "SELECT max((SELECT count(*) FROM messages_fts_pending),"
            " (SELECT count(*) FROM conversations_fts_pending))");
        if (!st->executeStep() || st->getColumn(0).getInt64() < kIndexBatch) {
          return Status();
        }
      }
      return WriteLocked([](Connection& c) -> Status {
        IndexPendingText(c);
        return Status();
      });
    });
  }

  // Before a search: indexes whatever waits, so every committed message and
  // title is found. Usually a read that finds nothing waiting.
  Status IndexWaitingText() {
    ASSISTANT_ASSIGN_OR_RETURN(bool waiting, Read([](Connection& c) -> Result<bool> {
      Stmt st = c.Prepare(
          "SELECT EXISTS (SELECT 1 FROM messages_fts_pending)"
          " OR EXISTS (SELECT 1 FROM conversations_fts_pending)");
      return st->executeStep() && st->getColumn(0).getInt() != 0;
    }));
    if (!waiting) return Status();
    return Write([](Connection& c) -> Status {
      IndexPendingText(c);
      return Status();
    });
  }

  // Runs `group` in as few transactions as possible: normally one; a new one
  // after SQLite itself rolled the transaction back (disk full, I/O error),
  // which fails every write it held.
  void RunGroup(const std::vector<PendingWrite*>& group) {
    Connection& c = *writer_;
    sqlite3* db = c.db.getHandle();
    // Cached statements: parsing BEGIN/SAVEPOINT/RELEASE/COMMIT anew for
    // every write was a tenth of a short agent turn.
    auto exec = [&](const char* sql) {
      return Guard([&]() -> Status {
        c.Prepare(sql)->exec();
        return Status();
      });
    };
    size_t next = 0;
    while (next < group.size()) {
      Status begun = exec("BEGIN IMMEDIATE");
      if (!begun.ok()) {
        for (size_t i = next; i < group.size(); ++i) group[i]->failure = begun;
        return;
      }
      const bool alone = group.size() - next == 1;
      std::vector<PendingWrite*> held;  // ran OK; kept if the commit succeeds
      Status lost;
      while (next < group.size()) {
        PendingWrite* p = group[next++];
        if (!alone) {
          Status sp = exec("SAVEPOINT group_write");
          if (!sp.ok()) {
            p->failure = sp;
            if (sqlite3_get_autocommit(db)) {
              lost = sp;
              break;
            }
            continue;
          }
        }
        Status st = p->run(c);
        if (sqlite3_get_autocommit(db)) {
          // The whole transaction is gone with this write.
          if (st.ok()) p->failure = UnavailableError("the write transaction was rolled back");
          lost = st.ok() ? p->failure : st;
          break;
        }
        if (st.ok()) {
          if (!alone) (void)exec("RELEASE group_write");
          held.push_back(p);
        } else if (!alone) {
          (void)exec("ROLLBACK TO group_write");
          (void)exec("RELEASE group_write");
          if (sqlite3_get_autocommit(db)) {
            lost = UnavailableError("the write transaction was rolled back");
            break;
          }
        }
      }
      if (!lost.ok()) {
        for (PendingWrite* p : held) p->failure = lost;
        continue;
      }
      if (held.empty()) {
        c.db.tryExec("ROLLBACK");
        continue;
      }
      Status committed = exec("COMMIT");
      if (!committed.ok()) {
        if (!sqlite3_get_autocommit(db)) c.db.tryExec("ROLLBACK");
        for (PendingWrite* p : held) p->failure = committed;
      }
    }
  }

  template <typename Fn>
  auto WriteLocked(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
    using R = decltype(fn(std::declval<Connection&>()));
    Connection& c = *writer_;
    return Guard([&]() -> R {
      c.db.exec("BEGIN IMMEDIATE");
      try {
        R r = fn(c);
        if (r.ok()) {
          c.db.exec("COMMIT");
        } else {
          c.db.tryExec("ROLLBACK");
        }
        return r;
      } catch (...) {
        c.db.tryExec("ROLLBACK");
        throw;
      }
    });
  }

  // Runs `fn` on a reader connection (the writer for in-memory databases).
  template <typename Fn>
  auto Read(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
    // Inside InTransaction the writer is held already, and sees its writes.
    if (open_tx_ == this) return Guard([&] { return fn(*writer_); });
    if (readers_.empty()) {
      std::lock_guard<std::mutex> lock(writer_mu_);
      return Guard([&] { return fn(*writer_); });
    }
    Connection* c = nullptr;
    {
      std::unique_lock<std::mutex> lock(readers_mu_);
      readers_cv_.wait(lock, [&] { return !free_readers_.empty(); });
      c = free_readers_.back();
      free_readers_.pop_back();
    }
    auto r = Guard([&] { return fn(*c); });
    {
      std::lock_guard<std::mutex> lock(readers_mu_);
      free_readers_.push_back(c);
    }
    readers_cv_.notify_one();
    return r;
  }

  // `loop`'s read connection, opened on first use.
  Result<Connection*> LoopReader(EventLoop& loop) {
    std::lock_guard<std::mutex> lock(loop_readers_mu_);
    std::unique_ptr<Connection>& c = loop_readers_[&loop];
    if (!c) {
      Status opened = Guard([&]() -> Status {
        c = std::make_unique<Connection>(file_, SQLite::OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                                         busy_ms_);
        return Status();
      });
      if (!opened.ok()) {
        loop_readers_.erase(&loop);
        return opened;
      }
    }
    return c.get();
  }

  std::mutex writer_mu_;
  // Declared before writer_, so destroyed after it: the writer's WAL hook
  // points here.
  std::unique_ptr<WalCheckpointer> checkpointer_;
  std::unique_ptr<Connection> writer_;  // guarded by writer_mu_

  // Bounds one transaction, so a burst cannot hold the write lock for long.
  static constexpr size_t kMaxGroupWrites = 64;
  std::mutex group_mu_;
  std::deque<PendingWrite*> group_queue_;  // guarded by group_mu_
  bool group_leader_active_ = false;       // guarded by group_mu_

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::vector<Connection*> free_readers_;  // guarded by readers_mu_

  // One read connection per loop given to ListTasksAsync (file databases).
  std::string file_;
  int busy_ms_ = 0;
  std::mutex loop_readers_mu_;
  std::unordered_map<EventLoop*, std::unique_ptr<Connection>> loop_readers_;  // guarded

  // Indexed text was deleted or rewritten since the last Checkpoint(). Starts
  // true: a previous process may have deleted text and died before its
  // checkpoint, so the first Checkpoint() after open always merges.
  std::atomic<bool> fts_dirty_{true};
};

}  // namespace

std::string_view SqliteMigration(int version) {
  if (version < 1 || version > kMigrationCount) return {};
  return kMigrations[version - 1];
}

namespace {

// The database holds password hashes, tokens and every user's words, so a
// new one is created 0600 before SQLite opens it (SQLite would make it 0644
// less the umask); SQLite gives its -wal and -shm files the database's
// mode. An existing file keeps the mode its operator gave it. A failure
// here is left for SQLite's open to report in its own words.
void CreatePrivately(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
}

}  // namespace

Result<std::unique_ptr<Storage>> OpenSqliteStorage(const std::string& path, bool in_memory,
                                                   const StorageOptions& options) {
  const int busy_ms = static_cast<int>(
      std::min<int64_t>(options.busy_timeout.count(), std::numeric_limits<int>::max()));
  auto opened = Guard([&]() -> Result<std::unique_ptr<Storage>> {
    const std::string file = in_memory ? ":memory:" : path;
    if (!in_memory && options.migrate) CreatePrivately(path);
    // Every connection is used by one thread at a time (the writer behind
    // its mutex, readers checked out of the pool), so SQLite's own
    // per-call connection mutex is pure cost: open in multi-thread mode.
    auto writer = std::make_unique<Connection>(
        file,
        SQLite::OPEN_READWRITE | (options.migrate ? SQLite::OPEN_CREATE : 0) |
            SQLITE_OPEN_NOMUTEX,
        busy_ms);
    if (!options.migrate) {
      // Checked before any pragma, so a database this build does not know
      // is left exactly as it was.
      const int found =
          writer->db.tableExists("schema_version")
              ? writer->db.execAndGet("SELECT COALESCE(MAX(version), 0) FROM schema_version")
                    .getInt()
              : 0;
      ASSISTANT_RETURN_IF_ERROR(CheckSchemaVersion(found, kSqliteSchemaVersion));
    }
    // Search needs FTS5; say so plainly instead of failing in a migration.
    if (!sqlite3_compileoption_used("ENABLE_FTS5")) {
      bool loaded = false;
      SQLite::Statement modules(writer->db, "PRAGMA module_list");
      while (modules.executeStep()) loaded |= modules.getColumn(0).getString() == "fts5";
      if (!loaded) {
        return FailedPreconditionError("the SQLite library lacks the FTS5 extension",
                                       "sqlite_without_fts5");
      }
    }
    const char* synchronous = options.durability == Durability::kPowerLossSafe
                                  ? "PRAGMA synchronous = FULL"
                                  : "PRAGMA synchronous = NORMAL";
    // Pragmas first: journal_mode needs no open transaction.
    writer->db.exec("PRAGMA foreign_keys = ON");
    writer->db.exec("PRAGMA secure_delete = ON");
    if (!in_memory) {
      std::string mode = writer->db.execAndGet("PRAGMA journal_mode = WAL").getString();
      if (AsciiLower(mode) != "wal") {
        return UnavailableError("could not switch the database to WAL mode (got " + mode + ")");
      }
      writer->db.exec(synchronous);
    }
    std::vector<std::unique_ptr<Connection>> readers;
    auto storage = std::make_unique<SqliteStorage>(std::move(writer), std::move(readers));
    if (options.migrate) ASSISTANT_RETURN_IF_ERROR(storage->Migrate());
    if (!in_memory) {
      // Readers open after the migration so they see the schema at once.
      std::vector<std::unique_ptr<Connection>> pool;
      for (int i = 0; i < std::max(options.read_connections, 1); ++i) {
        auto r = std::make_unique<Connection>(file, SQLite::OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                                              busy_ms);
        pool.push_back(std::move(r));
      }
      storage->AttachReaders(std::move(pool), file, busy_ms);
      ASSISTANT_ASSIGN_OR_RETURN(std::unique_ptr<WalCheckpointer> checkpointer,
                                 WalCheckpointer::Start(file, synchronous));
      storage->AttachCheckpointer(std::move(checkpointer));
    }
    return std::unique_ptr<Storage>(std::move(storage));
  });
  return opened;
}

}  // namespace assistant::storage
