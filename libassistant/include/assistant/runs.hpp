// File: assistant/runs.hpp
//
// Runs: one agent turn (Agent::Start) in progress or recently finished. A
// run's events (message.start, message.delta, tool.call, tool.result,
// message.done or error) are numbered 1, 2, 3, ... and kept, so a client
// that lost its connection re-attaches after the last id it saw and misses
// nothing (docs/architecture.md "Runs", docs/server.md "Runs").
//
// Where runs live:
//   - The process executing a turn holds its events in memory; live
//     listeners are served from there and never wait on the database.
//   - Events reach storage asynchronously in batches (RunOptions::
//     flush_interval); the run's final state, its remaining events and the
//     stored assistant message are written in one transaction before
//     AgentRun::Wait returns.
//   - Any process sharing the database can Get, Attach to and Cancel a run:
//     Attach then polls storage (RunOptions::attach_poll), and Cancel stores
//     a request that the owning process picks up within RunOptions::
//     cancel_poll.
//   - Finished runs stay for RunOptions::retention, then Prune deletes them
//     with their events. Deleting the conversation or the user deletes its
//     runs at once.
//
// Turns that are not stored (AgentRequest::store == false) still get a run
// id, which Get, Attach and Cancel reach while the turn runs in this
// process; nothing of them is written.
//
// Thread safety: every method is safe to call from many threads at once.
//
// Example (re-attach after a dropped connection):
//   core->runs().Attach(me, run_id, /*after_event_id=*/last_seen,
//                       [&](const RunEvent& e) { return Forward(e); });
#ifndef ASSISTANT_RUNS_HPP_
#define ASSISTANT_RUNS_HPP_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

// Where a run is. Storage keeps RunStatusName's text and the JSON shows it;
// do not change the names.
enum class RunStatus { kRunning, kCompleted, kCancelled, kFailed };
// "running", "completed", "cancelled", "failed".
const char* RunStatusName(RunStatus status);
// Exact names. InvalidArgument (field "status") for any other.
Result<RunStatus> ParseRunStatus(std::string_view name);

struct Run {
  std::string id;
  std::string user_id;
  std::string conversation_id;  // empty for a turn that is not stored
  std::string message_id;       // the assistant message the turn produces
  RunStatus status = RunStatus::kRunning;
  Timestamp created_at{};
  std::optional<Timestamp> finished_at;
  // Set by Cancel when another process executes the run.
  bool cancel_requested = false;
  // Which process executes the run (a random id per RunService).
  std::string owner;
  // The owner's last sign of life (it refreshes it about every second); a
  // running run silent for RunOptions::abandoned_after is failed by the
  // next reader, since its process must have died.
  std::optional<Timestamp> heartbeat_at;
};

struct RunEvent {
  std::string run_id;
  int64_t id = 0;    // 1, 2, 3, ... within the run; 0 for a keep-alive
  std::string type;  // as AgentEvent::type; empty for a keep-alive
  Json data;
};

// Events of one run, as storage takes them in a batch.
struct RunEventBatch {
  std::string user_id;
  std::string run_id;
  std::vector<RunEvent> events;
};

// What a turn writes when it begins (Storage::StartRun): the conversation
// it opens, if any, the user's message, and the run.
struct RunStart {
  Run run;
  std::optional<Conversation> new_conversation;
  std::optional<Message> user_message;
};

// What a turn writes when it ends (Storage::FinishRun), in one transaction.
struct RunFinish {
  Run run;                        // with its final status and finished_at
  std::vector<RunEvent> events;   // events not stored yet
  std::optional<Message> reply;   // the assistant message, for a stored turn
  // Set when the run's start was never written (a turn nobody listened to
  // is written once, at its end).
  std::optional<RunStart> start;
  // Audit events of the turn (its tool calls), appended as AppendAudit does.
  std::vector<AuditEvent> audit;
};

// {"id","conversation_id","message_id","status","created_at","finished_at"}.
Json RunToJson(const Run& run);

// Receives events in order. Return false to stop listening (the run goes
// on). An event with an empty type is a keep-alive, sent after
// RunOptions::keep_alive of silence so a caller can notice a gone client.
using RunEventSink = std::function<bool(const RunEvent&)>;

// A run found for its caller by RunService::Open, to follow.
//
// Thread safety: one thread at a time; it may outlive the request that
// opened it, not the RunService.
class RunFollower {
 public:
  virtual ~RunFollower() = default;
  // Delivers the run's events after Open's after_event_id, then follows it
  // as RunService::Attach does, blocking meanwhile. Fails only for what
  // happens after Open (the run pruned, storage failing); InvalidArgument
  // for an empty sink. Call it once.
  virtual Status Follow(const RunEventSink& sink) = 0;
};

class RunService {
 public:
  virtual ~RunService() = default;

  // Needs scope `agent`. NotFound when the run is not the caller's, does
  // not exist, or was pruned.
  virtual Result<Run> Get(const Principal& p, const std::string& run_id) = 0;

  // Delivers the run's events with id > after_event_id, then follows the
  // run live until its last event (message.done or error) was delivered,
  // the sink returned false, or the service shuts down. Blocks the calling
  // thread meanwhile. Works for runs executing in another process sharing
  // the database. Needs scope `agent`; NotFound as for Get;
  // InvalidArgument (field "last_event_id") for a negative id.
  virtual Status Attach(const Principal& p, const std::string& run_id,
                        int64_t after_event_id, const RunEventSink& sink) = 0;

  // Attach in two steps, for a caller that must answer a refusal before it
  // delivers anything (an HTTP route, before its status line): every
  // failure Attach knows up front (scope, NotFound, the id) is returned
  // here; the follower then delivers as Attach does. Attach is Open, then
  // Follow.
  virtual Result<std::unique_ptr<RunFollower>> Open(const Principal& p,
                                                    const std::string& run_id,
                                                    int64_t after_event_id) = 0;

  // Asks the run to stop. In this process the upstream request is aborted
  // at once; a run of another process stops within RunOptions::cancel_poll
  // plus the provider's own reaction time. The partial reply is stored
  // with status cancelled and listeners get message.done. Cancelling a
  // finished run changes nothing. Returns the run as it is now (usually
  // still running). Needs scope `agent`; NotFound as for Get.
  virtual Result<Run> Cancel(const Principal& p, const std::string& run_id) = 0;

  // Deletes runs (and their events) that finished more than
  // RunOptions::retention ago by the service's clock. Runs by itself every
  // RunOptions::prune_interval; returns how many were deleted.
  virtual Result<int> Prune() = 0;
};

}  // namespace assistant

#endif  // ASSISTANT_RUNS_HPP_
