// The route table of assistant-server: every route this version serves
// (docs/http-api.md is generated from it), each with its handler and what /openapi.json says
// about it. Handlers parse, call the core, and render; nothing else.
#include <charconv>
#include <climits>
#include <memory>
#include <string_view>

#include "assistant/agent.hpp"
#include "assistant/http_status.hpp"
#include "app_routes.hpp"
#include "common/json_text.hpp"
#include "openai_routes.hpp"
#include "cookie_auth.hpp"
#include "metrics_access.hpp"
#include "render.hpp"
#include "server.hpp"
#include "web_routes.hpp"

namespace assistant::server {
namespace {

Json Ref(const char* name) {
  return {{"$ref", std::string("#/components/schemas/") + name}};
}

// The route's success status with `body`.
Result<Reply> Ok(Json body) { return Reply{0, std::move(body), false}; }
// A body already serialised (the task fast path).
Result<Reply> RawJson(Call& c, std::string body) {
  static const std::string kJsonType = "application/json";
  c.res.SetBody(std::move(body), kJsonType);
  return Reply{0, std::nullopt, true};
}
Result<Reply> NoContent() { return Reply{0, std::nullopt, false}; }
const Principal& Me(const Call& c) { return *c.principal; }

// GET /api/tasks's query: status, q, limit, cursor.
Result<TaskListOptions> TaskListOptionsOf(const Call& c) {
  TaskListOptions o;
  ASSISTANT_ASSIGN_OR_RETURN(o.status, ParseTaskFilter(c.Query("status")));
  o.q = c.Query("q");
  ASSISTANT_ASSIGN_OR_RETURN(o.limit, QueryInt(c.Query("limit"), "limit", 50));
  o.cursor = c.Query("cursor");
  return o;
}

Route Make(const char* method, const char* path, Access access, RateClass rate, BodyKind body,
           int success, RouteDoc doc, Handler handler) {
  Route r;
  r.method = method;
  r.path = path;
  r.access = access;
  r.rate = rate;
  r.body = body;
  r.success = success;
  r.doc = std::move(doc);
  r.handler = std::move(handler);
  return r;
}

RouteDoc Doc(const char* summary, const char* tag, Json request, Json response,
             std::vector<std::string> query = {}) {
  RouteDoc d;
  d.summary = summary;
  d.tag = tag;
  d.request = std::move(request);
  d.response = std::move(response);
  d.query = std::move(query);
  return d;
}

// The access_token cookie (docs/server.md "Web app": HttpOnly, SameSite=Lax,
// Secure when configured), living as long as the token.
void SetAccessCookie(HttpServer& s, http::Response& res, const TokenPair& t) {
  std::string c = "access_token=" + t.access_token + "; Path=/; HttpOnly; SameSite=Lax; Max-Age=" +
                  std::to_string(t.expires_in);
  if (s.config().cookie_secure) c += "; Secure";
  res.headers.Add("Set-Cookie", c);
  res.headers.Add("Set-Cookie",
                 RefreshCookie(t.refresh_token, s.core().options().auth.refresh_token_ttl.count(),
                               s.config().cookie_secure));
}

void ClearAccessCookie(HttpServer& s, http::Response& res) {
  std::string c = "access_token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0";
  if (s.config().cookie_secure) c += "; Secure";
  res.headers.Add("Set-Cookie", c);
  res.headers.Add("Set-Cookie", ClearedRefreshCookie(s.config().cookie_secure));
}

// ------------------------------------------------------------------ auth

void AuthRoutes(HttpServer& s, std::vector<Route>& r) {
  auto& core = s.core();
  r.push_back(Make("POST", "/api/auth/register", Access::kPublic, RateClass::kAuth,
                   BodyKind::kObject, 201,
                   Doc("Create an account and a first session", "auth", Ref("RegisterRequest"),
                       Ref("AuthResponse")),
                   [&s, &core](Call& c) -> Result<Reply> {
                     RegisterInput in;
                     ASSISTANT_ASSIGN_OR_RETURN(in.email, RequiredString(c.body, "email"));
                     ASSISTANT_ASSIGN_OR_RETURN(in.password, RequiredString(c.body, "password"));
                     ASSISTANT_ASSIGN_OR_RETURN(auto name, OptString(c.body, "name"));
                     in.name = name.value_or("");
                     ASSISTANT_ASSIGN_OR_RETURN(auto out, core.auth().Register(in, c.ctx));
                     SetAccessCookie(s, c.res, out.tokens);
                     return Ok(AuthResultJson(out));
                   }));
  r.back().doc.errors = {409};
  r.push_back(Make("POST", "/api/auth/login", Access::kPublic, RateClass::kAuth,
                   BodyKind::kObject, 200,
                   Doc("Log in; sets the access_token cookie", "auth", Ref("LoginRequest"),
                       Ref("AuthResponse")),
                   [&s, &core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto email, RequiredString(c.body, "email"));
                     ASSISTANT_ASSIGN_OR_RETURN(auto pw, RequiredString(c.body, "password"));
                     ASSISTANT_ASSIGN_OR_RETURN(auto out, core.auth().Login(email, pw, c.ctx));
                     SetAccessCookie(s, c.res, out.tokens);
                     return Ok(AuthResultJson(out));
                   }));
  r.back().doc.errors = {401};
  r.push_back(Make("POST", "/api/auth/refresh", Access::kPublic, RateClass::kAuth,
                   BodyKind::kObject, 200,
                   Doc("Rotate a refresh token for a new pair", "auth", Ref("RefreshRequest"),
                       Ref("AuthResponse")),
                   [&s, &core](Call& c) -> Result<Reply> {
                     // The body's token, else the web app's cookie (cookie_auth.hpp).
                     std::string token = CookieValue(c.req, "refresh_token");
                     if (c.body.contains("refresh_token") || token.empty()) {
                       ASSISTANT_ASSIGN_OR_RETURN(token, RequiredString(c.body, "refresh_token"));
                     } else if (LacksCsrfHeader(c.req)) {
                       return PermissionDeniedError("send X-Requested-With", "csrf_check_failed");
                     }
                     ASSISTANT_ASSIGN_OR_RETURN(auto out, core.auth().Refresh(token, c.ctx));
                     SetAccessCookie(s, c.res, out.tokens);
                     return Ok(AuthResultJson(out));
                   }));
  // 403: the refresh-token cookie without the CSRF header.
  r.back().doc.errors = {401, 403};
  r.push_back(Make("POST", "/api/auth/logout", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 204,
                   Doc("Revoke the current session and clear the cookie", "auth", nullptr, nullptr),
                   [&s, &core](Call& c) -> Result<Reply> {
                     ASSISTANT_RETURN_IF_ERROR(core.auth().Logout(Me(c), c.ctx));
                     ClearAccessCookie(s, c.res);
                     return NoContent();
                   }));
  r.back().doc.errors = {400};
  r.push_back(Make("GET", "/api/auth/verify", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200,
                   Doc("Check the presented credential", "auth", nullptr, Ref("VerifyResponse")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto v, core.auth().Verify(c.credential));
                     return Ok({{"valid", true}, {"user", UserJson(v.user)}, {"claims", v.claims}});
                   }));
  r.push_back(Make("GET", "/api/auth/sessions", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200,
                   Doc("The caller's sessions", "auth", nullptr, Ref("SessionList")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto list, core.auth().ListSessions(Me(c)));
                     Json out = Json::array();
                     for (const auto& x : list) out.push_back(SessionJson(x, Me(c).session_id));
                     return Ok({{"sessions", std::move(out)}});
                   }));
  r.push_back(Make("DELETE", "/api/auth/sessions/{id}", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 204, Doc("Revoke one session", "auth", nullptr, nullptr),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_RETURN_IF_ERROR(
                         core.auth().RevokeSession(Me(c), c.params[0], c.ctx));
                     return NoContent();
                   }));
  r.push_back(Make("POST", "/api/auth/forgot-password", Access::kPublic, RateClass::kAuth,
                   BodyKind::kObject, 202,
                   Doc("Mail a reset token if the account exists (always 202)", "auth",
                       Ref("ForgotPasswordRequest"), Ref("Accepted")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto email, RequiredString(c.body, "email"));
                     ASSISTANT_RETURN_IF_ERROR(core.auth().ForgotPassword(email, c.ctx));
                     return Ok({{"status", "accepted"}});
                   }));
  r.push_back(Make("POST", "/api/auth/reset-password", Access::kPublic, RateClass::kAuth,
                   BodyKind::kObject, 204,
                   Doc("Set a new password with a reset token; revokes every session", "auth",
                       Ref("ResetPasswordRequest"), nullptr),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto token, RequiredString(c.body, "token"));
                     ASSISTANT_ASSIGN_OR_RETURN(auto pw, RequiredString(c.body, "password"));
                     ASSISTANT_RETURN_IF_ERROR(core.auth().ResetPassword(token, pw, c.ctx));
                     return NoContent();
                   }));
  r.back().doc.errors = {401};
  r.push_back(Make("POST", "/api/auth/send-verification-email", Access::kAuthenticated,
                   RateClass::kApi, BodyKind::kNone, 202,
                   Doc("Mail an email-verification token", "auth", nullptr, Ref("Accepted")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_RETURN_IF_ERROR(core.auth().SendVerificationEmail(Me(c), c.ctx));
                     return Ok({{"status", "accepted"}});
                   }));
  r.push_back(Make("POST", "/api/auth/verify-email", Access::kPublic, RateClass::kAuth,
                   BodyKind::kObject, 204,
                   Doc("Confirm an email address with its token", "auth", Ref("TokenRequest"),
                       nullptr),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto token, RequiredString(c.body, "token"));
                     ASSISTANT_RETURN_IF_ERROR(core.auth().VerifyEmail(token, c.ctx));
                     return NoContent();
                   }));
  r.push_back(Make("POST", "/api/auth/api-keys", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kObject, 201,
                   Doc("Create an API key (the key is shown only here)", "auth",
                       Ref("ApiKeyRequest"), Ref("CreatedApiKey")),
                   [&core](Call& c) -> Result<Reply> {
                     ApiKeyInput in;
                     ASSISTANT_ASSIGN_OR_RETURN(in.name, RequiredString(c.body, "name"));
                     ASSISTANT_ASSIGN_OR_RETURN(in.scopes, StringList(c.body, "scopes"));
                     ASSISTANT_ASSIGN_OR_RETURN(in.expires_in, OptInt(c.body, "expires_in"));
                     ASSISTANT_ASSIGN_OR_RETURN(auto out,
                                                core.auth().CreateApiKey(Me(c), in, c.ctx));
                     return Ok({{"api_key", ApiKeyJson(out.api_key)}, {"key", out.key}});
                   }));
  r.push_back(Make("GET", "/api/auth/api-keys", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200,
                   Doc("The caller's API keys", "auth", nullptr, Ref("ApiKeyList")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto list, core.auth().ListApiKeys(Me(c)));
                     Json out = Json::array();
                     for (const auto& k : list) out.push_back(ApiKeyJson(k));
                     return Ok({{"api_keys", std::move(out)}});
                   }));
  r.push_back(Make("DELETE", "/api/auth/api-keys/{id}", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 204, Doc("Revoke an API key", "auth", nullptr, nullptr),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_RETURN_IF_ERROR(core.auth().RevokeApiKey(Me(c), c.params[0], c.ctx));
                     return NoContent();
                   }));
  r.push_back(Make("GET", "/.well-known/jwks.json", Access::kPublic, RateClass::kNone,
                   BodyKind::kNone, 200,
                   Doc("Public keys: access-token keys (EdDSA) and the identity key", "auth",
                       nullptr, Ref("Jwks")),
                   [&core](Call&) -> Result<Reply> { return Ok(core.auth().Jwks()); }));
}

