#include "api/methods.hpp"

#include <algorithm>
#include <utility>

#include "api/json_shapes.hpp"
#include "assistant/agent.hpp"
#include "assistant/runs.hpp"
#include "common/json_text.hpp"

namespace assistant::api {
namespace {

const Principal& Me(const MethodCall& c) { return *c.principal; }

Json Ok() { return Json::object(); }

// Handlers that act for a user take the principal; the others do not.
constexpr bool kUser = true;
constexpr bool kAnyone = false;

// A method whose result is JSON text rendered by its handler.
Method TextMethod(Method m, std::function<Result<std::string>(Assistant&, const MethodCall&)> run) {
  m.run_text = std::move(run);
  return m;
}

Result<std::string> IdParam(const MethodCall& c, const char* name = "id") {
  return RequiredString(c.params, name);
}

Result<int> LimitParam(const MethodCall& c) {
  ASSISTANT_ASSIGN_OR_RETURN(auto v, OptInt(c.params, "limit"));
  if (!v) return 50;
  return static_cast<int>(std::clamp<int64_t>(*v, INT32_MIN, INT32_MAX));
}

std::string StringOr(const Json& params, const char* field, std::string fallback = {}) {
  auto it = params.find(field);
  return it != params.end() && it->is_string() ? it->get<std::string>() : fallback;
}

Result<AgentRequest> ParseAgentRequest(const MethodCall& c) {
  AgentRequest in;
  ASSISTANT_ASSIGN_OR_RETURN(in.message, RequiredString(c.params, "message"));
  ASSISTANT_ASSIGN_OR_RETURN(in.conversation_id, OptString(c.params, "conversation_id"));
  ASSISTANT_ASSIGN_OR_RETURN(in.app_id, OptString(c.params, "app_id"));
  return in;
}

Json AgentReplyJson(AgentReply reply) {
  return {{"conversation_id", reply.conversation_id},
          {"run_id", reply.run_id},
          {"message", MessageToJson(std::move(reply.message))},
          {"usage", UsageJson(reply.usage)}};
}

// agent.message, streamed or not. A false from the sink cancels the turn:
// the upstream request is aborted and the partial reply stored as cancelled.
Result<Json> AgentMessage(Assistant& core, const MethodCall& c, const MethodEventSink* sink) {
  ASSISTANT_ASSIGN_OR_RETURN(auto in, ParseAgentRequest(c));
  StartOptions options;
  options.listen = sink != nullptr;
  // A callback that stops at an event stops the turn there.
  options.paced = sink != nullptr;
  ASSISTANT_ASSIGN_OR_RETURN(auto run, core.agent().Start(Me(c), in, c.ctx, options));
  if (sink != nullptr) {
    run->Attach(0, [&](const RunEvent& ev) {
         if (ev.type.empty()) return true;  // a keep-alive: nothing to deliver
         if ((*sink)(ev.type, ev.data)) return true;
         run->Cancel();  // before the paced turn may go on
         return false;
       })
        .IgnoreError();  // its own run, from memory: it cannot fail
  }
  ASSISTANT_ASSIGN_OR_RETURN(auto reply, run->Wait());
  return AgentReplyJson(std::move(reply));
}

// agent.runs.events: a run's events after last_event_id, then live. A false
// from the sink stops listening and cancels the run.
Result<Json> AttachRun(Assistant& core, const MethodCall& c, const MethodEventSink& sink) {
  ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
  ASSISTANT_ASSIGN_OR_RETURN(auto after, OptInt(c.params, "last_event_id"));
  bool stopped = false;
  ASSISTANT_RETURN_IF_ERROR(
      core.runs().Attach(Me(c), id, after.value_or(0), [&](const RunEvent& ev) {
        if (ev.type.empty()) return true;  // a keep-alive: nothing to deliver
        stopped = !sink(ev.type, ev.data);
        return !stopped;
      }));
  if (stopped) {
    ASSISTANT_ASSIGN_OR_RETURN(auto run, core.runs().Cancel(Me(c), id));
    return Json{{"run", RunToJson(run)}};
  }
  ASSISTANT_ASSIGN_OR_RETURN(auto run, core.runs().Get(Me(c), id));
  return Json{{"run", RunToJson(run)}};
}

std::vector<Method> BuildMethods() {
  std::vector<Method> m;
  auto add = [&m](Method method) { m.push_back(std::move(method)); };

  // ---------------------------------------------------------------- auth
  add({"auth.register",
       "Create an account and a first session",
       kAnyone,
       "",
       {{"email", "string", true, "the new account's email"},
        {"password", "string", true, "8 to 1024 characters"},
        {"name", "string", false, "display name"}},
       "{user, access_token, refresh_token, token_type, expires_in}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         RegisterInput in;
         ASSISTANT_ASSIGN_OR_RETURN(in.email, RequiredString(c.params, "email"));
         ASSISTANT_ASSIGN_OR_RETURN(in.password, RequiredString(c.params, "password"));
         ASSISTANT_ASSIGN_OR_RETURN(auto name, OptString(c.params, "name"));
         in.name = name.value_or("");
         ASSISTANT_ASSIGN_OR_RETURN(auto out, core.auth().Register(in, c.ctx));
         return AuthResultJson(out);
       }});
  add({"auth.login",
       "Log in; a wrong email and a wrong password fail alike",
       kAnyone,
       "",
       {{"email", "string", true, ""}, {"password", "string", true, ""}},
       "{user, access_token, refresh_token, token_type, expires_in}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto email, RequiredString(c.params, "email"));
         ASSISTANT_ASSIGN_OR_RETURN(auto pw, RequiredString(c.params, "password"));
         ASSISTANT_ASSIGN_OR_RETURN(auto out, core.auth().Login(email, pw, c.ctx));
         return AuthResultJson(out);
       }});
  add({"auth.refresh",
       "Rotate a refresh token for a new pair",
       kAnyone,
       "",
       {{"refresh_token", "string", true, ""}},
       "{user, access_token, refresh_token, token_type, expires_in}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto token, RequiredString(c.params, "refresh_token"));
         ASSISTANT_ASSIGN_OR_RETURN(auto out, core.auth().Refresh(token, c.ctx));
         return AuthResultJson(out);
       }});
  add({"auth.logout",
       "Revoke the principal's session (not for API keys)",
       kUser,
       "",
       {},
       "{}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_RETURN_IF_ERROR(core.auth().Logout(Me(c), c.ctx));
         return Ok();
       }});
  add({"auth.verify",
       "Check the principal's token",
       kUser,
       "",
       {},
       "{valid, user, claims}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         if (c.credential.empty()) {
           return InvalidArgumentError("auth.verify needs principal.token", "principal",
                                       "missing_field");
         }
         ASSISTANT_ASSIGN_OR_RETURN(auto v, core.auth().Verify(c.credential));
         return Json{{"valid", true}, {"user", UserJson(v.user)}, {"claims", v.claims}};
       }});
  add({"auth.sessions.list",
       "The user's sessions",
       kUser,
       "user:read",
       {},
       "{sessions}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto list, core.auth().ListSessions(Me(c)));
         Json out = Json::array();
         for (const auto& x : list) out.push_back(SessionJson(x, Me(c).session_id));
         return Json{{"sessions", std::move(out)}};
       }});
  add({"auth.sessions.revoke",
       "Revoke one session",
       kUser,
       "user:write",
       {{"id", "string", true, "the session id"}},
       "{}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
         ASSISTANT_RETURN_IF_ERROR(core.auth().RevokeSession(Me(c), id, c.ctx));
         return Ok();
       }});
  add({"auth.forgot_password",
       "Mail a reset token if the account exists (always succeeds)",
       kAnyone,
       "",
       {{"email", "string", true, ""}},
       "{status: \"accepted\"}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto email, RequiredString(c.params, "email"));
         ASSISTANT_RETURN_IF_ERROR(core.auth().ForgotPassword(email, c.ctx));
         return Json{{"status", "accepted"}};
       }});
  add({"auth.reset_password",
       "Set a new password with a reset token; revokes every session",
       kAnyone,
       "",
       {{"token", "string", true, ""}, {"password", "string", true, ""}},
       "{}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto token, RequiredString(c.params, "token"));
         ASSISTANT_ASSIGN_OR_RETURN(auto pw, RequiredString(c.params, "password"));
         ASSISTANT_RETURN_IF_ERROR(core.auth().ResetPassword(token, pw, c.ctx));
         return Ok();
       }});
  add({"auth.send_verification_email",
       "Mail an email-verification token",
       kUser,
       "",
       {},
       "{status: \"accepted\"}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_RETURN_IF_ERROR(core.auth().SendVerificationEmail(Me(c), c.ctx));
         return Json{{"status", "accepted"}};
       }});
  add({"auth.verify_email",
       "Confirm an email address with its token",
       kAnyone,
       "",
       {{"token", "string", true, ""}},
       "{}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto token, RequiredString(c.params, "token"));
         ASSISTANT_RETURN_IF_ERROR(core.auth().VerifyEmail(token, c.ctx));
         return Ok();
       }});
  add({"auth.api_keys.create",
       "Create an API key; `key` is shown only here",
       kUser,
       "keys",
       {{"name", "string", true, ""},
        {"scopes", "array", false, "scopes, never broader than the caller's"},
        {"expires_in", "integer", false, "seconds; absent = never expires"}},
       "{api_key, key}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ApiKeyInput in;
         ASSISTANT_ASSIGN_OR_RETURN(in.name, RequiredString(c.params, "name"));
         ASSISTANT_ASSIGN_OR_RETURN(in.scopes, StringList(c.params, "scopes"));
         ASSISTANT_ASSIGN_OR_RETURN(in.expires_in, OptInt(c.params, "expires_in"));
         ASSISTANT_ASSIGN_OR_RETURN(auto out, core.auth().CreateApiKey(Me(c), in, c.ctx));
         return Json{{"api_key", ApiKeyJson(out.api_key)}, {"key", out.key}};
       }});
  add({"auth.api_keys.list",
       "The user's API keys",
       kUser,
       "keys",
       {},
       "{api_keys}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto list, core.auth().ListApiKeys(Me(c)));
         Json out = Json::array();
         for (const auto& k : list) out.push_back(ApiKeyJson(k));
         return Json{{"api_keys", std::move(out)}};
       }});
  add({"auth.api_keys.revoke",
       "Revoke an API key",
       kUser,
       "keys",
       {{"id", "string", true, "the key's id"}},
       "{}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
         ASSISTANT_RETURN_IF_ERROR(core.auth().RevokeApiKey(Me(c), id, c.ctx));
         return Ok();
       }});
  add({"auth.jwks",
       "Public keys: access-token keys (EdDSA) and the identity key",
       kAnyone,
       "",
       {},
       "{keys}",
       [](Assistant& core, const MethodCall&) -> Result<Json> { return core.auth().Jwks(); }});

  // ---------------------------------------------------------------- user
  add({"user.get",
       "The user's profile",
       kUser,
       "user:read",
       {},
       "{user}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto u, core.users().Me(Me(c)));
         return Json{{"user", UserJson(u)}};
       }});
  add({"user.update",
       "Change name or preferences",
       kUser,
       "user:write",
       {{"name", "string", false, ""}, {"preferences", "object", false, "replaces the old"}},
       "{user}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         UserPatch patch;
         ASSISTANT_ASSIGN_OR_RETURN(patch.name, OptString(c.params, "name"));
         if (auto it = c.params.find("preferences"); it != c.params.end()) patch.preferences = *it;
         ASSISTANT_ASSIGN_OR_RETURN(auto u, core.users().UpdateMe(Me(c), patch));
         return Json{{"user", UserJson(u)}};
       }});
  add({"user.delete",
       "Delete the account and everything it owns",
       kUser,
       "user:write",
       {},
       "{}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_RETURN_IF_ERROR(core.users().DeleteMe(Me(c), c.ctx));
         return Ok();
       }});
  add({"user.audit",
       "The user's audit events, newest first",
       kUser,
       "user:read",
       {{"limit", "integer", false, "1..200, default 50"},
        {"cursor", "string", false, "next_cursor of the previous page"}},
       "{events, next_cursor}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(int limit, LimitParam(c));
         ASSISTANT_ASSIGN_OR_RETURN(auto cursor, OptString(c.params, "cursor"));
         ASSISTANT_ASSIGN_OR_RETURN(auto page,
                                    core.users().Audit(Me(c), limit, cursor.value_or("")));
         Json out = Json::array();
         for (const auto& e : page.items) out.push_back(AuditJson(e));
         return Json{{"events", std::move(out)}, {"next_cursor", NextCursor(page.next_cursor)}};
       }});
  add({"user.data.list",
       "Every entry of a namespace",
       kUser,
       "user:read",
       {{"namespace", "string", true, ""}},
       "{namespace, entries}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto ns, RequiredString(c.params, "namespace"));
         ASSISTANT_ASSIGN_OR_RETURN(auto list, core.users().ListData(Me(c), ns));
         Json out = Json::array();
         for (const auto& e : list) {
           out.push_back(
               {{"key", e.key}, {"value", e.value}, {"updated_at", FormatTime(e.updated_at)}});
         }
         return Json{{"namespace", ns}, {"entries", std::move(out)}};
       }});
  add({"user.data.get",
       "One value",
       kUser,
       "user:read",
       {{"namespace", "string", true, ""}, {"key", "string", true, ""}},
       "{namespace, key, value, updated_at}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto ns, RequiredString(c.params, "namespace"));
         ASSISTANT_ASSIGN_OR_RETURN(auto key, RequiredString(c.params, "key"));
         ASSISTANT_ASSIGN_OR_RETURN(auto e, core.users().GetData(Me(c), ns, key));
         return UserDataJson(e);
       }});
  add({"user.data.put",
       "Store any JSON value",
       kUser,
       "user:write",
       {{"namespace", "string", true, ""},
        {"key", "string", true, ""},
        {"value", "any", true, "the value to store"}},
       "{namespace, key, value, updated_at}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto ns, RequiredString(c.params, "namespace"));
         ASSISTANT_ASSIGN_OR_RETURN(auto key, RequiredString(c.params, "key"));
         auto it = c.params.find("value");
         if (it == c.params.end()) {
           return InvalidArgumentError("value is required", "value", "missing_field");
         }
         ASSISTANT_ASSIGN_OR_RETURN(auto e, core.users().PutData(Me(c), ns, key, *it));
         return UserDataJson(e);
       }});
  add({"user.data.delete",
       "Delete a value",
       kUser,
       "user:write",
       {{"namespace", "string", true, ""}, {"key", "string", true, ""}},
       "{}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto ns, RequiredString(c.params, "namespace"));
         ASSISTANT_ASSIGN_OR_RETURN(auto key, RequiredString(c.params, "key"));
         ASSISTANT_RETURN_IF_ERROR(core.users().DeleteData(Me(c), ns, key));
         return Ok();
       }});

  // ---------------------------------------------------------------- tasks
  add(TextMethod({"tasks.list",
                  "The user's tasks",
                  kUser,
                  "tasks:read",
                  {{"status", "string", false, "all (default), pending or completed"},
                   {"q", "string", false, "case-insensitive title substring"},
                   {"limit", "integer", false, "1..200, default 50"},
                   {"cursor", "string", false, "next_cursor of the previous page"}},
                  "{tasks, next_cursor}",
                  nullptr},
                 [](Assistant& core, const MethodCall& c) -> Result<std::string> {
                   TaskListOptions o;
                   ASSISTANT_ASSIGN_OR_RETURN(auto status, OptString(c.params, "status"));
                   ASSISTANT_ASSIGN_OR_RETURN(o.status, ParseTaskFilter(status.value_or("")));
                   ASSISTANT_ASSIGN_OR_RETURN(auto q, OptString(c.params, "q"));
                   o.q = q.value_or("");
                   ASSISTANT_ASSIGN_OR_RETURN(o.limit, LimitParam(c));
                   ASSISTANT_ASSIGN_OR_RETURN(auto cursor, OptString(c.params, "cursor"));
                   o.cursor = cursor.value_or("");
                   ASSISTANT_ASSIGN_OR_RETURN(auto page, core.tasks().List(Me(c), o));
                   return TaskListBody(page);
                 }));
  add(TextMethod({"tasks.create",
                  "Create a task",
                  kUser,
                  "tasks:write",
                  {{"title", "string", true, "1..500 characters"},
                   {"description", "string", false, ""},
                   {"due_at", "string", false, "RFC 3339"},
                   {"priority", "integer", false, ""}},
                  "{task}",
                  nullptr},
                 [](Assistant& core, const MethodCall& c) -> Result<std::string> {
                   ASSISTANT_ASSIGN_OR_RETURN(auto in, ParseTaskInput(c.params));
                   ASSISTANT_ASSIGN_OR_RETURN(auto t, core.tasks().Create(Me(c), in));
                   return TaskEnvelope(t);
                 }));
  add(TextMethod({"tasks.get",
                  "One task",
                  kUser,
                  "tasks:read",
                  {{"id", "string", true, ""}},
                  "{task}",
                  nullptr},
                 [](Assistant& core, const MethodCall& c) -> Result<std::string> {
                   ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
                   ASSISTANT_ASSIGN_OR_RETURN(auto t, core.tasks().Get(Me(c), id));
                   return TaskEnvelope(t);
                 }));
  add(TextMethod({"tasks.update",
                  "Change a task; only the fields given change",
                  kUser,
                  "tasks:write",
                  {{"id", "string", true, ""},
                   {"title", "string", false, ""},
                   {"description", "string", false, ""},
                   {"completed", "boolean", false, ""},
                   {"due_at", "string", false, "RFC 3339, or null to clear"},
                   {"priority", "integer", false, ""}},
                  "{task}",
                  nullptr},
                 [](Assistant& core, const MethodCall& c) -> Result<std::string> {
                   ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
                   ASSISTANT_ASSIGN_OR_RETURN(auto patch, ParseTaskPatch(c.params));
                   ASSISTANT_ASSIGN_OR_RETURN(auto t, core.tasks().Update(Me(c), id, patch));
                   return TaskEnvelope(t);
                 }));
  add({"tasks.delete",
       "Delete a task",
       kUser,
       "tasks:write",
       {{"id", "string", true, ""}},
       "{}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
         ASSISTANT_RETURN_IF_ERROR(core.tasks().Delete(Me(c), id));
         return Ok();
       }});
  add({"tasks.clear_completed",
       "Delete every completed task",
       kUser,
       "tasks:write",
       {},
       "{deleted}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(int n, core.tasks().ClearCompleted(Me(c)));
         return Json{{"deleted", n}};
       }});

  // ---------------------------------------------------------------- conversations
  add({"conversations.list",
       "The user's conversations; with q, a full-text search",
       kUser,
       "conversations:read",
       {{"q", "string", false, "every word must match; word* is a prefix"},
        {"limit", "integer", false, "1..200, default 50"},
        {"cursor", "string", false, ""}},
       "{conversations, next_cursor}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ConversationListOptions o;
         ASSISTANT_ASSIGN_OR_RETURN(auto q, OptString(c.params, "q"));
         o.q = q.value_or("");
         ASSISTANT_ASSIGN_OR_RETURN(o.limit, LimitParam(c));
         ASSISTANT_ASSIGN_OR_RETURN(auto cursor, OptString(c.params, "cursor"));
         o.cursor = cursor.value_or("");
         ASSISTANT_ASSIGN_OR_RETURN(auto page, core.conversations().List(Me(c), o));
         Json out = Json::array();
         for (const auto& x : page.items) out.push_back(ConversationJson(x));
         return Json{{"conversations", std::move(out)},
                     {"next_cursor", NextCursor(page.next_cursor)}};
       }});
  add({"conversations.create",
       "Start a conversation",
       kUser,
       "conversations:write",
       {{"title", "string", false, ""}, {"app_id", "string", false, ""}},
       "{conversation}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ConversationInput in;
         ASSISTANT_ASSIGN_OR_RETURN(auto title, OptString(c.params, "title"));
         if (title) in.title = *title;
         ASSISTANT_ASSIGN_OR_RETURN(in.app_id, OptString(c.params, "app_id"));
         ASSISTANT_ASSIGN_OR_RETURN(auto x, core.conversations().Create(Me(c), in));
         return Json{{"conversation", ConversationJson(x)}};
       }});
  add({"conversations.get",
       "One conversation",
       kUser,
       "conversations:read",
       {{"id", "string", true, ""}},
       "{conversation}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
         ASSISTANT_ASSIGN_OR_RETURN(auto x, core.conversations().Get(Me(c), id));
         return Json{{"conversation", ConversationJson(x)}};
       }});
  add({"conversations.update",
       "Rename a conversation",
       kUser,
       "conversations:write",
       {{"id", "string", true, ""}, {"title", "string", false, ""}},
       "{conversation}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
         ConversationPatch p;
         ASSISTANT_ASSIGN_OR_RETURN(p.title, OptString(c.params, "title"));
         ASSISTANT_ASSIGN_OR_RETURN(auto x, core.conversations().Update(Me(c), id, p));
         return Json{{"conversation", ConversationJson(x)}};
       }});
  add({"conversations.delete",
       "Delete a conversation and its messages",
       kUser,
       "conversations:write",
       {{"id", "string", true, ""}},
       "{}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
         ASSISTANT_RETURN_IF_ERROR(core.conversations().Delete(Me(c), id));
         return Ok();
       }});
  add({"conversations.messages",
       "A page of messages, oldest first",
       kUser,
       "conversations:read",
       {{"id", "string", true, "the conversation"},
        {"before", "string", false, "a message id; absent = the newest page"},
        {"limit", "integer", false, "1..200, default 50"}},
       "{messages, has_more}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
         MessageListOptions o;
         ASSISTANT_ASSIGN_OR_RETURN(auto before, OptString(c.params, "before"));
         o.before = before.value_or("");
         ASSISTANT_ASSIGN_OR_RETURN(o.limit, LimitParam(c));
         ASSISTANT_ASSIGN_OR_RETURN(auto page, core.conversations().Messages(Me(c), id, o));
         return MessagesJson(page);
       }});
  add({"conversations.fork",
       "Copy the messages up to message_id into a new conversation",
       kUser,
       "conversations:write",
       {{"id", "string", true, "the conversation"}, {"message_id", "string", true, ""}},
       "{conversation}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
         ASSISTANT_ASSIGN_OR_RETURN(auto mid, RequiredString(c.params, "message_id"));
         ASSISTANT_ASSIGN_OR_RETURN(auto x, core.conversations().Fork(Me(c), id, mid));
         return Json{{"conversation", ConversationJson(x)}};
       }});

  // ---------------------------------------------------------------- agent
  add({"agent.message",
       "Send a message to the agent. Streamed: events message.start, message.delta, "
       "tool.call, tool.result, message.done or error; a non-zero return from the "
       "callback cancels the turn (its partial reply is stored, cancelled)",
       kUser,
       "agent",
       {{"message", "string", true, "1..32,000 characters"},
        {"conversation_id", "string", false, "absent = a new conversation"},
        {"app_id", "string", false, ""}},
       "{conversation_id, run_id, message, usage}",
       [](Assistant& core, const MethodCall& c) { return AgentMessage(core, c, nullptr); },
       [](Assistant& core, const MethodCall& c, const MethodEventSink& sink) {
         return AgentMessage(core, c, &sink);
       }});
  add({"agent.history",
       "Messages of a conversation (default: the latest), oldest first",
       kUser,
       "agent",
       {{"conversation_id", "string", false, ""}, {"limit", "integer", false, ""}},
       "{messages, has_more}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto conv, OptString(c.params, "conversation_id"));
         ASSISTANT_ASSIGN_OR_RETURN(int limit, LimitParam(c));
         ASSISTANT_ASSIGN_OR_RETURN(auto page, core.agent().History(Me(c), conv, limit));
         return MessagesJson(page);
       }});
  add({"agent.runs.get",
       "An agent run's status",
       kUser,
       "agent",
       {{"id", "string", true, ""}},
       "{run}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
         ASSISTANT_ASSIGN_OR_RETURN(auto run, core.runs().Get(Me(c), id));
         return Json{{"run", RunToJson(run)}};
       }});
  add({"agent.runs.events",
       "Stream a run's events after last_event_id, then live until it ends; a non-zero "
       "return from the callback cancels the run",
       kUser,
       "agent",
       {{"id", "string", true, "the run"},
        {"last_event_id", "integer", false, "the last event id seen; default 0"}},
       "{run}",
       nullptr,
       AttachRun});
  add({"agent.runs.cancel",
       "Stop a run; its partial reply is stored, marked cancelled",
       kUser,
       "agent",
       {{"id", "string", true, ""}},
       "{run}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
         ASSISTANT_ASSIGN_OR_RETURN(auto run, core.runs().Cancel(Me(c), id));
         return Json{{"run", RunToJson(run)}};
       }});
  add({"agent.state.get",
       "The agent state document of an app",
       kUser,
       "agent",
       {{"app_id", "string", false, "default: the user's own"}},
       "{state, updated_at}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto st,
                                    core.agent_state().Get(Me(c), StringOr(c.params, "app_id")));
         return AgentStateJson(st);
       }});
  add({"agent.state.put",
       "Replace the state document",
       kUser,
       "agent",
       {{"app_id", "string", false, ""}, {"state", "object", true, "the new document"}},
       "{state, updated_at}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         auto it = c.params.find("state");
         if (it == c.params.end()) {
           return InvalidArgumentError("state is required", "state", "missing_field");
         }
         ASSISTANT_ASSIGN_OR_RETURN(
             auto st, core.agent_state().Put(Me(c), StringOr(c.params, "app_id"), *it));
         return AgentStateJson(st);
       }});
  add({"agent.state.patch",
       "Apply a JSON merge patch (RFC 7386) to the state",
       kUser,
       "agent",
       {{"app_id", "string", false, ""}, {"patch", "object", true, "the merge patch"}},
       "{state, updated_at}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         auto it = c.params.find("patch");
         if (it == c.params.end()) {
           return InvalidArgumentError("patch is required", "patch", "missing_field");
         }
         ASSISTANT_ASSIGN_OR_RETURN(
             auto st, core.agent_state().Patch(Me(c), StringOr(c.params, "app_id"), *it));
         return AgentStateJson(st);
       }});
  add({"agent.memory.list",
       "The agent's memory facts, newest first",
       kUser,
       "agent",
       {},
       "{memories}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto list, core.agent_state().ListMemories(Me(c)));
         Json out = Json::array();
         for (const auto& x : list) out.push_back(MemoryJson(x));
         return Json{{"memories", std::move(out)}};
       }});
  add({"agent.memory.add",
       "Add a memory fact",
       kUser,
       "agent",
       {{"content", "string", true, ""}},
       "{memory}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto content, RequiredString(c.params, "content"));
         ASSISTANT_ASSIGN_OR_RETURN(auto x, core.agent_state().AddMemory(Me(c), content));
         return Json{{"memory", MemoryJson(x)}};
       }});
  add({"agent.memory.delete",
       "Forget a memory fact",
       kUser,
       "agent",
       {{"id", "string", true, ""}},
       "{}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
         ASSISTANT_RETURN_IF_ERROR(core.agent_state().DeleteMemory(Me(c), id));
         return Ok();
       }});
  add({"apps.list", "The apps sharing this backend (the registry file)", kUser, "", {},
       "{apps: [{id, name, scopes, allowed_origins}]}",
       [](Assistant& core, const MethodCall&) -> Result<Json> {
         Json out = Json::array();
         for (const auto& app : core.apps().List()) out.push_back(AppToJson(app));
         return Json{{"apps", std::move(out)}};
       }});
  add({"apps.get", "One app of the registry", kUser, "", {{"id", "string", true, "the app's id"}},
       "{app}",
       [](Assistant& core, const MethodCall& c) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(auto id, IdParam(c));
         ASSISTANT_ASSIGN_OR_RETURN(auto app, core.apps().Get(id));
         return Json{{"app", AppToJson(app)}};
       }});
  add({"tools.list",
       "The tools the agent offers the model",
       kAnyone,
       "",
       {},
       "{tools: [{name, description, parameters}]}",
       [](Assistant& core, const MethodCall&) -> Result<Json> {
         Json out = Json::array();
         for (const auto& t : core.agent().tools().Specs()) {
           out.push_back(
               {{"name", t.name}, {"description", t.description}, {"parameters", t.parameters}});
         }
         return Json{{"tools", std::move(out)}};
       }});
  return m;
}

