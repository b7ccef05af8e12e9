// The agent loop (assistant/agent.hpp).
//
// Storage of tool calls: a turn is stored as two messages, the user's and
// the assistant's. The assistant message's `tool_calls` is an array of
// {id, name, arguments, result} — every call the model made during the
// turn, across all tool steps, each with the result it got back. No separate
// role "tool" rows are written. When the history is replayed to a provider,
// such a message expands to: an assistant message carrying the calls, one
// tool message per result, then the assistant's text. Tool rows appended by
// other means (ConversationService::AddMessage) have no call to answer and
// are left out of the prompt.
//
// Reply text: the texts of all tool steps, joined by a blank line.
//
// Token estimate: one token per 4 bytes of text (rounded up), counting
// message content plus the JSON of tool calls and results. History is
// trimmed from the oldest stored message until it fits
// options.history_token_budget; the new user message is always sent.
#include "agent/agent_impl.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "agent/stored_event.hpp"
#include "api/error_shapes.hpp"
#include "assistant/observer.hpp"
#include "common/cursor.hpp"
#include "common/json_text.hpp"
#include "common/text.hpp"
#include "llm/sampling.hpp"
#include "services/service_util.hpp"
#include "services/services.hpp"

namespace assistant {

int64_t EstimateTokens(size_t chars) { return static_cast<int64_t>((chars + 3) / 4); }

// One copy of the message either way: into the JSON, or (here) first.
Json MessageToJson(const Message& m) { return MessageToJson(Message(m)); }

Json MessageToJson(Message&& m) {
  return {{"id", std::move(m.id)},
          {"conversation_id", std::move(m.conversation_id)},
          {"role", MessageRoleName(m.role)},
          {"content", std::move(m.content)},
          {"tool_calls", m.tool_calls ? std::move(*m.tool_calls) : Json()},
          {"tool_call_id", m.tool_call_id ? Json(std::move(*m.tool_call_id)) : Json()},
          {"status", MessageStatusName(m.status)},
          {"created_at", FormatTime(m.created_at)}};
}

namespace {

constexpr const char* kScope = "agent";
constexpr size_t kTitleChars = 60;
// Between the texts of two tool steps in one reply.
constexpr const char* kStepSeparator = "\n\n";
constexpr int kPromptMemories = 50;
// History is read newest first in pages that start small and double, so a
// short budget over a long conversation reads (and parses) only a little.
constexpr int kHistoryFirstPage = 16;
constexpr int kHistoryMaxPage = 128;
// Stops paging through very long conversations however large the budget.
constexpr int kHistoryMaxMessages = 1000;

// Dumps without throwing on invalid UTF-8 in strings (replaced by U+FFFD).
std::string SafeDump(const Json& j) {
  return DumpJson(j);
}

Json UsageJson(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.total_tokens()}};
}

size_t ChatChars(const ChatMessage& m) {
  size_t n = m.content.size() + m.tool_call_id.size() + m.name.size();
  for (const ToolCall& c : m.tool_calls) n += c.id.size() + c.name.size() + SafeDump(c.arguments).size();
  return n;
}

// A conversation title from the first message: one line, at most
// kTitleChars characters.
std::string TitleFrom(const std::string& message) {
  std::string flat;
  for (char c : message) flat.push_back(c == '\n' || c == '\t' ? ' ' : c);
  Result<std::string> clean =
      text::CleanText(flat, "title", 0, std::string::npos, /*multi_line=*/false);
  std::string t = clean.ok() ? *clean : std::string();
  std::string collapsed;
  for (char c : t) {
    if (c == ' ' && !collapsed.empty() && collapsed.back() == ' ') continue;
    collapsed.push_back(c);
  }
  if (text::CharCount(collapsed) <= kTitleChars) {
    return collapsed.empty() ? kDefaultConversationTitle : collapsed;
  }
  size_t count = 0;
  size_t cut = collapsed.size();
  for (size_t i = 0; i < collapsed.size(); ++i) {
    if ((static_cast<unsigned char>(collapsed[i]) & 0xC0) != 0x80) {
      if (count == kTitleChars - 1) {
        cut = i;
        break;
      }
      ++count;
    }
  }
  std::string out = collapsed.substr(0, cut);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out + "\u2026";
}