// ------------------------------------------------------------------ user

void UserRoutes(HttpServer& s, std::vector<Route>& r) {
  auto& core = s.core();
  r.push_back(Make("GET", "/api/user/me", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200, Doc("The caller's profile", "user", nullptr, Ref("UserEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto u, core.users().Me(Me(c)));
                     return Ok({{"user", UserJson(u)}});
                   }));
  r.push_back(Make("PATCH", "/api/user/me", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kObject, 200,
                   Doc("Change name or preferences", "user", Ref("UserPatch"), Ref("UserEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     UserPatch patch;
                     ASSISTANT_ASSIGN_OR_RETURN(patch.name, OptString(c.body, "name"));
                     if (auto it = c.body.find("preferences"); it != c.body.end()) {
                       patch.preferences = *it;
                     }
                     ASSISTANT_ASSIGN_OR_RETURN(auto u, core.users().UpdateMe(Me(c), patch));
                     return Ok({{"user", UserJson(u)}});
                   }));
  r.push_back(Make("DELETE", "/api/user/me", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 204,
                   Doc("Delete the account and everything it owns", "user", nullptr, nullptr),
                   [&s, &core](Call& c) -> Result<Reply> {
                     ASSISTANT_RETURN_IF_ERROR(core.users().DeleteMe(Me(c), c.ctx));
                     ClearAccessCookie(s, c.res);
                     return NoContent();
                   }));
  r.push_back(Make("GET", "/api/user/audit", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200,
                   Doc("The caller's audit events, newest first", "user", nullptr,
                       Ref("AuditList"), {"limit", "cursor"}),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(int limit, QueryInt(c.Query("limit"), "limit", 50));
                     ASSISTANT_ASSIGN_OR_RETURN(auto page,
                                                core.users().Audit(Me(c), limit, c.Query("cursor")));
                     Json out = Json::array();
                     for (const auto& e : page.items) out.push_back(AuditJson(e));
                     return Ok({{"events", std::move(out)},
                                {"next_cursor", NextCursor(page.next_cursor)}});
                   }));
  r.push_back(Make("GET", "/api/user/data/{namespace}", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200,
                   Doc("Every entry of a namespace", "user", nullptr, Ref("UserDataList")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto list, core.users().ListData(Me(c), c.params[0]));
                     Json out = Json::array();
                     for (const auto& e : list) {
                       out.push_back({{"key", e.key},
                                      {"value", e.value},
                                      {"updated_at", FormatTime(e.updated_at)}});
                     }
                     return Ok({{"namespace", c.params[0]}, {"entries", std::move(out)}});
                   }));
  r.push_back(Make("GET", "/api/user/data/{namespace}/{key}", Access::kAuthenticated,
                   RateClass::kApi, BodyKind::kNone, 200,
                   Doc("One value", "user", nullptr, Ref("UserDataEntry")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(
                         auto e, core.users().GetData(Me(c), c.params[0], c.params[1]));
                     return Ok(UserDataJson(e));
                   }));
  r.push_back(Make("PUT", "/api/user/data/{namespace}/{key}", Access::kAuthenticated,
                   RateClass::kApi, BodyKind::kAny, 200,
                   Doc("Store any JSON value (the body is the value)", "user", Json::object(),
                       Ref("UserDataEntry")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(
                         auto e, core.users().PutData(Me(c), c.params[0], c.params[1], c.body));
                     return Ok(UserDataJson(e));
                   }));
  r.push_back(Make("DELETE", "/api/user/data/{namespace}/{key}", Access::kAuthenticated,
                   RateClass::kApi, BodyKind::kNone, 204, Doc("Delete a value", "user", nullptr, nullptr),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_RETURN_IF_ERROR(
                         core.users().DeleteData(Me(c), c.params[0], c.params[1]));
                     return NoContent();
                   }));
}

