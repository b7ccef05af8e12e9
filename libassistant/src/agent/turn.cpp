// One agent turn, step by step (turn.hpp).
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
#include "agent/turn.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "agent/agent_impl.hpp"
#include "agent/stored_event.hpp"
#include "api/error_shapes.hpp"
#include "common/json_text.hpp"
#include "common/text.hpp"
#include "llm/sampling.hpp"
#include "services/service_util.hpp"
#include "services/services.hpp"

namespace assistant {
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

Json UsageJson(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.total_tokens()}};
}

size_t ChatChars(const ChatMessage& m) {
  size_t n = m.content.size() + m.tool_call_id.size() + m.name.size();
  for (const ToolCall& c : m.tool_calls) n += c.id.size() + c.name.size() + DumpJson(c.arguments).size();
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
    out.push_back({m.role, m.content, {}, "", ""});
    return out;
  }
  if (m.role != MessageRole::kAssistant) return out;
  if (m.tool_calls && m.tool_calls->is_array() && !m.tool_calls->empty()) {
    ChatMessage calls{MessageRole::kAssistant, "", {}, "", ""};
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
      results.push_back({MessageRole::kTool, DumpJson(result), {}, call.id, call.name});
      calls.tool_calls.push_back(std::move(call));
    }
    out.push_back(std::move(calls));
    for (ChatMessage& r : results) out.push_back(std::move(r));
  }
  if (!m.content.empty()) out.push_back({MessageRole::kAssistant, m.content, {}, "", ""});
  return out;
}

// Caller-supplied turns, checked like any text the API takes in.
Result<std::vector<ChatMessage>> CleanHistory(const std::vector<ChatMessage>& in) {
  std::vector<ChatMessage> out;
  out.reserve(in.size());
  for (const ChatMessage& m : in) {
    if (*MessageRoleName(m.role) == '\0') {  // a value outside the enum
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

// Groups of messages, newest kept while they fit `budget` tokens, oldest
// first; a prompt does not open with tool traffic whose question was cut.
std::vector<ChatMessage> KeepNewest(std::vector<std::vector<ChatMessage>> groups,
                                    int64_t budget) {
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
  std::vector<ChatMessage> out;
  for (size_t i = first; i < groups.size(); ++i) {
    for (ChatMessage& m : groups[i]) out.push_back(std::move(m));
  }
  while (!out.empty() && out.front().role == MessageRole::kTool) out.erase(out.begin());
  return out;
}

}  // namespace

Turn::Turn(const TurnDeps& deps, Principal principal, RequestContext ctx)
    : d_(deps), principal_(std::move(principal)), ctx_(std::move(ctx)) {}

Status Turn::Prepare(const AgentRequest& request) {
  const Principal& p = principal_;
  ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kScope));
  ASSISTANT_ASSIGN_OR_RETURN(
      content_, text::CleanText(request.message, "message", 1, kMessageMaxChars, true));
  if (content_.find_first_not_of(" \t\n") == std::string::npos) {
    return InvalidArgumentError("message must not be empty", "message");
  }
  app_id_ = request.app_id ? *request.app_id : p.app_id.value_or("");
  if (!app_id_.empty() && !services::IsSafeName(app_id_)) {
    return InvalidArgumentError("app_id must be 1-128 characters of [A-Za-z0-9._:-]", "app_id");
  }
  store_ = request.store;
  has_conversation_ = request.conversation_id && !request.conversation_id->empty();
  if (!store_ && has_conversation_) {
    return InvalidArgumentError("a turn that is not stored cannot name a conversation",
                                "conversation_id");
  }
  ASSISTANT_RETURN_IF_ERROR(llm::CheckSampling(request.sampling, *d_.provider));
  sampling_ = request.sampling;
  caller_gave_history_ = request.history.has_value();
  if (request.history) {
    ASSISTANT_ASSIGN_OR_RETURN(caller_history_, CleanHistory(*request.history));
  }
  // Said here rather than by a later write's constraint.
  if (Result<UserRecord> user = d_.storage->GetUserById(p.user_id); !user.ok()) {
    if (user.status().code() != StatusCode::kNotFound) return user.status();
    return NotFoundError("unknown user \"" + p.user_id + "\"", "unknown_user");
  }

  // The conversation: the caller's, or a new one titled by this message.
  const bool uses_context = d_.provider->uses_context();
  if (!store_) {
    // Nothing is written; the reply names no conversation.
  } else if (has_conversation_) {
    ASSISTANT_ASSIGN_OR_RETURN(conv_,
                               d_.storage->GetConversation(p.user_id, *request.conversation_id));
    if (uses_context && !caller_gave_history_) {
      ASSISTANT_ASSIGN_OR_RETURN(stored_history_, LoadHistory());
    }
  } else {
    conv_.id = NewId();
    conv_.user_id = p.user_id;
    if (!app_id_.empty()) conv_.app_id = app_id_;
    conv_.title = TitleFrom(content_);
    conv_.created_at = conv_.updated_at = services::NowMillis(*d_.clock);
  }
  if (uses_context) {
    ASSISTANT_ASSIGN_OR_RETURN(system_, SystemPrompt());
  }
  user_msg_.id = NewId();
  user_msg_.conversation_id = conv_.id;
  user_msg_.role = MessageRole::kUser;
  user_msg_.content = content_;
  user_msg_.created_at = services::NowMillis(*d_.clock);
  // Chosen after the user message's id, so ids order the two messages
  // even when both carry the same millisecond.
  message_id_ = NewId();
  return Status();
}