Result<MethodCall> Prepare(Assistant& core, const Method& method, const Json& params,
                           const RequestContext& ctx, KnownUsers* known) {
  MethodCall call{params, std::nullopt, {}, ctx};
  if (method.needs_principal) {
    ASSISTANT_ASSIGN_OR_RETURN(call.principal,
                               ResolvePrincipal(core, params, &call.credential, known));
    // The account is gone: the next call for it must check again.
    if (known != nullptr && std::string_view(method.name) == "user.delete") {
      known->Forget(call.principal->user_id);
    }
  }
  return call;
}

Result<const Method*> Lookup(std::string_view name, const Json& params) {
  const Method* method = FindMethod(name);
  if (method == nullptr) {
    return NotFoundError("unknown method \"" + std::string(name) + "\"", "unknown_method");
  }
  if (!params.is_object()) return MalformedError("params must be a JSON object");
  return method;
}

// The errors particular to a method, beyond those every method of its kind
// can give (MethodsMarkdown adds those).
const char* ParticularErrors(std::string_view name) {
  static const std::pair<const char*, const char*> kErrors[] = {
      {"auth.register", "email_taken (conflict)"},
      {"auth.login", "invalid_credentials"},
      {"auth.refresh", "invalid_token, refresh_token_reused"},
      {"auth.logout", "not_a_session (an API key)"},
      {"auth.reset_password", "invalid_token"},
      {"auth.verify_email", "invalid_token, already_verified"},
      {"auth.send_verification_email", "already_verified"},
      {"auth.api_keys.create", "permission_denied (broader than the caller)"},
      {"tasks.list", "invalid_cursor"},
      {"conversations.list", "invalid_cursor"},
      {"user.audit", "invalid_cursor"},
      {"agent.message",
       "not_found (conversation), busy, upstream_error, upstream_timeout, turn_timeout, "
       "cancelled"},
      {"agent.runs.events", "not_found (run or pruned), run_abandoned"},
  };
  for (const auto& [method, errors] : kErrors) {
    if (name == method) return errors;
  }
  return "";
}

}  // namespace

