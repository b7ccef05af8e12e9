// File: assistant/storage.hpp
//
// The storage interface: everything libassistant persists goes through it.
// SQLite is the default implementation (`sqlite://path`, `sqlite::memory:`);
// PostgreSQL is the second. Users may plug in their own; every implementation
// must pass the conformance suite in tests/storage_conformance.hpp.
//
// Contract for every implementation:
//   - Every method that names a `user_id` filters by it: a record owned by
//     another user is NotFound, exactly as a missing one.
//   - Methods are atomic: a call either happens entirely or not at all.
//   - Errors: NotFound for missing rows, AlreadyExists for unique
//     violations (reason "email_taken" for users), Unavailable when the
//     database cannot be reached or is busy past its timeout, DataLoss/
//     Internal for corruption, ResourceExhausted (reason "storage_full")
//     for a full disk. No exception escapes.
//   - Times are kept with millisecond precision.
//   - Thread safety: an implementation is safe for concurrent use from many
//     threads without external synchronisation.
//
// Example:
//   auto storage = assistant::OpenStorage("sqlite://assistant.db");
//   if (!storage.ok()) return fail(storage.status());
//   (*storage)->CreateTask(task);
#ifndef ASSISTANT_STORAGE_HPP_
#define ASSISTANT_STORAGE_HPP_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "assistant/event_loop.hpp"
#include "assistant/runs.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

// What a killed process or a power loss may cost.
enum class Durability {
  // Survives a killed process (kill -9); a power loss may lose the last
  // commits but never corrupts. SQLite: WAL + synchronous=NORMAL.
  kProcessCrashSafe,
  // Survives power loss too; every commit waits for fsync.
  // SQLite: WAL + synchronous=FULL.
  kPowerLossSafe,
};

struct StorageOptions {
  // How long a writer waits for a lock before Unavailable. Default: 5 s.
  std::chrono::milliseconds busy_timeout{5000};
  // Default: kProcessCrashSafe.
  Durability durability = Durability::kProcessCrashSafe;
  // Reader connections kept open (SQLite file databases). Default: 4.
  int read_connections = 4;
  // PostgreSQL: most connections the pool opens; each call holds one for
  // its transaction, and a call finding all busy waits. 1..256. Default: 8.
  // ListTasksAsync opens up to as many again per event loop it is used on.
  int pool_connections = 8;
  // Whether opening applies pending migrations. false: the schema is never
  // changed (nor a SQLite file created); a database whose schema version is
  // not exactly this build's is FailedPrecondition naming both versions,
  // reason "schema_outdated" or "schema_too_new". For a process that only
  // reads what servers of the same build own. Default: true.
  bool migrate = true;
};

struct TaskQuery {
  TaskFilter status = TaskFilter::kAll;
  std::string title_contains;  // case-insensitive substring; empty = any
  int limit = 50;              // caller clamps; storage returns at most limit
  std::optional<PagePosition> after;  // keyset: rows after (created_at, id)
};

struct ConversationQuery {
  int limit = 50;
  // Newest first by (updated_at, id); rows strictly after this position.
  std::optional<PagePosition> after;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Storage is reachable and its schema current (readiness probe).
  virtual Status Ping() = 0;
  // Names the backend: "sqlite", "postgresql".
  virtual std::string Backend() const = 0;

  // ---- users
  // AlreadyExists (reason "email_taken") when the email exists in any case.
  virtual Status CreateUser(const UserRecord& user) = 0;
  virtual Result<UserRecord> GetUserById(const std::string& id) = 0;
  // Case-insensitive match.
  virtual Result<UserRecord> GetUserByEmail(const std::string& email) = 0;
  // Writes name, email, email_verified, preferences, password_hash, updated_at.
  virtual Status UpdateUser(const UserRecord& user) = 0;
  // Deletes the user and every record they own, search index included.
  virtual Status DeleteUser(const std::string& id) = 0;

  // ---- sessions and refresh tokens
  // The session, its first refresh token and `audit` (the login or
  // registration that started it) in one transaction: all or nothing, so a
  // session never exists without its audit row.
  virtual Status CreateSession(const Session& session, const RefreshToken& first_token,
                               const AuditEvent& audit) = 0;
  virtual Result<Session> GetSession(const std::string& session_id) = 0;
  // Sessions of the user that are not revoked and not expired at `now`.
  virtual Result<std::vector<Session>> ListSessions(const std::string& user_id,
                                                    Timestamp now) = 0;
  virtual Status TouchSession(const std::string& session_id, Timestamp now) = 0;
  // NotFound when the session is not the user's. Revoking twice is OK.
  virtual Status RevokeSession(const std::string& user_id,
                               const std::string& session_id,
                               Timestamp now) = 0;
  // Returns how many sessions were revoked.
  virtual Result<int> RevokeAllSessions(const std::string& user_id,
                                        Timestamp now) = 0;
  // Atomically: find the token by hash (NotFound if none); if it is unused,
  // mark it used at `now`, store `successor` and return rotated=true;
  // otherwise change nothing and return rotated=false with its used_at.
  virtual Result<RefreshRotation> RotateRefreshToken(
      const std::string& token_hash, const RefreshToken& successor,
      Timestamp now) = 0;

