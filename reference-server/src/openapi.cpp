// /openapi.json, generated from the route table itself so that no route can
// be served without being described (and a test checks it stays so).
#include "server.hpp"
#include "version_info.hpp"

namespace assistant::server {
namespace {

Json Str() { return {{"type", "string"}}; }
Json StrOrNull() { return {{"type", {"string", "null"}}}; }
Json Time() { return {{"type", "string"}, {"format", "date-time"}}; }
Json TimeOrNullSchema() { return {{"type", {"string", "null"}}, {"format", "date-time"}}; }
Json Int() { return {{"type", "integer"}}; }
Json Bool() { return {{"type", "boolean"}}; }
Json Ref(const char* name) { return {{"$ref", std::string("#/components/schemas/") + name}}; }
Json ArrayOf(Json items) { return {{"type", "array"}, {"items", std::move(items)}}; }
Json Obj(Json props, std::vector<std::string> required = {}) {
  Json o = {{"type", "object"}, {"properties", std::move(props)}};
  if (!required.empty()) o["required"] = required;
  return o;
}

Json Schemas() {
  Json s;
  s["Error"] = Obj({{"error", Obj({{"code", Str()},
                                   {"message", Str()},
                                   {"request_id", Str()},
                                   {"field", Str()}},
                                  {"code", "message", "request_id"})}},
                   {"error"});
  s["User"] = Obj({{"id", Str()},
                   {"email", Str()},
                   {"name", Str()},
                   {"email_verified", Bool()},
                   {"preferences", {{"type", "object"}}},
                   {"created_at", Time()},
                   {"updated_at", Time()}},
                  {"id", "email", "name", "email_verified", "created_at", "updated_at"});
  s["UserEnvelope"] = Obj({{"user", Ref("User")}}, {"user"});
  s["UserPatch"] = Obj({{"name", Str()}, {"preferences", {{"type", "object"}}}});
  s["RegisterRequest"] = Obj({{"email", Str()},
                              {"password", {{"type", "string"}, {"minLength", 8}, {"maxLength", 1024}}},
                              {"name", Str()}},
                             {"email", "password"});
  s["LoginRequest"] = Obj({{"email", Str()}, {"password", Str()}}, {"email", "password"});
  s["RefreshRequest"] = Obj({{"refresh_token", Str()}}, {"refresh_token"});
  s["ForgotPasswordRequest"] = Obj({{"email", Str()}}, {"email"});
  s["ResetPasswordRequest"] = Obj({{"token", Str()}, {"password", Str()}}, {"token", "password"});
  s["TokenRequest"] = Obj({{"token", Str()}}, {"token"});
  s["AuthResponse"] = Obj({{"user", Ref("User")},
                           {"access_token", Str()},
                           {"refresh_token", Str()},
                           {"token_type", {{"type", "string"}, {"const", "Bearer"}}},
                           {"expires_in", Int()}},
                          {"user", "access_token", "refresh_token", "token_type", "expires_in"});
  s["VerifyResponse"] = Obj({{"valid", Bool()}, {"user", Ref("User")}, {"claims", {{"type", "object"}}}},
                            {"valid", "user", "claims"});
  s["Session"] = Obj({{"id", Str()},
                      {"created_at", Time()},
                      {"last_used_at", Time()},
                      {"expires_at", Time()},
                      {"revoked_at", TimeOrNullSchema()},
                      {"ip", Str()},
                      {"user_agent", StrOrNull()},
                      {"current", Bool()}},
                     {"id", "created_at", "expires_at", "current"});
  s["SessionList"] = Obj({{"sessions", ArrayOf(Ref("Session"))}}, {"sessions"});
  s["ApiKey"] = Obj({{"id", Str()},
                     {"name", Str()},
                     {"prefix", Str()},
                     {"scopes", ArrayOf(Str())},
                     {"expires_at", TimeOrNullSchema()},
                     {"last_used_at", TimeOrNullSchema()},
                     {"created_at", Time()}},
                    {"id", "name", "prefix", "scopes", "created_at"});
  s["ApiKeyRequest"] = Obj({{"name", Str()},
                            {"scopes", ArrayOf(Str())},
                            {"expires_in", {{"type", {"integer", "null"}}}}},
                           {"name", "scopes"});
  s["CreatedApiKey"] = Obj({{"api_key", Ref("ApiKey")}, {"key", Str()}}, {"api_key", "key"});
  s["ApiKeyList"] = Obj({{"api_keys", ArrayOf(Ref("ApiKey"))}}, {"api_keys"});
  s["Jwks"] = Obj({{"keys", ArrayOf({{"type", "object"}})}}, {"keys"});
  s["Accepted"] = Obj({{"status", Str()}}, {"status"});
  s["AuditEvent"] = Obj({{"id", Str()},
                         {"type", Str()},
                         {"outcome", {{"type", "string"}, {"enum", {"ok", "failed"}}}},
                         {"ip", Str()},
                         {"user_agent", StrOrNull()},
                         {"request_id", Str()},
                         {"created_at", Time()},
                         {"details", {{"type", "object"}}}},
                        {"id", "type", "outcome", "created_at"});
  s["AuditList"] = Obj({{"events", ArrayOf(Ref("AuditEvent"))}, {"next_cursor", StrOrNull()}},
                       {"events", "next_cursor"});
  s["UserDataEntry"] = Obj({{"namespace", Str()}, {"key", Str()}, {"value", Json::object()},
                            {"updated_at", Time()}},
                           {"namespace", "key", "value", "updated_at"});
  s["UserDataList"] = Obj(
      {{"namespace", Str()},
       {"entries", ArrayOf(Obj({{"key", Str()}, {"value", Json::object()}, {"updated_at", Time()}},
                               {"key", "value", "updated_at"}))}},
      {"namespace", "entries"});
  s["Task"] = Obj({{"id", Str()},
                   {"user_id", Str()},
                   {"title", {{"type", "string"}, {"minLength", 1}, {"maxLength", 500}}},
                   {"description", Str()},
                   {"completed", Bool()},
                   {"due_at", TimeOrNullSchema()},
                   {"priority", Int()},
                   {"created_at", Time()},
                   {"updated_at", Time()}},
                  {"id", "title", "completed", "created_at", "updated_at"});
  s["TaskInput"] = Obj({{"title", {{"type", "string"}, {"minLength", 1}, {"maxLength", 500}}},
                        {"description", Str()},
                        {"due_at", TimeOrNullSchema()},
                        {"priority", Int()}},
                       {"title"});
  s["TaskPatch"] = Obj({{"title", Str()},
                        {"description", Str()},
                        {"completed", Bool()},
                        {"due_at", TimeOrNullSchema()},
                        {"priority", Int()}});
  s["TaskEnvelope"] = Obj({{"task", Ref("Task")}}, {"task"});
  s["TaskList"] = Obj({{"tasks", ArrayOf(Ref("Task"))}, {"next_cursor", StrOrNull()}},
                      {"tasks", "next_cursor"});
  s["Deleted"] = Obj({{"deleted", Int()}}, {"deleted"});
  s["Conversation"] = Obj({{"id", Str()},
                           {"user_id", Str()},
                           {"app_id", StrOrNull()},
                           {"title", Str()},
                           {"created_at", Time()},
                           {"updated_at", Time()}},
                          {"id", "title", "created_at", "updated_at"});
  s["ConversationInput"] = Obj({{"title", Str()}, {"app_id", StrOrNull()}});
  s["ConversationPatch"] = Obj({{"title", Str()}});
  s["ConversationEnvelope"] = Obj({{"conversation", Ref("Conversation")}}, {"conversation"});
  s["ConversationList"] = Obj(
      {{"conversations", ArrayOf(Ref("Conversation"))}, {"next_cursor", StrOrNull()}},
      {"conversations", "next_cursor"});
  s["ForkRequest"] = Obj({{"message_id", Str()}}, {"message_id"});
  s["Message"] = Obj({{"id", Str()},
                      {"conversation_id", Str()},
                      {"role", {{"type", "string"}, {"enum", {"user", "assistant", "system", "tool"}}}},
                      {"content", Str()},
                      {"tool_calls", {{"type", {"array", "null"}}}},
                      {"tool_call_id", StrOrNull()},
                      {"status", {{"type", "string"}, {"enum", {"completed", "cancelled", "failed"}}}},
                      {"created_at", Time()}},
                     {"id", "role", "content"});
  s["MessagePage"] = Obj({{"messages", ArrayOf(Ref("Message"))}, {"has_more", Bool()}},
                         {"messages", "has_more"});
  s["Usage"] = Obj({{"prompt_tokens", Int()}, {"completion_tokens", Int()}, {"total_tokens", Int()}},
                   {"prompt_tokens", "completion_tokens", "total_tokens"});
  s["AgentMessageRequest"] = Obj({{"message", {{"type", "string"}, {"minLength", 1}, {"maxLength", 32000}}},
                                  {"conversation_id", StrOrNull()},
                                  {"app_id", StrOrNull()},
                                  {"stream", Bool()}},
                                 {"message"});
  s["AgentMessageResponse"] = Obj({{"conversation_id", Str()},
                                   {"run_id", Str()},
                                   {"message", Ref("Message")},
                                   {"usage", Ref("Usage")}},
                                  {"conversation_id", "message", "usage"});
  s["Run"] = Obj({{"id", Str()},
                  {"conversation_id", StrOrNull()},
                  {"message_id", Str()},
                  {"status", {{"type", "string"},
                              {"enum", {"running", "completed", "cancelled", "failed"}}}},
                  {"created_at", Time()},
                  {"finished_at", {{"type", {"string", "null"}}, {"format", "date-time"}}}},
                 {"id", "conversation_id", "message_id", "status", "created_at", "finished_at"});
  s["RunEnvelope"] = Obj({{"run", Ref("Run")}}, {"run"});
  s["AgentState"] = Obj({{"state", {{"type", "object"}}}, {"updated_at", Time()}},
                        {"state", "updated_at"});
  s["Memory"] = Obj({{"id", Str()}, {"content", Str()}, {"created_at", Time()}},
                    {"id", "content", "created_at"});
  s["MemoryInput"] = Obj({{"content", {{"type", "string"}, {"minLength", 1}, {"maxLength", 2000}}}},
                         {"content"});
  s["MemoryEnvelope"] = Obj({{"memory", Ref("Memory")}}, {"memory"});
  s["MemoryList"] = Obj({{"memories", ArrayOf(Ref("Memory"))}}, {"memories"});
  s["Health"] = Obj({{"status", Str()}}, {"status"});
  // The OpenAI-compatible routes (/v1): OpenAI's own shapes.
  s["OpenAIError"] = Obj({{"error", Obj({{"message", Str()},
                                         {"type", Str()},
                                         {"param", StrOrNull()},
                                         {"code", StrOrNull()}},
                                        {"message", "type", "param", "code"})}},
                         {"error"});
  s["OpenAIModel"] = Obj({{"id", Str()},
                          {"object", {{"type", "string"}, {"const", "model"}}},
                          {"created", Int()},
                          {"owned_by", Str()}},
                         {"id", "object", "created", "owned_by"});
  s["OpenAIModelList"] = Obj({{"object", {{"type", "string"}, {"const", "list"}}},
                              {"data", ArrayOf(Ref("OpenAIModel"))}},
                             {"object", "data"});
  s["OpenAIChatMessage"] = Obj(
      {{"role", {{"type", "string"},
                 {"enum", {"system", "developer", "user", "assistant", "tool"}}}},
       {"content", {{"oneOf", {Str(), ArrayOf(Obj({{"type", {{"const", "text"}}}, {"text", Str()}},
                                                  {"type", "text"})),
                               {{"type", "null"}}}}}},
       {"tool_calls", ArrayOf({{"type", "object"}})},
       {"tool_call_id", Str()},
       {"name", Str()}},
      {"role"});
  s["App"] = Obj({{"id", Str()},
                  {"name", Str()},
                  {"scopes", ArrayOf(Str())},
                  {"allowed_origins", ArrayOf(Str())}},
                 {"id", "name", "scopes", "allowed_origins"});
  s["AppEnvelope"] = Obj({{"app", Ref("App")}}, {"app"});
  s["AppList"] = Obj({{"apps", ArrayOf(Ref("App"))}}, {"apps"});
  s["OpenAIChatCompletionRequest"] = Obj(
      {{"model", Str()},
       {"messages", {{"type", "array"}, {"minItems", 1}, {"items", Ref("OpenAIChatMessage")}}},
       {"stream", Bool()},
       {"stream_options", Obj({{"include_usage", Bool()}})},
       {"store", Bool()},
       {"n", {{"type", "integer"}, {"const", 1}}},
       {"temperature", {{"type", "number"}, {"minimum", 0}, {"maximum", 2}}},
       {"top_p", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
       {"max_tokens", {{"type", "integer"}, {"minimum", 1}}},
       {"max_completion_tokens", {{"type", "integer"}, {"minimum", 1}}},
       {"seed", Int()},
       {"stop", {{"oneOf", Json::array({Str(), {{"type", "array"}, {"maxItems", 4},
                                                {"items", Str()}}})}}},
       {"logprobs", {{"type", "boolean"}, {"const", false}}}},
      {"model", "messages"});
  s["OpenAIChatCompletion"] = Obj(
      {{"id", Str()},
       {"object", {{"type", "string"}, {"const", "chat.completion"}}},
       {"created", Int()},
       {"model", Str()},
       {"choices", ArrayOf(Obj({{"index", Int()},
                                {"message", Obj({{"role", Str()},
                                                 {"content", Str()},
                                                 {"refusal", {{"type", "null"}}}})},
                                {"logprobs", {{"type", "null"}}},
                                {"finish_reason", Str()}}))},
       {"usage", Ref("Usage")}},
      {"id", "object", "created", "model", "choices", "usage"});
  return s;
}

Json ErrorResponse(const char* description) {
  return {{"description", description},
          {"content", {{"application/json", {{"schema", Ref("Error")}}}}}};
}

// The words for an error status a route lists in RouteDoc::errors.
const char* ErrorDescription(int status) {
  switch (status) {
    case 400:
      return "The request does not apply to this credential or state";
    case 401:
      return "Wrong credentials, or an invalid or used token";
    case 403:
      return "A cookie-authenticated request without the CSRF header, or a missing scope";
    case 404:
      return "A referenced resource is not found, or not the caller's";
    case 409:
      return "Conflicts with an existing resource";
    case 502:
      return "The model provider failed or answered badly";
    case 503:
      return "Temporarily unavailable (e.g. too many open streams); retry";
    case 504:
      return "The model provider timed out";
    default:
      return "Error";
  }
}

std::string OperationId(const Route& r) {
  std::string id;
  for (char c : r.method) id += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char c : r.path) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      id += c;
    } else if (!id.empty() && id.back() != '_') {
      id += '_';
    }
  }
  while (!id.empty() && id.back() == '_') id.pop_back();
  return id;
}

}  // namespace

