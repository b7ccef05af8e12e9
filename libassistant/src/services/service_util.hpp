// Checks and helpers every service applies before touching storage: who is
// calling, with which scopes, and small validators shared across services.
#ifndef ASSISTANT_SRC_SERVICES_SERVICE_UTIL_HPP_
#define ASSISTANT_SRC_SERVICES_SERVICE_UTIL_HPP_

#include <string>
#include <string_view>

#include "assistant/clock.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant::services {

// Unauthenticated when the principal names no user; PermissionDenied
// (reason "insufficient_scope") when it lacks `scope`.
Status RequireScope(const Principal& p, std::string_view scope);
// As RequireScope, satisfied by either scope.
Status RequireAnyScope(const Principal& p, std::string_view a, std::string_view b);

// Storage keeps milliseconds; trimming here makes a freshly returned record
// equal to the same record read back.
Timestamp NowMillis(Clock& clock);

// 1..128 characters of [A-Za-z0-9._:-]: user-data namespaces and keys, app ids.
bool IsSafeName(std::string_view s);

// JSON serialised, or InvalidArgument naming `field` when it holds invalid
// UTF-8 (nlohmann refuses to serialise it) or exceeds `max_bytes`.
Result<std::string> SerializeBounded(const Json& value, std::string_view field,
                                     size_t max_bytes);

// ASCII case folding: good enough for matching titles a user typed.
std::string FoldCase(std::string_view s);

}  // namespace assistant::services

#endif  // ASSISTANT_SRC_SERVICES_SERVICE_UTIL_HPP_
