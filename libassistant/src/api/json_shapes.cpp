#include "api/json_shapes.hpp"

#include <charconv>
#include <climits>
#include <cstdint>
#include <cstring>

#include "assistant/agent.hpp"
#include "assistant/tasks.hpp"
#include "common/json_text.hpp"
#include "common/time_text.hpp"

namespace assistant::api {

Json TimeOrNull(const std::optional<Timestamp>& t) {
  return t ? Json(FormatTime(*t)) : Json(nullptr);
}

Json UserJson(const User& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"name", u.name},
          {"email_verified", u.email_verified},
          {"preferences", u.preferences.is_null() ? Json::object() : u.preferences},
          {"created_at", FormatTime(u.created_at)},
          {"updated_at", FormatTime(u.updated_at)}};
}

namespace {

// Appends a string literal without measuring it at run time.
template <size_t N>
void Lit(std::string& out, const char (&s)[N]) {
  out.append(s, N - 1);
}

}  // namespace

void AppendTime(std::string& out, Timestamp t) {
  out += '"';
  AppendFormattedTime(out, t);
  out += '"';
}

void AppendTaskJson(std::string& out, const Task& t) {
  Lit(out, "{\"id\":");
  AppendJsonString(out, t.id);
  Lit(out, ",\"user_id\":");
  AppendJsonString(out, t.user_id);
  Lit(out, ",\"title\":");
  AppendJsonString(out, t.title);
  Lit(out, ",\"description\":");
  AppendJsonString(out, t.description);
  if (t.completed) {
    Lit(out, ",\"completed\":true,\"due_at\":");
  } else {
    Lit(out, ",\"completed\":false,\"due_at\":");
  }
  if (t.due_at) {
    AppendTime(out, *t.due_at);
  } else {
    Lit(out, "null");
  }
  Lit(out, ",\"priority\":");
  char num[16];
  const auto [end, ec] = std::to_chars(num, num + sizeof num, t.priority);
  out.append(num, static_cast<size_t>(end - num));
  Lit(out, ",\"created_at\":");
  AppendTime(out, t.created_at);
  Lit(out, ",\"updated_at\":");
  AppendTime(out, t.updated_at);
  out += '}';
}

std::string TaskEnvelope(const Task& t) {
  std::string out;
  out.reserve(400);
  Lit(out, "{\"task\":");
  AppendTaskJson(out, t);
  out += '}';
  return out;
}

std::string TaskListBody(const Page<Task>& page) {
  std::string out;
  out.reserve(64 + page.items.size() * 320);
  Lit(out, "{\"tasks\":[");
  for (size_t i = 0; i < page.items.size(); ++i) {
    if (i > 0) out += ',';
    AppendTaskJson(out, page.items[i]);
  }
  Lit(out, "],\"next_cursor\":");
  if (page.next_cursor.empty()) {
    Lit(out, "null");
  } else {
    AppendJsonString(out, page.next_cursor);
  }
  out += '}';
  return out;
}

Json ConversationJson(const Conversation& c) {
  return {{"id", c.id},
          {"user_id", c.user_id},
          {"app_id", c.app_id ? Json(*c.app_id) : Json(nullptr)},
          {"title", c.title},
          {"created_at", FormatTime(c.created_at)},
          {"updated_at", FormatTime(c.updated_at)}};
}

Json SessionJson(const Session& s, const std::string& current_session_id) {
  return {{"id", s.id},
          {"created_at", FormatTime(s.created_at)},
          {"last_used_at", FormatTime(s.last_used_at)},
          {"expires_at", FormatTime(s.expires_at)},
          {"revoked_at", TimeOrNull(s.revoked_at)},
          {"ip", s.ip},
          {"user_agent", s.user_agent.empty() ? Json(nullptr) : Json(s.user_agent)},
          {"current", !current_session_id.empty() && s.id == current_session_id}};
}

Json ApiKeyJson(const ApiKey& k) {
  return {{"id", k.id},
          {"name", k.name},
          {"prefix", k.prefix},
          {"scopes", k.scopes},
          {"expires_at", TimeOrNull(k.expires_at)},
          {"last_used_at", TimeOrNull(k.last_used_at)},
          {"created_at", FormatTime(k.created_at)}};
}

Json MemoryJson(const Memory& m) {
  return {{"id", m.id}, {"content", m.content}, {"created_at", FormatTime(m.created_at)}};
}

Json AuditJson(const AuditEvent& e) {
  return {{"id", e.id},
          {"type", e.type},
          {"outcome", AuditOutcomeName(e.outcome)},
          {"ip", e.ip},
          {"user_agent", e.user_agent ? Json(*e.user_agent) : Json(nullptr)},
          {"request_id", e.request_id},
          {"created_at", FormatTime(e.created_at)},
          {"details", e.details.is_null() ? Json::object() : e.details}};
}

Json UsageJson(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.total_tokens()}};
}

Json AgentStateJson(const AgentState& s) {
  return {{"state", s.state}, {"updated_at", FormatTime(s.updated_at)}};
}

