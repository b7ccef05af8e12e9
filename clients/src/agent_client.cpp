#include "assistant/client/agent_client.hpp"

#include <charconv>

#include "common/json_text.hpp"
#include "http_call.hpp"
#include "json_read.hpp"
#include "llm/sse_parser.hpp"

namespace assistant::client {
namespace {

Result<TokenUsage> ReadUsage(const Json& j) {
  TokenUsage u;
  if (!j.is_object()) return u;
  u.prompt_tokens = j.value("prompt_tokens", int64_t{0});
  u.completion_tokens = j.value("completion_tokens", int64_t{0});
  u.total_tokens = j.value("total_tokens", int64_t{0});
  return u;
}

Result<AgentReply> ReadReply(const Json& j) {
  AgentReply r;
  r.conversation_id = j.value("conversation_id", std::string());
  r.run_id = j.value("run_id", std::string());
  ASSISTANT_ASSIGN_OR_RETURN(r.message, internal::ReadField(j, "message", internal::ReadMessage));
  ASSISTANT_ASSIGN_OR_RETURN(r.usage, ReadUsage(j.value("usage", Json())));
  return r;
}

std::string StateQuery(const std::string& app_id) {
  return app_id.empty() ? "" : "?app_id=" + internal::Escape(app_id);
}

}  // namespace

// Where a stream stands: what was delivered, and how it ended.
struct AgentClient::Progress {
  std::string run_id;
  std::string conversation_id;
  int64_t last_id = 0;  // the last event delivered
  bool finished = false;
  bool stopped = false;  // the callback asked to stop
  Json done;             // message.done's data
  Json error;            // an error event's data
};

namespace {

// One streamed exchange. Events at or below p.last_id were delivered
// already (a re-attach replays from Last-Event-ID) and are skipped.
template <typename Progress>
Status StreamOnce(AuthClient& auth, internal::HttpRequest req, Progress& p,
                  const StreamCallback& on_event) {
  llm::SseParser parser;
  std::vector<llm::SseEvent> events;
  Status bad;
  req.on_chunk = [&](std::string_view chunk) {
    events.clear();
    bad = parser.Feed(chunk, &events);
    if (!bad.ok()) return false;
    for (const auto& ev : events) {
      int64_t id = 0;
      std::from_chars(ev.id.data(), ev.id.data() + ev.id.size(), id);
      if (id <= p.last_id) continue;
      StreamEvent out{id, ev.event, Json::parse(ev.data, nullptr, /*allow_exceptions=*/false)};
      if (out.data.is_discarded()) {
        bad = UnavailableError("the server sent an event that is not JSON", "bad_response");
        return false;
      }
      if (out.type == "message.start") {
        p.run_id = out.data.value("run_id", std::string());
        p.conversation_id = out.data.value("conversation_id", std::string());
      }
      if (out.type == "message.done") p.done = out.data, p.finished = true;
      if (out.type == "error") p.error = out.data, p.finished = true;
      p.last_id = id;
      if (!on_event(out)) {
        p.stopped = true;
        return false;
      }
      if (p.finished) return false;
    }
    return true;
  };
  ASSISTANT_ASSIGN_OR_RETURN(req.bearer, auth.AccessToken());
  Result<internal::HttpReply> reply = internal::Send(auth.options(), req);
  if (reply.ok() && reply->status == 401) {
    ASSISTANT_ASSIGN_OR_RETURN(req.bearer, auth.RefreshAfterRejection(req.bearer));
    reply = internal::Send(auth.options(), req);
  }
  if (!bad.ok()) return bad;
  if (p.finished || p.stopped) return Status::Ok();
  if (!reply.ok()) return reply.status();
  if (reply->status < 200 || reply->status >= 300) return internal::ErrorFromReply(*reply);
  // The server closed the stream before the run's last event.
  return UnavailableError("the stream ended before the run did", "connection_lost");
}

bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

}  // namespace

Status AgentClient::Follow(Progress& p, const StreamCallback& on_event,
                           const StreamOptions& stream) {
  for (int attempt = 0; !p.finished && !p.stopped; ++attempt) {
    internal::HttpRequest req;
    req.path = "/api/agent/runs/" + internal::Escape(p.run_id) + "/events";
    req.headers["Last-Event-ID"] = std::to_string(p.last_id);
    Status s = StreamOnce(auth_, req, p, on_event);
    if (s.ok()) continue;
    if (!Transient(s) || attempt >= stream.max_reattach) return s;
  }
  return Status::Ok();
}

Result<AgentReply> AgentClient::Stream(const std::string& message, const StreamCallback& on_event,
                                       const MessageOptions& options, const StreamOptions& stream) {
  Json body = {{"message", message}, {"stream", true}};
  if (options.conversation_id) body["conversation_id"] = *options.conversation_id;
  if (options.app_id) body["app_id"] = *options.app_id;
  internal::HttpRequest req;
  req.method = "POST";
  req.path = "/api/agent/message";
  req.body = DumpJson(body);
  Progress p;
  Status first = StreamOnce(auth_, req, p, on_event);
  if (!first.ok()) {
    // Lost before the run was known: nothing to re-attach to.
    if (!Transient(first) || p.run_id.empty()) return first;
    ASSISTANT_RETURN_IF_ERROR(Follow(p, on_event, stream));
  }
  if (p.stopped && !p.finished) {
    ASSISTANT_ASSIGN_OR_RETURN(RunInfo run, Cancel(p.run_id));
    AgentReply r;
    r.conversation_id = p.conversation_id;
    r.run_id = p.run_id;
    r.message.id = run.message_id;
    r.message.conversation_id = p.conversation_id;
    r.message.role = MessageRole::kAssistant;
    r.message.status = MessageStatus::kCancelled;
    return r;
  }
  if (!p.error.is_null()) {
    const Json& e = p.error.value("error", Json::object());
    return Status(StatusCode::kUnavailable, e.value("message", std::string("the turn failed")),
                  e.value("code", std::string("upstream_error")));
  }
  AgentReply r;
  r.conversation_id = p.conversation_id;
  r.run_id = p.run_id;
  ASSISTANT_ASSIGN_OR_RETURN(r.message,
                             internal::ReadField(p.done, "message", internal::ReadMessage));
  ASSISTANT_ASSIGN_OR_RETURN(r.usage, ReadUsage(p.done.value("usage", Json())));
  return r;
}

Status AgentClient::Attach(const std::string& run_id, int64_t last_event_id,
                           const StreamCallback& on_event, const StreamOptions& stream) {
  Progress p;
  p.run_id = run_id;
  p.last_id = last_event_id;
  return Follow(p, on_event, stream);
}

Result<AgentReply> AgentClient::Send(const std::string& message, const MessageOptions& options) {
  Json body = {{"message", message}};
  if (options.conversation_id) body["conversation_id"] = *options.conversation_id;
  if (options.app_id) body["app_id"] = *options.app_id;
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("POST", "/api/agent/message", body));
  return ReadReply(answer);
}