// ------------------------------------------------------------------ tasks

void TaskRoutes(HttpServer& s, std::vector<Route>& r) {
  auto& core = s.core();
  r.push_back(Make("GET", "/api/tasks", Access::kAuthenticated, RateClass::kApi, BodyKind::kNone,
                   200,
                   Doc("The caller's tasks", "tasks", nullptr, Ref("TaskList"),
                       {"status", "q", "limit", "cursor"}),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(TaskListOptions o, TaskListOptionsOf(c));
                     ASSISTANT_ASSIGN_OR_RETURN(auto page, core.tasks().List(Me(c), o));
                     return RawJson(c, TaskListBody(page));
                   }));
  // The same page without a blocked thread, where the storage can read so
  // (HttpServer::TakeOnIo): same checks, same body.
  r.back().async_handler = [&core](Call& c, EventLoop& loop, ReplyFn reply) {
    Result<TaskListOptions> o = TaskListOptionsOf(c);
    if (!o.ok()) return reply(o.status());
    core.tasks().ListAsync(Me(c), *o, loop, [&c, reply](Result<Page<Task>> page) {
      if (!page.ok()) return reply(page.status());
      reply(RawJson(c, TaskListBody(*page)));
    });
  };
  r.push_back(Make("POST", "/api/tasks", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kObject, 201,
                   Doc("Create a task", "tasks", Ref("TaskInput"), Ref("TaskEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto in, ParseTaskInput(c.body));
                     ASSISTANT_ASSIGN_OR_RETURN(auto t, core.tasks().Create(Me(c), in));
                     return RawJson(c, TaskEnvelope(t));
                   }));
  r.push_back(Make("POST", "/api/tasks/clear-completed", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200,
                   Doc("Delete every completed task", "tasks", nullptr, Ref("Deleted")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(int n, core.tasks().ClearCompleted(Me(c)));
                     return Ok({{"deleted", n}});
                   }));
  r.push_back(Make("GET", "/api/tasks/{id}", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200, Doc("One task", "tasks", nullptr, Ref("TaskEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto t, core.tasks().Get(Me(c), c.params[0]));
                     return RawJson(c, TaskEnvelope(t));
                   }));
  r.push_back(Make("PATCH", "/api/tasks/{id}", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kObject, 200,
                   Doc("Change a task; only the fields sent change", "tasks", Ref("TaskPatch"),
                       Ref("TaskEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto patch, ParseTaskPatch(c.body));
                     ASSISTANT_ASSIGN_OR_RETURN(auto t,
                                                core.tasks().Update(Me(c), c.params[0], patch));
                     return RawJson(c, TaskEnvelope(t));
                   }));
  r.push_back(Make("DELETE", "/api/tasks/{id}", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 204, Doc("Delete a task", "tasks", nullptr, nullptr),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_RETURN_IF_ERROR(core.tasks().Delete(Me(c), c.params[0]));
                     return NoContent();
                   }));
}

// ------------------------------------------------------------------ conversations

void ConversationRoutes(HttpServer& s, std::vector<Route>& r) {
  auto& core = s.core();
  r.push_back(Make("GET", "/api/conversations", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200,
                   Doc("The caller's conversations; with q, a full-text search", "conversations",
                       nullptr, Ref("ConversationList"), {"q", "limit", "cursor"}),
                   [&core](Call& c) -> Result<Reply> {
                     ConversationListOptions o;
                     o.q = c.Query("q");
                     ASSISTANT_ASSIGN_OR_RETURN(o.limit, QueryInt(c.Query("limit"), "limit", 50));
                     o.cursor = c.Query("cursor");
                     ASSISTANT_ASSIGN_OR_RETURN(auto page, core.conversations().List(Me(c), o));
                     Json out = Json::array();
                     for (const auto& x : page.items) out.push_back(ConversationJson(x));
                     return Ok({{"conversations", std::move(out)},
                                {"next_cursor", NextCursor(page.next_cursor)}});
                   }));
  r.push_back(Make("POST", "/api/conversations", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kObject, 201,
                   Doc("Start a conversation", "conversations", Ref("ConversationInput"),
                       Ref("ConversationEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     ConversationInput in;
                     ASSISTANT_ASSIGN_OR_RETURN(auto title, OptString(c.body, "title"));
                     if (title) in.title = *title;
                     ASSISTANT_ASSIGN_OR_RETURN(in.app_id, OptString(c.body, "app_id"));
                     ASSISTANT_ASSIGN_OR_RETURN(auto x, core.conversations().Create(Me(c), in));
                     return Ok({{"conversation", ConversationJson(x)}});
                   }));
  r.push_back(Make("GET", "/api/conversations/{id}", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200,
                   Doc("One conversation", "conversations", nullptr, Ref("ConversationEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto x, core.conversations().Get(Me(c), c.params[0]));
                     return Ok({{"conversation", ConversationJson(x)}});
                   }));
  r.push_back(Make("PATCH", "/api/conversations/{id}", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kObject, 200,
                   Doc("Rename a conversation", "conversations", Ref("ConversationPatch"),
                       Ref("ConversationEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     ConversationPatch p;
                     ASSISTANT_ASSIGN_OR_RETURN(p.title, OptString(c.body, "title"));
                     ASSISTANT_ASSIGN_OR_RETURN(
                         auto x, core.conversations().Update(Me(c), c.params[0], p));
                     return Ok({{"conversation", ConversationJson(x)}});
                   }));
  r.push_back(Make("DELETE", "/api/conversations/{id}", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 204,
                   Doc("Delete a conversation and its messages", "conversations", nullptr, nullptr),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_RETURN_IF_ERROR(core.conversations().Delete(Me(c), c.params[0]));
                     return NoContent();
                   }));
  r.push_back(Make("GET", "/api/conversations/{id}/messages", Access::kAuthenticated,
                   RateClass::kApi, BodyKind::kNone, 200,
                   Doc("A page of messages, oldest first; before = a message id", "conversations",
                       nullptr, Ref("MessagePage"), {"before", "limit"}),
                   [&core](Call& c) -> Result<Reply> {
                     MessageListOptions o;
                     o.before = c.Query("before");
                     ASSISTANT_ASSIGN_OR_RETURN(o.limit, QueryInt(c.Query("limit"), "limit", 50));
                     ASSISTANT_ASSIGN_OR_RETURN(
                         auto page, core.conversations().Messages(Me(c), c.params[0], o));
                     return Ok(MessagesJson(page));
                   }));
  r.push_back(Make("POST", "/api/conversations/{id}/fork", Access::kAuthenticated,
                   RateClass::kApi, BodyKind::kObject, 201,
                   Doc("Copy the messages up to message_id into a new conversation",
                       "conversations", Ref("ForkRequest"), Ref("ConversationEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto mid, RequiredString(c.body, "message_id"));
                     ASSISTANT_ASSIGN_OR_RETURN(
                         auto x, core.conversations().Fork(Me(c), c.params[0], mid));
                     return Ok({{"conversation", ConversationJson(x)}});
                   }));
}

// ------------------------------------------------------------------ agent

// Writes one stream's SSE frames (docs/server.md "Streaming": name in event:, JSON
// payload in data:, and the run's event number in id:, which a client sends
// back as Last-Event-ID when it re-attaches). A frame is rendered straight
// into a buffer kept for the whole stream and goes out in one write: a
// streamed token is one frame, so this runs thousands of times a second.
class SseWriter {
 public:
  explicit SseWriter(http::StreamWriter& sink) : sink_(sink) {}

  // False once the client is gone.
  bool Event(int64_t id, std::string_view type, const Json& data) {
    frame_.clear();
    frame_ += "id: ";
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof(digits), id).ptr;
    frame_.append(digits, end);
    frame_ += "\nevent: ";
    frame_ += type;
    frame_ += "\ndata: ";
    // What Dump() writes (invalid UTF-8 replaced), appended in place.
    AppendJson(frame_, data);
    frame_ += "\n\n";
    return Write();
  }

  // An SSE comment, which clients ignore: a keep-alive.
  bool Comment(std::string_view text) {
    frame_.clear();
    frame_ += ": ";
    frame_ += text;
    frame_ += "\n\n";
    return Write();
  }

 private:
  bool Write() { return sink_.Write(frame_); }

  http::StreamWriter& sink_;
  std::string frame_;
};

void SetSseHeaders(http::Response& res) {
  res.headers.Add("Cache-Control", "no-cache");
  res.headers.Add("X-Accel-Buffering", "no");
}

// Streams the run's own events as they happen: the turn runs on the
// agent's pool, this worker attaches to it. A refusal known before the turn
// (scope, validation, someone else's conversation, agent_busy) was a plain
// JSON error already; a failure later is the run's own `error` event. When
// the client goes away the run goes on (or is cancelled: --on-disconnect,
// which the core applies); its events stay at /api/agent/runs/{id}/events.
Reply StreamAgentReply(HttpServer& s, Call& c, const AgentRequest& request) {
  // Set by begin_stream, before the provider first runs.
  auto run = std::make_shared<std::unique_ptr<AgentRun>>();
  SetSseHeaders(c.res);
  c.res.SetStream("text/event-stream", [run](http::StreamWriter& sink) {
    SseWriter out(sink);
    bool gone = false;
    (*run)->Attach(0, [&](const RunEvent& ev) {
             // An empty type is a keep-alive: an SSE comment.
             gone = ev.type.empty() ? !out.Comment("keep-alive")
                                    : !out.Event(ev.id, ev.type, ev.data);
             return !gone;
           })
        .IgnoreError();  // its own run, from memory: it cannot fail
    return !gone;
  });
  Reply reply{0, std::nullopt, true};
  reply.begin_stream = [&s, &c, request, run]() -> Status {
    ASSISTANT_ASSIGN_OR_RETURN(*run, s.core().agent().Start(Me(c), request, c.ctx));
    return Status();
  };
  return reply;
}

// Where a re-attaching client left off: the Last-Event-ID header, else
// ?last_event_id=, else 0 (from the start).
Result<int64_t> LastEventId(const Call& c) {
  std::string text = c.req.headers.Get("Last-Event-ID");
  if (text.empty()) text = c.Query("last_event_id");
  if (text.empty()) return int64_t{0};
  int64_t id = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9' || id > (INT64_MAX - 9) / 10) {
      return InvalidArgumentError("last_event_id must be a non-negative integer",
                                  "last_event_id");
    }
    id = id * 10 + (ch - '0');
  }
  return id;
}

// Replays a run's events after the client's last id, then follows it live
// until its last event (docs/server.md "Runs"). The core's Open refuses a run that
// is missing or not the caller's before the stream begins: a plain 404.
Result<Reply> StreamRunEvents(HttpServer& s, Call& c) {
  ASSISTANT_ASSIGN_OR_RETURN(int64_t after, LastEventId(c));
  // Set by begin_stream, once the stream has its slot.
  auto follower = std::make_shared<std::unique_ptr<RunFollower>>();
  SetSseHeaders(c.res);
  c.res.SetStream("text/event-stream", [&s, follower, after,
                                        request_id = c.ctx.request_id](http::StreamWriter& sink) {
    SseWriter out(sink);
    bool gone = false;
    int64_t last_id = after;
    Status followed = (*follower)->Follow([&](const RunEvent& ev) {
      // An empty type is a keep-alive: an SSE comment.
      if (ev.type.empty()) {
        gone = !out.Comment("keep-alive");
      } else {
        gone = !out.Event(ev.id, ev.type, ev.data);
        last_id = ev.id;
      }
      return !gone;
    });
    if (!followed.ok() && !gone) {
      // The run was pruned or storage failed after the stream began. The
      // frame repeats the last id, so a client resuming stays in place.
      if (HttpStatusFor(followed) >= 500) {
        s.logger().Error("run attach failed",
                         {{"request_id", request_id}, {"cause", followed.ToString()}});
      }
      gone = !out.Event(last_id, "error", ErrorEventData(followed));
    }
    return !gone;
  });
  Reply reply{0, std::nullopt, true};
  reply.begin_stream = [&s, &c, follower, after]() -> Status {
    ASSISTANT_ASSIGN_OR_RETURN(*follower, s.core().runs().Open(Me(c), c.params[0], after));
    return Status();
  };
  return reply;
}

void AgentRoutes(HttpServer& s, std::vector<Route>& r) {
  auto& core = s.core();
  RouteDoc message_doc = Doc("Send a message to the agent; SSE with stream:true or "
                             "Accept: text/event-stream",
                             "agent", Ref("AgentMessageRequest"), Ref("AgentMessageResponse"));
  message_doc.sse = true;
  r.push_back(Make("POST", "/api/agent/message", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kObject, 200, message_doc,
                   [&s, &core](Call& c) -> Result<Reply> {
                     AgentRequest in;
                     ASSISTANT_ASSIGN_OR_RETURN(in.message, RequiredString(c.body, "message"));
                     ASSISTANT_ASSIGN_OR_RETURN(in.conversation_id,
                                                OptString(c.body, "conversation_id"));
                     ASSISTANT_ASSIGN_OR_RETURN(in.app_id, OptString(c.body, "app_id"));
                     ASSISTANT_ASSIGN_OR_RETURN(auto stream, OptBool(c.body, "stream"));
                     const bool sse =
                         stream.value_or(false) ||
                         c.req.headers.Get("Accept").find("text/event-stream") !=
                             std::string::npos;
                     if (sse) return StreamAgentReply(s, c, in);
                     StartOptions only_wait;
                     only_wait.listen = false;
                     ASSISTANT_ASSIGN_OR_RETURN(auto run,
                                                core.agent().Start(Me(c), in, c.ctx, only_wait));
                     ASSISTANT_ASSIGN_OR_RETURN(auto reply, run->Wait());
                     return Ok({{"conversation_id", reply.conversation_id},
                                {"run_id", reply.run_id},
                                {"message", MessageToJson(std::move(reply.message))},
                                {"usage", UsageJson(reply.usage)}});
                   }));
  r.back().doc.errors = {404, 502, 503, 504};
  r.push_back(Make("GET", "/api/agent/runs/{id}", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200,
                   Doc("An agent run's status", "agent", nullptr, Ref("RunEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto run, core.runs().Get(Me(c), c.params[0]));
                     return Ok({{"run", RunToJson(run)}});
                   }));
  RouteDoc events_doc = Doc("A run's events after Last-Event-ID (or ?last_event_id=), then "
                            "live until the run ends (SSE)",
                            "agent", nullptr, Json{{"type", "string"}}, {"last_event_id"});
  events_doc.sse = true;
  r.push_back(Make("GET", "/api/agent/runs/{id}/events", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200, events_doc,
                   [&s](Call& c) -> Result<Reply> { return StreamRunEvents(s, c); }));
  // 503 (with Retry-After) while the caller's or the server's stream slots are taken.
  r.back().doc.errors = {404, 503};
  r.push_back(Make("POST", "/api/agent/runs/{id}/cancel", Access::kAuthenticated,
                   RateClass::kApi, BodyKind::kNone, 202,
                   Doc("Stop a run; its partial reply is stored, marked cancelled", "agent",
                       nullptr, Ref("RunEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto run, core.runs().Cancel(Me(c), c.params[0]));
                     return Ok({{"run", RunToJson(run)}});
                   }));
  r.push_back(Make("GET", "/api/agent/history", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200,
                   Doc("Messages of a conversation (default: the latest), oldest first", "agent",
                       nullptr, Ref("MessagePage"), {"conversation_id", "limit"}),
                   [&core](Call& c) -> Result<Reply> {
                     std::optional<std::string> conv;
                     if (!c.Query("conversation_id").empty()) conv = c.Query("conversation_id");
                     ASSISTANT_ASSIGN_OR_RETURN(int limit, QueryInt(c.Query("limit"), "limit", 50));
                     ASSISTANT_ASSIGN_OR_RETURN(auto page, core.agent().History(Me(c), conv, limit));
                     return Ok(MessagesJson(page));
                   }));
  r.back().doc.errors = {404};
  r.push_back(Make("GET", "/api/agent/state", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200,
                   Doc("The agent state document of an app", "agent", nullptr, Ref("AgentState"),
                       {"app_id"}),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto st,
                                                core.agent_state().Get(Me(c), c.Query("app_id")));
                     return Ok(AgentStateJson(st));
                   }));
  r.push_back(Make("PUT", "/api/agent/state", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kAny, 200,
                   Doc("Replace the state document (the body is the document)", "agent",
                       Json{{"type", "object"}}, Ref("AgentState"), {"app_id"}),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(
                         auto st, core.agent_state().Put(Me(c), c.Query("app_id"), c.body));
                     return Ok(AgentStateJson(st));
                   }));
  r.push_back(Make("PATCH", "/api/agent/state", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kAny, 200,
                   Doc("Apply a JSON merge patch (RFC 7386) to the state", "agent",
                       Json{{"type", "object"}}, Ref("AgentState"), {"app_id"}),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(
                         auto st, core.agent_state().Patch(Me(c), c.Query("app_id"), c.body));
                     return Ok(AgentStateJson(st));
                   }));
  r.push_back(Make("GET", "/api/agent/memory", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 200,
                   Doc("The agent's memory facts, newest first", "agent", nullptr,
                       Ref("MemoryList")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto list, core.agent_state().ListMemories(Me(c)));
                     Json out = Json::array();
                     for (const auto& m : list) out.push_back(MemoryJson(m));
                     return Ok({{"memories", std::move(out)}});
                   }));
  r.push_back(Make("POST", "/api/agent/memory", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kObject, 201,
                   Doc("Add a memory fact", "agent", Ref("MemoryInput"), Ref("MemoryEnvelope")),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto content, RequiredString(c.body, "content"));
                     ASSISTANT_ASSIGN_OR_RETURN(auto m, core.agent_state().AddMemory(Me(c), content));
                     return Ok({{"memory", MemoryJson(m)}});
                   }));
  r.push_back(Make("DELETE", "/api/agent/memory/{id}", Access::kAuthenticated, RateClass::kApi,
                   BodyKind::kNone, 204, Doc("Forget a memory fact", "agent", nullptr, nullptr),
                   [&core](Call& c) -> Result<Reply> {
                     ASSISTANT_RETURN_IF_ERROR(core.agent_state().DeleteMemory(Me(c), c.params[0]));
                     return NoContent();
                   }));
}