Json BuildOpenApi(const std::vector<Route>& routes) {
  Json paths = Json::object();
  for (const Route& r : routes) {
    Json op;
    op["operationId"] = OperationId(r);
    op["summary"] = r.doc.summary;
    op["tags"] = {r.doc.tag};
    Json params = Json::array();
    for (size_t i = 0; i < r.path.size(); ++i) {
      if (r.path[i] != '{') continue;
      const size_t end = r.path.find('}', i);
      Json param = {{"name", r.path.substr(i + 1, end - i - 1)},
                    {"in", "path"},
                    {"required", true},
                    {"schema", Str()}};
      // OpenAPI has no multi-segment parameter: an extension says so.
      if (r.rest && r.path.find('{', end) == std::string::npos) param["x-rest-of-path"] = true;
      params.push_back(std::move(param));
    }
    for (const auto& q : r.doc.query) {
      params.push_back({{"name", q}, {"in", "query"}, {"required", false},
                        {"schema", (q == "limit") ? Int() : Str()}});
    }
    if (!params.empty()) op["parameters"] = std::move(params);
    if (!r.doc.request.is_null()) {
      op["requestBody"] = {{"required", r.body == BodyKind::kAny},
                           {"content", {{"application/json", {{"schema", r.doc.request}}}}}};
    }
    Json ok = {{"description", "Success"}};
    if (!r.doc.response.is_null()) {
      const bool text = r.path == "/metrics";
      ok["content"][text ? "text/plain" : "application/json"] = {{"schema", r.doc.response}};
      if (r.doc.sse) {
        ok["content"]["text/event-stream"] = {
            {"schema", {{"type", "string"},
                        {"description",
                         r.error_body != nullptr
                             ? "OpenAI chat.completion.chunk objects in data: lines, then "
                               "data: [DONE] (or a final data: {\"error\":{...}})"
                             : "SSE events: message.start, message.delta, tool.call, "
                               "tool.result, message.done, error; each with an integer id"}}}};
      }
    }
    Json responses = {{std::to_string(r.success), ok}};
    if (r.body != BodyKind::kNone) {
      responses["400"] = ErrorResponse("Malformed JSON or invalid UTF-8");
      responses["413"] = ErrorResponse("Body over the limit");
      responses["415"] = ErrorResponse("Not application/json");
      if (r.error_status == nullptr) {
        responses["422"] = ErrorResponse("A field is invalid (named in error.field)");
      } else {
        responses["400"] = ErrorResponse("Malformed JSON, or a field is invalid (named in error.param)");
      }
    }
    if (r.access == Access::kAuthenticated) {
      responses["401"] = ErrorResponse("Missing or invalid credential");
      responses["403"] = ErrorResponse("The credential lacks a scope");
      op["security"] = {{{"bearer", Json::array()}}, {{"cookie", Json::array()}}};
    } else {
      op["security"] = Json::array();
    }
    if (r.path.find('{') != std::string::npos) {
      responses["404"] = ErrorResponse("Not found, or not the caller's");
    }
    if (!r.doc.query.empty()) {
      if (!responses.contains("400")) {
        responses["400"] = ErrorResponse("A malformed query parameter (e.g. cursor)");
      }
      if (!responses.contains("422")) {
        responses["422"] = ErrorResponse("A query parameter is invalid (named in error.field)");
      }
    }
    for (int status : r.doc.errors) {
      const std::string key = std::to_string(status);
      if (status == 304) {
        // Not an error: the client's copy (If-None-Match) is current.
        responses[key] = Json{{"description", "Not modified: the ETag matches; no body"}};
      } else if (!responses.contains(key)) {
        responses[key] = ErrorResponse(ErrorDescription(status));
      }
    }
    responses["414"] = ErrorResponse("The request line is too long");
    // The transport's refusal of an oversized header block (docs/server.md
    // "Connections and limits"), whatever the route.
    responses["431"] = ErrorResponse("The header fields are too large or too many");
    if (r.rate != RateClass::kNone) responses["429"] = ErrorResponse("Rate limited; see Retry-After");
    responses["500"] = ErrorResponse("Internal error (details only in the server log)");
    if (r.error_body != nullptr) {
      // The OpenAI-compatible routes answer errors in OpenAI's shape; an
      // unknown model is their 404.
      responses["404"] = ErrorResponse("Unknown model (code model_not_found)");
      for (auto it = responses.begin(); it != responses.end(); ++it) {
        if (it.key() != std::to_string(r.success)) {
          (*it)["content"]["application/json"]["schema"] = Ref("OpenAIError");
        }
      }
    }
    if (r.doc.passthrough) {
      // Any status and body can be the app's own, so none is promised; the
      // server's own refusals carry the Error envelope (the summary says so).
      for (auto it = responses.begin(); it != responses.end(); ++it) it->erase("content");
      responses["default"] = {{"description", "The app's answer, as the app sent it"}};
    }
    op["responses"] = std::move(responses);
    std::string method;
    for (char c : r.method) method += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    paths[r.path][method] = std::move(op);
  }
  return {{"openapi", "3.1.0"},
          {"info",
           {{"title", "assistant-server"},
            {"version", kServerVersion},
            {"description", "The libassistant reference backend; described in docs/http-api.md."}}},
          {"paths", std::move(paths)},
          {"components",
           {{"schemas", Schemas()},
            {"securitySchemes",
             {{"bearer", {{"type", "http"}, {"scheme", "bearer"},
                          {"description", "An access token (JWT) or an API key (ak_...)"}}},
              {"cookie", {{"type", "apiKey"}, {"in", "cookie"}, {"name", "access_token"}}}}}}}};
}

}  // namespace assistant::server
