#include "json_read.hpp"

namespace assistant::client::internal {
namespace {

Status Bad(const char* what) {
  return UnavailableError(std::string("the server's answer has a bad ") + what, "bad_response");
}

// Reads fields without throwing: a missing or mistyped field fails.
class Fields {
 public:
  explicit Fields(const Json& j) : j_(j), ok_(j.is_object()) {}
  std::string Str(const char* k) {
    auto it = j_.find(k);
    if (!ok_ || it == j_.end() || !it->is_string()) return Fail(k), std::string();
    return it->get<std::string>();
  }
  std::optional<std::string> OptStr(const char* k) {
    auto it = j_.find(k);
    if (!ok_ || it == j_.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) return Fail(k), std::nullopt;
    return it->get<std::string>();
  }
  Timestamp Time(const char* k) {
    auto t = ParseTime(Str(k));
    if (!t) return Fail(k), Timestamp{};
    return *t;
  }
  std::optional<Timestamp> OptTime(const char* k) {
    auto s = OptStr(k);
    if (!s) return std::nullopt;
    auto t = ParseTime(*s);
    if (!t) return Fail(k), std::nullopt;
    return t;
  }
  bool Bool(const char* k) {
    auto it = j_.find(k);
    if (!ok_ || it == j_.end() || !it->is_boolean()) return Fail(k), false;
    return it->get<bool>();
  }
  int64_t Int(const char* k) {
    auto it = j_.find(k);
    if (!ok_ || it == j_.end() || !it->is_number_integer()) return Fail(k), 0;
    return it->get<int64_t>();
  }
  // A member of a closed set, read with its Parse function.
  template <typename E>
  E Enum(const char* k, Result<E> (*parse)(std::string_view), E otherwise) {
    Result<E> e = parse(Str(k));
    if (!e.ok()) return Fail(k), otherwise;
    return *e;
  }
  Json Any(const char* k) {
    auto it = j_.find(k);
    return ok_ && it != j_.end() ? *it : Json();
  }
  Status status() const { return failed_ == nullptr ? Status::Ok() : Bad(failed_); }

 private:
  void Fail(const char* k) {
    if (failed_ == nullptr) failed_ = k;
  }
  const Json& j_;
  bool ok_;
  const char* failed_ = nullptr;
};

template <typename T>
Result<T> Done(Fields& f, T value) {
  ASSISTANT_RETURN_IF_ERROR(f.status());
  return value;
}

}  // namespace

Result<User> ReadUser(const Json& j) {
  Fields f(j);
  User u;
  u.id = f.Str("id");
  u.email = f.Str("email");
  u.name = f.Str("name");
  u.email_verified = f.Bool("email_verified");
  u.preferences = f.Any("preferences");
  u.created_at = f.Time("created_at");
  u.updated_at = f.Time("updated_at");
  return Done(f, std::move(u));
}

Result<Task> ReadTask(const Json& j) {
  Fields f(j);
  Task t;
  t.id = f.Str("id");
  t.user_id = f.Str("user_id");
  t.title = f.Str("title");
  t.description = f.Str("description");
  t.completed = f.Bool("completed");
  t.due_at = f.OptTime("due_at");
  t.priority = static_cast<int>(f.Int("priority"));
  t.created_at = f.Time("created_at");
  t.updated_at = f.Time("updated_at");
  return Done(f, std::move(t));
}

Result<Conversation> ReadConversation(const Json& j) {
  Fields f(j);
  Conversation c;
  c.id = f.Str("id");
  c.user_id = f.Str("user_id");
  c.app_id = f.OptStr("app_id");
  c.title = f.Str("title");
  c.created_at = f.Time("created_at");
  c.updated_at = f.Time("updated_at");
  return Done(f, std::move(c));
}

Result<Message> ReadMessage(const Json& j) {
  Fields f(j);
  Message m;
  m.id = f.Str("id");
  m.conversation_id = f.Str("conversation_id");
  m.role = f.Enum("role", &ParseMessageRole, MessageRole::kUser);
  m.content = f.Str("content");
  Json calls = f.Any("tool_calls");
  if (!calls.is_null()) m.tool_calls = std::move(calls);
  m.tool_call_id = f.OptStr("tool_call_id");
  m.status = f.Enum("status", &ParseMessageStatus, MessageStatus::kFailed);
  m.created_at = f.Time("created_at");
  return Done(f, std::move(m));
}

Result<Memory> ReadMemory(const Json& j) {
  Fields f(j);
  Memory m;
  m.id = f.Str("id");
  m.content = f.Str("content");
  m.created_at = f.Time("created_at");
  return Done(f, std::move(m));
}

Result<RunInfo> ReadRun(const Json& j) {
  Fields f(j);
  RunInfo r;
  r.id = f.Str("id");
  r.conversation_id = f.OptStr("conversation_id").value_or("");
  r.message_id = f.Str("message_id");
  r.status = f.Enum("status", &ParseRunStatus, RunStatus::kFailed);
  r.created_at = f.Time("created_at");
  r.finished_at = f.OptTime("finished_at");
  return Done(f, std::move(r));
}

Result<AgentState> ReadAgentState(const Json& j) {
  Fields f(j);
  AgentState s;
  s.state = f.Any("state");
  s.updated_at = f.Time("updated_at");
  return Done(f, std::move(s));
}

}  // namespace assistant::client::internal
