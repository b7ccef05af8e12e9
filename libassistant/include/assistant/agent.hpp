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
// A turn is started with Agent::Start, which checks everything knowable up
// front and returns a handle at once; the turn runs on a thread of the
// agent's own bounded pool (AgentOptions::max_turns_in_flight).
//
// Thread safety: every method of Agent is safe to call from many threads
// at once; AgentRun's too.
//
// Example:
//   auto run = core->agent().Start(me, {"add milk"}, ctx);
//   if (!run.ok()) return run.status();          // nothing ran
//   (*run)->Attach(0, [](const RunEvent& e) { return Forward(e); });
//   Result<AgentReply> reply = (*run)->Wait();
#ifndef ASSISTANT_AGENT_HPP_
#define ASSISTANT_AGENT_HPP_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "assistant/conversations.hpp"
#include "assistant/llm.hpp"
#include "assistant/runs.hpp"
#include "assistant/status.hpp"
#include "assistant/tools.hpp"
#include "assistant/types.hpp"

namespace assistant {

struct AgentEvent {
  std::string type;  // message.start | message.delta | tool.call | ...
  Json data;
  int64_t id = 0;    // the event's number within its run: 1, 2, 3, ...
};

// Receives events in order (Agent::Send). Return false when nobody listens
// any more; the turn then goes on or stops as AgentRun::Attach says.
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

// How Agent::Start runs a turn.
struct StartOptions {
  // True: the caller (or another process) attaches to the events while the
  // turn runs, so the run is written before Start returns and every delta
  // is an event of its own. False: the caller only Waits; the run is
  // written once at its end and consecutive deltas merge into fewer events
  // (AgentRun::Attach still works). Default: true.
  bool listen = true;
  // True: the turn goes on after each event only once the sink of this
  // handle's Attach took it, so a caller that stops at an event (and
  // cancels) stops the turn right there, as a C callback or a Python loop
  // expects. Pacing ends when that Attach returns or the handle is dropped.
  // Other listeners do not hold the turn. Needs `listen`. Default: false.
  bool paced = false;
  // Firing it cancels the turn like AgentRun::Cancel. Borrowed: it must stay
  // valid until the turn ended (Wait returned). Default: none.
  const CancellationToken* cancel = nullptr;
};

// A turn in progress or finished, as Agent::Start hands it out. Must not
// outlive the Assistant that made it. Dropping it does not stop a stored
// turn (it finishes and is stored); it cancels a turn that stores nothing
// (AgentRequest::store false), whose reply nobody could read any more.
class AgentRun {
 public:
  virtual ~AgentRun() = default;
  virtual const std::string& run_id() const = 0;
  // Empty for a turn that stores nothing.
  virtual const std::string& conversation_id() const = 0;
  // The assistant message the turn produces.
  virtual const std::string& message_id() const = 0;
  // Blocks until the turn ended. The reply is completed, or cancelled with
  // its partial text; a failed turn (provider error, turn_timeout, a write
  // that failed) returns the failure its `error` event carries. The reply
  // and the run's final state are stored before it returns. Call it once:
  // a second call is FailedPrecondition.
  virtual Result<AgentReply> Wait() = 0;
  // Delivers the run's events with id > after_event_id, then follows it
  // live until its last event (message.done or error), as
  // RunService::Attach does, keep-alives included, but from memory: it
  // works for a turn that stores nothing and after the run was pruned.
  // When the sink returns false, the turn is cancelled if it stores nothing
  // or RunOptions::cancel_when_sink_gone is set, and Attach returns once it
  // ended; otherwise it goes on.
  // InvalidArgument for a negative id or an empty sink.
  virtual Status Attach(int64_t after_event_id, const RunEventSink& sink) = 0;
  // Stops the turn: the upstream request is aborted, the partial reply is
  // stored as cancelled and listeners get message.done. No effect on a
  // finished turn.
  virtual void Cancel() = 0;
};

class Agent {
 public:
  virtual ~Agent() = default;
  // Starts a turn and returns without waiting for the model. Fails before
  // any event, with nothing stored or run, for everything knowable up
  // front: scope `agent` (PermissionDenied); a user that does not exist
  // (NotFound, reason "unknown_user"); the request (InvalidArgument naming
  // message, app_id, conversation_id, messages or a sampling field;
  // sampling a provider cannot honour, reason "unsupported_parameter"); a
  // conversation_id that is not the caller's (NotFound); the turns in
  // flight already at AgentOptions::max_turns_in_flight
  // (ResourceExhausted, reason "agent_busy"); storage failing while it
  // reads the conversation or writes the run's start. Everything after
  // that is reported by the run's events and by Wait.
  virtual Result<std::unique_ptr<AgentRun>> Start(const Principal& p,
                                                  const AgentRequest& request,
                                                  const RequestContext& ctx,
                                                  StartOptions options = {}) = 0;
  // Start (paced when given a sink), then the events to `on_event` (on the
  // calling thread) and Wait.
  // When on_event returns false it hears no more; the turn goes on as
  // AgentRun::Attach says. The reply's status is completed, cancelled (the
  // token fired, or RunService::Cancel: partial text kept) or failed
  // (provider error: partial text kept and the error returned after the
  // error event). The run's final state and the reply are stored before
  // Send returns.
  Result<AgentReply> Send(const Principal& p, const AgentRequest& request,
                          const RequestContext& ctx, const AgentEventSink& on_event = nullptr,
                          const CancellationToken* cancel = nullptr);
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
