// The database CopyDatabase (assistant/copy.hpp) writes into, per backend:
// one open transaction, the schema's tables and columns, counts and batched
// inserts. copy_database.cpp drives it; sqlite_copy_target.cpp and
// postgres_copy_target.cpp say how each backend does it. Methods throw
// (SQLiteCpp's or libpqxx's exceptions); CopyDatabase maps them.
#ifndef ASSISTANT_SRC_STORAGE_COPY_TARGET_HPP_
#define ASSISTANT_SRC_STORAGE_COPY_TARGET_HPP_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "assistant/status.hpp"

namespace SQLite {
class Database;
}

namespace assistant::storage {

// One value as SQLite stores it: NULL, an integer or text.
struct Cell {
  enum class Kind { kNull, kInteger, kText };
  Kind kind = Kind::kNull;
  int64_t integer = 0;
  std::string text;
};
using Row = std::vector<Cell>;

// The tables whose rows are copied as they are, parents before children (the
// order foreign keys need). Same name and columns on both backends.
const std::vector<std::string>& PlainCopiedTables();
// A run's events: one row per write on SQLite (chunks holding a JSON array
// of [id, type, data]), one row per event on PostgreSQL. Counted in events.
inline constexpr const char* kRunEventsTable = "run_events";
inline constexpr const char* kSqliteRunEventChunks = "run_event_chunks";

class CopyTarget {
 public:
  virtual ~CopyTarget() = default;

  // Starts the one transaction everything below runs in, taking the write
  // locks a concurrent writer would need first.
  virtual void Begin() = 0;
  // Starts a transaction that only reads, taking no lock a writer waits for.
  virtual void BeginRead() = 0;
  // Every table of the schema, the copy's and the backend's own.
  virtual std::vector<std::string> Tables() = 0;
  // The schema's other tables, which the copy knows but does not copy as
  // they are: the run events table (InsertRunEventChunks), what the backend
  // derives (the search index) or keeps for itself (schema_version).
  virtual std::vector<std::string> OwnTables() const = 0;
  // The columns a copy writes (generated ones left out), in schema order.
  virtual std::vector<std::string> Columns(const std::string& table) = 0;
  // Rows of `table`; kRunEventsTable counts events.
  virtual int64_t Count(const std::string& table) = 0;
  virtual void Insert(const std::string& table, const std::vector<std::string>& columns,
                      const std::vector<Row>& rows) = 0;
  // Rows of SQLite's run_event_chunks (run_id, first_seq, last_seq, events).
  virtual void InsertRunEventChunks(const std::vector<Row>& chunks) = 0;
  // Makes everything written durable; on any earlier throw, the destructor
  // rolls back.
  virtual void Commit() = 0;
};

// A SQLite file, as the copy's source or target. Opened read-write even to
// read: a WAL database is only readable by a connection that may create its
// shared-memory file.
class SqliteCopyFile final : public CopyTarget {
 public:
  // `path`: an existing SQLite file whose schema is current.
  SqliteCopyFile(const std::string& path, int busy_timeout_ms);
  ~SqliteCopyFile() override;

  // One read transaction; every read after it sees the same snapshot while
  // other connections keep writing.
  void BeginRead() override;
  // Streams `columns` of every row of `table`, in rowid or primary key
  // order, to `sink` in batches of at most `batch_rows`.
  void ReadRows(const std::string& table, const std::vector<std::string>& columns, int batch_rows,
                const std::function<void(const std::vector<Row>&)>& sink);

  void Begin() override;
  std::vector<std::string> Tables() override;
  std::vector<std::string> OwnTables() const override;
  std::vector<std::string> Columns(const std::string& table) override;
  int64_t Count(const std::string& table) override;
  void Insert(const std::string& table, const std::vector<std::string>& columns,
              const std::vector<Row>& rows) override;
  void InsertRunEventChunks(const std::vector<Row>& chunks) override;
  void Commit() override;

 private:
  std::unique_ptr<SQLite::Database> db_;
  bool open_transaction_ = false;
};
#ifdef ASSISTANT_WITH_POSTGRES
std::unique_ptr<CopyTarget> OpenPostgresCopyTarget(const std::string& url);
#endif

// Rows of `table` in the database at `url` (a SQLite file or PostgreSQL), 0
// when the SQLite file does not exist; for checks made before storage is
// used, such as a fresh secret meeting existing users. Never throws.
Result<int64_t> CountRowsAt(const std::string& url, const std::string& table);

}  // namespace assistant::storage

#endif  // ASSISTANT_SRC_STORAGE_COPY_TARGET_HPP_