// What a stored message becomes in a prompt (see the file comment).
std::vector<ChatMessage> Replay(const Message& m) {
  std::vector<ChatMessage> out;
  if (m.role == MessageRole::kUser || m.role == MessageRole::kSystem) {
    out.push_back({MessageRoleName(m.role), m.content, {}, "", ""});
    return out;
  }
  if (m.role != MessageRole::kAssistant) return out;
  if (m.tool_calls && m.tool_calls->is_array() && !m.tool_calls->empty()) {
    ChatMessage calls{"assistant", "", {}, "", ""};
    std::vector<ChatMessage> results;
    for (const Json& c : *m.tool_calls) {
      if (!c.is_object()) continue;
      ToolCall call;
      call.id = c.value("id", "");
      call.name = c.value("name", "");
      call.arguments = c.contains("arguments") ? c["arguments"] : Json::object();
      // A cancelled turn may hold a call that never ran; providers still
      // need an answer for every call.
      Json result = c.contains("result")
                        ? c["result"]
                        : Json{{"error", {{"code", "cancelled"}, {"message", "not run"}}}};
      results.push_back({"tool", SafeDump(result), {}, call.id, call.name});
      calls.tool_calls.push_back(std::move(call));
    }
    out.push_back(std::move(calls));
    for (ChatMessage& r : results) out.push_back(std::move(r));
  }
  if (!m.content.empty()) out.push_back({"assistant", m.content, {}, "", ""});
  return out;
}

class AgentImpl final : public Agent {
 public:
  explicit AgentImpl(AgentDeps deps) : d_(std::move(deps)) {
    if (!d_.runs) {
      own_runs_ = std::make_unique<RunRegistry>(*d_.storage, *d_.clock, RunOptions{},
                                                d_.audit->logger());
    }
    runs_ = d_.runs ? d_.runs : own_runs_.get();
  }

  ToolRegistry& tools() override { return tools_; }