Status Turn::Open(bool listen, const CancellationToken* external,
                  std::shared_ptr<TurnPace> pace) {
  pace_ = std::move(pace);
  RunStart start;
  start.run.id = NewId();
  start.run.user_id = principal_.user_id;
  start.run.conversation_id = conv_.id;
  start.run.message_id = message_id_;
  if (store_) {
    if (!has_conversation_) start.new_conversation = conv_;
    start.user_message = user_msg_;
  }
  // A listener is handed the run id at once and may look the run up from
  // another process, so its start is written now. A turn nobody listens
  // to is written in one transaction at its end.
  listen_ = listen;
  refer_to_reply_ = !listen && store_;
  ASSISTANT_ASSIGN_OR_RETURN(run_,
                             d_.runs->Start(std::move(start), store_, listen, external));
  d_.observer->RunStarted();
  began_ = std::chrono::steady_clock::now();
  // Not paced here: Open runs before the caller could attach (Run waits).
  d_.runs->Publish(*run_, "message.start",
                   {{"conversation_id", conv_.id}, {"message_id", message_id_},
                    {"run_id", run_->id()}});
  return Status();
}

void Turn::Publish(const char* type, Json data) {
  const int64_t id = d_.runs->Publish(*run_, type, std::move(data));
  if (pace_) pace_->WaitFor(id, *run_);
}

void Turn::Emit(const char* type, Json data) {
  PublishUnheardText();
  Publish(type, std::move(data));
}

void Turn::EmitDelta(std::string_view text) {
  if (listen_) {
    Publish("message.delta", {{"content", std::string(text)}});
  } else {
    unheard_text_.append(text);
  }
}

void Turn::PublishUnheardText() {
  if (unheard_text_.empty()) return;
  Publish("message.delta", {{"content", std::move(unheard_text_)}});
  unheard_text_.clear();
}

void Turn::BuildPrompt() {
  chat_ = ChatRequest();
  chat_.model = d_.options->model;
  chat_.tools = d_.tools->Specs();
  chat_.sampling = sampling_;
  if (d_.provider->uses_context()) {
    std::string system = system_;
    // The caller's system messages extend the agent's own prompt.
    for (const ChatMessage& m : caller_history_) {
      if (m.role == MessageRole::kSystem) system += "\n\n" + m.content;
    }
    chat_.messages.push_back({MessageRole::kSystem, std::move(system), {}, "", ""});
    std::vector<ChatMessage> history =
        caller_gave_history_ ? TrimChat(caller_history_) : TrimmedHistory();
    for (ChatMessage& m : history) chat_.messages.push_back(std::move(m));
  }
  chat_.messages.push_back({MessageRole::kUser, content_, {}, "", ""});
}

bool Turn::OnDelta(std::string_view delta) {
  if (run_->cancelled()) return false;
  if (step_text_.empty() && !reply_text_.empty() && !delta.empty()) {
    // Text of an earlier tool step ends its paragraph; sent as a delta
    // too, so the deltas still add up to the stored reply.
    reply_text_.append(kStepSeparator);
    EmitDelta(kStepSeparator);
  }
  step_text_.append(delta);
  reply_text_.append(delta);
  EmitDelta(delta);
  return true;
}

