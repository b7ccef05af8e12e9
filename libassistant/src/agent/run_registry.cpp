// Runs of this process and the RunService (see run_registry.hpp and
// docs/architecture.md "Runs").
//
// Ordering rules that keep a re-attaching client gap-free:
//   - Every event of a stored run reaches storage either in a background
//     batch or in Finish's final transaction. Finish first waits for a batch
//     in flight (flush_mu_), so when storage says a run is finished, all of
//     its events are stored.
//   - Attach from storage reads the run's status before its events: if the
//     status was final, the events read afterwards are complete.
#include "agent/run_registry.hpp"

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include "agent/stored_event.hpp"
#include "api/error_shapes.hpp"
#include "services/service_util.hpp"

namespace assistant {

Json RunToJson(const Run& run) {
  return {{"id", run.id},
          {"conversation_id", run.conversation_id.empty() ? Json() : Json(run.conversation_id)},
          {"message_id", run.message_id},
          {"status", RunStatusName(run.status)},
          {"created_at", FormatTime(run.created_at)},
          {"finished_at", run.finished_at ? Json(FormatTime(*run.finished_at)) : Json()}};
}

namespace {

constexpr const char* kScope = "agent";
// The background thread's nice value (Linux: per thread).
constexpr int kBackgroundNice = 10;
// Events read from storage per query while attaching.
constexpr int kAttachPage = 500;
// Longest a live attach sleeps before looking at the keep-alive timer and
// shutdown again.
constexpr std::chrono::milliseconds kAttachWakeup{250};

using SteadyClock = std::chrono::steady_clock;

// A storage that keeps no runs answers Unimplemented; to a caller that run
// simply does not exist.
Status NotFoundIfUnsupported(const Status& s) {
  if (s.code() == StatusCode::kUnimplemented) return NotFoundError("run not found");
  return s;
}

// A run's stored reply, read the first time an event refers to it.
class ReplyLoader {
 public:
  ReplyLoader(Storage& storage, const Run& run) : storage_(storage), run_(run) {}
  const std::optional<Message>& Get() {
    if (!loaded_) {
      Result<Message> m = storage_.GetMessage(run_.user_id, run_.conversation_id, run_.message_id);
      if (m.ok()) reply_ = std::move(*m);
      loaded_ = true;
    }
    return reply_;
  }

 private:
  Storage& storage_;
  const Run& run_;
  bool loaded_ = false;
  std::optional<Message> reply_;
};

Status CheckAfter(int64_t after_event_id) {
  if (after_event_id < 0) {
    return InvalidArgumentError("last_event_id must be 0 or more", "last_event_id");
  }
  return Status();
}

Status CheckSink(const RunEventSink& sink) {
  if (!sink) return InvalidArgumentError("an event sink is required", "sink");
  return Status();
}

RunEvent KeepAlive(const std::string& run_id) {
  RunEvent e;
  e.run_id = run_id;
  return e;
}

}  // namespace

bool LiveRun::cancelled() const {
  return token_.cancelled() || (external_ && external_->cancelled());
}

RunRegistry::RunRegistry(Storage& storage, Clock& clock, RunOptions options, Logger& logger)
    : storage_(storage), clock_(clock), logger_(logger), options_(options), owner_(NewId()) {
  thread_ = std::thread([this] { Background(); });
}

RunRegistry::~RunRegistry() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool RunRegistry::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

Result<std::shared_ptr<LiveRun>> RunRegistry::Start(RunStart start, bool stored, bool write_now,
                                                    const CancellationToken* external) {
  Run& run = start.run;
  run.owner = owner_;
  run.status = RunStatus::kRunning;
  run.created_at = services::NowMillis(clock_);
  run.finished_at.reset();
  run.cancel_requested = false;
  if (stored && write_now) {
    Status s = storage_.StartRun(start);
    // A storage without runs still serves the turn; its run lives in memory.
    if (s.code() == StatusCode::kUnimplemented) {
      stored = false;
      ASSISTANT_RETURN_IF_ERROR(WriteStartWithoutRun(start));
    } else if (!s.ok()) {
      return s;
    }
  }
  auto live = std::make_shared<LiveRun>();
  live->id_ = run.id;
  live->stored_ = stored;
  live->external_ = external;
  live->run_ = run;
  if (stored && !write_now) live->unwritten_start_ = std::move(start);
  std::lock_guard<std::mutex> lock(mu_);
  live_[live->id_] = live;
  return live;
}

Status RunRegistry::WriteStartWithoutRun(const RunStart& start) {
  if (start.new_conversation) {
    ASSISTANT_RETURN_IF_ERROR(storage_.CreateConversation(*start.new_conversation));
  }
  if (start.user_message) {
    ASSISTANT_RETURN_IF_ERROR(storage_.AppendMessage(start.run.user_id, *start.user_message));
  }
  return Status();
}

int64_t RunRegistry::Publish(LiveRun& run, const std::string& type, Json data) {
  int64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(run.mu_);
    id = static_cast<int64_t>(run.events_.size()) + 1;
    run.events_.push_back(RunEvent{run.id_, id, type, std::move(data)});
  }
  run.cv_.notify_all();
  return id;
}

