// The schema check of a storage opened without migrating
// (StorageOptions::migrate false): the same words on every backend.
#ifndef ASSISTANT_SRC_STORAGE_SCHEMA_CHECK_HPP_
#define ASSISTANT_SRC_STORAGE_SCHEMA_CHECK_HPP_

#include <string>

#include "assistant/status.hpp"

namespace assistant::storage {

// OK when the database records `found` (0: no schema at all) and this build
// knows `known`; else FailedPrecondition naming both, reason
// "schema_outdated" or "schema_too_new".
inline Status CheckSchemaVersion(int found, int known) {
  if (found == known) return Status();
  if (found > known) {
    return FailedPreconditionError("database schema version " + std::to_string(found) +
                                       " is newer than this build knows (" +
                                       std::to_string(known) + "); upgrade this program",
                                   "schema_too_new");
  }
  return FailedPreconditionError("database schema version " + std::to_string(found) +
                                     " is older than this build knows (" + std::to_string(known) +
                                     ") and this open does not migrate: start a server of this "
                                     "build on the database first",
                                 "schema_outdated");
}

}  // namespace assistant::storage

#endif  // ASSISTANT_SRC_STORAGE_SCHEMA_CHECK_HPP_
