// The JSON shapes of the API's resources (docs/server.md "Shapes"), and the
// small readers that pull typed fields out of a JSON object. One definition
// for every adapter: the HTTP server, the C ABI and the gateway render and
// read through these, so a resource looks the same on every wire.
//
// Pure functions: no decisions, only translation. Thread-safe.
#ifndef ASSISTANT_API_JSON_SHAPES_HPP_
#define ASSISTANT_API_JSON_SHAPES_HPP_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/agent_state.hpp"
#include "assistant/auth.hpp"
#include "assistant/conversations.hpp"
#include "assistant/llm.hpp"
#include "assistant/status.hpp"
#include "assistant/tasks.hpp"
#include "assistant/types.hpp"

namespace assistant::api {

Json TimeOrNull(const std::optional<Timestamp>& t);
Json UserJson(const User& u);
// Tasks are the hot path (listing tasks is the most frequent call), so they
// are written straight into a string rather than built as a Json tree and
// serialised: same shape, about a fifth of the cost.
void AppendTaskJson(std::string& out, const Task& t);
// {"task":{...}}
std::string TaskEnvelope(const Task& t);
// {"tasks":[...],"next_cursor":...}
std::string TaskListBody(const Page<Task>& page);
// FormatTime's output in quotes ("2026-11-22T10:15:30.123Z").
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
// {"messages":[...],"has_more":bool}
Json MessagesJson(const MessagePage& page);
// A cursor for a page's `next_cursor`: null when there is no next page.
Json NextCursor(const std::string& cursor);

// Typed readers of an object. Absent (or null, for optional fields) gives
// nullopt; a value of the wrong type is InvalidArgument naming the field.
Result<std::optional<std::string>> OptString(const Json& body, const char* field);
Result<std::string> RequiredString(const Json& body, const char* field);
Result<std::optional<int64_t>> OptInt(const Json& body, const char* field);
// An optional integer that must fit an int; 0 when absent.
Result<int> IntField(const Json& body, const char* field);
Result<std::optional<bool>> OptBool(const Json& body, const char* field);
// RFC 3339; "due_at": null is a present-but-empty value (outer set, inner nullopt).
Result<std::optional<std::optional<Timestamp>>> OptTime(const Json& body, const char* field);
// An array of strings; empty when absent or null.
Result<std::vector<std::string>> StringList(const Json& body, const char* field);
// An integer given as text (a query parameter); `fallback` when empty.
Result<int> QueryInt(const std::string& raw, const char* name, int fallback);

// The inputs of the task operations, read from a JSON object.
Result<TaskInput> ParseTaskInput(const Json& body);
Result<TaskPatch> ParseTaskPatch(const Json& body);

}  // namespace assistant::api

#endif  // ASSISTANT_API_JSON_SHAPES_HPP_
