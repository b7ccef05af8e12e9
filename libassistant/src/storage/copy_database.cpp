// CopyDatabase (assistant/copy.hpp): a SQLite snapshot streamed, table by
// table in foreign-key order, into one transaction on the target, which is
// committed only when every table's count there equals the source's.
#include "assistant/copy.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>
#ifdef ASSISTANT_WITH_POSTGRES
#include <pqxx/pqxx>
#endif

#include <algorithm>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "storage/copy_target.hpp"

namespace assistant {

namespace storage {

const std::vector<std::string>& PlainCopiedTables() {
  static const std::vector<std::string> kTables = {
      "users",     "sessions",      "refresh_tokens", "api_keys",    "one_time_tokens",
      "tasks",     "conversations", "messages",       "agent_state", "memories",
      "user_data", "audit_events",  "runs",
      // Without the signing keys every token issued before the move would
      // stop verifying; the rate-limit counters keep their windows.
      "signing_keys", "rate_limits",
  };
  return kTables;
}

}  // namespace storage

namespace {

using storage::CopyTarget;
using storage::Row;
using storage::SqliteCopyFile;

// A plain path is a SQLite file.
std::string AsUrl(const std::string& s) {
  if (s.rfind("sqlite:", 0) == 0 || s.find("://") != std::string::npos) return s;
  return "sqlite://" + s;
}

// Every table of `db`'s schema must be one the copy knows, and every table
// the copy knows must be there: a table added by a migration fails the copy
// until it is added to PlainCopiedTables or the backend's OwnTables.
Status CheckSchema(CopyTarget& db, const std::string& side) {
  std::set<std::string> known(storage::PlainCopiedTables().begin(),
                              storage::PlainCopiedTables().end());
  for (const std::string& t : db.OwnTables()) known.insert(t);
  const std::vector<std::string> tables = db.Tables();
  for (const std::string& t : tables) {
    if (!known.count(t)) {
      return FailedPreconditionError(
          "the " + side + " database has a table the copy does not know: " + t +
              " (add it to the copy, libassistant/src/storage/copy_database.cpp)",
          "unknown_table");
    }
  }
  for (const std::string& t : storage::PlainCopiedTables()) {
    if (std::find(tables.begin(), tables.end(), t) == tables.end()) {
      return FailedPreconditionError("the " + side + " database has no table " + t,
                                     "unknown_table");
    }
  }
  return Status();
}

Status ColumnMismatch(const std::string& table) {
  return FailedPreconditionError(
      "table " + table + " has different columns in the source and the target database",
      "column_mismatch");
}

Result<CopyReport> Copy(const std::string& source_path, CopyTarget& target,
                        const CopyOptions& options) {
  SqliteCopyFile source(source_path, static_cast<int>(options.storage.busy_timeout.count()));
  source.BeginRead();
  target.Begin();
  ASSISTANT_RETURN_IF_ERROR(CheckSchema(source, "source"));
  ASSISTANT_RETURN_IF_ERROR(CheckSchema(target, "target"));

  std::vector<std::string> tables = storage::PlainCopiedTables();
  tables.push_back(storage::kRunEventsTable);
  std::vector<std::vector<std::string>> columns;
  for (const std::string& t : storage::PlainCopiedTables()) {
    std::vector<std::string> from = source.Columns(t);
    std::vector<std::string> to = target.Columns(t);
    std::sort(to.begin(), to.end());
    std::vector<std::string> sorted = from;
    std::sort(sorted.begin(), sorted.end());
    if (sorted != to) return ColumnMismatch(t);
    columns.push_back(std::move(from));
  }
  for (const std::string& t : tables) {
    if (const int64_t n = target.Count(t); n != 0) {
      return FailedPreconditionError("the target database is not empty (" + t + " has " +
                                         std::to_string(n) + " rows); copy into an empty one",
                                     "target_not_empty");
    }
  }

  CopyReport report;
  for (size_t i = 0; i < tables.size(); ++i) {
    const std::string& t = tables[i];
    const int64_t in_source = source.Count(t);
    if (t == storage::kRunEventsTable) {
      source.ReadRows(storage::kSqliteRunEventChunks, {"run_id", "first_seq", "last_seq", "events"},
                      options.batch_rows,
                      [&](const std::vector<Row>& rows) { target.InsertRunEventChunks(rows); });
    } else {
      source.ReadRows(t, columns[i], options.batch_rows,
                      [&](const std::vector<Row>& rows) { target.Insert(t, columns[i], rows); });
    }
    const int64_t in_target = target.Count(t);
    if (in_target != in_source) {
      return Status(StatusCode::kDataLoss,
                    "table " + t + ": " + std::to_string(in_source) + " rows in the source, " +
                        std::to_string(in_target) + " in the target; nothing was committed",
                    "copy_count_mismatch");
    }
    report.tables.push_back(CopiedTable{t, in_source});
  }
  target.Commit();
  return report;
}

std::unique_ptr<CopyTarget> OpenTarget(const std::string& url, const DatabaseUrl& parsed,
                                       int busy_ms) {
#ifdef ASSISTANT_WITH_POSTGRES
  if (parsed.backend == DatabaseUrl::Backend::kPostgres) {
    return storage::OpenPostgresCopyTarget(url);
  }
#endif
  return std::make_unique<SqliteCopyFile>(parsed.path, busy_ms);
}

// Runs `body`, turning what SQLiteCpp and libpqxx throw into a Status. The
// messages name no URL (it may hold a password).
template <typename T>
Result<T> Guarded(const std::function<Result<T>()>& body) {
  try {
    return body();
#ifdef ASSISTANT_WITH_POSTGRES
  } catch (const pqxx::broken_connection& e) {
    return UnavailableError(std::string("the PostgreSQL database cannot be reached: ") + e.what(),
                            "storage_unavailable");
#endif
  } catch (const SQLite::Exception& e) {
    const int code = e.getErrorCode() & 0xff;
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
      return UnavailableError(std::string("a database is locked by another writer: ") + e.what());
    }
    return InternalError(std::string("copy failed (SQLite): ") + e.what());
  } catch (const std::exception& e) {
    return InternalError(std::string("copy failed: ") + e.what());
  }
}

}  // namespace

