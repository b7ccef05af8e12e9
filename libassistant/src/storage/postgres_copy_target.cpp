// A PostgreSQL database as CopyDatabase's target (storage/copy_target.hpp).
// Rows go in as multi-row INSERTs with every value a bound text parameter;
// PostgreSQL converts each to its column's type (SQLite's 0/1 to BOOLEAN).
#include <algorithm>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <vector>

#include "assistant/types.hpp"
#include "storage/copy_target.hpp"
#include "common/json_text.hpp"

namespace assistant::storage {

namespace {

// PostgreSQL takes at most 65,535 parameters per statement.
constexpr size_t kMaxParams = 60000;

class PostgresCopyTarget final : public CopyTarget {
 public:
  explicit PostgresCopyTarget(const std::string& url) : db_(url) {}

  void Begin() override {
    work_.emplace(db_);
    // No other writer between the emptiness check and the commit: a server
    // started on the database too early waits instead of mixing its rows in.
    std::string tables;
    for (const std::string& t : PlainCopiedTables()) {
      tables += (tables.empty() ? "" : ", ") + work_->quote_name(t);
    }
    tables += ", " + work_->quote_name(kRunEventsTable);
    work_->exec("LOCK TABLE " + tables + " IN EXCLUSIVE MODE");
  }

  void BeginRead() override { work_.emplace(db_); }

  std::vector<std::string> Tables() override {
    std::vector<std::string> out;
    for (const auto& r :
         Work().exec("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                     "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")) {
      out.push_back(r[0].as<std::string>());
    }
    return out;
  }

  std::vector<std::string> OwnTables() const override {
    // rate_limits: counters of the current minute, not data; a moved
    // deployment starts its windows afresh.
    return {"schema_version", kRunEventsTable, "rate_limits"};
  }

  std::vector<std::string> Columns(const std::string& table) override {
    std::vector<std::string> out;
    // Generated columns (the tsvectors of search) are computed, never written.
    for (const auto& r : Work().exec_params(
             "SELECT column_name, is_identity FROM information_schema.columns WHERE "
             "table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' "
             "ORDER BY ordinal_position",
             table)) {
      out.push_back(r[0].as<std::string>());
      if (r[1].as<std::string>() == "YES") identity_[table] = out.back();
    }
    return out;
  }

  int64_t Count(const std::string& table) override {
    return Work().exec("SELECT count(*) FROM " + work_->quote_name(table))[0][0].as<int64_t>();
  }

  void Insert(const std::string& table, const std::vector<std::string>& columns,
              const std::vector<Row>& rows) override {
    std::string head = "INSERT INTO " + Work().quote_name(table) + " (";
    for (size_t i = 0; i < columns.size(); ++i) {
      if (i != 0) head += ',';
      head += work_->quote_name(columns[i]);
    }
    head += ")";
    // Identity values are copied as they are (message order follows seq).
    if (identity_.count(table)) head += " OVERRIDING SYSTEM VALUE";
    head += " VALUES ";
    const size_t per_statement =
        std::max<size_t>(1, kMaxParams / std::max<size_t>(1, columns.size()));
    for (size_t start = 0; start < rows.size(); start += per_statement) {
      const size_t end = std::min(rows.size(), start + per_statement);
      std::string sql = head;
      std::vector<std::string> texts;
      std::vector<bool> nulls;
      for (size_t r = start; r < end; ++r) {
        sql += r == start ? "(" : ",(";
        for (size_t c = 0; c < rows[r].size(); ++c) {
          const Cell& cell = rows[r][c];
          nulls.push_back(cell.kind == Cell::Kind::kNull);
          texts.push_back(cell.kind == Cell::Kind::kInteger ? std::to_string(cell.integer)
                                                            : cell.text);
          sql += (c == 0 ? "$" : ",$") + std::to_string(texts.size());
        }
        sql += ")";
      }
      Exec(sql, texts, nulls);
    }
  }

  void InsertRunEventChunks(const std::vector<Row>& chunks) override {
    // A chunk's events: [[id, type, data], ...]; data is stored as its JSON
    // text, as the PostgreSQL storage writes it.
    std::vector<Row> events;
    for (const Row& chunk : chunks) {
      for (const Json& e : Json::parse(chunk.at(3).text)) {
        Row row(4);
        row[0] = chunk.at(0);
        row[1].kind = Cell::Kind::kInteger;
        row[1].integer = e.at(0).get<int64_t>();
        row[2].kind = Cell::Kind::kText;
        row[2].text = e.at(1).get<std::string>();
        row[3].kind = Cell::Kind::kText;
        row[3].text = DumpJson(e.at(2));
        events.push_back(std::move(row));
      }
    }
    Insert(kRunEventsTable, {"run_id", "seq", "type", "data"}, events);
  }

  void Commit() override {
    // The next generated value follows the copied ones.
    for (const auto& [table, column] : identity_) {
      Work().exec_params("SELECT setval(pg_get_serial_sequence($1, $2), m) FROM (SELECT max(" +
                             work_->quote_name(column) + ") AS m FROM " + work_->quote_name(table) +
                             ") AS t WHERE m IS NOT NULL",
                         table, column);
    }
    Work().commit();
    work_.reset();
  }

 private:
  pqxx::work& Work() {
    if (!work_) throw std::logic_error("copy target used outside its transaction");
    return *work_;
  }

  void Exec(const std::string& sql, const std::vector<std::string>& texts,
            const std::vector<bool>& nulls) {
    std::vector<const char*> params(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) params[i] = nulls[i] ? nullptr : texts[i].c_str();
    Work().exec_params(sql, pqxx::prepare::make_dynamic_params(params));
  }

  pqxx::connection db_;
  std::optional<pqxx::work> work_;               // destroyed uncommitted: rolled back
  std::map<std::string, std::string> identity_;  // table -> its identity column
};

}  // namespace

std::unique_ptr<CopyTarget> OpenPostgresCopyTarget(const std::string& url) {
  return std::make_unique<PostgresCopyTarget>(url);
}

}  // namespace assistant::storage