Json UserDataJson(const UserDataEntry& e) {
  return {{"namespace", e.ns},
          {"key", e.key},
          {"value", e.value},
          {"updated_at", FormatTime(e.updated_at)}};
}

Json AuthResultJson(const AuthResult& r) {
  return {{"user", UserJson(r.user)},
          {"access_token", r.tokens.access_token},
          {"refresh_token", r.tokens.refresh_token},
          {"token_type", r.tokens.token_type},
          {"expires_in", r.tokens.expires_in}};
}

Json MessagesJson(const MessagePage& page) {
  Json list = Json::array();
  for (const auto& m : page.messages) list.push_back(MessageToJson(m));
  return {{"messages", std::move(list)}, {"has_more", page.has_more}};
}

Json NextCursor(const std::string& c) { return c.empty() ? Json(nullptr) : Json(c); }

namespace {
Status WrongType(const char* field, const char* want) {
  return InvalidArgumentError(std::string(field) + " must be " + want, field);
}
}  // namespace

Result<std::optional<std::string>> OptString(const Json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return WrongType(field, "a string");
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::string> RequiredString(const Json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) {
    return InvalidArgumentError(std::string(field) + " is required", field, "missing_field");
  }
  if (!it->is_string()) return WrongType(field, "a string");
  return it->get<std::string>();
}

Result<std::optional<int64_t>> OptInt(const Json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::optional<int64_t>();
  if (it->is_number_integer()) return std::optional<int64_t>(it->get<int64_t>());
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) {
      return std::optional<int64_t>(static_cast<int64_t>(d));
    }
  }
  return WrongType(field, "an integer");
}

Result<std::optional<bool>> OptBool(const Json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) return WrongType(field, "true or false");
  return std::optional<bool>(it->get<bool>());
}

Result<std::optional<std::optional<Timestamp>>> OptTime(const Json& body, const char* field) {
  using Out = std::optional<std::optional<Timestamp>>;
  auto it = body.find(field);
  if (it == body.end()) return Out();
  if (it->is_null()) return Out(std::optional<Timestamp>());
  if (!it->is_string()) return WrongType(field, "an RFC 3339 time");
  auto t = ParseTime(it->get<std::string>());
  if (!t) {
    const std::string want = "an RFC 3339 time in the years " + std::to_string(kMinTimeYear) +
                             " to " + std::to_string(kMaxTimeYear);
    return WrongType(field, want.c_str());
  }
  return Out(std::optional<Timestamp>(*t));
}

Result<int> QueryInt(const std::string& raw, const char* name, int fallback) {
  if (raw.empty()) return fallback;
  long long v = 0;
  auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
  if (ec != std::errc() || p != raw.data() + raw.size()) {
    return InvalidArgumentError(std::string(name) + " must be an integer", name);
  }
  if (v > INT_MAX) v = INT_MAX;
  if (v < INT_MIN) v = INT_MIN;
  return static_cast<int>(v);
}

Result<int> IntField(const Json& body, const char* field) {
  ASSISTANT_ASSIGN_OR_RETURN(auto v, OptInt(body, field));
  if (!v) return 0;
  if (*v < INT_MIN || *v > INT_MAX) {
    return InvalidArgumentError(std::string(field) + " is out of range", field);
  }
  return static_cast<int>(*v);
}

Result<std::vector<std::string>> StringList(const Json& body, const char* field) {
  std::vector<std::string> out;
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_array()) {
    return InvalidArgumentError(std::string(field) + " must be an array of strings", field);
  }
  for (const auto& v : *it) {
    if (!v.is_string()) {
      return InvalidArgumentError(std::string(field) + " must be an array of strings", field);
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<TaskInput> ParseTaskInput(const Json& b) {
  TaskInput in;
  ASSISTANT_ASSIGN_OR_RETURN(in.title, RequiredString(b, "title"));
  ASSISTANT_ASSIGN_OR_RETURN(auto desc, OptString(b, "description"));
  in.description = desc.value_or("");
  ASSISTANT_ASSIGN_OR_RETURN(auto due, OptTime(b, "due_at"));
  if (due) in.due_at = *due;
  ASSISTANT_ASSIGN_OR_RETURN(in.priority, IntField(b, "priority"));
  return in;
}

Result<TaskPatch> ParseTaskPatch(const Json& b) {
  TaskPatch p;
  ASSISTANT_ASSIGN_OR_RETURN(p.title, OptString(b, "title"));
  ASSISTANT_ASSIGN_OR_RETURN(p.description, OptString(b, "description"));
  ASSISTANT_ASSIGN_OR_RETURN(p.completed, OptBool(b, "completed"));
  ASSISTANT_ASSIGN_OR_RETURN(p.due_at, OptTime(b, "due_at"));
  if (b.contains("priority") && !b["priority"].is_null()) {
    ASSISTANT_ASSIGN_OR_RETURN(int prio, IntField(b, "priority"));
    p.priority = prio;
  }
  return p;
}

}  // namespace assistant::api
