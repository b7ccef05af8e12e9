// The SQLite implementation of assistant::Storage (see sqlite_storage.cpp for
// the connection model). Reached through OpenStorage("sqlite://...").
#ifndef ASSISTANT_SRC_STORAGE_SQLITE_STORAGE_HPP_
#define ASSISTANT_SRC_STORAGE_SQLITE_STORAGE_HPP_

#include <memory>
#include <string>
#include <string_view>

#include "assistant/status.hpp"
#include "assistant/storage.hpp"

namespace assistant::storage {

// The schema version this build writes; a database recording a higher one is
// refused with FailedPrecondition "schema_too_new".
inline constexpr int kSqliteSchemaVersion = 9;

// The SQL of migration `version` (1..kSqliteSchemaVersion), which brings the
// schema from version-1 to version; empty when out of range. For upgrade tests.
std::string_view SqliteMigration(int version);

// Opens (creating if needed) the database file at `path`, or one private
// in-memory database when `in_memory`, and applies pending migrations.
Result<std::unique_ptr<Storage>> OpenSqliteStorage(const std::string& path, bool in_memory,
                                                   const StorageOptions& options);

}  // namespace assistant::storage

#endif  // ASSISTANT_SRC_STORAGE_SQLITE_STORAGE_HPP_
