// The PostgreSQL implementation of assistant::Storage, on libpqxx (see
// postgres_storage.cpp and docs/storage.md for the connection model).
// Reached through OpenStorage("postgresql://..." or "postgres://...") in
// builds with ASSISTANT_WITH_POSTGRES.
#ifndef ASSISTANT_SRC_STORAGE_POSTGRES_STORAGE_HPP_
#define ASSISTANT_SRC_STORAGE_POSTGRES_STORAGE_HPP_

#include <memory>
#include <string>

#include "assistant/status.hpp"
#include "assistant/storage.hpp"

namespace assistant::storage {

// The schema version this build writes; a database recording a higher one is
// refused with FailedPrecondition "schema_too_new", as on SQLite.
inline constexpr int kPostgresSchemaVersion = 4;

// Connects to `url` (a libpq connection URI; the password may come from it,
// PGPASSWORD or a password file, as libpq reads them), applies pending
// migrations under an advisory lock and returns the storage. The URL is never
// logged nor put in an error message.
Result<std::unique_ptr<Storage>> OpenPostgresStorage(const std::string& url,
                                                     const StorageOptions& options);

}  // namespace assistant::storage

#endif  // ASSISTANT_SRC_STORAGE_POSTGRES_STORAGE_HPP_
