// How the PostgreSQL backend names its failures and sets up a connection,
// shared by its synchronous pool (postgres_storage.cpp) and its connections
// on a caller's loop (postgres_async_reader.cpp), so both answer alike.
#ifndef ASSISTANT_SRC_STORAGE_POSTGRES_ERRORS_HPP_
#define ASSISTANT_SRC_STORAGE_POSTGRES_ERRORS_HPP_

#include <chrono>
#include <cstdint>
#include <string>

#include "assistant/status.hpp"

namespace assistant::storage {

// A reconnection that failed is not tried again for this long: calls fail at
// once meanwhile, so a database outage answers quickly instead of queueing.
inline constexpr auto kReconnectPause = std::chrono::seconds(1);

inline Status StorageUnavailable(const std::string& what) {
  return UnavailableError("the PostgreSQL database cannot be reached: " + what,
                          "storage_unavailable");
}

// A failed statement's Status from its SQLSTATE (docs/storage.md, "Errors").
inline Status MapSqlState(const std::string& state, const std::string& what) {
  if (state == "23505") {
    if (what.find("users_email_norm_key") != std::string::npos) {
      return AlreadyExistsError("a user with this email already exists", "email_taken");
    }
    return AlreadyExistsError("a record with this id or key already exists");
  }
  if (state == "23503") {
    return NotFoundError("the record refers to a user, session or conversation that does not exist");
  }
  if (state.rfind("23", 0) == 0) {
    return InvalidArgumentError("storage constraint failed: " + what, "", "invalid_record");
  }
  if (state == "55P03" || state == "57014") {
    return UnavailableError("database is busy past the lock timeout: " + what);
  }
  if (state == "53100") return ResourceExhaustedError("database or disk is full", "storage_full");
  if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 || state == "53300") {
    return StorageUnavailable(what);
  }
  if (state.rfind("22", 0) == 0) {
    return InvalidArgumentError("a value the database cannot store: " + what, "", "invalid_record");
  }
  if (state == "XX001" || state == "XX002") return DataLossError("database is corrupt: " + what);
  return InternalError("storage error: " + what);
}

// Run once on every new connection: a lock wait past busy_timeout fails (as
// SQLite's busy timeout does), and notices (an empty search query) stay out
// of stderr.
inline std::string SessionSetupSql(int64_t lock_timeout_ms) {
  return "SET client_min_messages = warning; SET lock_timeout = " +
         std::to_string(lock_timeout_ms);
}

}  // namespace assistant::storage

#endif  // ASSISTANT_SRC_STORAGE_POSTGRES_ERRORS_HPP_