std::optional<ChatResponse> Turn::CallModel() {
  step_text_.clear();
  if (run_->cancelled()) {
    status_ = RunStatus::kCancelled;
    return std::nullopt;
  }
  const auto call_began = std::chrono::steady_clock::now();
  Result<ChatResponse> r =
      d_.provider->Chat(chat_, [this](std::string_view delta) { return OnDelta(delta); },
                        run_->token());
  ProviderCallEvent called;
  called.provider = d_.provider->name();
  called.latency = std::chrono::steady_clock::now() - call_began;
  if (r.ok()) {
    called.prompt_tokens = r->usage.prompt_tokens;
    called.completion_tokens = r->usage.completion_tokens;
  } else {
    called.error_reason = r.status().reason();
  }
  d_.observer->ProviderCall(called);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kCancelled || run_->cancelled()) {
      status_ = RunStatus::kCancelled;
    } else {
      status_ = RunStatus::kFailed;
      failure_ = r.status();
    }
    return std::nullopt;
  }
  usage_.prompt_tokens += r->usage.prompt_tokens;
  usage_.completion_tokens += r->usage.completion_tokens;
  // A provider that did not stream still has its text shown and kept.
  if (step_text_.empty() && !r->content.empty()) OnDelta(r->content);
  return std::move(*r);
}

bool Turn::RunTools(ChatResponse& response, int step) {
  if (response.tool_calls.empty()) return false;
  const int max_steps = std::max(0, d_.options->max_tool_steps);
  if (step >= max_steps) {
    OnDelta("(I stopped after " + std::to_string(max_steps) + " tool steps.)");
    return false;
  }
  ChatMessage asked{MessageRole::kAssistant, step_text_, {}, "", ""};
  asked.tool_plan = response.tool_plan;
  for (ToolCall& call : response.tool_calls) {
    if (call.id.empty()) call.id = "call_" + NewId();
    asked.tool_calls.push_back(call);
  }
  chat_.messages.push_back(asked);
  const ToolContext tool_ctx{principal_, ctx_};
  for (const ToolCall& call : asked.tool_calls) {
    if (run_->cancelled()) break;
    Emit("tool.call", {{"id", call.id}, {"name", call.name}, {"arguments", call.arguments}});
    Result<Json> ran = d_.tools->Run(call.name, tool_ctx, call.arguments);
    d_.observer->ToolCall({call.name, ran.ok()});
    const Json& result = *results_.emplace_back(std::make_shared<Json>(
        ran.ok() ? std::move(*ran) : api::ErrorEventData(ran.status())));
    ChatMessage answer{MessageRole::kTool, DumpJson(result), {}, call.id, call.name};
    answer.tool_result = results_.back();
    chat_.messages.push_back(std::move(answer));
    Emit("tool.result", refer_to_reply_
                            ? ToolResultRef(call.id, call.name)
                            : Json{{"id", call.id}, {"name", call.name}, {"result", result}});
    // Written with the turn's end, in the same transaction as the reply.
    audit_.push_back(
        d_.audit->Make(principal_.user_id, "tool.called", ran.ok(), ctx_, {{"tool", call.name}}));
    called_.push_back(call);
  }
  if (run_->cancelled()) {
    status_ = RunStatus::kCancelled;
    return false;
  }
  return true;
}

Result<AgentReply> Turn::Finish() {
  if (status_ == RunStatus::kCancelled && run_->timed_out()) {
    status_ = RunStatus::kFailed;
    failure_ = DeadlineExceededError("the turn ran longer than its time limit", "turn_timeout");
  }
  // The chat is done with; a result nobody else holds (a provider may
  // have kept the request) moves into the reply instead of being copied.
  chat_.messages.clear();
  Json calls = Json::array();
  for (size_t i = 0; i < called_.size(); ++i) {
    calls.push_back({{"id", std::move(called_[i].id)},
                     {"name", std::move(called_[i].name)},
                     {"arguments", std::move(called_[i].arguments)},
                     {"result", results_[i].use_count() == 1 ? std::move(*results_[i])
                                                             : *results_[i]}});
  }
  Message reply;
  reply.id = message_id_;
  reply.conversation_id = conv_.id;
  reply.role = MessageRole::kAssistant;
  reply.content = reply_text_;
  if (!calls.empty()) reply.tool_calls = std::move(calls);
  reply.status = status_ == RunStatus::kFailed      ? MessageStatus::kFailed
                 : status_ == RunStatus::kCancelled ? MessageStatus::kCancelled
                                                    : MessageStatus::kCompleted;
  reply.created_at = services::NowMillis(*d_.clock);
  PublishUnheardText();
  // The run's end, its last events and the reply go to storage in one
  // write; only then do listeners get the last event.
  const bool failed = status_ == RunStatus::kFailed;
  Json last_data = failed            ? api::ErrorEventData(failure_)
                   : refer_to_reply_ ? MessageDoneRef(reply.id, UsageJson(usage_))
                                     : Json{{"message", MessageToJson(reply)},
                                            {"usage", UsageJson(usage_)}};
  std::optional<Message> stored_reply;
  if (store_) stored_reply = std::move(reply);
  Status not_stored;
  d_.runs->Finish(*run_, status_, failed ? "error" : "message.done", std::move(last_data),
                  stored_reply, std::move(audit_), &not_stored);
  d_.observer->RunFinished({status_, std::chrono::steady_clock::now() - began_});
  if (!not_stored.ok()) return not_stored;
  if (failed) return failure_;
  AgentReply out;
  out.conversation_id = conv_.id;
  out.run_id = run_->id();
  out.message = stored_reply ? std::move(*stored_reply) : std::move(reply);
  out.usage = usage_;
  return out;
}

