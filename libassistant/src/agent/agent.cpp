// The agent (assistant/agent.hpp): checks and prepares a turn on the
// caller's thread, then runs it on the pool (agent/turn.hpp,
// agent/turn_pool.hpp) behind a handle.
#include "agent/agent_impl.hpp"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "agent/turn.hpp"
#include "agent/turn_pace.hpp"
#include "agent/turn_pool.hpp"
#include "assistant/observer.hpp"
#include "common/cursor.hpp"
#include "services/service_util.hpp"

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

// A turn's result, handed from its pool thread to Wait.
struct Outcome {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<AgentReply>> result;  // guarded by mu; set once
  bool taken = false;                        // guarded by mu
};

class AgentRunImpl final : public AgentRun {
 public:
  AgentRunImpl(RunRegistry& runs, std::shared_ptr<LiveRun> live, std::shared_ptr<Outcome> outcome,
               std::shared_ptr<TurnPace> pace, std::string conversation_id,
               std::string message_id, bool store)
      : runs_(runs),
        live_(std::move(live)),
        outcome_(std::move(outcome)),
        pace_(std::move(pace)),
        conversation_id_(std::move(conversation_id)),
        message_id_(std::move(message_id)),
        store_(store) {}

  ~AgentRunImpl() override {
    // Nobody could read the rest of a turn that stores nothing.
    if (!store_) live_->Cancel();
    if (pace_) pace_->Release();
  }

  const std::string& run_id() const override { return live_->id(); }
  const std::string& conversation_id() const override { return conversation_id_; }
  const std::string& message_id() const override { return message_id_; }

  Result<AgentReply> Wait() override {
    std::unique_lock<std::mutex> lock(outcome_->mu);
    outcome_->cv.wait(lock, [&] { return outcome_->result.has_value(); });
    if (outcome_->taken) {
      return FailedPreconditionError("the turn's reply was already taken by Wait");
    }
    outcome_->taken = true;
    return std::move(*outcome_->result);
  }

  Status Attach(int64_t after_event_id, const RunEventSink& sink) override {
    bool cancelled = false;
    // Events up to there count as taken: this caller skips them.
    if (pace_) pace_->Took(after_event_id);
    Status s = runs_.AttachTo(*live_, after_event_id, [&](const RunEvent& e) {
      const bool gone = !sink(e);
      if (gone && (!store_ || runs_.options().cancel_when_sink_gone)) {
        live_->Cancel();
        cancelled = true;
      }
      // After the cancel: a paced turn must not go on past this event.
      if (pace_) pace_->Took(e.id);
      return !gone;
    });
    if (pace_) pace_->Release();
    if (cancelled) {
      // Ended, upstream request closed, before the caller lets go of what
      // it holds for the turn (a server's stream slot).
      std::unique_lock<std::mutex> lock(outcome_->mu);
      outcome_->cv.wait(lock, [&] { return outcome_->result.has_value(); });
    }
    return s;
  }

  void Cancel() override { live_->Cancel(); }

 private:
  RunRegistry& runs_;
  const std::shared_ptr<LiveRun> live_;
  const std::shared_ptr<Outcome> outcome_;
  const std::shared_ptr<TurnPace> pace_;  // null unless StartOptions::paced
  const std::string conversation_id_;
  const std::string message_id_;
  const bool store_;
};

class AgentImpl final : public Agent {
 public:
  explicit AgentImpl(AgentDeps deps)
      : d_(std::move(deps)), pool_(d_.options.max_turns_in_flight) {
    if (!d_.runs) {
      own_runs_ = std::make_unique<RunRegistry>(*d_.storage, *d_.clock, RunOptions{},
                                                d_.audit->logger());
    }
    turn_deps_.storage = d_.storage;
    turn_deps_.clock = d_.clock;
    turn_deps_.audit = d_.audit;
    turn_deps_.runs = d_.runs ? d_.runs : own_runs_.get();
    turn_deps_.provider = d_.provider.get();
    turn_deps_.observer = d_.observer ? d_.observer : NullObserver();
    turn_deps_.options = &d_.options;
    turn_deps_.tools = &tools_;
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

  Result<std::unique_ptr<AgentRun>> Start(const Principal& p, const AgentRequest& request,
                                          const RequestContext& ctx,
                                          StartOptions options) override {
    auto turn = std::make_unique<Turn>(turn_deps_, p, ctx);
    ASSISTANT_RETURN_IF_ERROR(turn->Prepare(request));
    // After the request's own checks, so a bad request is told what is
    // wrong with it even when the agent is busy.
    if (!pool_.TryReserve()) {
      return ResourceExhaustedError("the agent has as many turns running as it may; retry later",
                                    "agent_busy");
    }
    std::shared_ptr<TurnPace> pace;
    if (options.paced && options.listen) pace = std::make_shared<TurnPace>();
    if (Status opened = turn->Open(options.listen, options.cancel, pace); !opened.ok()) {
      pool_.Release();
      return opened;
    }
    auto outcome = std::make_shared<Outcome>();
    auto handle = std::make_unique<AgentRunImpl>(*turn_deps_.runs, turn->run(), outcome, pace,
                                                 turn->conversation_id(), turn->message_id(),
                                                 turn->store());
    pool_.Run([turn = std::shared_ptr<Turn>(std::move(turn)), outcome] {
      Result<AgentReply> reply = turn->Run();
      {
        std::lock_guard<std::mutex> lock(outcome->mu);
        outcome->result = std::move(reply);
      }
      outcome->cv.notify_all();
    });
    return std::unique_ptr<AgentRun>(std::move(handle));
  }

 private:
  AgentDeps d_;
  std::unique_ptr<RunRegistry> own_runs_;  // when deps gave none
  ToolRegistry tools_;
  TurnDeps turn_deps_;
  // Last: destroyed first, it waits for the turns still running, which use
  // everything above.
  TurnPool pool_;
};

}  // namespace

Result<AgentReply> Agent::Send(const Principal& p, const AgentRequest& request,
                               const RequestContext& ctx, const AgentEventSink& on_event,
                               const CancellationToken* cancel) {
  StartOptions options;
  options.listen = static_cast<bool>(on_event);
  // As when the sink ran on the turn's own thread: a sink that cancels at
  // an event stops the turn there.
  options.paced = options.listen;
  options.cancel = cancel;
  ASSISTANT_ASSIGN_OR_RETURN(std::unique_ptr<AgentRun> run, Start(p, request, ctx, options));
  if (on_event) {
    run->Attach(0, [&](const RunEvent& e) {
         if (e.type.empty()) return true;  // a keep-alive: not an agent event
         return on_event(AgentEvent{e.type, e.data, e.id});
       })
        .IgnoreError();  // from memory, on its own run: it cannot fail
  }
  return run->Wait();
}

Result<std::unique_ptr<Agent>> NewAgent(AgentDeps deps) {
  if (!deps.storage || !deps.clock || !deps.audit || !deps.provider) {
    return InvalidArgumentError("the agent needs storage, a clock, an audit log and a provider");
  }
  return std::unique_ptr<Agent>(std::make_unique<AgentImpl>(std::move(deps)));
}

}  // namespace assistant