// ------------------------------------------------------------------ operations

void OpsRoutes(HttpServer& s, std::vector<Route>& r) {
  r.push_back(Make("GET", "/healthz", Access::kPublic, RateClass::kNone, BodyKind::kNone, 200,
                   Doc("The process is up", "operations", nullptr, Ref("Health")),
                   [](Call&) -> Result<Reply> { return Ok({{"status", "ok"}}); }));
  r.push_back(Make("GET", "/readyz", Access::kPublic, RateClass::kNone, BodyKind::kNone, 200,
                   Doc("Storage is reachable (503 otherwise)", "operations", nullptr, Ref("Health")),
                   [&s](Call&) -> Result<Reply> {
                     Status ping = s.core().storage().Ping();
                     if (!ping.ok()) {
                       return UnavailableError("storage unreachable: " + ping.ToString(),
                                               "not_ready");
                     }
                     return Ok({{"status", "ready"}});
                   }));
  RouteDoc metrics_doc = Doc("Prometheus metrics (text exposition format)", "operations",
                             nullptr, Json{{"type", "string"}});
  r.push_back(Make("GET", "/metrics", Access::kPublic, RateClass::kNone, BodyKind::kNone, 200,
                   metrics_doc, [&s](Call& c) -> Result<Reply> {
                     if (!MetricsAllowed(s.config().metrics_token,
                                         c.req.headers.Get("Authorization"))) {
                       return UnauthenticatedError(
                           "/metrics needs the token of --metrics-token-file", "invalid_token");
                     }
                     c.res.SetBody(s.RenderMetrics(), "text/plain; version=0.0.4");
                     return Reply{0, std::nullopt, true};
                   }));
  r.back().doc.errors = {401};
  r.push_back(Make("GET", "/openapi.json", Access::kPublic, RateClass::kNone, BodyKind::kNone,
                   200,
                   Doc("This API's OpenAPI 3.1 document", "operations", nullptr,
                       Json{{"type", "object"}}),
                   [&s](Call& c) -> Result<Reply> {
                     c.res.SetBody(s.openapi(), "application/json");
                     return Reply{0, std::nullopt, true};
                   }));
}

}  // namespace

std::vector<Route> BuildRoutes(HttpServer& server) {
  std::vector<Route> routes;
  AuthRoutes(server, routes);
  UserRoutes(server, routes);
  TaskRoutes(server, routes);
  ConversationRoutes(server, routes);
  AgentRoutes(server, routes);
  AppRoutes(server, routes);
  OpsRoutes(server, routes);
  OpenAiRoutes(server, routes);
  WebRoutes(server, routes);
  return routes;
}

}  // namespace assistant::server
