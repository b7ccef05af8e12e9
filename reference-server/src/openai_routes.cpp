// The OpenAI-compatible routes (openai_routes.hpp). Handlers translate the
// Chat Completions wire format to an AgentRequest and the agent's reply or
// events back; the agent decides everything else.
#include "openai_routes.hpp"

#include <chrono>
#include <memory>
#include <utility>

#include "assistant/http_status.hpp"
#include "common/json_text.hpp"
#include "common/openai_http_status.hpp"
#include "render.hpp"

namespace assistant::server {
namespace {

constexpr const char* kScope = "agent";
constexpr const char* kOwnedBy = "libassistant";

Json Ref(const char* name) {
  return {{"$ref", std::string("#/components/schemas/") + name}};
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Param(const std::string& base, size_t index) {
  return base + "[" + std::to_string(index) + "]";
}

Status Invalid(const std::string& param, const std::string& message,
               const char* reason = "invalid_field") {
  return InvalidArgumentError(param + " " + message, param, reason);
}

// A string member, or nullopt when absent or null; anything else is invalid.
Result<std::optional<std::string>> MemberString(const Json& obj, const char* key,
                                                const std::string& param) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Invalid(param, "must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

// A number member, or nullopt when absent or null.
Result<std::optional<double>> MemberNumber(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<double>();
  if (!it->is_number()) return Invalid(key, "must be a number");
  return std::optional<double>(it->get<double>());
}

// `content`: a string, or an array of {type:"text", text} parts (joined by
// newlines, as vLLM does); absent or null reads as empty where allowed.
Result<std::string> ContentText(const Json& message, const std::string& param, bool allow_null) {
  auto it = message.find("content");
  if (it == message.end() || it->is_null()) {
    if (allow_null) return std::string();
    return Invalid(param, "is required", "missing_field");
  }
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) return Invalid(param, "must be a string or an array of text parts");
  std::string text;
  for (size_t k = 0; k < it->size(); ++k) {
    const Json& part = (*it)[k];
    const std::string part_param = Param(param, k);
    if (!part.is_object()) return Invalid(part_param, "must be an object");
    ASSISTANT_ASSIGN_OR_RETURN(auto type, MemberString(part, "type", part_param + ".type"));
    if (type.value_or("") != "text") {
      // Images, audio and files would be silently dropped: refuse instead.
      return Invalid(part_param + ".type", "must be \"text\": only text parts are supported",
                     "unsupported_content");
    }
    ASSISTANT_ASSIGN_OR_RETURN(auto part_text, MemberString(part, "text", part_param + ".text"));
    if (!part_text) return Invalid(part_param + ".text", "is required", "missing_field");
    if (k > 0) text += '\n';
    text += *part_text;
  }
  return text;
}

// An assistant message's tool_calls: [{id, type:"function", function:{name,
// arguments (JSON text)}}].
Result<std::vector<ToolCall>> ToolCalls(const Json& message, const std::string& param) {
  std::vector<ToolCall> calls;
  auto it = message.find("tool_calls");
  if (it == message.end() || it->is_null()) return calls;
  if (!it->is_array()) return Invalid(param, "must be an array");
  for (size_t k = 0; k < it->size(); ++k) {
    const Json& c = (*it)[k];
    const std::string p = Param(param, k);
    if (!c.is_object()) return Invalid(p, "must be an object");
    ToolCall call;
    ASSISTANT_ASSIGN_OR_RETURN(auto id, MemberString(c, "id", p + ".id"));
    if (!id || id->empty()) return Invalid(p + ".id", "is required", "missing_field");
    call.id = *id;
    ASSISTANT_ASSIGN_OR_RETURN(auto type, MemberString(c, "type", p + ".type"));
    if (type && *type != "function") return Invalid(p + ".type", "must be \"function\"");
    auto fn = c.find("function");
    if (fn == c.end() || !fn->is_object()) {
      return Invalid(p + ".function", "must be an object", "missing_field");
    }
    ASSISTANT_ASSIGN_OR_RETURN(auto name, MemberString(*fn, "name", p + ".function.name"));
    if (!name || name->empty()) return Invalid(p + ".function.name", "is required", "missing_field");
    call.name = *name;
    ASSISTANT_ASSIGN_OR_RETURN(auto args,
                               MemberString(*fn, "arguments", p + ".function.arguments"));
    // A string inside the body: the body's depth check did not see into it.
    const std::string arguments = args.value_or("{}");
    call.arguments = JsonNestingDepth(arguments) > kMaxJsonDepth
                         ? Json(Json::value_t::discarded)
                         : Json::parse(arguments, nullptr, /*allow_exceptions=*/false);
    if (!call.arguments.is_object()) {
      return Invalid(p + ".function.arguments", "must be a JSON object serialised as a string");
    }
    calls.push_back(std::move(call));
  }
  return calls;
}

// The request fields this endpoint cannot honour are refused rather than
// ignored, since ignoring them would return something else than asked.
Status RefuseUnsupported(const Json& body) {
  ASSISTANT_ASSIGN_OR_RETURN(auto n, OptInt(body, "n"));
  if (n && *n != 1) return Invalid("n", "must be 1: the agent gives one reply");
  ASSISTANT_ASSIGN_OR_RETURN(auto logprobs, OptBool(body, "logprobs"));
  if (logprobs.value_or(false)) {
    return Invalid("logprobs", "is not supported: the reply carries no token probabilities",
                   "unsupported_parameter");
  }
  if (auto it = body.find("top_logprobs"); it != body.end() && !it->is_null()) {
    return Invalid("top_logprobs", "is not supported: the reply carries no token probabilities",
                   "unsupported_parameter");
  }
  if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return Invalid("tools", "must be an array");
    if (!it->empty()) {
      return Invalid("tools",
                     "is not supported: the agent's own tools run on the server and the reply "
                     "is its final text",
                     "unsupported_parameter");
    }
  }
  if (auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return Invalid("response_format", "must be an object");
    ASSISTANT_ASSIGN_OR_RETURN(auto type,
                               MemberString(*it, "type", "response_format.type"));
    if (type.value_or("text") != "text") {
      return Invalid("response_format.type", "must be \"text\": structured output is not supported",
                     "unsupported_parameter");
    }
  }
  if (auto it = body.find("modalities"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return Invalid("modalities", "must be an array");
    for (const Json& m : *it) {
      if (!m.is_string() || m.get<std::string>() != "text") {
        return Invalid("modalities", "may only hold \"text\"", "unsupported_parameter");
      }
    }
  }
  return Status();
}

// The sampling settings go to the provider through the agent, which checks
// their ranges and refuses them when its provider cannot honour them.
// max_completion_tokens is OpenAI's newer name for max_tokens.
Result<Sampling> ParseSampling(const Json& body) {
  Sampling s;
  ASSISTANT_ASSIGN_OR_RETURN(s.temperature, MemberNumber(body, "temperature"));
  ASSISTANT_ASSIGN_OR_RETURN(s.top_p, MemberNumber(body, "top_p"));
  ASSISTANT_ASSIGN_OR_RETURN(auto max_tokens, OptInt(body, "max_tokens"));
  ASSISTANT_ASSIGN_OR_RETURN(auto max_completion, OptInt(body, "max_completion_tokens"));
  if (max_tokens && max_completion && *max_tokens != *max_completion) {
    return Invalid("max_completion_tokens", "must equal max_tokens when both are given");
  }
  s.max_tokens = max_completion ? max_completion : max_tokens;
  ASSISTANT_ASSIGN_OR_RETURN(s.seed, OptInt(body, "seed"));
  auto stop = body.find("stop");
  if (stop != body.end() && stop->is_string()) {
    s.stop.push_back(stop->get<std::string>());
  } else if (stop != body.end() && !stop->is_null()) {
    if (!stop->is_array()) return Invalid("stop", "must be a string or an array of strings");
    ASSISTANT_ASSIGN_OR_RETURN(s.stop, StringList(body, "stop"));
  }
  return s;
}

Status ModelExists(const std::string& model) {
  if (model == kOpenAiModelId) return Status();
  return NotFoundError("The model `" + model + "` does not exist; GET /v1/models lists \"" +
                           std::string(kOpenAiModelId) + "\"",
                       "model_not_found");
}

Json ModelJson(int64_t created) {
  return {{"id", kOpenAiModelId}, {"object", "model"}, {"created", created}, {"owned_by", kOwnedBy}};
}

// `/v1/models` needs scope agent, as a turn does (Agent::Start checks a
// turn's itself).
Status RequireAgentScope(const Principal& p) {
  if (p.HasScope(kScope)) return Status();
  return PermissionDeniedError("this credential lacks scope agent, which /v1 needs");
}

// The agent names the turn's text "message"; the client sent it as the last
// message's content.
Status AsOpenAiParam(Status s, const std::string& message_param) {
  if (s.field() != "message") return s;
  std::string text = s.message();
  if (text.rfind("message", 0) == 0) text = message_param + text.substr(7);
  return Status(s.code(), std::move(text), s.reason(), message_param);
}

Json CompletionJson(const AgentReply& reply, const std::string& model, int64_t created) {
  return {{"id", "chatcmpl-" + reply.message.id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", model},
          {"choices",
           Json::array({{{"index", 0},
                         {"message",
                          {{"role", "assistant"},
                           {"content", reply.message.content},
                           {"refusal", nullptr}}},
                         {"logprobs", nullptr},
                         {"finish_reason", "stop"}}})},
          {"usage", UsageJson(reply.usage)}};
}

std::string DataFrame(const Json& data) { return "data: " + Dump(data) + "\n\n"; }

// The reply as chat.completion.chunk objects in SSE data lines (no event
// names: the SDKs treat a named event as something else), then
// `data: [DONE]`. Tool calls ran on the server and are not shown. The turn
// runs on the agent's pool and this worker follows its events; a failure
// after the headers went out is the run's own error, as a final
// `data: {"error":{...}}` frame, which the SDKs raise as an APIError. When
// the client goes away the core goes on or cancels (--on-disconnect; a turn
// that stores nothing, /v1's default, is always cancelled).
Reply StreamCompletion(HttpServer& s, Call& c, const ChatCompletionInput& input,
                       int64_t created) {
  // Set by begin_stream, before the provider first runs.
  auto run = std::make_shared<std::unique_ptr<AgentRun>>();
  const std::string model = input.model;
  const std::string message_param = input.message_param;
  const bool include_usage = input.include_usage;
  const std::string request_id = c.ctx.request_id;
  c.res.headers.Add("Cache-Control", "no-cache");
  c.res.headers.Add("X-Accel-Buffering", "no");
  c.res.SetStream(
      "text/event-stream",
      [&s, run, model, message_param, include_usage, request_id, created](
          http::StreamWriter& sink) {
        const std::string id = "chatcmpl-" + (*run)->message_id();
        bool gone = false;
        auto write = [&](const std::string& frame) {
          if (gone) return false;
          gone = !sink.Write(frame);
          return !gone;
        };
        // OpenAI sends usage:null on every chunk but the last when usage was asked for.
        auto chunk = [&](Json choices) {
          Json j = {{"id", id},
                    {"object", "chat.completion.chunk"},
                    {"created", created},
                    {"model", model},
                    {"choices", std::move(choices)}};
          if (include_usage) j["usage"] = nullptr;
          return j;
        };
        auto choice = [](Json delta, Json finish_reason) {
          return Json::array({{{"index", 0},
                               {"delta", std::move(delta)},
                               {"logprobs", nullptr},
                               {"finish_reason", std::move(finish_reason)}}});
        };
        (*run)->Attach(0, [&](const RunEvent& ev) {
               if (ev.type == "message.start") {
                 return write(DataFrame(chunk(choice(
                     {{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}, nullptr))));
               }
               if (ev.type == "message.delta") {
                 return write(DataFrame(chunk(
                     choice({{"content", ev.data.value("content", std::string())}}, nullptr))));
               }
               // Keep-alives, tool.call and tool.result (they ran here) show
               // nothing; message.done and error end the stream below.
               return true;
             })
            .IgnoreError();  // its own run, from memory: it cannot fail
        if (gone) return false;
        // The run's last event was delivered, so its reply (or the failure
        // its error event carries) is ready.
        Result<AgentReply> reply = (*run)->Wait();
        if (reply.ok()) {
          write(DataFrame(chunk(choice(Json::object(), "stop"))));
          if (include_usage) {
            Json last = chunk(Json::array());
            last["usage"] = UsageJson(reply->usage);
            write(DataFrame(last));
          }
          write("data: [DONE]\n\n");
        } else {
          const Status failure = AsOpenAiParam(reply.status(), message_param);
          const int http_status = OpenAiHttpStatusFor(failure);
          if (http_status >= 500) {
            s.logger().Error("chat completion stream failed",
                             {{"request_id", request_id}, {"cause", failure.ToString()}});
          }
          const Json err = ClientError(failure);
          write(DataFrame(OpenAiErrorBody(http_status, err["code"].get<std::string>(),
                                          err["message"].get<std::string>(), request_id,
                                          failure.field())));
        }
        return !gone;
      });
  Reply reply{200, std::nullopt, true};
  reply.begin_stream = [&s, &c, request = input.request, message_param, run]() -> Status {
    auto started = s.core().agent().Start(*c.principal, request, c.ctx);
    if (!started.ok()) return AsOpenAiParam(started.status(), message_param);
    *run = std::move(*started);
    return Status();
  };
  return reply;
}

Route Make(const char* method, const char* path, BodyKind body, RouteDoc doc, Handler handler) {
  Route r;
  r.method = method;
  r.path = path;
  // Any credential of this API is accepted (docs/server.md); the SDKs send
  // the API key as a Bearer token.
  r.access = Access::kAuthenticated;
  r.rate = RateClass::kApi;
  r.body = body;
  r.success = 200;
  r.doc = std::move(doc);
  r.handler = std::move(handler);
  r.error_body = &OpenAiErrorBody;
  r.error_status = &OpenAiHttpStatusFor;
  return r;
}

RouteDoc Doc(const char* summary, Json request, Json response, bool sse = false) {
  RouteDoc d;
  d.summary = summary;
  d.tag = "openai";
  d.request = std::move(request);
  d.response = std::move(response);
  d.sse = sse;
  return d;
}

}  // namespace

Result<ChatCompletionInput> ParseChatCompletion(const Json& body) {
  ChatCompletionInput in;
  ASSISTANT_ASSIGN_OR_RETURN(in.model, RequiredString(body, "model"));
  auto messages = body.find("messages");
  if (messages == body.end() || messages->is_null()) {
    return Invalid("messages", "is required", "missing_field");
  }
  if (!messages->is_array() || messages->empty()) {
    return Invalid("messages", "must be a non-empty array of messages");
  }
  std::vector<ChatMessage> chat;
  chat.reserve(messages->size());
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& m = (*messages)[i];
    const std::string p = Param("messages", i);
    if (!m.is_object()) return Invalid(p, "must be an object");
    ASSISTANT_ASSIGN_OR_RETURN(auto role, MemberString(m, "role", p + ".role"));
    if (!role) return Invalid(p + ".role", "is required", "missing_field");
    ChatMessage out;
    // OpenAI's newer name for system instructions.
    Result<MessageRole> parsed =
        *role == "developer" ? Result<MessageRole>(MessageRole::kSystem) : ParseMessageRole(*role);
    if (!parsed.ok()) {
      return Invalid(p + ".role", "must be system, developer, user, assistant or tool");
    }
    out.role = *parsed;
    // An assistant message that only asks for tools has null content.
    ASSISTANT_ASSIGN_OR_RETURN(out.content,
                               ContentText(m, p + ".content", out.role == MessageRole::kAssistant));
    if (out.role == MessageRole::kAssistant) {
      ASSISTANT_ASSIGN_OR_RETURN(out.tool_calls, ToolCalls(m, p + ".tool_calls"));
    }
    if (out.role == MessageRole::kTool) {
      ASSISTANT_ASSIGN_OR_RETURN(auto call_id, MemberString(m, "tool_call_id", p + ".tool_call_id"));
      if (!call_id || call_id->empty()) {
        return Invalid(p + ".tool_call_id", "is required", "missing_field");
      }
      out.tool_call_id = *call_id;
      // Some providers want the tool's name with its result: the call's.
      for (auto it = chat.rbegin(); it != chat.rend() && out.name.empty(); ++it) {
        for (const ToolCall& call : it->tool_calls) {
          if (call.id == out.tool_call_id) out.name = call.name;
        }
      }
      if (out.name.empty()) {
        ASSISTANT_ASSIGN_OR_RETURN(auto name, MemberString(m, "name", p + ".name"));
        out.name = name.value_or("");
      }
    }
    chat.push_back(std::move(out));
  }
  const size_t last = chat.size() - 1;
  if (chat[last].role != MessageRole::kUser) {
    return Invalid(Param("messages", last) + ".role",
                   "must be user: the last message is the one the agent answers");
  }
  in.message_param = Param("messages", last) + ".content";
  if (chat[last].content.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Invalid(in.message_param, "must not be empty");
  }
  in.request.message = std::move(chat[last].content);
  chat.pop_back();
  in.request.history = std::move(chat);

  ASSISTANT_ASSIGN_OR_RETURN(auto stream, OptBool(body, "stream"));
  in.stream = stream.value_or(false);
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return Invalid("stream_options", "must be an object");
    auto usage = it->find("include_usage");
    if (usage != it->end() && !usage->is_null()) {
      if (!usage->is_boolean()) {
        return Invalid("stream_options.include_usage", "must be true or false");
      }
      in.include_usage = usage->get<bool>();
    }
  }
  // OpenAI's `store` defaults to false; so does the agent's here.
  ASSISTANT_ASSIGN_OR_RETURN(auto store, OptBool(body, "store"));
  in.request.store = store.value_or(false);
  ASSISTANT_RETURN_IF_ERROR(RefuseUnsupported(body));
  ASSISTANT_ASSIGN_OR_RETURN(in.request.sampling, ParseSampling(body));
  return in;
}

Json OpenAiErrorBody(int http_status, std::string_view code, std::string_view message,
                     std::string_view /*request_id: in the X-Request-ID header*/,
                     std::string_view field) {
  return api::OpenAiError(http_status, code, message, field);
}

void OpenAiRoutes(HttpServer& s, std::vector<Route>& r) {
  // The model's `created`: when this server came up.
  const int64_t started = UnixNow();
  r.push_back(Make("GET", "/v1/models", BodyKind::kNone,
                   Doc("OpenAI-compatible: the models (one: the agent)", nullptr,
                       Ref("OpenAIModelList")),
                   [started](Call& c) -> Result<Reply> {
                     ASSISTANT_RETURN_IF_ERROR(RequireAgentScope(*c.principal));
                     return Reply{200,
                                  Json{{"object", "list"},
                                       {"data", Json::array({ModelJson(started)})}},
                                  false};
                   }));
  r.push_back(Make("GET", "/v1/models/{model}", BodyKind::kNone,
                   Doc("OpenAI-compatible: one model", nullptr, Ref("OpenAIModel")),
                   [started](Call& c) -> Result<Reply> {
                     ASSISTANT_RETURN_IF_ERROR(RequireAgentScope(*c.principal));
                     ASSISTANT_RETURN_IF_ERROR(ModelExists(c.params[0]));
                     return Reply{200, ModelJson(started), false};
                   }));
  r.push_back(Make("POST", "/v1/chat/completions", BodyKind::kObject,
                   Doc("OpenAI-compatible: one agent turn; chat.completion.chunk SSE with "
                       "stream:true",
                       Ref("OpenAIChatCompletionRequest"), Ref("OpenAIChatCompletion"),
                       /*sse=*/true),
                   [&s](Call& c) -> Result<Reply> {
                     ASSISTANT_ASSIGN_OR_RETURN(auto in, ParseChatCompletion(c.body));
                     ASSISTANT_RETURN_IF_ERROR(ModelExists(in.model));
                     const int64_t created = UnixNow();
                     // Refusals known before the turn are a real 4xx, not an
                     // error frame in a 200 (a stream's: when it begins).
                     if (in.stream) return StreamCompletion(s, c, in, created);
                     StartOptions only_wait;
                     only_wait.listen = false;
                     auto run = s.core().agent().Start(*c.principal, in.request, c.ctx, only_wait);
                     if (!run.ok()) return AsOpenAiParam(run.status(), in.message_param);
                     auto reply = (*run)->Wait();
                     if (!reply.ok()) return AsOpenAiParam(reply.status(), in.message_param);
                     return Reply{200, CompletionJson(*reply, in.model, created), false};
                   }));
  r.back().doc.errors = {502};
}

}  // namespace assistant::server
