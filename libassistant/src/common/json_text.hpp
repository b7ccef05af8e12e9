// Fast JSON text for renderers that write many records (listings, streams,
// log lines): byte for byte what nlohmann's compact dump gives, several
// times faster on text. Internal: the server, the gateway, the C ABI, the
// clients and the tests use it through assistant_internal; an embedding
// program uses nlohmann's dump.
//
// Thread safety: pure functions.
#ifndef ASSISTANT_SRC_COMMON_JSON_TEXT_HPP_
#define ASSISTANT_SRC_COMMON_JSON_TEXT_HPP_

#include <string>
#include <string_view>

#include "assistant/types.hpp"

namespace assistant {

// Deepest nesting of arrays/objects in JSON `text`, scanning outside
// strings, without parsing it. Lets a caller refuse a hostile document
// before nlohmann's recursive copy/compare/dump ever see it.
int JsonNestingDepth(std::string_view text);

// Compact JSON text of `j`: byte for byte what
// j.dump(-1, ' ', false, Json::error_handler_t::replace) gives (ill-formed
// UTF-8 becomes U+FFFD, never an exception).
std::string DumpJson(const Json& j);
// The same, appended to `out`.
void AppendJson(std::string& out, const Json& j);
// `s` as a quoted JSON string, appended to `out`, as DumpJson renders it:
// for renderers that write records field by field without building a Json.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace assistant

#endif  // ASSISTANT_SRC_COMMON_JSON_TEXT_HPP_