std::vector<std::string> CopiedTableNames() {
  std::vector<std::string> out = storage::PlainCopiedTables();
  out.push_back(storage::kRunEventsTable);
  return out;
}

Result<CopyReport> CopyDatabase(const std::string& from, const std::string& to,
                                const CopyOptions& options) {
  if (options.batch_rows < 1 || options.batch_rows > 10000) {
    return InvalidArgumentError("batch_rows must be between 1 and 10000", "batch_rows");
  }
  auto source_url = ParseDatabaseUrl(AsUrl(from));
  if (!source_url.ok() || source_url->backend != DatabaseUrl::Backend::kSqlite ||
      source_url->in_memory) {
    return InvalidArgumentError("the copy reads a SQLite file: give sqlite://path or a path",
                                "from");
  }
  const std::string to_url = AsUrl(to);
  ASSISTANT_ASSIGN_OR_RETURN(DatabaseUrl target_url, ParseDatabaseUrl(to_url));
  if (target_url.in_memory) {
    return InvalidArgumentError("the copy writes a file or a PostgreSQL database, not memory",
                                "to");
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(source_url->path, ec)) {
    return NotFoundError("no SQLite database file at the source path");
  }
  if (target_url.backend == DatabaseUrl::Backend::kSqlite &&
      std::filesystem::equivalent(source_url->path, target_url.path, ec)) {
    return InvalidArgumentError("the source and the target are the same file", "to");
  }
  // Opened as storages first: the source's schema is brought to this
  // build's version (or refused as too new), the target's is created.
  ASSISTANT_RETURN_IF_ERROR(OpenStorage(AsUrl(from), options.storage).status());
  ASSISTANT_RETURN_IF_ERROR(OpenStorage(to_url, options.storage).status());
  const int busy_ms = static_cast<int>(options.storage.busy_timeout.count());
  return Guarded<CopyReport>([&]() -> Result<CopyReport> {
    std::unique_ptr<CopyTarget> target = OpenTarget(to_url, target_url, busy_ms);
    return Copy(source_url->path, *target, options);
  });
}

namespace storage {

Result<int64_t> CountRowsAt(const std::string& url, const std::string& table) {
  ASSISTANT_ASSIGN_OR_RETURN(DatabaseUrl parsed, ParseDatabaseUrl(url));
  std::error_code ec;
  if (parsed.in_memory || (parsed.backend == DatabaseUrl::Backend::kSqlite &&
                           !std::filesystem::is_regular_file(parsed.path, ec))) {
    return int64_t{0};
  }
  return Guarded<int64_t>([&]() -> Result<int64_t> {
    std::unique_ptr<CopyTarget> db = OpenTarget(url, parsed, 5000);
    db->BeginRead();
    return db->Count(table);
  });
}

}  // namespace storage

}  // namespace assistant