RunEvent RunRegistry::Finish(LiveRun& run, RunStatus status, std::string last_type,
                             Json last_data, std::optional<Message>& reply,
                             std::vector<AuditEvent> audit, Status* failure) {
  RunFinish finish;
  finish.audit = std::move(audit);
  finish.reply = std::move(reply);
  // Given back however this ends.
  struct GiveBack {
    std::optional<Message>& to;
    std::optional<Message>& from;
    ~GiveBack() {
      if (from) to = std::move(from);
    }
  } give_back{reply, finish.reply};
  bool audit_written = false;
  // Kept in full in memory for listeners, and returned.
  RunEvent last;
  // events_[from, to) are not stored yet.
  size_t from = 0;
  size_t to = 0;
  // The unstored events as storage takes them: with `compact`, those that
  // repeat the reply as references to it (stored_event.hpp).
  auto take_unstored = [&](bool compact) {
    std::vector<RunEvent> out;
    out.reserve(to - from + 1);
    // Where the next delta starts in the reply: known when no event was
    // stored before.
    size_t text_offset = from == 0 ? 0 : std::string::npos;
    {
      std::lock_guard<std::mutex> lock(run.mu_);
      for (size_t i = from; i < to; ++i) {
        const RunEvent& e = run.events_[i];
        std::optional<Json> ref = compact ? StoredRef(e, *finish.reply, text_offset) : std::nullopt;
        out.push_back(ref ? RunEvent{e.run_id, e.id, e.type, std::move(*ref)} : e);
      }
    }
    std::optional<Json> ref = compact ? StoredRef(last, *finish.reply, text_offset) : std::nullopt;
    out.push_back(ref ? RunEvent{last.run_id, last.id, last.type, std::move(*ref)} : last);
    return out;
  };
  {
    // A batch taken before this point is committed once flush_mu_ is ours.
    std::lock_guard<std::mutex> flush(flush_mu_);
    std::lock_guard<std::mutex> lock(run.mu_);
    from = run.flushed_;
    to = run.events_.size();
    run.flushed_ = to;
    finish.run = run.run_;
    finish.start = std::move(run.unwritten_start_);
    run.unwritten_start_.reset();
    last = RunEvent{run.id_, static_cast<int64_t>(to) + 1, std::move(last_type),
                    std::move(last_data)};
  }
  Run& finished = finish.run;
  finished.status = status;
  finished.finished_at = services::NowMillis(clock_);
  auto fail_last = [&](const Status& why) {
    finished.status = RunStatus::kFailed;
    last.type = "error";
    last.data = api::ErrorEventData(why);
  };
  Status written;
  if (run.stored_) {
    // The reply is written with the events: those repeating it may refer to it.
    finish.events = take_unstored(/*compact=*/finish.reply.has_value());
    written = storage_.FinishRun(finish);
    audit_written = written.ok();
    if (written.code() == StatusCode::kUnimplemented && finish.start) {
      // A storage without runs: the turn's messages still count.
      written = WriteStartWithoutRun(*finish.start);
      if (written.ok() && finish.reply) {
        written = storage_.AppendMessage(finished.user_id, *finish.reply);
      }
      if (!written.ok()) fail_last(written);
    } else if (!written.ok()) {
      // The reply could not be kept; still end the run, so that it does not
      // read as running forever (a run whose start was not written either
      // is left unwritten). Best effort: the database may be down.
      fail_last(written);
      reply = std::move(finish.reply);
      finish.reply.reset();
      if (!finish.start) {
        finish.events = take_unstored(/*compact=*/false);
        audit_written = storage_.FinishRun(finish).ok();
      }
    }
  } else if (finish.reply) {
    // A stored turn on a storage that keeps no runs: the reply still counts.
    written = storage_.AppendMessage(finished.user_id, *finish.reply);
    if (!written.ok()) fail_last(written);
  }
  if (!audit_written) {
    for (const AuditEvent& a : finish.audit) {
      Status s = storage_.AppendAudit(a);
      if (!s.ok()) {
        logger_.Log(LogLevel::kError, "audit: could not record an event",
                    {{"type", a.type}, {"cause", s.ToString()}});
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(run.mu_);
    run.run_ = finished;
    run.events_.push_back(last);
    run.flushed_ = run.events_.size();
    run.finished_ = true;
  }
  run.cv_.notify_all();
  {
    // From here on Get and Attach read storage (for a stored run, it now
    // holds everything; an unstored run is gone).
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(run.id_);
  }
  if (failure) *failure = written;
  return last;
}

std::shared_ptr<LiveRun> RunRegistry::FindLive(const std::string& user_id,
                                               const std::string& run_id) {
  std::shared_ptr<LiveRun> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(run_id);
    if (it == live_.end()) return nullptr;
    live = it->second;
  }
  std::lock_guard<std::mutex> lock(live->mu_);
  // Another user's run is answered as a missing one.
  return live->run_.user_id == user_id ? live : nullptr;
}

Result<Run> RunRegistry::Get(const Principal& p, const std::string& run_id) {
  ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kScope));
  if (auto live = FindLive(p.user_id, run_id)) {
    std::lock_guard<std::mutex> lock(live->mu_);
    return live->run_;
  }
  Result<Run> stored = ReadStored(p.user_id, run_id);
  if (!stored.ok()) return NotFoundIfUnsupported(stored.status());
  return stored;
}

