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
#include "api/error_shapes.hpp"
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

// Errors on each wire: one renderer per shape, in the core with its error
// table (api/error_shapes.hpp); a 5xx never carries the internal message.
using api::ClientError;
using api::ErrorEnvelope;
using api::ErrorEventData;
// Compact, invalid UTF-8 replaced rather than thrown on.
std::string Dump(const Json& j);

// The deepest body accepted, checked with assistant::JsonNestingDepth before
// parsing: deeper nesting than the core's recursion (and the workers' small
// stacks) can bear is refused. The core applies the same limit to JSON from
// LLM upstreams and tokens.
constexpr int kMaxJsonDepth = 64;

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_RENDER_HPP_
