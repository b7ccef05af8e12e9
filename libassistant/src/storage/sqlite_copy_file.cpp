// A SQLite file as CopyDatabase's source or target (storage/copy_target.hpp).
#include <SQLiteCpp/SQLiteCpp.h>

#include <string>
#include <vector>

#include "storage/copy_target.hpp"

namespace assistant::storage {

namespace {

// Names come from the schema and are checked against the copy's lists before
// any is used; quoting keeps a name a name all the same.
std::string Quote(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string ColumnList(const std::vector<std::string>& columns) {
  std::string out;
  for (const std::string& c : columns) {
    if (!out.empty()) out += ',';
    out += Quote(c);
  }
  return out;
}

}  // namespace

SqliteCopyFile::SqliteCopyFile(const std::string& path, int busy_timeout_ms)
    : db_(std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE, busy_timeout_ms)) {
  db_->exec("PRAGMA foreign_keys=ON");
}

SqliteCopyFile::~SqliteCopyFile() {
  if (!open_transaction_) return;
  try {
    db_->exec("ROLLBACK");
  } catch (const std::exception&) {
    // Closing the connection rolls back all the same.
  }
}

void SqliteCopyFile::BeginRead() {
  db_->exec("BEGIN");
  open_transaction_ = true;
  // A deferred transaction takes its snapshot at its first read: take it now.
  db_->execAndGet("SELECT count(*) FROM sqlite_master");
}

void SqliteCopyFile::Begin() {
  // The write lock up front, so nothing else writes between the emptiness
  // check and the commit.
  db_->exec("BEGIN IMMEDIATE");
  open_transaction_ = true;
}

std::vector<std::string> SqliteCopyFile::Tables() {
  std::vector<std::string> out;
  SQLite::Statement st(*db_,
                       "SELECT name FROM sqlite_master WHERE type = 'table' "
                       "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name");
  while (st.executeStep()) out.push_back(st.getColumn(0).getString());
  return out;
}

std::vector<std::string> SqliteCopyFile::OwnTables() const {
  // The search index (FTS5 tables and their shadow tables, the queues of
  // text waiting to be indexed) is rebuilt from the copied rows by the
  // triggers; schema_version belongs to the migrations; rate_limits holds
  // counters of the current minute, not data.
  std::vector<std::string> out = {"schema_version", kSqliteRunEventChunks, "rate_limits"};
  for (const char* fts : {"conversations_fts", "messages_fts"}) {
    out.push_back(fts);
    for (const char* shadow : {"_data", "_idx", "_content", "_docsize", "_config", "_pending"}) {
      out.push_back(std::string(fts) + shadow);
    }
  }
  return out;
}

std::vector<std::string> SqliteCopyFile::Columns(const std::string& table) {
  std::vector<std::string> out;
  SQLite::Statement st(*db_, "SELECT name FROM pragma_table_info(?) ORDER BY cid");
  st.bind(1, table);
  while (st.executeStep()) out.push_back(st.getColumn(0).getString());
  return out;
}

int64_t SqliteCopyFile::Count(const std::string& table) {
  if (table == kRunEventsTable) {
    return db_
        ->execAndGet("SELECT COALESCE(SUM(json_array_length(events)), 0) FROM " +
                     Quote(kSqliteRunEventChunks))
        .getInt64();
  }
  return db_->execAndGet("SELECT count(*) FROM " + Quote(table)).getInt64();
}

void SqliteCopyFile::ReadRows(const std::string& table, const std::vector<std::string>& columns,
                              int batch_rows,
                              const std::function<void(const std::vector<Row>&)>& sink) {
  // One statement stepped through the snapshot: SQLite reads pages as the
  // cursor moves, so only the batch is held.
  SQLite::Statement st(*db_, "SELECT " + ColumnList(columns) + " FROM " + Quote(table));
  std::vector<Row> batch;
  batch.reserve(static_cast<size_t>(batch_rows));
  while (st.executeStep()) {
    Row row(columns.size());
    for (size_t i = 0; i < columns.size(); ++i) {
      const SQLite::Column col = st.getColumn(static_cast<int>(i));
      if (col.isNull()) continue;
      if (col.isInteger()) {
        row[i].kind = Cell::Kind::kInteger;
        row[i].integer = col.getInt64();
      } else {
        row[i].kind = Cell::Kind::kText;
        row[i].text = col.getString();
      }
    }
    batch.push_back(std::move(row));
    if (static_cast<int>(batch.size()) == batch_rows) {
      sink(batch);
      batch.clear();
    }
  }
  if (!batch.empty()) sink(batch);
}

void SqliteCopyFile::Insert(const std::string& table, const std::vector<std::string>& columns,
                            const std::vector<Row>& rows) {
  std::string marks;
  for (size_t i = 0; i < columns.size(); ++i) marks += i == 0 ? "?" : ",?";
  SQLite::Statement st(*db_, "INSERT INTO " + Quote(table) + " (" + ColumnList(columns) +
                                 ") VALUES (" + marks + ")");
  for (const Row& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      const int at = static_cast<int>(i) + 1;
      switch (row[i].kind) {
        case Cell::Kind::kNull:
          st.bind(at);
          break;
        case Cell::Kind::kInteger:
          st.bind(at, row[i].integer);
          break;
        case Cell::Kind::kText:
          st.bind(at, row[i].text);
          break;
      }
    }
    st.exec();
    st.reset();
    st.clearBindings();
  }
}

void SqliteCopyFile::InsertRunEventChunks(const std::vector<Row>& chunks) {
  Insert(kSqliteRunEventChunks, {"run_id", "first_seq", "last_seq", "events"}, chunks);
}

void SqliteCopyFile::Commit() {
  db_->exec("COMMIT");
  open_transaction_ = false;
}

}  // namespace assistant::storage
