// OpenStorage: picks the backend from the URL scheme. PostgreSQL is there
// when the build has it (ASSISTANT_WITH_POSTGRES).
#include <string>
#include <string_view>

#include "assistant/storage.hpp"
#include "storage/sqlite_storage.hpp"
#ifdef ASSISTANT_WITH_POSTGRES
#include "storage/postgres_storage.hpp"
#endif

namespace assistant {

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

Result<DatabaseUrl> ParseDatabaseUrl(const std::string& url) {
  DatabaseUrl out;
  if (url == "sqlite::memory:") {
    out.in_memory = true;
    return out;
  }
  constexpr std::string_view kSqlite = "sqlite://";
  if (StartsWith(url, kSqlite)) {
    // Everything after the scheme is the path: "sqlite://a.db" is relative,
    // "sqlite:///var/lib/a.db" absolute.
    out.path = url.substr(kSqlite.size());
    if (out.path.empty()) {
      return InvalidArgumentError("database URL has no path after sqlite://", "database",
                                  "invalid_database_url");
    }
    if (out.path == ":memory:") {
      out.path.clear();
      out.in_memory = true;
    }
    return out;
  }
  if (StartsWith(url, "postgresql://") || StartsWith(url, "postgres://")) {
#ifdef ASSISTANT_WITH_POSTGRES
    // libpq parses the rest (host, port, database, user, password,
    // sslmode...) when it connects.
    out.backend = DatabaseUrl::Backend::kPostgres;
    return out;
#else
    return Status(StatusCode::kUnimplemented,
                  "this build has no PostgreSQL storage backend (not compiled in); "
                  "use a sqlite:// URL",
                  "backend_unavailable");
#endif
  }
  // Never echo the URL: it may carry a password.
  return InvalidArgumentError(
      "unknown database URL scheme (expected sqlite://path, sqlite::memory: or "
      "postgresql://...)",
      "database", "invalid_database_url");
}

Result<std::unique_ptr<Storage>> OpenStorage(const std::string& url,
                                             const StorageOptions& options) {
  if (options.busy_timeout.count() < 0) {
    return InvalidArgumentError("busy_timeout must not be negative", "busy_timeout");
  }
  if (options.read_connections < 1 || options.read_connections > 64) {
    return InvalidArgumentError("read_connections must be between 1 and 64", "read_connections");
  }
  if (options.pool_connections < 1 || options.pool_connections > 256) {
    return InvalidArgumentError("pool_connections must be between 1 and 256", "pool_connections");
  }
  ASSISTANT_ASSIGN_OR_RETURN(DatabaseUrl parsed, ParseDatabaseUrl(url));
#ifdef ASSISTANT_WITH_POSTGRES
  if (parsed.backend == DatabaseUrl::Backend::kPostgres) {
    return storage::OpenPostgresStorage(url, options);
  }
#endif
  return storage::OpenSqliteStorage(parsed.path, parsed.in_memory, options);
}

}  // namespace assistant