  // ---- API keys
  virtual Status CreateApiKey(const ApiKey& key) = 0;
  virtual Result<ApiKey> GetApiKeyByHash(const std::string& key_hash) = 0;
  // Keys not revoked, newest first.
  virtual Result<std::vector<ApiKey>> ListApiKeys(const std::string& user_id) = 0;
  virtual Status RevokeApiKey(const std::string& user_id, const std::string& id,
                              Timestamp now) = 0;
  virtual Status TouchApiKey(const std::string& id, Timestamp now) = 0;

  // ---- one-time tokens (password reset, email verification)
  virtual Status CreateOneTimeToken(const OneTimeToken& token) = 0;
  // Atomically removes and returns the token. NotFound when missing, of
  // another purpose, or expired at `now` (an expired token is removed too).
  virtual Result<OneTimeToken> ConsumeOneTimeToken(const std::string& token_hash,
                                                   TokenPurpose purpose,
                                                   Timestamp now) = 0;

  // ---- tasks: ordered by (created_at, id) ascending
  virtual Status CreateTask(const Task& task) = 0;
  virtual Result<Task> GetTask(const std::string& user_id,
                               const std::string& id) = 0;
  // Writes title, description, completed, due_at, priority, updated_at.
  virtual Status UpdateTask(const Task& task) = 0;
  virtual Status DeleteTask(const std::string& user_id, const std::string& id) = 0;
  virtual Result<std::vector<Task>> ListTasks(const std::string& user_id,
                                              const TaskQuery& query) = 0;
  // ListTasks without blocking a thread through the query, for a caller
  // that runs an event loop (docs/storage.md "The asynchronous read"): the
  // same rows and errors, given to `done` exactly once, on `loop`, never
  // inside this call. Any thread may call it. The default runs ListTasks on
  // the calling thread and posts the result; PostgreSQL sends the query on
  // connections of its own for that loop and returns at once. A loop given
  // here must outlive the storage (or be released by ForgetLoop), and the
  // storage is destroyed only once its loops have stopped (a call still in
  // flight then is dropped, its `done` uncalled). A wrapper overriding
  // ListTasks overrides this too. It never joins an InTransaction open on
  // the calling thread.
  using TaskListDone = std::function<void(Result<std::vector<Task>>)>;
  virtual void ListTasksAsync(const std::string& user_id, const TaskQuery& query,
                              EventLoop& loop, TaskListDone done);
  // Whether ListTasksAsync suits a caller on an event loop: it never waits
  // for another thread or the network. PostgreSQL: the query goes through
  // the loop. SQLite on a file: the read runs on a connection of the loop's
  // own, from the local file, in the loop's next turn (docs/storage.md "The
  // asynchronous read"). The default, false: it runs ListTasks first, which
  // may wait for a pooled connection. A wrapper answers for its target.
  virtual bool ListTasksAsyncFitsLoop() const { return false; }
  // Drops what the storage keeps for `loop` (its connections; calls still
  // in flight on it are dropped, their `done` uncalled), so a
  // loop may end before the storage does. Call it after the loop has
  // stopped running functions and before it is destroyed; the loop is not
  // used again. A no-op for a loop never given to ListTasksAsync.
  virtual void ForgetLoop(EventLoop& loop) { (void)loop; }
  // Returns how many were deleted.
  virtual Result<int> DeleteCompletedTasks(const std::string& user_id) = 0;

