// PostgreSQL implementation of assistant::Storage, on libpqxx.
//
// Connection model (also in docs/storage.md):
//   - A pool of connections (StorageOptions::pool_connections), opened on
//     demand. Every call checks one out for one transaction (READ COMMITTED)
//     and returns it; PostgreSQL runs writers concurrently, so there is no
//     writer mutex or group commit as on SQLite.
//   - Statements are prepared once per connection, on first use there, and
//     always run with bound parameters.
//   - Read-modify-write calls lock what they read (SELECT ... FOR UPDATE, or
//     a transaction-scoped advisory lock where the row may not exist yet), so
//     they are atomic against every other server on the same database.
//   - A transaction that failed with serialization_failure (40001) or
//     deadlock_detected (40P01) is run again, a few times; nothing else is.
//   - A broken connection is dropped with every idle one (they went down
//     together); a call that met one before committing runs once more on a
//     new connection. When no connection can be made, calls fail at once
//     with Unavailable "storage_unavailable" until the next attempt, one
//     second later, so a database outage answers quickly instead of queueing.
//   - Every exception is caught in Transact() and mapped to a Status; nothing
//     escapes. Messages never carry the URL (it may hold a password).
#include "storage/postgres_storage.hpp"
#include "common/json_text.hpp"

#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/postgres_async_reader.hpp"
#include "storage/postgres_errors.hpp"
#include "storage/postgres_task_list.hpp"
#include "storage/rate_limit_sql.hpp"
#include "storage/row_mapping.hpp"
#include "storage/schema_check.hpp"
#include "storage/search_terms.hpp"

namespace assistant::storage {

namespace {

// ---------------------------------------------------------------- schema

// Migration N brings the schema from version N-1 to N. Append only; never
// edit a released migration. Times are BIGINT Unix milliseconds and JSON is
// TEXT, as on SQLite, so rows map to the same structs the same way.
const char* const kMigrations[] = {
    // 1: the schema of SQLite's version 7, in PostgreSQL's dialect. Search
    // reads generated tsvector columns through GIN indexes; a run's events
    // are one row each (ON CONFLICT DO NOTHING keeps an id's first content).
    R"sql(
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  email_norm TEXT NOT NULL CONSTRAINT users_email_norm_key UNIQUE,
  name TEXT NOT NULL,
  email_verified BOOLEAN NOT NULL DEFAULT FALSE,
  preferences TEXT NOT NULL DEFAULT '{}',
  password_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT,
  ip TEXT NOT NULL,
  user_agent TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id, created_at);
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
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
  expires_at BIGINT,
  last_used_at BIGINT,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX api_keys_user ON api_keys(user_id, created_at);
CREATE TABLE one_time_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  purpose TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX one_time_tokens_user ON one_time_tokens(user_id);
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  completed BOOLEAN NOT NULL DEFAULT FALSE,
  due_at BIGINT,
  priority INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX tasks_user ON tasks(user_id, created_at, id);
CREATE INDEX tasks_user_completed ON tasks(user_id, completed, created_at, id);
-- seq orders messages by insertion; the public id stays the UUID.
CREATE TABLE conversations (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  app_id TEXT,
  title TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  title_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', title)) STORED
);
CREATE INDEX conversations_user ON conversations(user_id, updated_at, id);
CREATE INDEX conversations_search ON conversations USING GIN (title_tsv);
CREATE TABLE messages (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  tool_calls TEXT,
  tool_call_id TEXT,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  content_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED
);
CREATE INDEX messages_conversation ON messages(conversation_id, seq);
CREATE INDEX messages_user ON messages(user_id);
CREATE INDEX messages_search ON messages USING GIN (content_tsv);
CREATE TABLE agent_state (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  app_id TEXT NOT NULL,
  state TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, app_id)
);
CREATE TABLE memories (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  content TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX memories_user ON memories(user_id, created_at, id);
CREATE TABLE user_data (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
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
  created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_user ON audit_events(user_id, created_at, id);
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  message_id TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  finished_at BIGINT,
  cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
  owner TEXT NOT NULL,
  heartbeat_at BIGINT
);
CREATE INDEX runs_user ON runs(user_id);
CREATE INDEX runs_conversation ON runs(conversation_id);
CREATE INDEX runs_finished ON runs(finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX runs_cancel_requested ON runs(owner)
  WHERE cancel_requested AND status = 'running';
CREATE TABLE run_events (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
)sql",
    // 2: token signing keys, as SQLite's migration 8 (docs/storage.md
    // "Signing keys").
    R"sql(
CREATE TABLE signing_keys (
  purpose TEXT NOT NULL,
  kid TEXT NOT NULL,
  alg TEXT NOT NULL,
  sealed_key TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  retired_at BIGINT,
  PRIMARY KEY (purpose, kid)
);
)sql",
    // 3: rate-limit counters, as SQLite's migration 9.
    R"sql(
CREATE TABLE rate_limits (
  key TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  hits INTEGER NOT NULL
);
CREATE INDEX rate_limits_window ON rate_limits(window_start);
)sql",
    // 4: a run's reference to its conversation is checked at COMMIT, when
    // the turn already holds the conversation's row lock (docs/storage.md
    // "The agent turn"). Checked at its INSERT, before the lock, the KEY
    // SHARE lock it takes on a row that other turns are updating made a
    // MultiXact each time. The cascade on delete is not deferred.
    R"sql(
ALTER TABLE runs ALTER CONSTRAINT runs_conversation_id_fkey DEFERRABLE INITIALLY DEFERRED;
)sql",
};
constexpr int kMigrationCount = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);
static_assert(kMigrationCount == kPostgresSchemaVersion,
              "kPostgresSchemaVersion must equal the number of migrations");

// Held (transaction-scoped) while migrations run, so servers starting at once
// apply them one after the other. An arbitrary constant of this project.
constexpr int64_t kMigrationLockKey = 0x61737369737401;  // "assist" 1
// First key of the two-key advisory locks that serialise UpdateAgentState
// per (user, app); the two-key space never meets the one-key one above.
constexpr int kAgentStateLockClass = 0x6173;

// Conflicts (40001, 40P01) are retried this many times in all.
constexpr int kMaxConflictRetries = 5;

// ---------------------------------------------------------------- helpers

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

int64_t Ms(Timestamp t) { return ToUnixMillis(t); }

std::optional<int64_t> OptMs(const std::optional<Timestamp>& t) {
  if (!t) return std::nullopt;
  return Ms(*t);
}

// A tsquery text for to_tsquery('simple', ...): every word's tokens as a
// phrase (<->) of quoted lexemes, `:*` on the last one of a prefix word, the
// words ANDed. Tokens hold only letters, digits and non-ASCII bytes
// (ParseSearchTerms), so nothing a user typed is tsquery syntax. Empty when
// no word has a token.
std::string BuildTsQuery(const std::vector<std::string>& words) {
  std::string out;
  for (const SearchTerm& term : ParseSearchTerms(words)) {
    if (!out.empty()) out += " & ";
    out += '(';
    for (size_t i = 0; i < term.tokens.size(); ++i) {
      if (i > 0) out += " <-> ";
      out.push_back('\'');
      out += term.tokens[i];
      out.push_back('\'');
      if (term.prefix && i + 1 == term.tokens.size()) out += ":*";
    }
    out += ')';
  }
  return out;
}

Timestamp TimeCol(const pqxx::field& f) { return FromUnixMillis(f.as<int64_t>()); }

std::string TextCol(const pqxx::field& f) { return f.is_null() ? std::string() : f.c_str(); }

std::optional<std::string> OptTextCol(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return std::string(f.c_str(), f.size());
}

// Throws nlohmann::json::parse_error on a corrupt document; Transact() turns that
// into DataLoss.
Json JsonCol(const pqxx::field& f) { return Json::parse(f.c_str()); }

std::string Sql(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out += p;
  return out;
}

// ---------------------------------------------------------------- row readers

// Column lists and readers are shared with SQLite (row_mapping.hpp); this
// adapts a libpqxx row to them. BOOLEAN columns read as 1/0.
struct PgRow {
  const pqxx::row& r;
  std::string Text(int i) const { return TextCol(r[i]); }
  std::optional<std::string> OptText(int i) const { return OptTextCol(r[i]); }
  int64_t Int(int i) const {
    const pqxx::field f = r[i];
    const std::string_view v(f.c_str(), f.size());
    if (v == "t") return 1;
    if (v == "f") return 0;
    return f.as<int64_t>();
  }
  std::optional<int64_t> OptInt(int i) const {
    if (r[i].is_null()) return std::nullopt;
    return Int(i);
  }
};