Result<RunInfo> AgentClient::Run(const std::string& run_id) {
  ASSISTANT_ASSIGN_OR_RETURN(Json answer,
                             auth_.Call("GET", "/api/agent/runs/" + internal::Escape(run_id)));
  return internal::ReadField(answer, "run", internal::ReadRun);
}

Result<RunInfo> AgentClient::Cancel(const std::string& run_id) {
  ASSISTANT_ASSIGN_OR_RETURN(
      Json answer, auth_.Call("POST", "/api/agent/runs/" + internal::Escape(run_id) + "/cancel"));
  return internal::ReadField(answer, "run", internal::ReadRun);
}

Result<HistoryPage> AgentClient::History(const std::optional<std::string>& conversation_id,
                                         int limit) {
  std::string path = "/api/agent/history?limit=" + std::to_string(limit);
  if (conversation_id) path += "&conversation_id=" + internal::Escape(*conversation_id);
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("GET", path));
  HistoryPage page;
  ASSISTANT_ASSIGN_OR_RETURN(page.messages,
                             internal::ReadList(answer, "messages", internal::ReadMessage));
  page.has_more = answer.value("has_more", false);
  return page;
}

Result<AgentState> AgentClient::State(const std::string& app_id) {
  ASSISTANT_ASSIGN_OR_RETURN(Json answer,
                             auth_.Call("GET", "/api/agent/state" + StateQuery(app_id)));
  return internal::ReadAgentState(answer);
}

Result<AgentState> AgentClient::PutState(const Json& state, const std::string& app_id) {
  ASSISTANT_ASSIGN_OR_RETURN(Json answer,
                             auth_.Call("PUT", "/api/agent/state" + StateQuery(app_id), state));
  return internal::ReadAgentState(answer);
}

Result<AgentState> AgentClient::PatchState(const Json& patch, const std::string& app_id) {
  ASSISTANT_ASSIGN_OR_RETURN(Json answer,
                             auth_.Call("PATCH", "/api/agent/state" + StateQuery(app_id), patch));
  return internal::ReadAgentState(answer);
}

Result<std::vector<Memory>> AgentClient::Memories() {
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("GET", "/api/agent/memory"));
  return internal::ReadList(answer, "memories", internal::ReadMemory);
}

Result<Memory> AgentClient::AddMemory(const std::string& content) {
  ASSISTANT_ASSIGN_OR_RETURN(Json answer,
                             auth_.Call("POST", "/api/agent/memory", {{"content", content}}));
  return internal::ReadField(answer, "memory", internal::ReadMemory);
}

Status AgentClient::DeleteMemory(const std::string& id) {
  return auth_.Call("DELETE", "/api/agent/memory/" + internal::Escape(id)).status();
}

}  // namespace assistant::client