  Result<MessagePage> History(const Principal& p,
                              const std::optional<std::string>& conversation_id,
                              int limit) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kScope));
    std::string id;
    if (conversation_id && !conversation_id->empty()) {
      ASSISTANT_ASSIGN_OR_RETURN(Conversation c,
                                 d_.storage->GetConversation(p.user_id, *conversation_id));
      id = c.id;
    } else {
      ConversationQuery q;
      q.limit = 1;
      ASSISTANT_ASSIGN_OR_RETURN(std::vector<Conversation> newest,
                                 d_.storage->ListConversations(p.user_id, q));
      if (newest.empty()) return MessagePage{};
      id = newest.front().id;
    }
    return d_.storage->ListMessages(p.user_id, id, "", cursor::ClampLimit(limit));
  }

  Status Check(const Principal& p, const AgentRequest& request) override {
    return Admit(p, request).status();
  }

  Result<AgentReply> Send(const Principal& p, const AgentRequest& request,
                          const RequestContext& ctx, const AgentEventSink& on_event,
                          const CancellationToken* cancel) override {
    ASSISTANT_ASSIGN_OR_RETURN(Admitted admitted, Admit(p, request));
    std::string content = std::move(admitted.content);
    const std::string app_id = std::move(admitted.app_id);
    std::vector<ChatMessage> caller_history = std::move(admitted.caller_history);
    const bool has_conversation = request.conversation_id && !request.conversation_id->empty();

    // The conversation: the caller's, or a new one titled by this message.
    Conversation conv;
    std::vector<Message> stored_history;
    const bool uses_context = d_.provider->uses_context();
    if (!request.store) {
      // Nothing is written; the reply names no conversation.
    } else if (has_conversation) {
      ASSISTANT_ASSIGN_OR_RETURN(conv, d_.storage->GetConversation(p.user_id,
                                                                   *request.conversation_id));
      if (uses_context && !request.history) {
        ASSISTANT_ASSIGN_OR_RETURN(stored_history, LoadHistory(p.user_id, conv.id));
      }
    } else {
      conv.id = NewId();
      conv.user_id = p.user_id;
      if (!app_id.empty()) conv.app_id = app_id;
      conv.title = TitleFrom(content);
      conv.created_at = conv.updated_at = services::NowMillis(*d_.clock);
    }
    std::string system;
    if (uses_context) {
      ASSISTANT_ASSIGN_OR_RETURN(system, SystemPrompt(p.user_id, app_id));
    }

    Message user_msg;
    user_msg.id = NewId();
    user_msg.conversation_id = conv.id;
    user_msg.role = MessageRole::kUser;
    user_msg.content = content;
    user_msg.created_at = services::NowMillis(*d_.clock);

    // Chosen after the user message's id, so ids order the two messages
    // even when both carry the same millisecond.
    const std::string message_id = NewId();
    RunStart start;
    start.run.id = NewId();
    start.run.user_id = p.user_id;
    start.run.conversation_id = conv.id;
    start.run.message_id = message_id;
    if (request.store) {
      if (!has_conversation) start.new_conversation = conv;
      start.user_message = user_msg;
    }
    // A listener is handed the run id at once and may look the run up from
    // another process, so its start is written now. A turn nobody listens
    // to is written in one transaction at its end (nobody outside knows of
    // it before the reply).
    const bool write_start_now = static_cast<bool>(on_event);
    ASSISTANT_ASSIGN_OR_RETURN(
        std::shared_ptr<LiveRun> run,
        runs_->Start(std::move(start), request.store, write_start_now, cancel));
    const CancellationToken& token = run->token();
    observer_->RunStarted();
    const auto run_began = std::chrono::steady_clock::now();
    bool sink_gone = false;
    // Every event is numbered and kept by the run first; then the caller's
    // sink sees it with its number.
    auto deliver = [&](const std::string& type, Json data, int64_t id) {
      if (!on_event) return;
      if (on_event(AgentEvent{type, std::move(data), id}) || sink_gone) return;
      sink_gone = true;
      // A turn that stores nothing is lost with its listener: the rest of
      // the provider's answer would be paid for and thrown away.
      if (runs_->options().cancel_when_sink_gone || !request.store) run->Cancel();
    };
    // Nobody sees the events of a turn without a listener while it runs
    // (its run id is known only from the reply), so its consecutive deltas
    // become one event: the same text, in far fewer events to keep and
    // store, numbered consecutively as always.
    std::string unheard_text;
    auto publish_unheard_text = [&] {
      if (unheard_text.empty()) return;
      runs_->Publish(*run, "message.delta", {{"content", std::move(unheard_text)}});
      unheard_text.clear();
    };
    auto emit = [&](const char* type, Json data) {
      if (!on_event) {
        publish_unheard_text();
        runs_->Publish(*run, type, std::move(data));
        return;
      }
      const int64_t id = runs_->Publish(*run, type, data);
      deliver(type, std::move(data), id);
    };
    // Such a turn's events that repeat its stored reply are kept as
    // references to it from the start (agent/stored_event.hpp).
    const bool refer_to_reply = !on_event && request.store;
    auto emit_delta = [&](std::string_view text) {
      if (!on_event) {
        unheard_text.append(text);
        return;
      }
      emit("message.delta", {{"content", std::string(text)}});
    };
    emit("message.start",
         {{"conversation_id", conv.id}, {"message_id", message_id}, {"run_id", run->id()}});

    ChatRequest chat;
    chat.model = d_.options.model;
    chat.tools = tools_.Specs();
    chat.sampling = request.sampling;
    if (uses_context) {
      // The caller's system messages extend the agent's own prompt.
      for (const ChatMessage& m : caller_history) {
        if (m.role == "system") system += "\n\n" + m.content;
      }
      chat.messages.push_back({"system", system, {}, "", ""});
      std::vector<ChatMessage> history =
          request.history ? TrimChat(std::move(caller_history)) : TrimmedHistory(stored_history);
      for (ChatMessage& m : history) chat.messages.push_back(std::move(m));
    }
    chat.messages.push_back({"user", content, {}, "", ""});

    std::string reply_text;
    std::string step_text;
    DeltaSink sink = [&](std::string_view delta) {
      if (run->cancelled()) return false;
      if (step_text.empty() && !reply_text.empty() && !delta.empty()) {
        // Text of an earlier tool step ends its paragraph; sent as a delta
        // too, so the deltas still add up to the stored reply.
        reply_text.append(kStepSeparator);
        emit_delta(kStepSeparator);
      }
      step_text.append(delta);
      reply_text.append(delta);
      emit_delta(delta);
      return true;
    };

    Usage usage;
    // The tool calls run and their results, in order; the chat's tool
    // messages share the results (ChatMessage::tool_result).
    std::vector<ToolCall> called;
    std::vector<std::shared_ptr<Json>> results;
    std::vector<AuditEvent> audit;
    RunStatus status = RunStatus::kCompleted;
    Status failure;
    const ToolContext tool_ctx{p, ctx};
    const int max_steps = std::max(0, d_.options.max_tool_steps);
    for (int step = 0;; ++step) {
      step_text.clear();
      const auto call_began = std::chrono::steady_clock::now();
      Result<ChatResponse> r = d_.provider->Chat(chat, sink, token);
      ProviderCallEvent called_model;
      called_model.provider = d_.provider->name();
      called_model.latency = std::chrono::steady_clock::now() - call_began;
      if (r.ok()) {
        called_model.prompt_tokens = r->usage.prompt_tokens;
        called_model.completion_tokens = r->usage.completion_tokens;
      } else {
        called_model.error_reason = r.status().reason();
      }
      observer_->ProviderCall(called_model);
      if (!r.ok()) {
        if (r.status().code() == StatusCode::kCancelled || run->cancelled()) {
          status = RunStatus::kCancelled;
        } else {
          status = RunStatus::kFailed;
          failure = r.status();
        }
        break;
      }
      usage.prompt_tokens += r->usage.prompt_tokens;
      usage.completion_tokens += r->usage.completion_tokens;
      // A provider that did not stream still has its text shown and kept.
      if (step_text.empty() && !r->content.empty()) sink(r->content);
      if (r->tool_calls.empty()) break;
      if (step >= max_steps) {
        sink("(I stopped after " + std::to_string(max_steps) + " tool steps.)");
        break;
      }
      ChatMessage asked{"assistant", step_text, {}, "", ""};
      asked.tool_plan = r->tool_plan;
      for (ToolCall& call : r->tool_calls) {
        if (call.id.empty()) call.id = "call_" + NewId();
        asked.tool_calls.push_back(call);
      }
      chat.messages.push_back(asked);
      for (const ToolCall& call : asked.tool_calls) {
        if (run->cancelled()) break;
        emit("tool.call", {{"id", call.id}, {"name", call.name}, {"arguments", call.arguments}});
        Result<Json> ran = tools_.Run(call.name, tool_ctx, call.arguments);
        observer_->ToolCall({call.name, ran.ok()});
        const Json& result = *results.emplace_back(std::make_shared<Json>(
            ran.ok() ? std::move(*ran) : api::ErrorEventData(ran.status())));
        ChatMessage answer{"tool", SafeDump(result), {}, call.id, call.name};
        answer.tool_result = results.back();
        chat.messages.push_back(std::move(answer));
        emit("tool.result", refer_to_reply ? ToolResultRef(call.id, call.name)
                                           : Json{{"id", call.id},
                                                  {"name", call.name},
                                                  {"result", result}});
        // Written with the turn's end, in the same transaction as the reply.
        audit.push_back(d_.audit->Make(p.user_id, "tool.called", ran.ok(), ctx,
                                       {{"tool", call.name}}));
        called.push_back(call);
      }
      if (run->cancelled()) {
        status = RunStatus::kCancelled;
        break;
      }
    }
    if (status == RunStatus::kCancelled && run->timed_out()) {
      status = RunStatus::kFailed;
      failure = DeadlineExceededError("the turn ran longer than its time limit", "turn_timeout");
    }

    // The chat is done with; a result nobody else holds (a provider may
    // have kept the request) moves into the reply instead of being copied.
    chat.messages.clear();
    Json calls = Json::array();
    for (size_t i = 0; i < called.size(); ++i) {
      calls.push_back({{"id", std::move(called[i].id)},
                       {"name", std::move(called[i].name)},
                       {"arguments", std::move(called[i].arguments)},
                       {"result", results[i].use_count() == 1 ? std::move(*results[i])
                                                              : *results[i]}});
    }
    Message reply;
    reply.id = message_id;
    reply.conversation_id = conv.id;
    reply.role = MessageRole::kAssistant;
    reply.content = reply_text;
    if (!calls.empty()) reply.tool_calls = std::move(calls);
    reply.status = status == RunStatus::kFailed      ? MessageStatus::kFailed
                   : status == RunStatus::kCancelled ? MessageStatus::kCancelled
                                                     : MessageStatus::kCompleted;
    reply.created_at = services::NowMillis(*d_.clock);
    publish_unheard_text();
    // The run's end, its last events and the reply go to storage in one
    // write; only then do listeners get the last event.
    const bool failed = status == RunStatus::kFailed;
    Json last_data = failed           ? api::ErrorEventData(failure)
                     : refer_to_reply ? MessageDoneRef(reply.id, UsageJson(usage))
                                      : Json{{"message", MessageToJson(reply)},
                                             {"usage", UsageJson(usage)}};
    std::optional<Message> stored_reply;
    if (request.store) stored_reply = std::move(reply);
    Status not_stored;
    RunEvent last = runs_->Finish(*run, status, failed ? "error" : "message.done",
                                  std::move(last_data), stored_reply, std::move(audit),
                                  &not_stored);
    deliver(last.type, std::move(last.data), last.id);
    observer_->RunFinished({status, std::chrono::steady_clock::now() - run_began});
    if (!not_stored.ok()) return not_stored;
    if (failed) return failure;
    AgentReply out;
    out.conversation_id = conv.id;
    out.run_id = run->id();
    out.message = stored_reply ? std::move(*stored_reply) : std::move(reply);
    out.usage = usage;
    return out;
  }

 private:
  // A request's checks that need no storage, and what they clean.
  struct Admitted {
    std::string content;
    std::string app_id;
    std::vector<ChatMessage> caller_history;
  };
  Result<Admitted> Admit(const Principal& p, const AgentRequest& request) {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kScope));
    Admitted out;
    ASSISTANT_ASSIGN_OR_RETURN(
        out.content, text::CleanText(request.message, "message", 1, kMessageMaxChars, true));
    if (out.content.find_first_not_of(" \t\n") == std::string::npos) {
      return InvalidArgumentError("message must not be empty", "message");
    }
    out.app_id = request.app_id ? *request.app_id : p.app_id.value_or("");
    if (!out.app_id.empty() && !services::IsSafeName(out.app_id)) {
      return InvalidArgumentError("app_id must be 1-128 characters of [A-Za-z0-9._:-]",
                                  "app_id");
    }
    if (!request.store && request.conversation_id && !request.conversation_id->empty()) {
      return InvalidArgumentError("a turn that is not stored cannot name a conversation",
                                  "conversation_id");
    }
    ASSISTANT_RETURN_IF_ERROR(llm::CheckSampling(request.sampling, *d_.provider));
    if (request.history) {
      ASSISTANT_ASSIGN_OR_RETURN(out.caller_history, CleanHistory(*request.history));
    }
    return out;
  }

  // Newest stored messages, oldest first, as many as the budget could use.
  Result<std::vector<Message>> LoadHistory(const std::string& user_id,
                                           const std::string& conversation_id) {
    std::vector<Message> newest_first;
    std::string before;
    size_t chars = 0;
    const size_t budget_chars = static_cast<size_t>(std::max(0, d_.options.history_token_budget)) * 4;
    int page_size = kHistoryFirstPage;
    while (static_cast<int>(newest_first.size()) < kHistoryMaxMessages) {
      ASSISTANT_ASSIGN_OR_RETURN(
          MessagePage page,
          d_.storage->ListMessages(user_id, conversation_id, before, page_size));
      page_size = std::min(page_size * 2, kHistoryMaxPage);
      for (auto it = page.messages.rbegin(); it != page.messages.rend(); ++it) {
        // Tool calls and their results count too: they are replayed.
        chars += it->content.size();
        if (it->tool_calls) chars += SafeDump(*it->tool_calls).size();
        newest_first.push_back(std::move(*it));
      }
      if (!page.has_more || page.messages.empty() || chars > budget_chars) break;
      before = newest_first.back().id;
    }
    std::reverse(newest_first.begin(), newest_first.end());
    return newest_first;
  }

  // Caller-supplied turns, checked like any text the API takes in.
  static Result<std::vector<ChatMessage>> CleanHistory(const std::vector<ChatMessage>& in) {
    std::vector<ChatMessage> out;
    out.reserve(in.size());
    for (const ChatMessage& m : in) {
      if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool") {
        return InvalidArgumentError("message role must be system, user, assistant or tool",
                                    "messages");
      }
      ChatMessage c = m;
      ASSISTANT_ASSIGN_OR_RETURN(c.content, text::CleanText(m.content, "messages", 0,
                                                            kMessageMaxChars, true));
      out.push_back(std::move(c));
    }
    return out;
  }

  // Caller-supplied turns (system messages left out: they went into the
  // system prompt), newest kept, within the token budget. An assistant
  // message asking for tools stays together with the answers that follow.
  std::vector<ChatMessage> TrimChat(std::vector<ChatMessage> history) const {
    const int64_t budget = std::max(0, d_.options.history_token_budget);
    std::vector<std::vector<ChatMessage>> groups;
    for (ChatMessage& m : history) {
      if (m.role == "system") continue;
      if (m.role == "tool" && !groups.empty()) {
        groups.back().push_back(std::move(m));
      } else {
        groups.push_back({std::move(m)});
      }
    }
    std::vector<ChatMessage> out;
    int64_t used = 0;
    size_t first = groups.size();
    while (first > 0) {
      size_t chars = 0;
      for (const ChatMessage& m : groups[first - 1]) chars += ChatChars(m);
      const int64_t cost = EstimateTokens(chars);
      if (used + cost > budget) break;
      used += cost;
      --first;
    }
    for (size_t i = first; i < groups.size(); ++i) {
      for (ChatMessage& m : groups[i]) out.push_back(std::move(m));
    }
    while (!out.empty() && out.front().role == "tool") out.erase(out.begin());
    return out;
  }

  // Whole stored messages, newest kept, within the token budget.
  std::vector<ChatMessage> TrimmedHistory(const std::vector<Message>& history) const {
    const int64_t budget = std::max(0, d_.options.history_token_budget);
    std::vector<std::vector<ChatMessage>> kept;
    int64_t used = 0;
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
      std::vector<ChatMessage> replay = Replay(*it);
      if (replay.empty()) continue;
      size_t chars = 0;
      for (const ChatMessage& m : replay) chars += ChatChars(m);
      const int64_t cost = EstimateTokens(chars);
      if (used + cost > budget) break;
      used += cost;
      kept.push_back(std::move(replay));
    }
    std::vector<ChatMessage> out;
    for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
      for (ChatMessage& m : *it) out.push_back(std::move(m));
    }
    // A prompt should not open with tool traffic whose question was cut.
    while (!out.empty() && out.front().role == "tool") out.erase(out.begin());
    return out;
  }

  // The system prompt plus the user's memory and the app's agent state.
  Result<std::string> SystemPrompt(const std::string& user_id, const std::string& app_id) {
    std::string system = d_.options.system_prompt;
    ASSISTANT_ASSIGN_OR_RETURN(std::vector<Memory> memories,
                               d_.storage->ListMemories(user_id, kPromptMemories));
    if (!memories.empty()) {
      system += "\n\nWhat you remember about the user:";
      // Stored newest first; the prompt reads oldest first.
      for (auto it = memories.rbegin(); it != memories.rend(); ++it) {
        system += "\n- " + it->content;
      }
    }
    Result<AgentState> state = d_.storage->GetAgentState(user_id, app_id);
    if (!state.ok() && !IsNotFound(state.status())) return state.status();
    if (state.ok() && state->state.is_object() && !state->state.empty()) {
      system += "\n\nAgent state for this app (JSON): " + SafeDump(state->state);
    }
    return system;
  }

  AgentDeps d_;
  std::unique_ptr<RunRegistry> own_runs_;  // when deps gave none
  RunRegistry* runs_ = nullptr;
  Observer* const observer_ = d_.observer ? d_.observer : NullObserver();
  ToolRegistry tools_;
};

}  // namespace

Result<std::unique_ptr<Agent>> NewAgent(AgentDeps deps) {
  if (!deps.storage || !deps.clock || !deps.audit || !deps.provider) {
    return InvalidArgumentError("the agent needs storage, a clock, an audit log and a provider");
  }
  return std::unique_ptr<Agent>(std::make_unique<AgentImpl>(std::move(deps)));
}

}  // namespace assistant