  // ---- conversations and messages
  virtual Status CreateConversation(const Conversation& conversation) = 0;
  virtual Result<Conversation> GetConversation(const std::string& user_id,
                                               const std::string& id) = 0;
  // Writes title, app_id, updated_at.
  virtual Status UpdateConversation(const Conversation& conversation) = 0;
  // Deletes the conversation, its messages and their search-index entries.
  virtual Status DeleteConversation(const std::string& user_id,
                                    const std::string& id) = 0;
  virtual Result<std::vector<Conversation>> ListConversations(
      const std::string& user_id, const ConversationQuery& query) = 0;
  // Full-text search over titles and message text. `match` is the sanitised
  // query: whitespace-separated words, each optionally ending in `*`
  // (prefix); every word must appear in the same title or message. Results
  // by relevance, then recency. `offset` pages through them.
  virtual Result<std::vector<Conversation>> SearchConversations(
      const std::string& user_id, const std::vector<std::string>& words,
      int limit, int offset) = 0;
  // Appends and sets the conversation's updated_at to the message time.
  // NotFound when the conversation is not the user's.
  virtual Status AppendMessage(const std::string& user_id,
                               const Message& message) = 0;
  // Writes content, tool_calls, status.
  virtual Status UpdateMessage(const std::string& user_id,
                               const Message& message) = 0;
  virtual Result<Message> GetMessage(const std::string& user_id,
                                     const std::string& conversation_id,
                                     const std::string& message_id) = 0;
  // The newest `limit` messages before `before_id` (all when empty),
  // returned oldest first.
  virtual Result<MessagePage> ListMessages(const std::string& user_id,
                                           const std::string& conversation_id,
                                           const std::string& before_id,
                                           int limit) = 0;
  // Atomically creates `fork` holding copies (new ids, same order, times
  // and contents) of the messages of `source_id` up to and including
  // `upto_message_id`. NotFound if either is not the user's.
  virtual Result<Conversation> ForkConversation(const std::string& user_id,
                                                const std::string& source_id,
                                                const std::string& upto_message_id,
                                                const Conversation& fork) = 0;

  // ---- agent state: one JSON document per (user, app)
  // NotFound when never written.
  virtual Result<AgentState> GetAgentState(const std::string& user_id,
                                           const std::string& app_id) = 0;
  // Atomic read-modify-write: `update` receives the current document
  // (nullopt when none) and returns the new one or an error, which aborts.
  virtual Result<AgentState> UpdateAgentState(
      const std::string& user_id, const std::string& app_id,
      const std::function<Result<Json>(const std::optional<Json>&)>& update,
      Timestamp now) = 0;

  // ---- memory: newest first
  virtual Status AddMemory(const Memory& memory) = 0;
  virtual Result<std::vector<Memory>> ListMemories(const std::string& user_id,
                                                   int limit) = 0;
  virtual Status DeleteMemory(const std::string& user_id, const std::string& id) = 0;

  // ---- user data: (user, namespace, key) -> JSON
  virtual Status PutUserData(const UserDataEntry& entry) = 0;
  virtual Result<UserDataEntry> GetUserData(const std::string& user_id,
                                            const std::string& ns,
                                            const std::string& key) = 0;
  // Entries of one namespace ordered by key.
  virtual Result<std::vector<UserDataEntry>> ListUserData(
      const std::string& user_id, const std::string& ns) = 0;
  virtual Status DeleteUserData(const std::string& user_id, const std::string& ns,
                                const std::string& key) = 0;

  // ---- audit log: newest first by (created_at, id)
  virtual Status AppendAudit(const AuditEvent& event) = 0;
  virtual Result<std::vector<AuditEvent>> ListAudit(
      const std::string& user_id, int limit,
      const std::optional<PagePosition>& after) = 0;

  // ---- agent runs (assistant/runs.hpp). A run belongs to its user and its
  // conversation: deleting either deletes the run and its events.
  // Atomically, in this order: creates start.new_conversation (as
  // CreateConversation), appends start.user_message (as AppendMessage), and
  // creates start.run. AlreadyExists when the run id is taken; NotFound when
  // the conversation is not start.run.user_id's; nothing is written then.
  virtual Status StartRun(const RunStart& start) = 0;
  virtual Result<Run> GetRun(const std::string& user_id, const std::string& id) = 0;
  // Stores the events of many runs in one transaction. Events of a run that
  // is not (or no longer) the batch user's are dropped, and an event id
  // already stored keeps its first content, so a late or repeated batch is
  // harmless.
  virtual Status AppendRunEvents(const std::vector<RunEventBatch>& batches) = 0;
  // The run's events with id > after_id, ascending, at most `limit`, as
  // stored: `message.done`, `tool.result` and `message.delta` events
  // written with the reply may refer to it instead of repeating it
  // (RunService::Attach resolves them). NotFound when the run is not the
  // user's.
  virtual Result<std::vector<RunEvent>> ListRunEvents(const std::string& user_id,
                                                      const std::string& run_id,
                                                      int64_t after_id, int limit) = 0;
  // Atomically: does finish.start's writes as StartRun does (when given),
  // stores finish.events as AppendRunEvents does, sets the run's status and
  // finished_at, appends finish.reply (when given) as AppendMessage does
  // and finish.audit as AppendAudit does. NotFound when the run, or the reply's conversation, is not
  // finish.run.user_id's; nothing is written then.
  virtual Status FinishRun(const RunFinish& finish) = 0;
  // Marks a running run's cancel_requested and returns the run.
  // NotFound when the run is not the user's.
  virtual Result<Run> RequestRunCancel(const std::string& user_id,
                                       const std::string& run_id) = 0;
  // Ids of running runs of `owner` whose cancel was requested (maintenance:
  // every user's).
  virtual Result<std::vector<std::string>> ListCancelRequestedRuns(
      const std::string& owner) = 0;
  // Records that `owner` is alive: every running run of it gets heartbeat_at
  // = now (maintenance: every user's).
  virtual Status TouchRuns(const std::string& owner, Timestamp now) = 0;
  // A run whose process died: when the run is still running and its last
  // sign of life (heartbeat_at, else created_at) is before `alive_since`,
  // marks it failed at `now` and appends `error_event` as its last event
  // (the id is the next one). Returns whether it did; false when the run is
  // finished, alive, or not the user's.
  virtual Result<bool> FailAbandonedRun(const std::string& user_id, const std::string& run_id,
                                        Timestamp alive_since, Timestamp now,
                                        const RunEvent& error_event) = 0;
  // Deletes runs finished before `cutoff`, with their events (maintenance:
  // every user's). Returns how many.
  virtual Result<int> DeleteRunsFinishedBefore(Timestamp cutoff) = 0;

