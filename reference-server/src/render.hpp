// How the server renders errors, and (re-exported from the core) the JSON
// shapes of the resources and the readers of request fields. Pure
// functions: no decisions, only translation.
#ifndef ASSISTANT_SERVER_RENDER_HPP_
#define ASSISTANT_SERVER_RENDER_HPP_

#include <optional>
#include <string>
#include <string_view>

#include "assistant/auth.hpp"
#include "assistant/llm.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"
#include "api/json_shapes.hpp"

namespace assistant::server {

// The resources' JSON shapes and the field readers live in the core, shared
// with the C ABI (api/json_shapes.hpp).
using api::AgentStateJson;
using api::ApiKeyJson;
using api::AppendTaskJson;
using api::AppendTime;
using api::AuditJson;
using api::AuthResultJson;
using api::ConversationJson;
using api::IntField;
using api::MemoryJson;
using api::MessagesJson;
using api::NextCursor;
using api::OptBool;
using api::OptInt;
using api::OptString;
using api::OptTime;
using api::ParseTaskInput;
using api::ParseTaskPatch;
using api::QueryInt;
using api::RequiredString;
using api::SessionJson;
using api::StringList;
using api::TaskEnvelope;
using api::TaskListBody;
using api::TimeOrNull;
using api::UsageJson;
using api::UserDataJson;
using api::UserJson;

// {"error":{"code","message","request_id"[,"field"]}}
Json ErrorJson(std::string_view code, std::string_view message,
               std::string_view request_id, std::string_view field = {});
// {"code","message"} as a client may see it: for a 5xx status the message
// is replaced by a generic one (the cause may name hosts, files or keys)
// and an internal error's code is "internal_error".
Json ClientError(const Status& status);
// Compact, invalid UTF-8 replaced rather than thrown on.
std::string Dump(const Json& j);

// The deepest body accepted, checked with assistant::JsonNestingDepth before
// parsing: deeper nesting than the core's recursion (and the workers' small
// stacks) can bear is refused. The core applies the same limit to JSON from
// LLM upstreams and tokens.
constexpr int kMaxJsonDepth = 64;

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_RENDER_HPP_