Result<Run> RunRegistry::ReadStored(const std::string& user_id, const std::string& run_id) {
  Result<Run> run = storage_.GetRun(user_id, run_id);
  if (!run.ok() || run->status != RunStatus::kRunning) return run;
  const Timestamp now = services::NowMillis(clock_);
  const Timestamp alive_since = now - options_.abandoned_after;
  if (run->heartbeat_at.value_or(run->created_at) >= alive_since) return run;
  RunEvent error{run_id, 0, "error",
                 {{"error",
                   {{"code", "run_abandoned"},
                    {"message", "the server running this turn stopped before it finished"}}}}};
  Result<bool> failed = storage_.FailAbandonedRun(user_id, run_id, alive_since, now, error);
  if (!failed.ok()) return failed.status();
  // Only the reader whose write failed the run keeps its partial reply.
  if (*failed) StorePartialReply(*run, now).IgnoreError();
  return storage_.GetRun(user_id, run_id);
}

Status RunRegistry::StorePartialReply(const Run& run, Timestamp now) {
  Message reply;
  reply.id = run.message_id;
  reply.conversation_id = run.conversation_id;
  reply.role = MessageRole::kAssistant;
  reply.status = MessageStatus::kFailed;
  reply.created_at = now;
  Json calls = Json::array();
  for (int64_t after = 0;;) {
    ASSISTANT_ASSIGN_OR_RETURN(std::vector<RunEvent> events,
                               storage_.ListRunEvents(run.user_id, run.id, after, kAttachPage));
    for (const RunEvent& e : events) {
      after = e.id;
      if (!e.data.is_object()) continue;
      if (e.type == "message.delta") {
        reply.content += StoredText(e.data, "content");
      } else if (e.type == "tool.call") {
        calls.push_back({{"id", StoredText(e.data, "id")},
                         {"name", StoredText(e.data, "name")},
                         {"arguments", e.data.value("arguments", Json::object())}});
      } else if (e.type == "tool.result") {
        for (Json& c : calls) {
          if (c["id"] == StoredText(e.data, "id")) c["result"] = e.data.value("result", Json());
        }
      }
    }
    if (static_cast<int>(events.size()) < kAttachPage) break;
  }
  if (!calls.empty()) reply.tool_calls = std::move(calls);
  return storage_.AppendMessage(run.user_id, reply);
}

void RunRegistry::Heartbeat() {
  bool any_stored = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, run] : live_) any_stored |= run->stored_;
  }
  if (any_stored) storage_.TouchRuns(owner_, services::NowMillis(clock_)).IgnoreError();
}

Status RunRegistry::Attach(const Principal& p, const std::string& run_id,
                           int64_t after_event_id, const RunEventSink& sink) {
  ASSISTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunFollower> follower,
                             Open(p, run_id, after_event_id));
  return follower->Follow(sink);
}