using namespace rows::columns;  // kUserCols, kTaskCols, ...

UserRecord ReadUser(const pqxx::row& r) { return rows::ReadUser(PgRow{r}); }
Session ReadSession(const pqxx::row& r) { return rows::ReadSession(PgRow{r}); }
RefreshToken ReadRefresh(const pqxx::row& r) { return rows::ReadRefresh(PgRow{r}); }
ApiKey ReadApiKey(const pqxx::row& r) { return rows::ReadApiKey(PgRow{r}); }
Task ReadTask(const pqxx::row& r) { return rows::ReadTask(PgRow{r}); }
Conversation ReadConversation(const pqxx::row& r) { return rows::ReadConversation(PgRow{r}); }
Message ReadMessage(const pqxx::row& r) { return rows::ReadMessage(PgRow{r}); }
Memory ReadMemory(const pqxx::row& r) { return rows::ReadMemory(PgRow{r}); }
UserDataEntry ReadUserData(const pqxx::row& r) { return rows::ReadUserData(PgRow{r}); }
AuditEvent ReadAudit(const pqxx::row& r) { return rows::ReadAudit(PgRow{r}); }
::assistant::Run ReadRun(const pqxx::row& r) { return rows::ReadRun(PgRow{r}); }

// A message's tool_calls column: its JSON text, or NULL.
std::optional<std::string> ToolCallsText(const Message& m) {
  if (!m.tool_calls || m.tool_calls->is_null()) return std::nullopt;
  return DumpJson(*m.tool_calls);
}

