// JSON shapes of the HTTP API (SPEC.md "Details that clients rely on"), and
// the small readers that pull typed fields out of a request body. Pure
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

namespace assistant::server {

Json TimeOrNull(const std::optional<Timestamp>& t);
Json UserJson(const User& u);
// Tasks are the hot path (GET /api/tasks is the most frequent call), so they
// are written straight into a string rather than built as a Json tree and
// serialised: same shape, about a fifth of the cost.
void AppendTaskJson(std::string& out, const Task& t);
// {"task":{...}}
std::string TaskEnvelope(const Task& t);
// {"tasks":[...],"next_cursor":...}
std::string TaskListBody(const Page<Task>& page);
// FormatTime's output ("2026-11-22T10:15:30.123Z"), without going through
// the C library's formatting.
void AppendTime(std::string& out, Timestamp t);
Json ConversationJson(const Conversation& c);
Json SessionJson(const Session& s, const std::string& current_session_id);
Json ApiKeyJson(const ApiKey& k);
Json MemoryJson(const Memory& m);
Json AuditJson(const AuditEvent& e);
Json UsageJson(const Usage& u);
Json AgentStateJson(const AgentState& s);
Json UserDataJson(const UserDataEntry& e);
Json AuthResultJson(const AuthResult& r);
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

// Typed readers of an object body. Absent (or null, for optional fields)
// gives nullopt; a value of the wrong type is InvalidArgument naming the
// field (HTTP 422).
Result<std::optional<std::string>> OptString(const Json& body, const char* field);
Result<std::string> RequiredString(const Json& body, const char* field);
Result<std::optional<int64_t>> OptInt(const Json& body, const char* field);
Result<std::optional<bool>> OptBool(const Json& body, const char* field);
// RFC 3339; "due_at": null is a present-but-empty value (outer set, inner nullopt).
Result<std::optional<std::optional<Timestamp>>> OptTime(const Json& body, const char* field);
// An integer query parameter; `fallback` when absent or empty.
Result<int> QueryInt(const std::string& raw, const char* name, int fallback);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_RENDER_HPP_