// A run of this process is followed from memory through the handle it was
// found by (also once it finished); any other through storage.
class RunRegistry::Follower final : public RunFollower {
 public:
  Follower(RunRegistry& registry, std::shared_ptr<LiveRun> live, std::string user_id,
           std::string run_id, int64_t after_event_id)
      : registry_(registry),
        live_(std::move(live)),
        user_id_(std::move(user_id)),
        run_id_(std::move(run_id)),
        after_(after_event_id) {}

  Status Follow(const RunEventSink& sink) override {
    ASSISTANT_RETURN_IF_ERROR(CheckSink(sink));
    if (live_) return registry_.AttachLive(*live_, after_, sink);
    return registry_.AttachStored(user_id_, run_id_, after_, sink);
  }

 private:
  RunRegistry& registry_;
  const std::shared_ptr<LiveRun> live_;
  const std::string user_id_;
  const std::string run_id_;
  const int64_t after_;
};

Result<std::unique_ptr<RunFollower>> RunRegistry::Open(const Principal& p,
                                                       const std::string& run_id,
                                                       int64_t after_event_id) {
  ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kScope));
  ASSISTANT_RETURN_IF_ERROR(CheckAfter(after_event_id));
  std::shared_ptr<LiveRun> live = FindLive(p.user_id, run_id);
  if (!live) {
    // Found now, so that a missing run fails before anything is delivered.
    Result<Run> stored = ReadStored(p.user_id, run_id);
    if (!stored.ok()) return NotFoundIfUnsupported(stored.status());
  }
  return std::unique_ptr<RunFollower>(
      std::make_unique<Follower>(*this, std::move(live), p.user_id, run_id, after_event_id));
}

Status RunRegistry::AttachTo(LiveRun& run, int64_t after_event_id, const RunEventSink& sink) {
  ASSISTANT_RETURN_IF_ERROR(CheckAfter(after_event_id));
  ASSISTANT_RETURN_IF_ERROR(CheckSink(sink));
  return AttachLive(run, after_event_id, sink);
}

Status RunRegistry::AttachLive(LiveRun& run, int64_t after_event_id, const RunEventSink& sink) {
  size_t next = static_cast<size_t>(after_event_id);  // events_[i] has id i + 1
  auto quiet_since = SteadyClock::now();
  std::unique_lock<std::mutex> lock(run.mu_);
  const Run about = run.run_;
  ReplyLoader reply(storage_, about);
  for (;;) {
    while (next < run.events_.size()) {
      RunEvent event = run.events_[next++];
      lock.unlock();
      // A turn without a listener holds references from the start (its
      // run id was not handed out, so this is rare); resolved once stored.
      if (IsStoredEventRef(event)) ResolveStoredEvent(event, reply.Get());
      const bool more = sink(event);
      lock.lock();
      if (!more) return Status();
      quiet_since = SteadyClock::now();
    }
    if (run.finished_) return Status();
    lock.unlock();
    if (Stopping()) return Status();
    if (SteadyClock::now() - quiet_since >= options_.keep_alive) {
      if (!sink(KeepAlive(run.id_))) return Status();
      quiet_since = SteadyClock::now();
    }
    lock.lock();
    run.cv_.wait_for(lock, kAttachWakeup,
                     [&] { return run.finished_ || next < run.events_.size(); });
  }
}

Status RunRegistry::AttachStored(const std::string& user_id, const std::string& run_id,
                                 int64_t after_event_id, const RunEventSink& sink) {
  int64_t last = after_event_id;
  auto quiet_since = SteadyClock::now();
  for (;;) {
    // Status first: when it is final, the events read next are complete.
    Result<Run> run = ReadStored(user_id, run_id);
    if (!run.ok()) return NotFoundIfUnsupported(run.status());
    ReplyLoader reply(storage_, *run);
    for (;;) {
      ASSISTANT_ASSIGN_OR_RETURN(std::vector<RunEvent> events,
                                 storage_.ListRunEvents(user_id, run_id, last, kAttachPage));
      for (RunEvent& e : events) {
        if (IsStoredEventRef(e)) ResolveStoredEvent(e, reply.Get());
        if (!sink(e)) return Status();
        last = e.id;
        quiet_since = SteadyClock::now();
      }
      if (static_cast<int>(events.size()) < kAttachPage) break;
    }
    if (run->status != RunStatus::kRunning) return Status();
    if (SteadyClock::now() - quiet_since >= options_.keep_alive) {
      if (!sink(KeepAlive(run_id))) return Status();
      quiet_since = SteadyClock::now();
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, options_.attach_poll, [&] { return stopping_; })) return Status();
  }
}

