// One agent turn (assistant/agent.hpp), as steps a reader and a test can
// take one by one:
//   Prepare      the request's checks and the reads it needs; nothing is
//                written, so whatever fails here fails before any event;
//   Open         the run (written at once when someone listens) and
//                message.start;
//   BuildPrompt  system prompt, history trimmed to the token budget, the
//                user's message;
//   CallModel    one provider call, its text streamed as deltas;
//   RunTools     the tools the model asked for, their results fed back;
//   Finish       the reply and the run's end, stored in one write, then
//                the last event.
// Run() takes steps 3 to 6 in order, repeating 4 and 5 up to
// AgentOptions::max_tool_steps.
//
// Thread safety: a Turn is used by one thread at a time; its run (run())
// is shared with listeners through the registry.
#ifndef ASSISTANT_SRC_AGENT_TURN_HPP_
#define ASSISTANT_SRC_AGENT_TURN_HPP_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/run_registry.hpp"
#include "agent/turn_pace.hpp"
#include "assistant/agent.hpp"
#include "assistant/llm.hpp"
#include "assistant/observer.hpp"
#include "assistant/options.hpp"
#include "assistant/storage.hpp"
#include "assistant/tools.hpp"
#include "services/audit_log.hpp"

namespace assistant {

// What a turn works with; everything outlives the turn.
struct TurnDeps {
  Storage* storage = nullptr;
  Clock* clock = nullptr;
  AuditLog* audit = nullptr;
  RunRegistry* runs = nullptr;
  LlmProvider* provider = nullptr;
  Observer* observer = nullptr;
  const AgentOptions* options = nullptr;
  ToolRegistry* tools = nullptr;
};

class Turn {
 public:
  Turn(const TurnDeps& deps, Principal principal, RequestContext ctx);
  Turn(const Turn&) = delete;
  Turn& operator=(const Turn&) = delete;

  // Step 1: scope, user, message, app_id, sampling, caller history, the
  // conversation (NotFound when not the caller's), its stored history and
  // the system prompt. Reads only.
  Status Prepare(const AgentRequest& request);
  // Step 2: registers the run (its start written now when `listen`, else
  // with its end) and publishes message.start. `external` (may be null)
  // must stay valid until Finish returned. With `pace`, each event waits
  // to be taken (turn_pace.hpp) before the turn goes on.
  Status Open(bool listen, const CancellationToken* external,
              std::shared_ptr<TurnPace> pace = nullptr);
  // Step 3: the prompt (chat()).
  void BuildPrompt();
  // Step 4: one provider call. Nothing when the turn ends here (cancelled,
  // or the provider failed: status() says which; the partial text stays).
  std::optional<ChatResponse> CallModel();
  // Step 5: runs the response's tool calls (`step` counts from 0) and adds
  // them and their results to the prompt. False when the turn is done: no
  // calls, the step limit, or cancelled.
  bool RunTools(ChatResponse& response, int step);
  // Step 6: stores the reply with the run's end and publishes the last
  // event. The reply, or the failure the error event carries.
  Result<AgentReply> Finish();
  // Steps 3 to 6, after Prepare and Open.
  Result<AgentReply> Run();

  const std::shared_ptr<LiveRun>& run() const { return run_; }
  const ChatRequest& chat() const { return chat_; }
  const std::string& conversation_id() const { return conv_.id; }
  const std::string& message_id() const { return message_id_; }
  bool store() const { return store_; }
  // The reply's text so far.
  const std::string& reply_text() const { return reply_text_; }
  // Completed, cancelled or failed, as far as the turn got.
  RunStatus status() const { return status_; }

 private:
  void Emit(const char* type, Json data);
  // Publishes one event and, when paced, waits until it was taken.
  void Publish(const char* type, Json data);
  void EmitDelta(std::string_view text);
  void PublishUnheardText();
  bool OnDelta(std::string_view delta);
  Result<std::vector<Message>> LoadHistory();
  Result<std::string> SystemPrompt();
  std::vector<ChatMessage> TrimChat(std::vector<ChatMessage> history) const;
  std::vector<ChatMessage> TrimmedHistory() const;

  const TurnDeps d_;
  const Principal principal_;
  const RequestContext ctx_;

  // From Prepare.
  bool store_ = true;
  bool has_conversation_ = false;
  bool caller_gave_history_ = false;
  std::string content_;
  std::string app_id_;
  Sampling sampling_;
  std::vector<ChatMessage> caller_history_;
  std::vector<Message> stored_history_;
  std::string system_;
  Conversation conv_;
  Message user_msg_;
  std::string message_id_;

  // From Open on.
  std::shared_ptr<LiveRun> run_;
  bool listen_ = true;
  std::shared_ptr<TurnPace> pace_;
  // Deltas of a turn nobody listens to, not published yet: they go out as
  // one event (the same text in far fewer events to keep and store).
  std::string unheard_text_;
  // Such a turn's events that repeat its stored reply are kept as
  // references to it from the start (agent/stored_event.hpp).
  bool refer_to_reply_ = false;
  std::chrono::steady_clock::time_point began_{};

  ChatRequest chat_;
  std::string reply_text_;
  std::string step_text_;
  Usage usage_;
  // The tool calls run and their results, in order; the chat's tool
  // messages share the results (ChatMessage::tool_result).
  std::vector<ToolCall> called_;
  std::vector<std::shared_ptr<Json>> results_;
  std::vector<AuditEvent> audit_;
  RunStatus status_ = RunStatus::kCompleted;
  Status failure_;
};

}  // namespace assistant

#endif  // ASSISTANT_SRC_AGENT_TURN_HPP_
