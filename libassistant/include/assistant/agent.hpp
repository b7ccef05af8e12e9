// File: assistant/agent.hpp
//
// The agent loop: one user message in, one stored assistant reply out.
// It builds the prompt (system prompt, the user's memory and agent state,
// history trimmed to a token budget), asks the provider, runs the tools the
// model asks for with the caller's scopes, feeds the results back, and repeats
// up to a step limit. Both messages are stored in the conversation; the
// assistant message records its tool calls. Every tool call is audited.
//
// Events (docs/server.md "Streaming"): message.start {conversation_id, message_id,
// run_id}, message.delta {content}, tool.call {id, name, arguments},
// tool.result {id, name, result}, message.done {message, usage}, error
// {error:{code,message}}. Each turn is a run (assistant/runs.hpp): its
// events are numbered and kept, so others can re-attach and cancel it.
//
// Thread safety: every method is safe to call from many threads at once.
#ifndef ASSISTANT_AGENT_HPP_
#define ASSISTANT_AGENT_HPP_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "assistant/conversations.hpp"
#include "assistant/llm.hpp"
#include "assistant/status.hpp"
#include "assistant/tools.hpp"
#include "assistant/types.hpp"

namespace assistant {

struct AgentEvent {
  std::string type;  // message.start | message.delta | tool.call | ...
  Json data;
  int64_t id = 0;    // the event's number within its run: 1, 2, 3, ...
};

// Receives events in order. Return false when nobody listens any more; the
// turn still finishes (the reply is stored) unless cancelled, or
// RunOptions::cancel_when_sink_gone is set, or the turn stores nothing
// (AgentRequest::store false: nobody could ever read the rest, so the
// provider's request is cancelled). Later events may still arrive.
using AgentEventSink = std::function<bool(const AgentEvent&)>;

struct AgentRequest {
  std::string message;  // 1..32,000 characters, multi-line
  std::optional<std::string> conversation_id;  // new conversation when unset
  std::optional<std::string> app_id;
  // The earlier turns, supplied by the caller instead of read from storage
  // (the OpenAI-compatible endpoint: the client owns the history). Trimmed
  // to the token budget like stored history. Its system messages follow the
  // agent's own system prompt.
  std::optional<std::vector<ChatMessage>> history;
  // False: nothing of the turn is stored — no conversation, no messages, no
  // run — though tools still act and are audited. conversation_id must then
  // be unset. Message ids are still assigned.
  bool store = true;
  // How the model samples each of its answers (assistant/llm.hpp). Out of
  // range values are InvalidArgument naming the field; with a provider that
  // cannot honour them (the rules provider) any value set is refused with
  // reason "unsupported_parameter".
  Sampling sampling;
};

struct AgentReply {
  std::string conversation_id;
  std::string run_id;
  Message message;  // the stored assistant message
  Usage usage;
};

// {"id","role","content","tool_calls","status","created_at",...} for a message.
Json MessageToJson(const Message& m);
// The same, taking the message's contents instead of copying them (a reply's
// tool results can be large).
Json MessageToJson(Message&& m);

class Agent {
 public:
  virtual ~Agent() = default;
  // Needs scope `agent`. The reply's status is completed, cancelled (the
  // token fired, or RunService::Cancel: partial text kept) or failed
  // (provider error: partial text kept and the error returned after the
  // error event). The run's final state and the reply are stored before
  // Send returns.
  virtual Result<AgentReply> Send(const Principal& p, const AgentRequest& request,
                                  const RequestContext& ctx,
                                  const AgentEventSink& on_event = nullptr,
                                  const CancellationToken* cancel = nullptr) = 0;
  // The refusals Send would give before the turn starts and that need no
  // storage (scope, message, app_id, conversation_id without store,
  // sampling, history): for a caller that must answer before the turn runs,
  // such as a stream whose status line goes out first. OK does not promise
  // that Send succeeds.
  virtual Status Check(const Principal& p, const AgentRequest& request) = 0;
  // Messages of a conversation (the newest when none given: the user's
  // most recently updated one), oldest first.
  virtual Result<MessagePage> History(const Principal& p,
                                      const std::optional<std::string>& conversation_id,
                                      int limit) = 0;
  // Built-in task tools plus any registered.
  virtual ToolRegistry& tools() = 0;
};

}  // namespace assistant

#endif  // ASSISTANT_AGENT_HPP_
