// The one statement of Storage::HitRateLimit, written once for both
// backends: SQLite (3.35+) and PostgreSQL take the same upsert, and only the
// placeholder mark differs (`?1` against `$1`).
#ifndef ASSISTANT_SRC_STORAGE_RATE_LIMIT_SQL_HPP_
#define ASSISTANT_SRC_STORAGE_RATE_LIMIT_SQL_HPP_

#include <string>

namespace assistant::storage {

// Parameters: 1 key, 2 now, 3 now - window, 4 limit (times in Unix ms).
// A new key, a window that has passed (begin again) or a window with room
// (count) is written and its (window_start, hits) returned; a full window
// is left alone and returns no row.
inline std::string HitRateLimitSql(char mark) {
  const std::string p1 = mark + std::string("1"), p2 = mark + std::string("2"),
                    p3 = mark + std::string("3"), p4 = mark + std::string("4");
  return "INSERT INTO rate_limits(key, window_start, hits) VALUES (" + p1 + ", " + p2 +
         ", 1) ON CONFLICT(key) DO UPDATE SET "
         "hits = CASE WHEN rate_limits.window_start <= " + p3 +
         " THEN 1 ELSE rate_limits.hits + 1 END, "
         "window_start = CASE WHEN rate_limits.window_start <= " + p3 +
         " THEN excluded.window_start ELSE rate_limits.window_start END "
         "WHERE rate_limits.window_start <= " + p3 + " OR rate_limits.hits < " + p4 +
         " RETURNING window_start, hits";
}

}  // namespace assistant::storage

#endif  // ASSISTANT_SRC_STORAGE_RATE_LIMIT_SQL_HPP_
