// The settings layer for storage the caller opened (Assistant::Open with a
// Storage): the database URL then says nothing about where files belong, so
// with `beside_database` false only Options::state_dir places them and
// everything else is kept in memory, as for an in-memory database.
#ifndef ASSISTANT_SRC_CORE_SETTINGS_INTERNAL_HPP_
#define ASSISTANT_SRC_CORE_SETTINGS_INTERNAL_HPP_

#include "assistant/settings.hpp"

namespace assistant::internal {

Result<StatePaths> StatePathsFor(const Options& options, bool beside_database);
Result<ResolvedOptions> ResolveOptions(const Options& options, bool beside_database);

}  // namespace assistant::internal

#endif  // ASSISTANT_SRC_CORE_SETTINGS_INTERNAL_HPP_