std::optional<std::string> NullIfEmpty(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

// ---------------------------------------------------------------- connections

struct Connection {
  explicit Connection(const std::string& url) : db(url) {}
  pqxx::connection db;
  // SQL text -> the name it is prepared under here. A connection serves one
  // call at a time, so this needs no lock (a process-wide map did: one mutex
  // taken by every statement of every call, contended under load).
  std::unordered_map<std::string, std::string> statements;
};

// One transaction on one connection; statements go through Exec, prepared.
// A read-only Tx (PostgresStorage::Query) runs its statements without
// BEGIN/COMMIT and refuses any statement that is not a SELECT, so a write
// can never slip into autocommit.
class Tx final {
 public:
  Tx(Connection& c, pqxx::transaction_base& w, bool read_only = false)
      : c_(c), w_(w), read_only_(read_only) {}

  template <typename... Args>
  pqxx::result Exec(const std::string& sql, Args&&... args) {
    if (read_only_ && sql.compare(0, 7, "SELECT ") != 0) {
      throw std::logic_error("a write in a read-only storage call: " + sql.substr(0, 40));
    }
    auto it = c_.statements.find(sql);
    if (it == c_.statements.end()) {
      std::string name = "s" + std::to_string(c_.statements.size());
      c_.db.prepare(name, sql);  // recorded only once it is prepared
      it = c_.statements.emplace(sql, std::move(name)).first;
    }
    return w_.exec_prepared(it->second, std::forward<Args>(args)...);
  }

  Connection& connection() { return c_; }
  pqxx::transaction_base& work() { return w_; }

  // Unprepared: only for constant text with no parameters (migrations).
  pqxx::result ExecConstant(const std::string& sql) {
    if (read_only_) throw std::logic_error("unprepared statement in a read-only storage call");
    return w_.exec(sql);
  }

 private:
  Connection& c_;
  pqxx::transaction_base& w_;
  const bool read_only_;
};

// Maps a statement's failure; pqxx raises a subclass per SQLSTATE class.
Status MapSqlError(const pqxx::sql_error& e) { return MapSqlState(e.sqlstate(), e.what()); }

bool IsConflict(const pqxx::sql_error& e) {
  const std::string state = e.sqlstate();
  return state == "40001" || state == "40P01";
}

// ---------------------------------------------------------------- storage

class PostgresStorage final : public Storage {
 public:
  PostgresStorage(std::string url, const StorageOptions& options)
      : url_(std::move(url)),
        max_connections_(std::max(options.pool_connections, 1)),
        lock_timeout_ms_(options.busy_timeout.count()),
        // A lock wait fails on the server at busy_timeout (lock_timeout), so
        // a healthy server has answered well before twice that.
        async_timeout_(std::max(2 * options.busy_timeout, std::chrono::milliseconds(100))) {}

  // Applies pending migrations in one transaction, holding the migration
  // lock, so a second server opening at once waits and then finds them done.
  Status Migrate() {
    return Transact([&](Tx& tx) -> Status {
      tx.Exec("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
      tx.ExecConstant(
          "CREATE TABLE IF NOT EXISTS schema_version ("
          "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
      const int current =
          tx.ExecConstant("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0].as<int>();
      if (current > kPostgresSchemaVersion) {
        return FailedPreconditionError("database schema version " + std::to_string(current) +
                                           " is newer than this build supports (" +
                                           std::to_string(kPostgresSchemaVersion) +
                                           "); upgrade libassistant or use another database",
                                       "schema_too_new");
      }
      for (int v = current + 1; v <= kPostgresSchemaVersion; ++v) {
        tx.ExecConstant(kMigrations[v - 1]);
        tx.Exec("INSERT INTO schema_version(version, applied_at) VALUES ($1, $2)", v,
                Ms(std::chrono::system_clock::now()));
      }
      return Status();
    });
  }

  // For an open without migrating: the schema is exactly this build's.
  Status CheckSchema() {
    return Query([&](Tx& tx) -> Status {
      const bool any =
          !tx.Exec("SELECT to_regclass('schema_version') IS NULL")[0][0].as<bool>();
      const int found =
          any ? tx.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0].as<int>()
              : 0;
      return CheckSchemaVersion(found, kPostgresSchemaVersion);
    });
  }

  Status Ping() override {
    return Query([&](Tx& tx) -> Status {
      const int v =
          tx.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0].as<int>();
      if (v != kPostgresSchemaVersion) {
        return FailedPreconditionError(
            "database schema version " + std::to_string(v) + " differs from this build's " +
                std::to_string(kPostgresSchemaVersion),
            v > kPostgresSchemaVersion ? "schema_too_new" : "schema_outdated");
      }
      return Status();
    });
  }

  std::string Backend() const override { return "postgresql"; }

  // ---- users

  Status CreateUser(const UserRecord& r) override {
    return Transact([&](Tx& tx) -> Status {
      tx.Exec(
          "INSERT INTO users(id, email, email_norm, name, email_verified, preferences, "
          "password_hash, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
          r.user.id, r.user.email, AsciiLower(r.user.email), r.user.name, r.user.email_verified,
          DumpJson(r.user.preferences), r.password_hash, Ms(r.user.created_at),
          Ms(r.user.updated_at));
      return Status();
    });
  }

  Result<UserRecord> GetUserById(const std::string& id) override {
    return Query([&](Tx& tx) -> Result<UserRecord> {
      auto rows = tx.Exec(Sql({"SELECT ", kUserCols, " FROM users WHERE id = $1"}), id);
      if (rows.empty()) return NotFoundError("user not found");
      return ReadUser(rows[0]);
    });
  }

  Result<UserRecord> GetUserByEmail(const std::string& email) override {
    return Query([&](Tx& tx) -> Result<UserRecord> {
      auto rows = tx.Exec(Sql({"SELECT ", kUserCols, " FROM users WHERE email_norm = $1"}),
                          AsciiLower(email));
      if (rows.empty()) return NotFoundError("user not found");
      return ReadUser(rows[0]);
    });
  }

  Status UpdateUser(const UserRecord& r) override {
    return Transact([&](Tx& tx) -> Status {
      auto rows = tx.Exec(
          "UPDATE users SET name = $1, email = $2, email_norm = $3, email_verified = $4, "
          "preferences = $5, password_hash = $6, updated_at = $7 WHERE id = $8",
          r.user.name, r.user.email, AsciiLower(r.user.email), r.user.email_verified,
          DumpJson(r.user.preferences), r.password_hash, Ms(r.user.updated_at), r.user.id);
      if (rows.affected_rows() == 0) return NotFoundError("user not found");
      return Status();
    });
  }

  Status DeleteUser(const std::string& id) override {
    // Everything the user owns goes by ON DELETE CASCADE, search columns
    // with their rows.
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("DELETE FROM users WHERE id = $1", id).affected_rows() == 0) {
        return NotFoundError("user not found");
      }
      return Status();
    });
  }

  // ---- sessions and refresh tokens

  Status CreateSession(const Session& s, const RefreshToken& t, const AuditEvent& audit) override {
    return Transact([&](Tx& tx) -> Status {
      tx.Exec(Sql({"INSERT INTO sessions(", kSessionCols, ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"}),
              s.id, s.user_id, Ms(s.created_at), Ms(s.last_used_at), Ms(s.expires_at),
              OptMs(s.revoked_at), s.ip, s.user_agent);
      InsertRefresh(tx, t);
      // The sign-in and its audit row commit together (storage.hpp).
      InsertAudit(tx, audit);
      return Status();
    });
  }

  Result<Session> GetSession(const std::string& session_id) override {
    return Query([&](Tx& tx) -> Result<Session> {
      auto rows =
          tx.Exec(Sql({"SELECT ", kSessionCols, " FROM sessions WHERE id = $1"}), session_id);
      if (rows.empty()) return NotFoundError("session not found");
      return ReadSession(rows[0]);
    });
  }

  Result<std::vector<Session>> ListSessions(const std::string& user_id, Timestamp now) override {
    return Query([&](Tx& tx) -> Result<std::vector<Session>> {
      auto rows = tx.Exec(Sql({"SELECT ", kSessionCols,
                               " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL "
                               "AND expires_at > $2 ORDER BY created_at DESC, id DESC"}),
                          user_id, Ms(now));
      std::vector<Session> out;
      for (const auto& r : rows) out.push_back(ReadSession(r));
      return out;
    });
  }

  Status TouchSession(const std::string& session_id, Timestamp now) override {
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("UPDATE sessions SET last_used_at = $1 WHERE id = $2", Ms(now), session_id)
              .affected_rows() == 0) {
        return NotFoundError("session not found");
      }
      return Status();
    });
  }

  Status RevokeSession(const std::string& user_id, const std::string& session_id,
                       Timestamp now) override {
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) "
                  "WHERE id = $2 AND user_id = $3",
                  Ms(now), session_id, user_id)
              .affected_rows() == 0) {
        return NotFoundError("session not found");
      }
      return Status();
    });
  }

  Result<int> RevokeAllSessions(const std::string& user_id, Timestamp now) override {
    return Transact([&](Tx& tx) -> Result<int> {
      return static_cast<int>(
          tx.Exec("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                  Ms(now), user_id)
              .affected_rows());
    });
  }

  Result<RefreshRotation> RotateRefreshToken(const std::string& token_hash,
                                             const RefreshToken& successor,
                                             Timestamp now) override {
    return Transact([&](Tx& tx) -> Result<RefreshRotation> {
      // FOR UPDATE: a second server rotating the same token waits here, then
      // reads the committed used_at and reports the token as used.
      auto rows = tx.Exec(
          Sql({"SELECT ", kRefreshCols, " FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE"}),
          token_hash);
      if (rows.empty()) return NotFoundError("refresh token not found");
      RefreshRotation out;
      out.presented = ReadRefresh(rows[0]);
      if (out.presented.used_at) return out;
      tx.Exec("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2", Ms(now), token_hash);
      InsertRefresh(tx, successor);
      out.rotated = true;
      return out;
    });
  }

  // ---- API keys

  Status CreateApiKey(const ApiKey& k) override {
    return Transact([&](Tx& tx) -> Status {
      tx.Exec(Sql({"INSERT INTO api_keys(", kApiKeyCols,
                   ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"}),
              k.id, k.user_id, k.name, k.prefix, k.key_hash, DumpJson(Json(k.scopes)),
              OptMs(k.expires_at), OptMs(k.last_used_at), Ms(k.created_at), OptMs(k.revoked_at));
      return Status();
    });
  }

  Result<ApiKey> GetApiKeyByHash(const std::string& key_hash) override {
    return Query([&](Tx& tx) -> Result<ApiKey> {
      auto rows =
          tx.Exec(Sql({"SELECT ", kApiKeyCols, " FROM api_keys WHERE key_hash = $1"}), key_hash);
      if (rows.empty()) return NotFoundError("api key not found");
      return ReadApiKey(rows[0]);
    });
  }

  Result<std::vector<ApiKey>> ListApiKeys(const std::string& user_id) override {
    return Query([&](Tx& tx) -> Result<std::vector<ApiKey>> {
      auto rows = tx.Exec(Sql({"SELECT ", kApiKeyCols,
                               " FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL "
                               "ORDER BY created_at DESC, id DESC"}),
                          user_id);
      std::vector<ApiKey> out;
      for (const auto& r : rows) out.push_back(ReadApiKey(r));
      return out;
    });
  }

  Status RevokeApiKey(const std::string& user_id, const std::string& id, Timestamp now) override {
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) "
                  "WHERE id = $2 AND user_id = $3",
                  Ms(now), id, user_id)
              .affected_rows() == 0) {
        return NotFoundError("api key not found");
      }
      return Status();
    });
  }

  Status TouchApiKey(const std::string& id, Timestamp now) override {
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("UPDATE api_keys SET last_used_at = $1 WHERE id = $2", Ms(now), id)
              .affected_rows() == 0) {
        return NotFoundError("api key not found");
      }
      return Status();
    });
  }

  // ---- one-time tokens

  Status CreateOneTimeToken(const OneTimeToken& t) override {
    return Transact([&](Tx& tx) -> Status {
      tx.Exec(
          "INSERT INTO one_time_tokens(token_hash, user_id, purpose, created_at, expires_at) "
          "VALUES ($1,$2,$3,$4,$5)",
          t.token_hash, t.user_id, std::string(TokenPurposeName(t.purpose)), Ms(t.created_at),
          Ms(t.expires_at));
      return Status();
    });
  }

  Result<OneTimeToken> ConsumeOneTimeToken(const std::string& token_hash,
                                           TokenPurpose purpose, Timestamp now) override {
    // nullopt = not usable; the transaction still commits so an expired
    // token's removal sticks. DELETE ... RETURNING takes the row exactly
    // once however many servers present it.
    auto r = Transact([&](Tx& tx) -> Result<std::optional<OneTimeToken>> {
      auto rows = tx.Exec(
          "DELETE FROM one_time_tokens WHERE token_hash = $1 AND purpose = $2 "
          "RETURNING token_hash, user_id, purpose, created_at, expires_at",
          token_hash, std::string(TokenPurposeName(purpose)));
      if (rows.empty()) return std::optional<OneTimeToken>();
      OneTimeToken t;
      t.token_hash = TextCol(rows[0][0]);
      t.user_id = TextCol(rows[0][1]);
      t.purpose = purpose;  // the row matched it
      t.created_at = TimeCol(rows[0][3]);
      t.expires_at = TimeCol(rows[0][4]);
      if (t.expires_at <= now) return std::optional<OneTimeToken>();
      return std::optional<OneTimeToken>(std::move(t));
    });
    if (!r.ok()) return r.status();
    if (!*r) return NotFoundError("token not found or expired");
    return std::move(**r);
  }

  // ---- tasks

  Status CreateTask(const Task& t) override {
    return Transact([&](Tx& tx) -> Status {
      tx.Exec(Sql({"INSERT INTO tasks(", kTaskCols, ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"}),
              t.id, t.user_id, t.title, t.description, t.completed, OptMs(t.due_at), t.priority,
              Ms(t.created_at), Ms(t.updated_at));
      return Status();
    });
  }

  Result<Task> GetTask(const std::string& user_id, const std::string& id) override {
    return Query([&](Tx& tx) -> Result<Task> {
      auto rows = tx.Exec(Sql({"SELECT ", kTaskCols, " FROM tasks WHERE id = $1 AND user_id = $2"}),
                          id, user_id);
      if (rows.empty()) return NotFoundError("task not found");
      return ReadTask(rows[0]);
    });
  }

  Status UpdateTask(const Task& t) override {
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("UPDATE tasks SET title = $1, description = $2, completed = $3, due_at = $4, "
                  "priority = $5, updated_at = $6 WHERE id = $7 AND user_id = $8",
                  t.title, t.description, t.completed, OptMs(t.due_at), t.priority,
                  Ms(t.updated_at), t.id, t.user_id)
              .affected_rows() == 0) {
        return NotFoundError("task not found");
      }
      return Status();
    });
  }

  Status DeleteTask(const std::string& user_id, const std::string& id) override {
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("DELETE FROM tasks WHERE id = $1 AND user_id = $2", id, user_id)
              .affected_rows() == 0) {
        return NotFoundError("task not found");
      }
      return Status();
    });
  }

  Result<std::vector<Task>> ListTasks(const std::string& user_id, const TaskQuery& q) override {
    const TaskListParams p = TaskListParamsOf(q);
    return Query([&](Tx& tx) -> Result<std::vector<Task>> {
      auto rows = tx.Exec(ListTasksSql(), user_id, p.completed, p.pattern, p.after_ms,
                          p.after_id, p.limit);
      std::vector<Task> out;
      out.reserve(rows.size());
      for (const auto& r : rows) out.push_back(ReadTask(r));
      return out;
    });
  }

  // On connections of `loop`'s own (postgres_async_reader.hpp), up to
  // pool_connections per loop, opened when first needed.
  void ListTasksAsync(const std::string& user_id, const TaskQuery& q, EventLoop& loop,
                      TaskListDone done) override {
    std::weak_ptr<PgAsyncReader> reader = ReaderFor(loop);
    loop.Post([reader, user_id, q, done = std::move(done)]() mutable {
      if (auto r = reader.lock()) r->ListTasks(std::move(user_id), q, std::move(done));
    });
  }

  bool ListTasksAsyncFitsLoop() const override { return true; }

  void ForgetLoop(EventLoop& loop) override {
    std::shared_ptr<PgAsyncReader> gone;  // closed outside the lock
    std::lock_guard<std::mutex> lock(readers_mu_);
    auto it = readers_.find(&loop);
    if (it == readers_.end()) return;
    gone = std::move(it->second);
    readers_.erase(it);
  }

  Result<int> DeleteCompletedTasks(const std::string& user_id) override {
    return Transact([&](Tx& tx) -> Result<int> {
      return static_cast<int>(
          tx.Exec("DELETE FROM tasks WHERE user_id = $1 AND completed", user_id).affected_rows());
    });
  }

  // ---- conversations and messages

  Status CreateConversation(const Conversation& conv) override {
    return Transact([&](Tx& tx) -> Status {
      InsertConversation(tx, conv);
      return Status();
    });
  }

  Result<Conversation> GetConversation(const std::string& user_id, const std::string& id) override {
    return Query([&](Tx& tx) -> Result<Conversation> {
      auto rows = tx.Exec(
          Sql({"SELECT ", kConversationCols, " FROM conversations WHERE id = $1 AND user_id = $2"}),
          id, user_id);
      if (rows.empty()) return NotFoundError("conversation not found");
      return ReadConversation(rows[0]);
    });
  }

  Status UpdateConversation(const Conversation& conv) override {
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("UPDATE conversations SET title = $1, app_id = $2, updated_at = $3 "
                  "WHERE id = $4 AND user_id = $5",
                  conv.title, conv.app_id, Ms(conv.updated_at), conv.id, conv.user_id)
              .affected_rows() == 0) {
        return NotFoundError("conversation not found");
      }
      return Status();
    });
  }

  Status DeleteConversation(const std::string& user_id, const std::string& id) override {
    // Messages and runs go by ON DELETE CASCADE.
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("DELETE FROM conversations WHERE id = $1 AND user_id = $2", id, user_id)
              .affected_rows() == 0) {
        return NotFoundError("conversation not found");
      }
      return Status();
    });
  }

  Result<std::vector<Conversation>> ListConversations(const std::string& user_id,
                                                      const ConversationQuery& q) override {
    std::optional<int64_t> after_ms;
    std::optional<std::string> after_id;
    if (q.after) {
      after_ms = Ms(q.after->time);
      after_id = q.after->id;
    }
    return Query([&](Tx& tx) -> Result<std::vector<Conversation>> {
      auto rows = tx.Exec(
          Sql({"SELECT ", kConversationCols,
               " FROM conversations WHERE user_id = $1"
               " AND ($2::bigint IS NULL OR updated_at < $2 OR (updated_at = $2 AND id < $3))"
               " ORDER BY updated_at DESC, id DESC LIMIT $4"}),
          user_id, after_ms, after_id, std::max(q.limit, 0));
      std::vector<Conversation> out;
      for (const auto& r : rows) out.push_back(ReadConversation(r));
      return out;
    });
  }

  Result<std::vector<Conversation>> SearchConversations(const std::string& user_id,
                                                        const std::vector<std::string>& words,
                                                        int limit, int offset) override {
    const std::string query = BuildTsQuery(words);
    if (query.empty() || limit <= 0) return std::vector<Conversation>();
    return Transact([&](Tx& tx) -> Result<std::vector<Conversation>> {
      // Best rank of the conversation's title and messages (normalised by
      // length, as bm25 is on SQLite), then recency.
      auto rows = tx.Exec(
          "WITH q AS (SELECT to_tsquery('simple', $2) AS q),"
          " hits(conversation_id, rank) AS ("
          "  SELECT c.id, ts_rank(c.title_tsv, q.q, 1) FROM conversations c, q"
          "    WHERE c.user_id = $1 AND c.title_tsv @@ q.q"
          "  UNION ALL"
          "  SELECT m.conversation_id, ts_rank(m.content_tsv, q.q, 1) FROM messages m, q"
          "    WHERE m.user_id = $1 AND m.content_tsv @@ q.q)"
          " SELECT c.id, c.user_id, c.app_id, c.title, c.created_at, c.updated_at"
          " FROM (SELECT conversation_id, MAX(rank) AS rank FROM hits"
          "       GROUP BY conversation_id) h"
          " JOIN conversations c ON c.id = h.conversation_id AND c.user_id = $1"
          " ORDER BY h.rank DESC, c.updated_at DESC, c.id DESC LIMIT $3 OFFSET $4",
          user_id, query, limit, std::max(offset, 0));
      std::vector<Conversation> out;
      for (const auto& r : rows) out.push_back(ReadConversation(r));
      return out;
    });
  }

  Status AppendMessage(const std::string& user_id, const Message& m) override {
    // One statement: atomic alone, but a lost connection must not run it
    // twice (a second message), so it stays in a transaction.
    return Transact([&](Tx& tx) -> Status { return AppendMessagesIn(tx, user_id, {&m}); });
  }

  Status UpdateMessage(const std::string& user_id, const Message& m) override {
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("UPDATE messages SET content = $1, tool_calls = $2, status = $3 "
                  "WHERE id = $4 AND conversation_id = $5 AND user_id = $6",
                  m.content, ToolCallsText(m), std::string(MessageStatusName(m.status)), m.id,
                  m.conversation_id, user_id)
              .affected_rows() == 0) {
        return NotFoundError("message not found");
      }
      return Status();
    });
  }

  Result<Message> GetMessage(const std::string& user_id, const std::string& conversation_id,
                             const std::string& message_id) override {
    return Query([&](Tx& tx) -> Result<Message> {
      auto rows = tx.Exec(Sql({"SELECT ", kMessageCols,
                               " FROM messages WHERE id = $1 AND conversation_id = $2 "
                               "AND user_id = $3"}),
                          message_id, conversation_id, user_id);
      if (rows.empty()) return NotFoundError("message not found");
      return ReadMessage(rows[0]);
    });
  }

  Result<MessagePage> ListMessages(const std::string& user_id, const std::string& conversation_id,
                                   const std::string& before_id, int limit) override {
    return Query([&](Tx& tx) -> Result<MessagePage> {
      if (!OwnsConversation(tx, user_id, conversation_id)) {
        return NotFoundError("conversation not found");
      }
      int64_t before_seq = INT64_MAX;
      if (!before_id.empty()) {
        auto rows = tx.Exec("SELECT seq FROM messages WHERE id = $1 AND conversation_id = $2",
                            before_id, conversation_id);
        if (rows.empty()) return NotFoundError("message not found");
        before_seq = rows[0][0].as<int64_t>();
      }
      const int n = std::max(limit, 0);
      // One extra row tells whether older ones exist.
      auto rows = tx.Exec(Sql({"SELECT ", kMessageCols,
                               " FROM messages WHERE conversation_id = $1 AND seq < $2 "
                               "ORDER BY seq DESC LIMIT $3"}),
                          conversation_id, before_seq, n + 1);
      MessagePage page;
      for (const auto& r : rows) {
        if (static_cast<int>(page.messages.size()) == n) {
          page.has_more = true;
          break;
        }
        page.messages.push_back(ReadMessage(r));
      }
      std::reverse(page.messages.begin(), page.messages.end());
      return page;
    });
  }

  Result<Conversation> ForkConversation(const std::string& user_id, const std::string& source_id,
                                        const std::string& upto_message_id,
                                        const Conversation& fork) override {
    return Transact([&](Tx& tx) -> Result<Conversation> {
      if (!OwnsConversation(tx, user_id, source_id)) {
        return NotFoundError("conversation not found");
      }
      auto upto = tx.Exec(
          "SELECT seq FROM messages WHERE id = $1 AND conversation_id = $2 AND user_id = $3",
          upto_message_id, source_id, user_id);
      if (upto.empty()) return NotFoundError("message not found");
      auto rows = tx.Exec(Sql({"SELECT ", kMessageCols,
                               " FROM messages WHERE conversation_id = $1 AND seq <= $2 "
                               "ORDER BY seq"}),
                          source_id, upto[0][0].as<int64_t>());
      Conversation out = fork;
      out.user_id = user_id;
      InsertConversation(tx, out);
      for (const auto& r : rows) InsertMessage(tx, user_id, out.id, NewId(), ReadMessage(r));
      return out;
    });
  }

  // ---- agent state

  Result<AgentState> GetAgentState(const std::string& user_id, const std::string& app_id) override {
    return Query([&](Tx& tx) -> Result<AgentState> {
      auto rows = tx.Exec(
          "SELECT state, updated_at FROM agent_state WHERE user_id = $1 AND app_id = $2", user_id,
          app_id);
      if (rows.empty()) return NotFoundError("agent state not found");
      AgentState s;
      s.user_id = user_id;
      s.app_id = app_id;
      s.state = JsonCol(rows[0][0]);
      s.updated_at = TimeCol(rows[0][1]);
      return s;
    });
  }

  Result<AgentState> UpdateAgentState(
      const std::string& user_id, const std::string& app_id,
      const std::function<Result<Json>(const std::optional<Json>&)>& update,
      Timestamp now) override {
    // `update` runs inside the transaction, holding a connection: it must not
    // call back into this storage. The advisory lock serialises updaters of
    // one (user, app) even before its row exists, which FOR UPDATE cannot.
    return Transact([&](Tx& tx) -> Result<AgentState> {
      tx.Exec("SELECT pg_advisory_xact_lock($1, hashtext($2 || '/' || $3))",
              kAgentStateLockClass, user_id, app_id);
      std::optional<Json> current;
      auto rows = tx.Exec("SELECT state FROM agent_state WHERE user_id = $1 AND app_id = $2",
                          user_id, app_id);
      if (!rows.empty()) current = JsonCol(rows[0][0]);
      Result<Json> next = update(current);
      if (!next.ok()) return next.status();
      tx.Exec(
          "INSERT INTO agent_state(user_id, app_id, state, updated_at) VALUES ($1,$2,$3,$4) "
          "ON CONFLICT (user_id, app_id) DO UPDATE SET state = excluded.state, "
          "updated_at = excluded.updated_at",
          user_id, app_id, DumpJson(*next), Ms(now));
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
    return Transact([&](Tx& tx) -> Status {
      tx.Exec(Sql({"INSERT INTO memories(", kMemoryCols, ") VALUES ($1,$2,$3,$4)"}), m.id,
              m.user_id, m.content, Ms(m.created_at));
      return Status();
    });
  }

  Result<std::vector<Memory>> ListMemories(const std::string& user_id, int limit) override {
    return Query([&](Tx& tx) -> Result<std::vector<Memory>> {
      auto rows = tx.Exec(Sql({"SELECT ", kMemoryCols,
                               " FROM memories WHERE user_id = $1 "
                               "ORDER BY created_at DESC, id DESC LIMIT $2"}),
                          user_id, std::max(limit, 0));
      std::vector<Memory> out;
      for (const auto& r : rows) out.push_back(ReadMemory(r));
      return out;
    });
  }

  Status DeleteMemory(const std::string& user_id, const std::string& id) override {
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("DELETE FROM memories WHERE id = $1 AND user_id = $2", id, user_id)
              .affected_rows() == 0) {
        return NotFoundError("memory not found");
      }
      return Status();
    });
  }

  // ---- user data

  Status PutUserData(const UserDataEntry& e) override {
    return Transact([&](Tx& tx) -> Status {
      tx.Exec(
          "INSERT INTO user_data(user_id, ns, key, value, updated_at) VALUES ($1,$2,$3,$4,$5) "
          "ON CONFLICT (user_id, ns, key) DO UPDATE SET value = excluded.value, "
          "updated_at = excluded.updated_at",
          e.user_id, e.ns, e.key, DumpJson(e.value), Ms(e.updated_at));
      return Status();
    });
  }

  Result<UserDataEntry> GetUserData(const std::string& user_id, const std::string& ns,
                                    const std::string& key) override {
    return Query([&](Tx& tx) -> Result<UserDataEntry> {
      auto rows = tx.Exec(Sql({"SELECT ", kUserDataCols,
                               " FROM user_data WHERE user_id = $1 AND ns = $2 AND key = $3"}),
                          user_id, ns, key);
      if (rows.empty()) return NotFoundError("user data not found");
      return ReadUserData(rows[0]);
    });
  }

  Result<std::vector<UserDataEntry>> ListUserData(const std::string& user_id,
                                                  const std::string& ns) override {
    return Query([&](Tx& tx) -> Result<std::vector<UserDataEntry>> {
      // COLLATE "C": byte order, as SQLite's BINARY collation sorts keys.
      auto rows = tx.Exec(Sql({"SELECT ", kUserDataCols,
                               " FROM user_data WHERE user_id = $1 AND ns = $2 "
                               "ORDER BY key COLLATE \"C\""}),
                          user_id, ns);
      std::vector<UserDataEntry> out;
      for (const auto& r : rows) out.push_back(ReadUserData(r));
      return out;
    });
  }

  Status DeleteUserData(const std::string& user_id, const std::string& ns,
                        const std::string& key) override {
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("DELETE FROM user_data WHERE user_id = $1 AND ns = $2 AND key = $3", user_id,
                  ns, key)
              .affected_rows() == 0) {
        return NotFoundError("user data not found");
      }
      return Status();
    });
  }

  // ---- audit

  Status AppendAudit(const AuditEvent& a) override {
    return Transact([&](Tx& tx) -> Status {
      InsertAudit(tx, a);
      return Status();
    });
  }

  Result<std::vector<AuditEvent>> ListAudit(const std::string& user_id, int limit,
                                            const std::optional<PagePosition>& after) override {
    std::optional<int64_t> after_ms;
    std::optional<std::string> after_id;
    if (after) {
      after_ms = Ms(after->time);
      after_id = after->id;
    }
    return Query([&](Tx& tx) -> Result<std::vector<AuditEvent>> {
      auto rows = tx.Exec(
          Sql({"SELECT ", kAuditCols,
               " FROM audit_events WHERE user_id = $1"
               " AND ($2::bigint IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3))"
               " ORDER BY created_at DESC, id DESC LIMIT $4"}),
          user_id, after_ms, after_id, std::max(limit, 0));
      std::vector<AuditEvent> out;
      for (const auto& r : rows) out.push_back(ReadAudit(r));
      return out;
    });
  }

  // PostgreSQL keeps a deleted row's text in its pages (and GIN entries)
  // until VACUUM reclaims them; autovacuum does that, and a forced VACUUM is
  // the operator's to schedule (docs/storage.md). Nothing to move here, so
  // this only says the database answers.
  Status Checkpoint() override {
    return Transact([&](Tx& tx) -> Status {
      tx.Exec("SELECT 1");
      return Status();
    });
  }

  Status InTransaction(const std::function<Status()>& body) override {
    if (open_tx_ != nullptr && open_tx_->owner == this) return body();
    return Transact([&](Tx& tx) -> Status {
      OpenTx open{this, &tx.connection(), &tx.work()};
      OpenTx* outer = std::exchange(open_tx_, &open);
      struct Restore {
        OpenTx* outer;
        ~Restore() { open_tx_ = outer; }
      } restore{outer};
      return body();
    });
  }

  // ---- agent runs

  Status StartRun(const RunStart& start) override {
    return Transact([&](Tx& tx) -> Status { return StartRunIn(tx, start); });
  }

  Status TouchRuns(const std::string& owner, Timestamp now) override {
    return Transact([&](Tx& tx) -> Status {
      tx.Exec("UPDATE runs SET heartbeat_at = $1 WHERE owner = $2 AND status = $3", Ms(now), owner,
              std::string(RunStatusName(RunStatus::kRunning)));
      return Status();
    });
  }

  Result<bool> FailAbandonedRun(const std::string& user_id, const std::string& run_id,
                                Timestamp alive_since, Timestamp now,
                                const RunEvent& error_event) override {
    return Transact([&](Tx& tx) -> Result<bool> {
      if (tx.Exec("UPDATE runs SET status = $1, finished_at = $2 WHERE id = $3 AND user_id = $4 "
                  "AND status = $5 AND COALESCE(heartbeat_at, created_at) < $6",
                  std::string(RunStatusName(RunStatus::kFailed)), Ms(now), run_id, user_id, std::string(RunStatusName(RunStatus::kRunning)),
                  Ms(alive_since))
              .affected_rows() == 0) {
        return false;
      }
      RunEvent e = error_event;
      e.id = tx.Exec("SELECT COALESCE(MAX(seq), 0) + 1 FROM run_events WHERE run_id = $1", run_id)[0]
                 [0]
                     .as<int64_t>();
      InsertRunEvents(tx, run_id, {e});
      return true;
    });
  }

  Result<::assistant::Run> GetRun(const std::string& user_id, const std::string& id) override {
    return Query([&](Tx& tx) -> Result<::assistant::Run> { return SelectRun(tx, user_id, id); });
  }

  Status AppendRunEvents(const std::vector<RunEventBatch>& batches) override {
    return Transact([&](Tx& tx) -> Status {
      for (const RunEventBatch& b : batches) {
        // A run deleted meanwhile (conversation or user deleted, pruned)
        // takes no more events.
        if (!OwnsRun(tx, b.user_id, b.run_id)) continue;
        InsertRunEvents(tx, b.run_id, b.events);
      }
      return Status();
    });
  }

  Result<std::vector<RunEvent>> ListRunEvents(const std::string& user_id,
                                              const std::string& run_id, int64_t after_id,
                                              int limit) override {
    return Query([&](Tx& tx) -> Result<std::vector<RunEvent>> {
      if (!OwnsRun(tx, user_id, run_id)) return NotFoundError("run not found");
      auto rows = tx.Exec(
          "SELECT seq, type, data FROM run_events WHERE run_id = $1 AND seq > $2 "
          "ORDER BY seq LIMIT $3",
          run_id, after_id, std::max(limit, 0));
      std::vector<RunEvent> out;
      out.reserve(rows.size());
      for (const auto& r : rows) {
        out.push_back(RunEvent{run_id, r[0].as<int64_t>(), TextCol(r[1]), JsonCol(r[2])});
      }
      return out;
    });
  }

  // The writes that need no conversation lock (the run, its events, the
  // audit) go first; the messages, which take the lock, go last, so the lock
  // is held for one statement and COMMIT (docs/storage.md).
  Status FinishRun(const RunFinish& finish) override {
    return Transact([&](Tx& tx) -> Status {
      const ::assistant::Run& run = finish.run;
      std::vector<const Message*> messages;
      if (finish.start) {
        // Started and finished in one write: the row goes in as it ends.
        ASSISTANT_RETURN_IF_ERROR(StartRunIn(tx, *finish.start, &run, &messages));
      } else if (tx.Exec("UPDATE runs SET status = $1, finished_at = $2 "
                         "WHERE id = $3 AND user_id = $4",
                         std::string(RunStatusName(run.status)), OptMs(run.finished_at), run.id,
                         run.user_id)
                     .affected_rows() == 0) {
        return NotFoundError("run not found");
      }
      InsertRunEvents(tx, run.id, finish.events);
      for (const AuditEvent& a : finish.audit) InsertAudit(tx, a);
      if (finish.reply) messages.push_back(&*finish.reply);
      return AppendMessagesIn(tx, run.user_id, messages);
    });
  }

  Result<::assistant::Run> RequestRunCancel(const std::string& user_id,
                                            const std::string& run_id) override {
    return Transact([&](Tx& tx) -> Result<::assistant::Run> {
      tx.Exec("UPDATE runs SET cancel_requested = TRUE WHERE id = $1 AND user_id = $2 "
              "AND status = $3",
              run_id, user_id, std::string(RunStatusName(RunStatus::kRunning)));
      return SelectRun(tx, user_id, run_id);
    });
  }

  Result<std::vector<std::string>> ListCancelRequestedRuns(const std::string& owner) override {
    return Query([&](Tx& tx) -> Result<std::vector<std::string>> {
      auto rows = tx.Exec(
          "SELECT id FROM runs WHERE owner = $1 AND cancel_requested AND status = 'running'",
          owner);
      std::vector<std::string> out;
      for (const auto& r : rows) out.push_back(TextCol(r[0]));
      return out;
    });
  }

  Result<int> DeleteRunsFinishedBefore(Timestamp cutoff) override {
    return Transact([&](Tx& tx) -> Result<int> {
      // Events go by ON DELETE CASCADE.
      return static_cast<int>(
          tx.Exec("DELETE FROM runs WHERE finished_at IS NOT NULL AND finished_at < $1",
                  Ms(cutoff))
              .affected_rows());
    });
  }

  // ---- rate limits

  Result<RateWindow> HitRateLimit(const std::string& key, int limit,
                                  std::chrono::milliseconds window, Timestamp now) override {
    // One upsert, atomic on its own, so no transaction around it; a full
    // window's SELECT after it took its own snapshot at READ COMMITTED in a
    // transaction too. Run again after a lost connection, a hit may count
    // twice: the limit then refuses early, never lets more through.
    return Autocommit([&](Tx& tx) -> Result<RateWindow> {
      // The row lock orders servers hitting the same key.
      static const std::string kHit = HitRateLimitSql('$');
      auto counted = tx.Exec(kHit, key, Ms(now), Ms(now - window), limit);
      RateWindow w;
      w.counted = !counted.empty();
      auto rows = w.counted ? counted
                            : tx.Exec("SELECT window_start, hits FROM rate_limits WHERE key = $1",
                                      key);
      if (rows.empty()) return InternalError("the rate-limit counter vanished");
      w.window_start = TimeCol(rows[0][0]);
      w.hits = rows[0][1].as<int>();
      return w;
    });
  }

  Result<int> DeleteRateLimitsBefore(Timestamp cutoff) override {
    return Transact([&](Tx& tx) -> Result<int> {
      return static_cast<int>(
          tx.Exec("DELETE FROM rate_limits WHERE window_start < $1", Ms(cutoff)).affected_rows());
    });
  }

  // ---- signing keys

  Status AddSigningKey(const SigningKey& k) override {
    return Transact([&](Tx& tx) -> Status {
      tx.Exec(Sql({"INSERT INTO signing_keys(", kSigningKeyCols,
                   ") VALUES ($1,$2,$3,$4,$5,NULL)"}),
              k.kid, std::string(KeyPurposeName(k.purpose)), k.alg, k.sealed_key, Ms(k.created_at));
      tx.Exec(
          "UPDATE signing_keys SET retired_at = $1 "
          "WHERE purpose = $2 AND kid <> $3 AND retired_at IS NULL",
          Ms(k.created_at), std::string(KeyPurposeName(k.purpose)), k.kid);
      return Status();
    });
  }

  Result<std::vector<SigningKey>> ListSigningKeys(KeyPurpose purpose) override {
    return Query([&](Tx& tx) -> Result<std::vector<SigningKey>> {
      auto rows = tx.Exec(Sql({"SELECT ", kSigningKeyCols,
                               " FROM signing_keys WHERE purpose = $1 ORDER BY created_at, kid"}),
                          std::string(KeyPurposeName(purpose)));
      std::vector<SigningKey> out;
      for (const auto& r : rows) out.push_back(rows::ReadSigningKey(PgRow{r}));
      return out;
    });
  }

  Status DeleteSigningKey(KeyPurpose purpose, const std::string& kid) override {
    return Transact([&](Tx& tx) -> Status {
      if (tx.Exec("DELETE FROM signing_keys WHERE purpose = $1 AND kid = $2",
                  std::string(KeyPurposeName(purpose)), kid)
              .affected_rows() == 0) {
        return NotFoundError("no signing key with that kid");
      }
      return Status();
    });
  }

  Result<int> DeleteSigningKeysRetiredBefore(KeyPurpose purpose,
                                             Timestamp cutoff) override {
    return Transact([&](Tx& tx) -> Result<int> {
      return static_cast<int>(
          tx.Exec("DELETE FROM signing_keys WHERE purpose = $1 AND retired_at IS NOT NULL "
                  "AND retired_at < $2",
                  std::string(KeyPurposeName(purpose)), Ms(cutoff))
              .affected_rows());
    });
  }

 private:
  static bool OwnsConversation(Tx& tx, const std::string& user_id,
                               const std::string& conversation_id) {
    return !tx.Exec("SELECT 1 FROM conversations WHERE id = $1 AND user_id = $2", conversation_id,
                    user_id)
                .empty();
  }

  static bool OwnsRun(Tx& tx, const std::string& user_id, const std::string& run_id) {
    return !tx.Exec("SELECT 1 FROM runs WHERE id = $1 AND user_id = $2", run_id, user_id).empty();
  }

  static Result<::assistant::Run> SelectRun(Tx& tx, const std::string& user_id,
                                            const std::string& run_id) {
    auto rows = tx.Exec(Sql({"SELECT ", kRunCols, " FROM runs WHERE id = $1 AND user_id = $2"}),
                        run_id, user_id);
    if (rows.empty()) return NotFoundError("run not found");
    return ReadRun(rows[0]);
  }

  // An id already stored keeps its first content (the primary key and DO
  // NOTHING), so late or repeated batches are harmless. One statement per
  // batch: the events travel as three parallel arrays.
  static void InsertRunEvents(Tx& tx, const std::string& run_id,
                              const std::vector<RunEvent>& events) {
    if (events.empty()) return;
    Json ids = Json::array();
    Json types = Json::array();
    Json data = Json::array();
    for (const RunEvent& e : events) {
      ids.push_back(e.id);
      types.push_back(e.type);
      data.push_back(DumpJson(e.data));
    }
    // JSON arrays, unpacked by the server: no array-literal quoting of our own.
    tx.Exec(
        "INSERT INTO run_events(run_id, seq, type, data)"
        " SELECT $1, e.seq, e.type, e.data FROM"
        " unnest(ARRAY(SELECT json_array_elements_text($2::json)::bigint),"
        "        ARRAY(SELECT json_array_elements_text($3::json)),"
        "        ARRAY(SELECT json_array_elements_text($4::json))) AS e(seq, type, data)"
        " ON CONFLICT (run_id, seq) DO NOTHING",
        run_id, DumpJson(ids), DumpJson(types), DumpJson(data));
  }

  static void InsertRefresh(Tx& tx, const RefreshToken& t) {
    tx.Exec(Sql({"INSERT INTO refresh_tokens(", kRefreshCols, ") VALUES ($1,$2,$3,$4,$5,$6)"}),
            t.token_hash, t.session_id, t.user_id, Ms(t.created_at), Ms(t.expires_at),
            OptMs(t.used_at));
  }

  static void InsertConversation(Tx& tx, const Conversation& conv) {
    tx.Exec(Sql({"INSERT INTO conversations(", kConversationCols, ") VALUES ($1,$2,$3,$4,$5,$6)"}),
            conv.id, conv.user_id, conv.app_id, conv.title, Ms(conv.created_at),
            Ms(conv.updated_at));
  }

  static void InsertAudit(Tx& tx, const AuditEvent& a) {
    tx.Exec(Sql({"INSERT INTO audit_events(", kAuditCols, ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"}),
            a.id, NullIfEmpty(a.user_id), a.type, std::string(AuditOutcomeName(a.outcome)), a.ip, a.user_agent, a.request_id,
            DumpJson(a.details), Ms(a.created_at));
  }

  // Appends `messages` in order, each run of messages of one conversation in
  // one statement: the conversation's UPDATE (matched by id and user, setting
  // updated_at to the last message's time) takes its row lock before the
  // INSERT draws the messages' seq, and the lock is held to COMMIT, so
  // concurrent appends to one conversation get seq in commit order and a
  // reader paging by seq never skips one. Callers write this last in their
  // transaction, so the lock is held for this statement and COMMIT only.
  // No conversation of the user's: nothing inserted, NotFound.
  static Status AppendMessagesIn(Tx& tx, const std::string& user_id,
                                 const std::vector<const Message*>& messages) {
    for (size_t begin = 0; begin < messages.size();) {
      const std::string& conversation_id = messages[begin]->conversation_id;
      size_t end = begin;
      Json rows = Json::array();
      for (; end < messages.size() && messages[end]->conversation_id == conversation_id; ++end) {
        const Message& m = *messages[end];
        Json row = {{"id", m.id},
                    {"role", std::string(MessageRoleName(m.role))},
                    {"content", m.content},
                    {"tool_calls", nullptr},
                    {"tool_call_id", nullptr},
                    {"status", std::string(MessageStatusName(m.status))},
                    {"created_at", Ms(m.created_at)}};
        if (auto calls = ToolCallsText(m)) row["tool_calls"] = *calls;
        if (m.tool_call_id) row["tool_call_id"] = *m.tool_call_id;
        rows.push_back(std::move(row));
      }
      // The rows travel as one JSON array, unpacked by the server; ORDER BY
      // its ordinality keeps the caller's order in seq.
      const size_t inserted =
          tx.Exec("WITH c AS (UPDATE conversations SET updated_at = $3"
                  "           WHERE id = $1 AND user_id = $2 RETURNING id)"
                  " INSERT INTO messages(id, conversation_id, user_id, role, content, tool_calls,"
                  "                      tool_call_id, status, created_at)"
                  " SELECT m.id, c.id, $2, m.role, m.content, m.tool_calls, m.tool_call_id,"
                  "        m.status, m.created_at"
                  " FROM c, ROWS FROM (json_to_recordset($4::json) AS (id text, role text,"
                  "        content text, tool_calls text, tool_call_id text, status text,"
                  "        created_at bigint)) WITH ORDINALITY"
                  "   AS m(id, role, content, tool_calls, tool_call_id, status, created_at, ord)"
                  " ORDER BY m.ord",
                  conversation_id, user_id, Ms(messages[end - 1]->created_at), DumpJson(rows))
              .affected_rows();
      if (inserted == 0) return NotFoundError("conversation not found");
      begin = end;
    }
    return Status();
  }

  static void InsertMessage(Tx& tx, const std::string& user_id, const std::string& conversation_id,
                            const std::string& id, const Message& m) {
    tx.Exec(
        "INSERT INTO messages(id, conversation_id, user_id, role, content, tool_calls, "
        "tool_call_id, status, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        id, conversation_id, user_id, std::string(MessageRoleName(m.role)), m.content, ToolCallsText(m), m.tool_call_id,
        std::string(MessageStatusName(m.status)), Ms(m.created_at));
  }

  // `as_finished`: the run's row as it ended, for a start written with its
  // finish. `deferred`: where the user's message goes for the caller to
  // append last; without it, it is appended here, after the run.
  static Status StartRunIn(Tx& tx, const RunStart& start,
                           const ::assistant::Run* as_finished = nullptr,
                           std::vector<const Message*>* deferred = nullptr) {
    const ::assistant::Run& r = as_finished ? *as_finished : start.run;
    if (start.new_conversation) InsertConversation(tx, *start.new_conversation);
    // The ownership check rides on the insert; it takes no lock on the
    // conversation (its foreign key takes a KEY SHARE lock, which the
    // appends' UPDATEs do not wait for).
    if (tx.Exec(Sql({"INSERT INTO runs(", kRunCols,
                     ") SELECT $1, $2, $3, $4, $5, $6::bigint, $7::bigint, $8::boolean, $9,"
                     " $10::bigint WHERE EXISTS (SELECT 1 FROM conversations"
                     " WHERE id = $3 AND user_id = $2)"}),
                r.id, r.user_id, r.conversation_id, r.message_id,
                std::string(RunStatusName(r.status)), Ms(r.created_at), OptMs(r.finished_at),
                r.cancel_requested, r.owner, OptMs(r.heartbeat_at))
            .affected_rows() == 0) {
      return NotFoundError("conversation not found");
    }
    if (!start.user_message) return Status();
    if (deferred != nullptr) {
      deferred->push_back(&*start.user_message);
      return Status();
    }
    return AppendMessagesIn(tx, r.user_id, {&*start.user_message});
  }

  // ---- the pool

  std::shared_ptr<PgAsyncReader> ReaderFor(EventLoop& loop) {
    std::lock_guard<std::mutex> lock(readers_mu_);
    std::shared_ptr<PgAsyncReader>& r = readers_[&loop];
    if (!r) {
      r = PgAsyncReader::Create(
          AsyncReaderSettings{url_, max_connections_, lock_timeout_ms_, async_timeout_}, loop);
    }
    return r;
  }

  // A connection checked out for one call, or why there is none.
  Result<std::unique_ptr<Connection>> Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_connections_; });
    if (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    if (std::chrono::steady_clock::now() < retry_at_) {
      return StorageUnavailable("the last connection attempt failed; retrying shortly");
    }
    ++open_;
    lock.unlock();
    try {
      auto c = std::make_unique<Connection>(url_);
      pqxx::nontransaction setup(c->db);
      setup.exec(SessionSetupSql(lock_timeout_ms_));
      setup.commit();
      return c;
    } catch (const std::exception& e) {
      lock.lock();
      --open_;
      retry_at_ = std::chrono::steady_clock::now() + kReconnectPause;
      lock.unlock();
      cv_.notify_one();
      return StorageUnavailable(e.what());
    }
  }

  // Returns a connection to the pool, or drops it (and every idle one: they
  // went down with it) when it broke.
  void Release(std::unique_ptr<Connection> c, bool healthy) {
    bool dropped = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (healthy && c->db.is_open()) {
        idle_.push_back(std::move(c));
      } else {
        open_ -= 1 + static_cast<int>(idle_.size());
        idle_.clear();
        c.reset();
        dropped = true;
      }
    }
    // One connection back serves one waiter: waking them all (when more
    // calls than connections run) cost a futile wake-up and a lock fight per
    // waiter on every query. After a drop, every waiter may open its own.
    if (dropped) {
      cv_.notify_all();
    } else {
      cv_.notify_one();
    }
  }

  // Runs `fn` in one transaction on a pooled connection: committed when it
  // returns OK, rolled back otherwise. Every exception becomes a Status.
  // The transaction InTransaction holds open on this thread, if any.
  struct OpenTx {
    const PostgresStorage* owner;
    Connection* c;
    pqxx::transaction_base* w;
  };
  static inline thread_local OpenTx* open_tx_ = nullptr;

  // Inside InTransaction: `fn` runs in a savepoint of the open transaction,
  // so a write that fails is undone alone. A conflict or a lost connection
  // propagates to the outer Transact, which retries or fails the whole.
  // (Plain SAVEPOINT statements: pqxx 6's subtransaction begins lazily and
  // did not take its savepoint before a prepared statement.)
  template <typename Fn>
  auto TransactNested(OpenTx& open, Fn&& fn) -> decltype(fn(std::declval<Tx&>())) {
    using R = decltype(fn(std::declval<Tx&>()));
    pqxx::transaction_base& w = *open.w;
    w.exec0("SAVEPOINT nested_write");
    std::optional<R> out;
    try {
      Tx tx(*open.c, w);
      out.emplace(fn(tx));
    } catch (const pqxx::sql_error& e) {
      if (IsConflict(e) || !open.c->db.is_open()) throw;
      out.emplace(R(MapSqlError(e)));
    }
    if (!out->ok()) w.exec0("ROLLBACK TO SAVEPOINT nested_write");
    w.exec0("RELEASE SAVEPOINT nested_write");
    return std::move(*out);
  }

  template <typename Fn>
  auto Transact(Fn&& fn) -> decltype(fn(std::declval<Tx&>())) {
    return Run<pqxx::work, false>(std::forward<Fn>(fn));
  }

  // A read: `fn` runs only SELECTs, without BEGIN and COMMIT (one round trip
  // instead of three for a single statement). At READ COMMITTED, which
  // Transact uses, every statement takes its own snapshot either way, so a
  // read sees the same rows as it would inside a transaction.
  template <typename Fn>
  auto Query(Fn&& fn) -> decltype(fn(std::declval<Tx&>())) {
    return Run<pqxx::nontransaction, true>(std::forward<Fn>(fn));
  }

  // A write of one statement (and reads after it) without BEGIN and COMMIT:
  // the statement commits on its own, one round trip instead of three. Only
  // for calls that need no transaction around their statements and can
  // bear being run again: after a lost connection Run repeats the call once,
  // and the first run's statement may have committed.
  template <typename Fn>
  auto Autocommit(Fn&& fn) -> decltype(fn(std::declval<Tx&>())) {
    return Run<pqxx::nontransaction, false>(std::forward<Fn>(fn));
  }

  // kReadOnly: only SELECTs may run (Tx refuses anything else).
  template <typename Work, bool kReadOnly, typename Fn>
  auto Run(Fn&& fn) -> decltype(fn(std::declval<Tx&>())) {
    using R = decltype(fn(std::declval<Tx&>()));
    // Inside InTransaction a read, too, runs in the open transaction (and
    // sees its writes).
    if (open_tx_ != nullptr && open_tx_->owner == this) return TransactNested(*open_tx_, fn);
    int conflicts = 0;
    bool reconnected = false;
    for (;;) {
      auto acquired = Acquire();
      if (!acquired.ok()) return R(acquired.status());
      std::unique_ptr<Connection> c = std::move(*acquired);
      bool healthy = true;
      std::optional<R> out;
      bool again = false;
      try {
        Work w(c->db);
        Tx tx(*c, w, kReadOnly);
        R r = fn(tx);
        if (r.ok()) w.commit();
        out.emplace(std::move(r));
      } catch (const pqxx::in_doubt_error& e) {
        // The connection died during COMMIT: the outcome is unknown, so the
        // call is not repeated.
        healthy = false;
        out.emplace(R(StorageUnavailable(std::string("commit outcome unknown: ") + e.what())));
      } catch (const pqxx::broken_connection& e) {
        healthy = false;
        // Nothing was committed: safe to run once more on a fresh connection
        // (a pooled one may have died while idle, e.g. a database restart).
        if (!reconnected) {
          reconnected = true;
          again = true;
        } else {
          out.emplace(R(StorageUnavailable(e.what())));
        }
      } catch (const pqxx::sql_error& e) {
        if (!c->db.is_open()) healthy = false;
        if (IsConflict(e) && ++conflicts < kMaxConflictRetries) {
          again = true;
          std::this_thread::sleep_for(std::chrono::milliseconds(2 * conflicts));
        } else if (IsConflict(e)) {
          out.emplace(R(UnavailableError(std::string("transaction kept conflicting: ") + e.what())));
        } else if (!healthy) {
          out.emplace(R(StorageUnavailable(e.what())));
        } else {
          out.emplace(R(MapSqlError(e)));
        }
      } catch (const Json::exception& e) {
        out.emplace(R(DataLossError(std::string("stored JSON is corrupt: ") + e.what())));
      } catch (const std::bad_alloc&) {
        out.emplace(R(ResourceExhaustedError("out of memory")));
      } catch (const std::exception& e) {
        if (!c->db.is_open()) {
          healthy = false;
          out.emplace(R(StorageUnavailable(e.what())));
        } else {
          out.emplace(R(InternalError(std::string("storage error: ") + e.what())));
        }
      } catch (...) {
        out.emplace(R(InternalError("storage error: unknown exception")));
      }
      Release(std::move(c), healthy);
      if (!again) return std::move(*out);
    }
  }

  const std::string url_;  // never logged: it may hold a password
  const int max_connections_;
  const int64_t lock_timeout_ms_;
  const std::chrono::milliseconds async_timeout_;

  // One asynchronous reader per loop it was asked on; the readers hold the
  // loops' connections.
  std::mutex readers_mu_;
  std::unordered_map<EventLoop*, std::shared_ptr<PgAsyncReader>> readers_;  // guarded

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  int open_ = 0;                                   // idle + checked out; guarded by mu_
  std::chrono::steady_clock::time_point retry_at_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<Storage>> OpenPostgresStorage(const std::string& url,
                                                     const StorageOptions& options) {
  auto storage = std::make_unique<PostgresStorage>(url, options);
  ASSISTANT_RETURN_IF_ERROR(options.migrate ? storage->Migrate() : storage->CheckSchema());
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace assistant::storage