Result<AgentReply> Turn::Run() {
  if (pace_) pace_->WaitFor(1, *run_);  // message.start, published by Open
  BuildPrompt();
  for (int step = 0;; ++step) {
    std::optional<ChatResponse> response = CallModel();
    if (!response || !RunTools(*response, step)) break;
  }
  return Finish();
}

// Newest stored messages, oldest first, as many as the budget could use.
Result<std::vector<Message>> Turn::LoadHistory() {
  std::vector<Message> newest_first;
  std::string before;
  size_t chars = 0;
  const size_t budget_chars =
      static_cast<size_t>(std::max(0, d_.options->history_token_budget)) * 4;
  int page_size = kHistoryFirstPage;
  while (static_cast<int>(newest_first.size()) < kHistoryMaxMessages) {
    ASSISTANT_ASSIGN_OR_RETURN(
        MessagePage page,
        d_.storage->ListMessages(principal_.user_id, conv_.id, before, page_size));
    page_size = std::min(page_size * 2, kHistoryMaxPage);
    for (auto it = page.messages.rbegin(); it != page.messages.rend(); ++it) {
      // Tool calls and their results count too: they are replayed.
      chars += it->content.size();
      if (it->tool_calls) chars += DumpJson(*it->tool_calls).size();
      newest_first.push_back(std::move(*it));
    }
    if (!page.has_more || page.messages.empty() || chars > budget_chars) break;
    before = newest_first.back().id;
  }
  std::reverse(newest_first.begin(), newest_first.end());
  return newest_first;
}

// Caller-supplied turns (system messages left out: they went into the
// system prompt), newest kept, within the token budget. An assistant
// message asking for tools stays together with the answers that follow.
std::vector<ChatMessage> Turn::TrimChat(std::vector<ChatMessage> history) const {
  std::vector<std::vector<ChatMessage>> groups;
  for (ChatMessage& m : history) {
    if (m.role == MessageRole::kSystem) continue;
    if (m.role == MessageRole::kTool && !groups.empty()) {
      groups.back().push_back(std::move(m));
    } else {
      groups.push_back({std::move(m)});
    }
  }
  return KeepNewest(std::move(groups), std::max(0, d_.options->history_token_budget));
}

// Whole stored messages, newest kept, within the token budget.
std::vector<ChatMessage> Turn::TrimmedHistory() const {
  std::vector<std::vector<ChatMessage>> groups;
  for (const Message& m : stored_history_) {
    std::vector<ChatMessage> replay = Replay(m);
    if (!replay.empty()) groups.push_back(std::move(replay));
  }
  return KeepNewest(std::move(groups), std::max(0, d_.options->history_token_budget));
}

// The system prompt plus the user's memory and the app's agent state.
Result<std::string> Turn::SystemPrompt() {
  std::string system = d_.options->system_prompt;
  ASSISTANT_ASSIGN_OR_RETURN(std::vector<Memory> memories,
                             d_.storage->ListMemories(principal_.user_id, kPromptMemories));
  if (!memories.empty()) {
    system += "\n\nWhat you remember about the user:";
    // Stored newest first; the prompt reads oldest first.
    for (auto it = memories.rbegin(); it != memories.rend(); ++it) {
      system += "\n- " + it->content;
    }
  }
  Result<AgentState> state = d_.storage->GetAgentState(principal_.user_id, app_id_);
  if (!state.ok() && !IsNotFound(state.status())) return state.status();
  if (state.ok() && state->state.is_object() && !state->state.empty()) {
    system += "\n\nAgent state for this app (JSON): " + DumpJson(state->state);
  }
  return system;
}

}  // namespace assistant
