// File: assistant/copy.hpp
//
// Copying a whole database from SQLite: into an empty PostgreSQL database
// (the move when one machine is no longer enough) or into a new SQLite file
// (a consistent backup of a database that a running server keeps writing).
//
// Contract:
//   - `from` is a SQLite database: `sqlite://path` or a plain path. It is
//     opened once as a storage (so an older schema is migrated first, as a
//     server start would), then read in one read transaction: the copy is
//     the database as it was at one instant, while other processes go on
//     reading and writing it.
//   - `to` is `postgresql://...` / `postgres://...` or a SQLite file
//     (`sqlite://path` or a plain path, created when absent). Its schema is
//     created or migrated first; every table the copy writes must be empty,
//     otherwise FailedPrecondition, reason "target_not_empty", and nothing
//     is written.
//   - Every record is copied as stored (password, token and key hashes
//     included, so sessions, refresh tokens and API keys stay valid); the
//     search index is rebuilt on the target from the copied text.
//   - Both schemas are compared with the tables the copy knows: a table or
//     column it does not know fails the copy with FailedPrecondition, reason
//     "unknown_table" / "column_mismatch", naming it, before anything is
//     written, so a schema change can never be dropped silently.
//   - All or nothing: the target is written in one transaction, committed
//     only after every table's count on the target equals the source's;
//     any difference is DataLoss, reason "copy_count_mismatch", naming the
//     table and both counts, and nothing is committed.
//   - Rows stream through: at most CopyOptions::batch_rows rows of a table
//     are in memory at a time.
//   - Messages never echo a URL (it may hold a password).
//
// Thread safety: CopyDatabase may be called from any thread; it shares no
// state with other calls or with storages open in the process.
//
// Example:
//   auto report = assistant::CopyDatabase("sqlite:///var/lib/assistant/a.db",
//                                         "postgresql://assistant@db/assistant");
//   if (!report.ok()) return fail(report.status());
//   for (const auto& t : report->tables) print(t.table, t.rows);
#ifndef ASSISTANT_COPY_HPP_
#define ASSISTANT_COPY_HPP_

#include <cstdint>
#include <string>
#include <vector>

#include "assistant/status.hpp"
#include "assistant/storage.hpp"

namespace assistant {

struct CopyOptions {
  // Rows read from the source and written to the target at a time.
  // 1..10000. Default: 500.
  int batch_rows = 500;
  // Used to open both databases (busy timeout, durability of the SQLite
  // target). Default: StorageOptions's defaults.
  StorageOptions storage;
};

struct CopiedTable {
  std::string table;  // as named on PostgreSQL ("run_events": one row per event)
  int64_t rows = 0;   // rows in the source snapshot, equal to the rows written
};

struct CopyReport {
  std::vector<CopiedTable> tables;  // every table copied, in copy order
};

// Copies `from` into `to` as the header comment says. Errors besides those
// named there: InvalidArgument (field "from" or "to") for a URL that is not
// a SQLite file or, for `to`, PostgreSQL, or when both name the same file;
// NotFound when the source file does not exist; Unavailable when a database
// cannot be opened; OpenStorage's errors (e.g. "schema_too_new").
Result<CopyReport> CopyDatabase(const std::string& from, const std::string& to,
                                const CopyOptions& options = {});

// The tables CopyDatabase copies, in its order, as CopiedTable names them.
std::vector<std::string> CopiedTableNames();

}  // namespace assistant

#endif  // ASSISTANT_COPY_HPP_