  // ---- signing keys (docs/storage.md "Signing keys"): every server on the
  // database reads the same ring.
  // Atomically stores `key` and marks every other key of its purpose that is
  // not retired as retired at key.created_at: `key` signs from then on.
  // AlreadyExists when (purpose, kid) is stored; nothing changes then.
  virtual Status AddSigningKey(const SigningKey& key) = 0;
  // The keys of `purpose`, oldest first by (created_at, kid).
  virtual Result<std::vector<SigningKey>> ListSigningKeys(KeyPurpose purpose) = 0;
  // Forgets a key: tokens it signed stop verifying. NotFound when missing.
  virtual Status DeleteSigningKey(KeyPurpose purpose, const std::string& kid) = 0;
  // Deletes keys of `purpose` retired before `cutoff`. Returns how many.
  virtual Result<int> DeleteSigningKeysRetiredBefore(KeyPurpose purpose,
                                                     Timestamp cutoff) = 0;

  // ---- rate limits (docs/storage.md "Rate limits"): one count for every
  // server on the database.
  // Atomically counts a hit of `key`. A window begins at a key's first hit
  // and lasts `window`; the first hit after it has passed begins a new one.
  // The hit is counted only while the window holds fewer than `limit`.
  virtual Result<RateWindow> HitRateLimit(const std::string& key, int limit,
                                          std::chrono::milliseconds window, Timestamp now) = 0;
  // Deletes the counters of windows that began before `cutoff`. Returns how
  // many.
  virtual Result<int> DeleteRateLimitsBefore(Timestamp cutoff) = 0;

  // Moves deleted text out of the database files (SQLite: WAL checkpoint
  // with secure_delete on). Safe to call at any time.
  virtual Status Checkpoint() = 0;

  // ---- transactions
  // Runs `body`, and every call it makes to this storage on the calling
  // thread, in one transaction: all committed when `body` returns OK, none
  // when it fails (an audited action and its audit row, written together).
  // Inside, reads see the transaction's own writes, a write that fails is
  // undone alone (the body decides whether that fails the whole), and a
  // nested InTransaction joins the outer one. `body` must touch only this
  // storage and have no other side effect: a backend may run it again after
  // a serialization conflict. It must not wait for another thread's storage
  // call. A wrapper forwards this call and sees the body's calls as usual.
  virtual Status InTransaction(const std::function<Status()>& body) = 0;
};

// A database URL, parsed once for everyone who needs its parts: storage
// opens it, and files that belong with the data (secrets, keys, outbox) are
// placed beside `path`.
struct DatabaseUrl {
  enum class Backend { kSqlite, kPostgres };
  Backend backend = Backend::kSqlite;
  bool in_memory = false;  // sqlite::memory: or sqlite://:memory:
  std::string path;        // the SQLite file ("" in memory and for PostgreSQL)
};

// InvalidArgument ("invalid_database_url", field "database") for a URL no
// backend takes; Unimplemented ("backend_unavailable") for a backend this
// build lacks. The message never echoes the URL (it may hold a password).
Result<DatabaseUrl> ParseDatabaseUrl(const std::string& url);

// Opens storage from a URL: `sqlite://relative.db`, `sqlite:///abs/path.db`,
// `sqlite::memory:` (one private in-memory database), and
// `postgresql://...` when built with PostgreSQL. Applies migrations.
// Errors: InvalidArgument for an unknown scheme; FailedPrecondition
// (reason "schema_too_new") for a database written by a newer version.
Result<std::unique_ptr<Storage>> OpenStorage(const std::string& url,
                                             const StorageOptions& options = {});

}  // namespace assistant

#endif  // ASSISTANT_STORAGE_HPP_
