// The runs of one process (assistant/runs.hpp): the live ones in memory,
// a background thread that writes their events in batches, notices cancel
// requests stored by other processes and prunes old runs; and the
// RunService that reads them back, locally or from storage.
//
// The agent drives a run through Start -> Publish* -> Finish. Publish only
// appends to memory and wakes listeners; it never waits on the database.
#ifndef ASSISTANT_SRC_AGENT_RUN_REGISTRY_HPP_
#define ASSISTANT_SRC_AGENT_RUN_REGISTRY_HPP_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "assistant/logger.hpp"
#include "assistant/clock.hpp"
#include "assistant/llm.hpp"
#include "assistant/options.hpp"
#include "assistant/runs.hpp"
#include "assistant/storage.hpp"

namespace assistant {

// One run executing in this process.
class LiveRun {
 public:
  const std::string& id() const { return id_; }
  // Fires when the run is cancelled (Cancel, a stored request, or the
  // caller's own token); the provider watches it.
  const CancellationToken& token() const { return token_; }
  // Whether the run should stop: its token or the caller's fired.
  bool cancelled() const;
  void Cancel() { token_.Cancel(); }
  // Whether the run was stopped for running past RunOptions::max_duration.
  bool timed_out() const { return timed_out_.load(); }

 private:
  friend class RunRegistry;
  std::string id_;
  bool stored_ = false;
  CancellationToken token_;
  std::atomic<bool> timed_out_{false};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  // The caller's token; valid until Finish (guarded by the registry's mu_
  // for the background thread, read directly by the executing thread).
  const CancellationToken* external_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // new events or finished
  Run run_;                     // guarded by mu_
  std::vector<RunEvent> events_;  // all events so far; guarded by mu_
  size_t flushed_ = 0;          // events_[0, flushed_) handed to storage
  bool finished_ = false;       // guarded by mu_; the last event is in events_
  // A stored run whose start is written with its end (guarded by mu_); its
  // events stay in memory until then.
  std::optional<RunStart> unwritten_start_;
};

class RunRegistry final : public RunService {
 public:
  RunRegistry(Storage& storage, Clock& clock, RunOptions options, Logger& logger);
  ~RunRegistry() override;
  RunRegistry(const RunRegistry&) = delete;
  RunRegistry& operator=(const RunRegistry&) = delete;

  // Registers a run (start.run's id, user_id, conversation_id, message_id
  // set). `stored`: the run and the rest of `start` go to storage —
  // with `write_now`, synchronously, so that other processes see the run
  // at once (a caller is about to hand out its id); otherwise together
  // with the run's end in one transaction, which is what a turn nobody
  // listens to needs. `external` (may be null) must stay valid until
  // Finish returns.
  Result<std::shared_ptr<LiveRun>> Start(RunStart start, bool stored, bool write_now,
                                         const CancellationToken* external);
  // Numbers the event, keeps it and wakes listeners. Returns its id.
  int64_t Publish(LiveRun& run, const std::string& type, Json data);
  // Ends the run: writes its status, remaining events plus `last`, the
  // reply and the turn's audit events in one transaction (stored runs),
  // then publishes `last`. When that write fails, the run ends failed and
  // `last` becomes an error event; the write's error is returned with it
  // in `failure`. Audit events are written in any case (alone if need be).
  // `reply` is borrowed: moved into the write and back (it may hold a large
  // tool result that is not worth a copy).
  RunEvent Finish(LiveRun& run, RunStatus status, std::string last_type, Json last_data,
                  std::optional<Message>& reply, std::vector<AuditEvent> audit,
                  Status* failure);

  // RunService::Attach for a run of this process held by its handle
  // (AgentRun::Attach): served from memory, also after the run finished.
  Status AttachTo(LiveRun& run, int64_t after_event_id, const RunEventSink& sink);

  // RunService
  Result<Run> Get(const Principal& p, const std::string& run_id) override;
  Status Attach(const Principal& p, const std::string& run_id, int64_t after_event_id,
                const RunEventSink& sink) override;
  Result<std::unique_ptr<RunFollower>> Open(const Principal& p, const std::string& run_id,
                                            int64_t after_event_id) override;
  Result<Run> Cancel(const Principal& p, const std::string& run_id) override;
  Result<int> Prune() override;

  const RunOptions& options() const { return options_; }

 private:
  class Follower;
  std::shared_ptr<LiveRun> FindLive(const std::string& user_id, const std::string& run_id);
  Status AttachLive(LiveRun& run, int64_t after_event_id, const RunEventSink& sink);
  // GetRun, failing first a running run whose process stopped heartbeating.
  Result<Run> ReadStored(const std::string& user_id, const std::string& run_id);
  // The reply of a run whose process died, rebuilt from its stored events
  // (text and tool calls) and appended as a failed message.
  Status StorePartialReply(const Run& run, Timestamp now);
  void Heartbeat();
  Status AttachStored(const std::string& user_id, const std::string& run_id,
                      int64_t after_event_id, const RunEventSink& sink);
  void Background();
  void FlushPending();
  // For a storage that keeps no runs: the conversation and user message.
  Status WriteStartWithoutRun(const RunStart& start);
  // Passes the callers' cancels on; with `read_storage`, also the cancel
  // requests other processes stored.
  void PollCancels(bool read_storage);
  bool Stopping();

  Storage& storage_;
  Clock& clock_;
  Logger& logger_;
  const RunOptions options_;
  const std::string owner_;  // this process's id in runs.owner

  std::mutex mu_;
  std::condition_variable cv_;  // stop
  std::unordered_map<std::string, std::shared_ptr<LiveRun>> live_;  // guarded by mu_
  bool stopping_ = false;                                           // guarded by mu_
  // Held while a batch of events is taken and written; Finish takes it so
  // that no older batch of its run commits after the run's end.
  std::mutex flush_mu_;
  std::thread thread_;
};

}  // namespace assistant

#endif  // ASSISTANT_SRC_AGENT_RUN_REGISTRY_HPP_