const std::vector<Method>& Methods() {
  static const std::vector<Method> kMethods = BuildMethods();
  return kMethods;
}

const Method* FindMethod(std::string_view name) {
  for (const auto& m : Methods()) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

bool KnownUsers::Contains(const std::string& user_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = checked_.find(user_id);
  return it != checked_.end() && std::chrono::steady_clock::now() - it->second < ttl_;
}

void KnownUsers::Add(const std::string& user_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (checked_.size() >= kMaxEntries) checked_.clear();
  checked_[user_id] = std::chrono::steady_clock::now();
}

void KnownUsers::Forget(const std::string& user_id) {
  std::lock_guard<std::mutex> lock(mu_);
  checked_.erase(user_id);
}

Result<Principal> ResolvePrincipal(Assistant& core, const Json& params, std::string* credential,
                                   KnownUsers* known) {
  auto it = params.find("principal");
  if (it == params.end() || !it->is_object()) {
    return UnauthenticatedError(
        "this method needs params.principal: {\"token\": ...} or {\"user_id\": ...}",
        "missing_principal");
  }
  auto token = it->find("token");
  auto user_id = it->find("user_id");
  if (token != it->end() && token->is_string()) {
    if (credential != nullptr) *credential = token->get<std::string>();
    return core.auth().Authenticate(token->get<std::string>());
  }
  if (user_id != it->end() && user_id->is_string()) {
    const std::string id = user_id->get<std::string>();
    if (known != nullptr && known->Contains(id)) return Principal::ForUser(id);
    ASSISTANT_ASSIGN_OR_RETURN(Principal p, core.PrincipalFor(id));
    if (known != nullptr) known->Add(p.user_id);
    return p;
  }
  return UnauthenticatedError("params.principal needs a string \"token\" or \"user_id\"",
                              "missing_principal");
}

Result<std::string> Invoke(Assistant& core, std::string_view name, const Json& params,
                           const RequestContext& ctx, KnownUsers* known) {
  ASSISTANT_ASSIGN_OR_RETURN(const Method* method, Lookup(name, params));
  ASSISTANT_ASSIGN_OR_RETURN(auto call, Prepare(core, *method, params, ctx, known));
  if (method->run_text) return method->run_text(core, call);
  Result<Json> result =
      method->run ? method->run(core, call)
                  : method->stream(core, call, [](std::string_view, const Json&) { return true; });
  if (!result.ok()) return result.status();
  return DumpJson(*result);
}

Result<Json> Stream(Assistant& core, std::string_view name, const Json& params,
                    const MethodEventSink& sink, const RequestContext& ctx, KnownUsers* known) {
  ASSISTANT_ASSIGN_OR_RETURN(const Method* method, Lookup(name, params));
  if (!method->stream) {
    return FailedPreconditionError(
        "method \"" + std::string(name) + "\" has no events; call it instead", "not_streamable");
  }
  ASSISTANT_ASSIGN_OR_RETURN(auto call, Prepare(core, *method, params, ctx, known));
  return method->stream(core, call, sink);
}

std::string MethodsMarkdown() {
  std::string out;
  for (const auto& m : Methods()) {
    out += "### `";
    out += m.name;
    out += "`\n\n";
    out += m.summary;
    out += ".\n\n";
    out += "- principal: ";
    out += m.needs_principal ? "required" : "none";
    if (*m.scope != '\0') {
      out += " (API keys need scope `";
      out += m.scope;
      out += "`)";
    }
    out += "\n- streams: ";
    out += m.stream ? (m.run || m.run_text ? "yes (assistant_stream), or called whole"
                                           : "only (assistant_stream)")
                    : "no";
    out += "\n- result: `";
    out += m.result;
    out += "`\n- errors: ";
    std::string errors;
    auto add = [&errors](std::string_view e) {
      if (e.empty()) return;
      if (!errors.empty()) errors += ", ";
      errors += e;
    };
    if (m.needs_principal) add("missing_principal, invalid_token, unknown_user");
    if (*m.scope != '\0') add("insufficient_scope");
    bool required = false;
    bool by_id = false;  // acts on one record: another user's is not_found
    for (const auto& p : m.params) {
      required = required || p.required;
      by_id = by_id || (p.required &&
                        (std::string_view(p.name) == "id" || std::string_view(p.name) == "key"));
    }
    if (required) add("missing_field");
    if (!m.params.empty()) add("invalid_field");
    if (by_id) add("not_found");
    add(ParticularErrors(m.name));
    out += errors.empty() ? "none particular" : errors;
    out += "; as every method: malformed_request, internal_error, unavailable\n";
    if (!m.params.empty()) {
      out += "\n| param | type | required | meaning |\n|---|---|---|---|\n";
      for (const auto& p : m.params) {
        out += "| `";
        out += p.name;
        out += "` | ";
        out += p.type;
        out += " | ";
        out += p.required ? "yes" : "no";
        out += " | ";
        out += p.description;
        out += " |\n";
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace assistant::api
