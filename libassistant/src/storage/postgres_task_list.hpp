// ListTasks' statement on PostgreSQL and its parameters, shared by the
// synchronous call and the asynchronous one (postgres_async_reader.cpp), so
// both send the same SQL and read the same rows.
#ifndef ASSISTANT_SRC_STORAGE_POSTGRES_TASK_LIST_HPP_
#define ASSISTANT_SRC_STORAGE_POSTGRES_TASK_LIST_HPP_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "assistant/storage.hpp"
#include "storage/row_mapping.hpp"

namespace assistant::storage {

// One statement for every filter combination: a NULL parameter turns its
// condition off, so one prepared plan serves all. ILIKE folds more than
// ASCII; SQLite's LIKE folds ASCII only (docs/storage.md).
// The keyset cursor is a row comparison, which the one generic plan can make
// an index condition on tasks_user (user_id, created_at, id): rows come in
// order, so no sort and no reading of earlier pages. (The form "$4 IS NULL
// OR created_at > $4 OR ..." could not: that plan read every task of the
// user, then sorted.) A first page compares with the smallest key there is;
// ids are never empty, so it passes every row.
inline const std::string& ListTasksSql() {
  static const std::string sql =
      std::string("SELECT ") + rows::kTaskCols +
      " FROM tasks WHERE user_id = $1"
      " AND ($2::boolean IS NULL OR completed = $2)"
      " AND ($3::text IS NULL OR title ILIKE $3 ESCAPE '\\')"
      " AND (created_at, id) >"
      " (COALESCE($4::bigint, '-9223372036854775808'::bigint), COALESCE($5::text, ''))"
      " ORDER BY created_at, id LIMIT $6";
  return sql;
}

inline std::string EscapeLike(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// $2..$6 of ListTasksSql for a query ($1 is the user id).
struct TaskListParams {
  std::optional<bool> completed;
  std::optional<std::string> pattern;
  std::optional<int64_t> after_ms;
  std::optional<std::string> after_id;
  int limit = 0;
};

inline TaskListParams TaskListParamsOf(const TaskQuery& q) {
  TaskListParams p;
  if (q.status != TaskFilter::kAll) p.completed = q.status == TaskFilter::kCompleted;
  if (!q.title_contains.empty()) {
    // Appended, not `"%" + text`: GCC 12 warns falsely (-Wrestrict) on that.
    p.pattern.emplace(1, '%');
    *p.pattern += EscapeLike(q.title_contains);
    *p.pattern += '%';
  }
  if (q.after) {
    p.after_ms = ToUnixMillis(q.after->time);
    p.after_id = q.after->id;
  }
  p.limit = std::max(q.limit, 0);
  return p;
}

}  // namespace assistant::storage

#endif  // ASSISTANT_SRC_STORAGE_POSTGRES_TASK_LIST_HPP_