Result<Run> RunRegistry::Cancel(const Principal& p, const std::string& run_id) {
  ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kScope));
  if (auto live = FindLive(p.user_id, run_id)) {
    live->token_.Cancel();
    std::lock_guard<std::mutex> lock(live->mu_);
    return live->run_;
  }
  Result<Run> run = ReadStored(p.user_id, run_id);
  if (!run.ok()) return NotFoundIfUnsupported(run.status());
  if (run->status != RunStatus::kRunning) return run;
  // Executing in another process: it polls for this request.
  return storage_.RequestRunCancel(p.user_id, run_id);
}

Result<int> RunRegistry::Prune() {
  const Timestamp cutoff = services::NowMillis(clock_) - options_.retention;
  Result<int> deleted = storage_.DeleteRunsFinishedBefore(cutoff);
  if (!deleted.ok() && deleted.status().code() == StatusCode::kUnimplemented) return 0;
  return deleted;
}

void RunRegistry::FlushPending() {
  std::vector<std::shared_ptr<LiveRun>> runs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, run] : live_) {
      if (run->stored_) runs.push_back(run);
    }
  }
  if (runs.empty()) return;
  struct Taken {
    LiveRun* run;
    size_t from;
    size_t to;
  };
  std::vector<RunEventBatch> batches;
  std::vector<Taken> taken;
  std::lock_guard<std::mutex> flush(flush_mu_);
  for (const auto& run : runs) {
    std::lock_guard<std::mutex> lock(run->mu_);
    if (run->finished_ || run->unwritten_start_ || run->flushed_ == run->events_.size()) continue;
    RunEventBatch b;
    b.user_id = run->run_.user_id;
    b.run_id = run->id_;
    b.events.assign(run->events_.begin() + static_cast<std::ptrdiff_t>(run->flushed_),
                    run->events_.end());
    taken.push_back({run.get(), run->flushed_, run->events_.size()});
    run->flushed_ = run->events_.size();
    batches.push_back(std::move(b));
  }
  if (batches.empty()) return;
  if (storage_.AppendRunEvents(batches).ok()) return;
  // Try again next round; the events are still in memory.
  for (const Taken& t : taken) {
    std::lock_guard<std::mutex> lock(t.run->mu_);
    if (!t.run->finished_ && t.run->flushed_ == t.to) t.run->flushed_ = t.from;
  }
}

void RunRegistry::PollCancels(bool read_storage) {
  bool any_stored = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    for (const auto& [id, run] : live_) {
      // The caller's own token reaches the provider through the run's.
      if (run->external_ && run->external_->cancelled()) run->token_.Cancel();
      if (!run->token_.cancelled() && now - run->started_ > options_.max_duration) {
        run->timed_out_ = true;
        run->token_.Cancel();
      }
      any_stored |= run->stored_;
    }
  }
  if (!read_storage || !any_stored) return;
  Result<std::vector<std::string>> ids = storage_.ListCancelRequestedRuns(owner_);
  if (!ids.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& id : *ids) {
    auto it = live_.find(id);
    if (it != live_.end()) it->second->token_.Cancel();
  }
}

void RunRegistry::Background() {
#ifdef __linux__
  // Writing events is not on any listener's path (they read memory), so on
  // a busy machine the threads delivering tokens go first. Best effort.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kBackgroundNice);
#endif
  auto next_cancel_read = SteadyClock::now() + options_.cancel_poll;
  auto next_prune = SteadyClock::now() + options_.prune_interval;
  auto next_heartbeat = SteadyClock::now() + options_.heartbeat_interval;
  auto next_flush = SteadyClock::now() + options_.flush_interval;
  const auto tick = std::max(std::chrono::milliseconds(1),
                             std::min(options_.flush_interval, options_.cancel_poll));
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, tick, [&] { return stopping_; })) break;
    }
    const auto now = SteadyClock::now();
    if (now >= next_flush) {
      next_flush = now + options_.flush_interval;
      FlushPending();
    }
    const bool read_cancels = now >= next_cancel_read;
    if (read_cancels) next_cancel_read = now + options_.cancel_poll;
    PollCancels(read_cancels);
    if (now >= next_heartbeat) {
      next_heartbeat = now + options_.heartbeat_interval;
      Heartbeat();
    }
    if (now >= next_prune) {
      next_prune = now + options_.prune_interval;
      Prune().status().IgnoreError();
    }
  }
  FlushPending();
}

}  // namespace assistant
