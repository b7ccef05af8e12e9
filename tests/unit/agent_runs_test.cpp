// Agent runs (assistant/runs.hpp): numbering, replay after an id, live
// follow, cancel (local, and through storage from a second instance on the
// same SQLite file), retention pruning, and a sink that goes away.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "assistant/core.hpp"
#include "assistant/runs.hpp"
#include "assistant/storage_wrapper.hpp"
#include "core_fixture.hpp"
#include "fake_upstream/fake_upstream.hpp"

namespace assistant {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;
using testing::CoreFixture;
using testing::FastOptions;

std::string Recorded(const std::string& name) {
  auto dir = fs::path(__FILE__).parent_path().parent_path() / "data" / "llm";
  return fake_upstream::ReadFile((dir / name).string());
}

// The concatenated text of a recorded openai stream (see its .expected.json).
std::string RecordedText(const std::string& name) {
  std::string base = name.substr(0, name.rfind('.'));
  return Json::parse(Recorded(base + ".expected.json"))["content"].get<std::string>();
}

// Streams "partial", then holds the turn until released (answering with a
// task tool call) or cancelled: a turn a test can look at while it runs.
class HeldProvider final : public LlmProvider {
 public:
  std::string name() const override { return "held"; }
  Result<ChatResponse> Chat(const ChatRequest& request, const DeltaSink& sink,
                            const CancellationToken& cancel) override {
    ChatResponse r;
    if (request.messages.back().role == MessageRole::kTool) return r;  // after the tool: done
    sink("partial");
    while (!release.load()) {
      if (cancel.cancelled()) return CancelledError("cancelled");
      std::this_thread::sleep_for(milliseconds(1));
    }
    r.tool_calls.push_back({"call_1", "add_task", {{"title", "buy milk"}}});
    return r;
  }
  std::atomic<bool> release{false};
};

class TempDir final {
 public:
  TempDir() {
    const char* env = std::getenv("ASSISTANT_TEST_TMP");
    fs::path base = env && *env ? fs::path(env) : fs::path("/tmp");
    path_ = base / ("runs-test-" + std::to_string(::getpid()) + "-" + NewId().substr(24));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Url() const { return "sqlite://" + (path_ / "runs.db").string(); }

 private:
  fs::path path_;
};

Options WithUpstream(Options o, const fake_upstream::FakeUpstream& fake) {
  o.agent.provider = ProviderKind::kOpenAi;
  o.agent.base_url = fake.base_url();
  o.agent.model = "test-model";
  o.agent.api_key = "sk-test-runs";
  o.agent.llm_timeout = std::chrono::seconds(5);
  return o;
}

// Events as a sink saw them, safe to read from another thread.
struct Seen {
  std::mutex mu;
  std::vector<AgentEvent> events;
  void Add(const AgentEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(e);
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return events.size();
  }
  std::string RunId() {
    std::lock_guard<std::mutex> lock(mu);
    return events.empty() ? "" : events.front().data.value("run_id", "");
  }
};

std::string Deltas(const std::vector<RunEvent>& events) {
  std::string text;
  for (const RunEvent& e : events) {
    if (e.type == "message.delta") text += e.data["content"].get<std::string>();
  }
  return text;
}

// Every event Attach delivers after `after`, until it returns.
std::vector<RunEvent> AttachAll(RunService& runs, const Principal& p, const std::string& run_id,
                                int64_t after) {
  std::vector<RunEvent> out;
  Status s = runs.Attach(p, run_id, after, [&](const RunEvent& e) {
    out.push_back(e);
    return true;
  });
  REQUIRE(s.ok());
  return out;
}

void WaitFor(const std::function<bool()>& done, milliseconds limit = milliseconds(5000)) {
  const auto until = SteadyClock::now() + limit;
  while (!done() && SteadyClock::now() < until) std::this_thread::sleep_for(milliseconds(2));
  REQUIRE(done());
}

TEST_CASE("runs: events are numbered from 1, kept, and replayable after any id") {
  CoreFixture f;
  Principal me = f.NewUser("ann@example.com");
  std::vector<AgentEvent> seen;
  auto reply = f.core->agent().Send(me, {"add a task to buy milk"}, f.ctx,
                                    [&](const AgentEvent& e) {
                                      seen.push_back(e);
                                      return true;
                                    });
  REQUIRE(reply.ok());
  REQUIRE(seen.size() >= 3);
  for (size_t i = 0; i < seen.size(); ++i) CHECK(seen[i].id == static_cast<int64_t>(i + 1));
  CHECK(seen.front().type == "message.start");
  CHECK(seen.front().data["run_id"] == reply->run_id);
  CHECK(seen.back().type == "message.done");

  Result<Run> run = f.core->runs().Get(me, reply->run_id);
  REQUIRE(run.ok());
  CHECK(run->status == RunStatus::kCompleted);
  CHECK(run->message_id == reply->message.id);
  CHECK(run->conversation_id == reply->conversation_id);
  CHECK(run->finished_at.has_value());
  Json j = RunToJson(*run);
  CHECK(j["status"] == "completed");
  CHECK(j["finished_at"].is_string());

  // Replay from storage after id 2: exactly the rest, as first delivered.
  std::vector<RunEvent> replayed = AttachAll(f.core->runs(), me, reply->run_id, 2);
  REQUIRE(replayed.size() == seen.size() - 2);
  for (size_t i = 0; i < replayed.size(); ++i) {
    CHECK(replayed[i].id == seen[i + 2].id);
    CHECK(replayed[i].type == seen[i + 2].type);
    CHECK(replayed[i].data == seen[i + 2].data);
  }
  CHECK(IsInvalidArgument(
      f.core->runs().Attach(me, reply->run_id, -1, [](const RunEvent&) { return true; })));
}

TEST_CASE("runs: other users' runs are not found; runs need scope agent") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal bob = f.NewUser("bob@example.com");
  auto reply = f.core->agent().Send(ann, {"hello"}, f.ctx);
  REQUIRE(reply.ok());
  CHECK(IsNotFound(f.core->runs().Get(bob, reply->run_id).status()));
  CHECK(IsNotFound(f.core->runs().Cancel(bob, reply->run_id).status()));
  CHECK(IsNotFound(
      f.core->runs().Attach(bob, reply->run_id, 0, [](const RunEvent&) { return true; })));
  CHECK(IsNotFound(f.core->runs().Get(ann, NewId()).status()));
  // Open refuses up front what Attach would, before anything is delivered.
  CHECK(IsNotFound(f.core->runs().Open(bob, reply->run_id, 0).status()));
  CHECK(IsNotFound(f.core->runs().Open(ann, NewId(), 0).status()));
  CHECK(IsInvalidArgument(f.core->runs().Open(ann, reply->run_id, -1).status()));
  auto mine = f.core->runs().Open(ann, reply->run_id, 1);
  REQUIRE(mine.ok());
  std::vector<RunEvent> followed;
  REQUIRE((*mine)->Follow([&](const RunEvent& e) {
    followed.push_back(e);
    return true;
  }).ok());
  REQUIRE_FALSE(followed.empty());
  CHECK(followed.front().id == 2);
  CHECK(followed.back().type == "message.done");
  Principal tasks_only = CoreFixture::WithScopes(ann, {"tasks:read"});
  CHECK(f.core->runs().Get(tasks_only, reply->run_id).status().code() ==
        StatusCode::kPermissionDenied);
  CHECK(f.core->runs().Cancel(tasks_only, reply->run_id).status().code() ==
        StatusCode::kPermissionDenied);
  CHECK(f.core->runs().Open(tasks_only, reply->run_id, 0).status().code() ==
        StatusCode::kPermissionDenied);
}

TEST_CASE("runs: an attached listener follows live, and cancel stops the upstream at once") {
  fake_upstream::FakeUpstream fake("openai");
  fake_upstream::Reply hold;
  hold.body = Recorded("openai_text_utf8.sse");
  hold.hold_after = hold.body.size() / 2;  // some deltas, then held open
  fake.Enqueue(hold);
  CoreFixture f(WithUpstream(FastOptions(nullptr), fake));
  Principal me = f.NewUser("ann@example.com");

  Seen sent;
  Result<AgentReply> reply = InternalError("not run");
  std::thread turn([&] {
    reply = f.core->agent().Send(me, {"say hi"}, f.ctx, [&](const AgentEvent& e) {
      sent.Add(e);
      return true;
    });
  });
  WaitFor([&] { return sent.size() >= 3; });  // start and a couple of deltas
  const std::string run_id = sent.RunId();
  CHECK(f.core->runs().Get(me, run_id)->status == RunStatus::kRunning);

  std::vector<RunEvent> attached;
  std::atomic<bool> attach_done{false};
  std::thread listener([&] {
    Status s = f.core->runs().Attach(me, run_id, 1, [&](const RunEvent& e) {
      attached.push_back(e);
      return true;
    });
    CHECK(s.ok());
    attach_done = true;
  });
  std::this_thread::sleep_for(milliseconds(100));
  CHECK_FALSE(attach_done.load());  // still following: the run is held open

  const auto cancelled_at = SteadyClock::now();
  Result<Run> accepted = f.core->runs().Cancel(me, run_id);
  REQUIRE(accepted.ok());
  turn.join();
  listener.join();
  REQUIRE(fake.WaitForClientClose(milliseconds(1000)));
  CHECK(fake.client_closed_at() - cancelled_at < milliseconds(1000));

  REQUIRE(reply.ok());
  CHECK(reply->message.status == MessageStatus::kCancelled);
  REQUIRE_FALSE(attached.empty());
  CHECK(attached.front().id == 2);
  CHECK(attached.back().type == "message.done");
  CHECK(attached.back().data["message"]["status"] == "cancelled");
  CHECK(attached.back().id == static_cast<int64_t>(sent.size()));
  // What the listener saw after message.start is the whole stored reply.
  CHECK(Deltas(attached) == reply->message.content);
  CHECK_FALSE(reply->message.content.empty());
  CHECK(f.core->runs().Get(me, run_id)->status == RunStatus::kCancelled);
  Result<Message> stored = f.core->storage().GetMessage(me.user_id, reply->conversation_id,
                                                        reply->message.id);
  REQUIRE(stored.ok());
  CHECK(stored->status == MessageStatus::kCancelled);
  CHECK(stored->content == reply->message.content);
}

TEST_CASE("runs: a second instance on the same database re-attaches and cancels") {
  TempDir dir;
  fake_upstream::FakeUpstream fake("openai");
  fake_upstream::Reply hold;
  hold.body = Recorded("openai_text_utf8.sse");
  hold.hold_after = hold.body.size() / 2;
  fake.Enqueue(hold);
  Options o = WithUpstream(FastOptions(nullptr), fake);
  o.database_url = dir.Url();
  CoreFixture owner(o);
  CoreFixture other(o);
  Principal me = owner.NewUser("ann@example.com");

  Seen sent;
  Result<AgentReply> reply = InternalError("not run");
  std::thread turn([&] {
    reply = owner.core->agent().Send(me, {"say hi"}, owner.ctx, [&](const AgentEvent& e) {
      sent.Add(e);
      return true;
    });
  });
  WaitFor([&] { return sent.size() >= 3; });
  const std::string run_id = sent.RunId();
  Result<Run> seen_there = other.core->runs().Get(me, run_id);
  REQUIRE(seen_there.ok());
  CHECK(seen_there->status == RunStatus::kRunning);

  std::vector<RunEvent> attached;
  std::thread listener([&] { attached = AttachAll(other.core->runs(), me, run_id, 0); });
  // The other instance sees the events already flushed before cancelling.
  std::this_thread::sleep_for(milliseconds(200));
  const auto cancelled_at = SteadyClock::now();
  Result<Run> accepted = other.core->runs().Cancel(me, run_id);
  REQUIRE(accepted.ok());
  CHECK(accepted->cancel_requested);
  turn.join();
  listener.join();
  REQUIRE(fake.WaitForClientClose(milliseconds(1000)));
  CHECK(fake.client_closed_at() - cancelled_at < milliseconds(1000));

  REQUIRE(reply.ok());
  CHECK(reply->message.status == MessageStatus::kCancelled);
  REQUIRE(attached.size() == sent.size());
  for (size_t i = 0; i < attached.size(); ++i) CHECK(attached[i].id == static_cast<int64_t>(i + 1));
  CHECK(attached.back().type == "message.done");
  CHECK(Deltas(attached) == reply->message.content);
  CHECK(other.core->runs().Get(me, run_id)->status == RunStatus::kCancelled);
}

TEST_CASE("runs: finished runs are pruned after the retention") {
  Options o = FastOptions(nullptr);
  o.runs.retention = std::chrono::seconds(60);
  CoreFixture f(o);
  Principal me = f.NewUser("ann@example.com");
  auto reply = f.core->agent().Send(me, {"hello"}, f.ctx);
  REQUIRE(reply.ok());
  f.clock->Advance(milliseconds(59000));
  CHECK(f.core->runs().Prune().value() == 0);
  CHECK(f.core->runs().Get(me, reply->run_id).ok());
  f.clock->Advance(milliseconds(2000));
  CHECK(f.core->runs().Prune().value() == 1);
  CHECK(IsNotFound(f.core->runs().Get(me, reply->run_id).status()));
  // The reply itself stays: only the run's replay goes.
  CHECK(f.core->storage().GetMessage(me.user_id, reply->conversation_id, reply->message.id).ok());
}

TEST_CASE("runs: a sink that goes away lets the turn finish, unless told to cancel") {
  SUBCASE("continue (default)") {
    CoreFixture f;
    Principal me = f.NewUser("ann@example.com");
    size_t calls = 0;
    auto reply = f.core->agent().Send(me, {"add a task to buy milk"}, f.ctx,
                                      [&](const AgentEvent&) {
                                        ++calls;
                                        return false;  // gone from message.start on
                                      });
    REQUIRE(reply.ok());
    CHECK(reply->message.status == MessageStatus::kCompleted);
    CHECK(f.core->tasks().List(me, {})->items.size() == 1);
    std::vector<RunEvent> all = AttachAll(f.core->runs(), me, reply->run_id, 0);
    REQUIRE(all.size() > 1);
    CHECK(all.back().type == "message.done");
    CHECK(calls == 1);  // a sink that returned false hears no more
  }
  SUBCASE("cancel") {
    auto held = std::make_shared<HeldProvider>();
    Options o = FastOptions(nullptr);
    o.agent.llm = held;
    o.runs.cancel_when_sink_gone = true;
    CoreFixture f(o);
    Principal me = f.NewUser("ann@example.com");
    auto reply = f.core->agent().Send(me, {"add a task to buy milk"}, f.ctx,
                                      [&](const AgentEvent&) { return false; });
    REQUIRE(reply.ok());
    CHECK(reply->message.status == MessageStatus::kCancelled);
    // The tool the model would have asked for never ran.
    CHECK(f.core->tasks().List(me, {})->items.empty());
    CHECK(f.core->runs().Get(me, reply->run_id)->status == RunStatus::kCancelled);
  }
}

TEST_CASE("runs: a turn that is not stored has a run only while it runs") {
  auto held = std::make_shared<HeldProvider>();
  Options o = FastOptions(nullptr);
  o.agent.llm = held;
  CoreFixture f(o);
  Principal me = f.NewUser("ann@example.com");
  AgentRequest req;
  req.message = "hello";
  req.store = false;
  std::string run_id;
  std::optional<Run> during;
  auto reply = f.core->agent().Send(me, req, f.ctx, [&](const AgentEvent& e) {
    if (e.type == "message.start") {
      run_id = e.data["run_id"];
      Result<Run> r = f.core->runs().Get(me, run_id);
      if (r.ok()) during = *r;
      held->release = true;
    }
    return true;
  });
  REQUIRE(reply.ok());
  REQUIRE(during.has_value());
  CHECK(during->status == RunStatus::kRunning);
  CHECK(IsNotFound(f.core->runs().Get(me, run_id).status()));
}

TEST_CASE("runs: a turn past max_duration stops and is stored failed, though the upstream never went silent") {
  // The held stream sends keep-alives every 10 ms, so the provider's read
  // timeout never fires; only the turn's own limit ends it.
  fake_upstream::FakeUpstream fake("openai");
  fake_upstream::Reply hold;
  hold.body = Recorded("openai_text_utf8.sse");
  hold.hold_after = hold.body.size() / 2;
  fake.Enqueue(hold);
  Options o = WithUpstream(FastOptions(nullptr), fake);
  o.runs.max_duration = std::chrono::seconds(1);
  CoreFixture f(o);
  Principal me = f.NewUser("ann@example.com");

  Seen sent;
  const auto started = SteadyClock::now();
  Result<AgentReply> reply = f.core->agent().Send(me, {"say hi"}, f.ctx, [&](const AgentEvent& e) {
    sent.Add(e);
    return true;
  });
  const auto took = SteadyClock::now() - started;
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.status().code() == StatusCode::kDeadlineExceeded);
  CHECK(reply.status().reason() == "turn_timeout");
  CHECK(took >= milliseconds(1000));
  CHECK(took < milliseconds(5000));
  REQUIRE(fake.WaitForClientClose(milliseconds(1000)));

  const std::string run_id = sent.RunId();
  CHECK(f.core->runs().Get(me, run_id)->status == RunStatus::kFailed);
  auto history = f.core->agent().History(me, std::nullopt, 10);
  REQUIRE(history.ok());
  REQUIRE(history->messages.size() == 2);
  CHECK(history->messages[1].status == MessageStatus::kFailed);
  CHECK_FALSE(history->messages[1].content.empty());  // the text that had arrived
}

// A stored run, in a new conversation of `me`, owned by a process that is
// gone (nobody heartbeats it).
static Run StartRunOfDeadProcess(CoreFixture& f, const Principal& me) {
  auto conv = f.core->conversations().Create(me, {"chat"});
  REQUIRE(conv.ok());
  Run r;
  r.id = NewId();
  r.user_id = me.user_id;
  r.conversation_id = conv->id;
  r.message_id = NewId();
  r.created_at = f.clock->Now();
  r.owner = "a-process-that-died";
  REQUIRE(f.core->storage().StartRun({r, {}, {}}).ok());
  return r;
}

TEST_CASE("runs: a run whose process died is failed by the next reader, with an error event") {
  CoreFixture f;
  Principal me = f.NewUser("ann@example.com");
  // A run row as a process leaves it when killed mid-turn.
  const Run r = StartRunOfDeadProcess(f, me);
  REQUIRE(f.core->storage()
              .AppendRunEvents({{me.user_id, r.id,
                                 {RunEvent{r.id, 1, "message.start", {}},
                                  RunEvent{r.id, 2, "message.delta", {{"content", "Adding "}}},
                                  RunEvent{r.id, 3, "tool.call",
                                           {{"id", "c1"},
                                            {"name", "add_task"},
                                            {"arguments", {{"title", "milk"}}}}},
                                  RunEvent{r.id, 4, "tool.result",
                                           {{"id", "c1"},
                                            {"name", "add_task"},
                                            {"result", {{"ok", true}}}}},
                                  RunEvent{r.id, 5, "message.delta", {{"content", "it."}}}}}})
              .ok());

  // Still within abandoned_after: it may just be slow.
  f.clock->Advance(std::chrono::seconds(5));
  CHECK(f.core->runs().Get(me, r.id)->status == RunStatus::kRunning);

  f.clock->Advance(std::chrono::seconds(20));
  Result<Run> got = f.core->runs().Get(me, r.id);
  REQUIRE(got.ok());
  CHECK(got->status == RunStatus::kFailed);
  // Returns: the run is over.
  std::vector<RunEvent> seen = AttachAll(f.core->runs(), me, r.id, 0);
  REQUIRE(seen.size() == 6);
  CHECK(seen[5].id == 6);
  CHECK(seen[5].type == "error");
  CHECK(seen[5].data["error"]["code"] == "run_abandoned");
  // What the dead process had streamed is kept as a failed reply, once.
  CHECK(f.core->runs().Get(me, r.id)->status == RunStatus::kFailed);
  Result<Message> partial = f.core->storage().GetMessage(me.user_id, r.conversation_id, r.message_id);
  REQUIRE(partial.ok());
  CHECK(partial->status == MessageStatus::kFailed);
  CHECK(partial->content == "Adding it.");
  REQUIRE(partial->tool_calls.has_value());
  REQUIRE(partial->tool_calls->size() == 1);
  CHECK((*partial->tool_calls)[0]["arguments"]["title"] == "milk");
  CHECK((*partial->tool_calls)[0]["result"]["ok"] == true);
  CHECK(f.core->storage().ListMessages(me.user_id, r.conversation_id, "", 10)->messages.size() == 1);
}

TEST_CASE("runs: events of an unexpected shape neither stop a dead run's failing nor its replay") {
  CoreFixture f;
  Principal me = f.NewUser("ann@example.com");
  const Run r = StartRunOfDeadProcess(f, me);
  // What a library caller appending its own events might store.
  REQUIRE(f.core->storage()
              .AppendRunEvents({{me.user_id, r.id,
                                 {RunEvent{r.id, 1, "message.delta", {{"content", 5}}},
                                  RunEvent{r.id, 2, "message.delta", {{"content", "kept"}}},
                                  RunEvent{r.id, 3, "tool.call", {{"id", Json::object()}}},
                                  RunEvent{r.id, 4, "tool.result", {{"id", 7}, {"result_ref", 1}}},
                                  RunEvent{r.id, 5, "message.done", {{"message_ref", 9}}}}}})
              .ok());
  f.clock->Advance(std::chrono::seconds(30));
  Result<Run> got = f.core->runs().Get(me, r.id);
  REQUIRE(got.ok());
  CHECK(got->status == RunStatus::kFailed);
  Result<Message> partial = f.core->storage().GetMessage(me.user_id, r.conversation_id, r.message_id);
  REQUIRE(partial.ok());
  CHECK(partial->content == "kept");
  std::vector<RunEvent> seen = AttachAll(f.core->runs(), me, r.id, 0);
  REQUIRE(seen.size() == 6);
  CHECK(seen[3].data["result"].is_null());  // no call with that id
  CHECK(seen[4].data["message"]["content"] == "kept");
  CHECK(seen[5].type == "error");
}

// Counts a turn's writes; with keeps_runs false it answers every run call
// Unimplemented, as a storage that keeps no runs does.
class RunWritesProbe final : public StorageWrapper {
 public:
  RunWritesProbe(std::shared_ptr<Storage> target, bool keeps_runs)
      : StorageWrapper(std::move(target)), keeps_runs_(keeps_runs) {}
  std::atomic<int> starts{0}, finishes{0}, finishes_with_start{0}, appends{0}, conversations{0};

  Status StartRun(const RunStart& start) override {
    ++starts;
    return keeps_runs_ ? StorageWrapper::StartRun(start) : NoRuns();
  }
  Status FinishRun(const RunFinish& finish) override {
    ++finishes;
    if (finish.start) ++finishes_with_start;
    return keeps_runs_ ? StorageWrapper::FinishRun(finish) : NoRuns();
  }
  Status AppendRunEvents(const std::vector<RunEventBatch>& batches) override {
    return keeps_runs_ ? StorageWrapper::AppendRunEvents(batches) : NoRuns();
  }
  Result<Run> GetRun(const std::string& user_id, const std::string& id) override {
    if (!keeps_runs_) return NoRuns();
    return StorageWrapper::GetRun(user_id, id);
  }
  Status AppendMessage(const std::string& user_id, const Message& m) override {
    ++appends;
    return StorageWrapper::AppendMessage(user_id, m);
  }
  Status CreateConversation(const Conversation& c) override {
    ++conversations;
    return StorageWrapper::CreateConversation(c);
  }

 private:
  static Status NoRuns() { return Status(StatusCode::kUnimplemented, "this storage keeps no runs"); }
  const bool keeps_runs_;
};

// A core over an in-memory database seen through a RunWritesProbe.
struct ProbedCore {
  std::shared_ptr<RunWritesProbe> probe;
  CoreFixture f;
  explicit ProbedCore(bool keeps_runs)
      : probe(Open(keeps_runs)), f(FastOptions(nullptr), probe) {}

 private:
  static std::shared_ptr<RunWritesProbe> Open(bool keeps_runs) {
    Result<std::unique_ptr<Storage>> opened = OpenStorage("sqlite::memory:", StorageOptions{});
    REQUIRE(opened.ok());
    return std::make_shared<RunWritesProbe>(std::shared_ptr<Storage>(std::move(*opened)),
                                            keeps_runs);
  }
};

TEST_CASE("runs: a turn nobody listens to is written once, at its end; a listened one at once") {
  ProbedCore p(/*keeps_runs=*/true);
  auto& core = p.f.core;
  auto& probe = p.probe;
  const RequestContext& ctx = p.f.ctx;
  Principal me = p.f.NewUser("ann@example.com");

  Result<AgentReply> quiet = core->agent().Send(me, {"add a task to buy milk"}, ctx);
  REQUIRE(quiet.ok());
  CHECK(probe->starts == 0);
  CHECK(probe->finishes == 1);
  CHECK(probe->finishes_with_start == 1);
  CHECK(probe->appends == 0);
  CHECK(probe->conversations == 0);
  Result<MessagePage> kept = core->storage().ListMessages(me.user_id, quiet->conversation_id, "", 10);
  REQUIRE(kept.ok());
  REQUIRE(kept->messages.size() == 2);
  CHECK(kept->messages[0].content == "add a task to buy milk");
  CHECK(kept->messages[1].id == quiet->message.id);
  // Nobody saw its events live, so its words are kept as one delta.
  std::vector<RunEvent> replayed = AttachAll(core->runs(), me, quiet->run_id, 0);
  std::vector<std::string> types;
  for (const RunEvent& e : replayed) types.push_back(e.type);
  CHECK(types == std::vector<std::string>{"message.start", "tool.call", "tool.result",
                                          "message.delta", "message.done"});
  for (size_t i = 0; i < replayed.size(); ++i) CHECK(replayed[i].id == static_cast<int64_t>(i) + 1);
  CHECK(Deltas(replayed) == quiet->message.content);
  // Stored as references to the reply, replayed in full.
  REQUIRE(quiet->message.tool_calls.has_value());
  CHECK(replayed[2].data["result"] == (*quiet->message.tool_calls)[0]["result"]);
  CHECK(replayed[2].data["result"]["task"]["title"] == "buy milk");
  CHECK(replayed[4].data["message"] == MessageToJson(quiet->message));
  CHECK(replayed[4].data["usage"].is_object());
  Result<std::vector<RunEvent>> raw = core->storage().ListRunEvents(me.user_id, quiet->run_id, 0, 10);
  REQUIRE(raw.ok());
  REQUIRE(raw->size() == 5);
  CHECK((*raw)[2].data.value("result_ref", false));
  CHECK_FALSE((*raw)[2].data.contains("result"));
  CHECK((*raw)[4].data["message_ref"] == quiet->message.id);
  CHECK((*raw)[3].data == Json{{"content_ref", {0, quiet->message.content.size()}}});
  // The tool call's audit event came with the same write.
  Result<std::vector<AuditEvent>> audit = core->storage().ListAudit(me.user_id, 10, std::nullopt);
  REQUIRE(audit.ok());
  REQUIRE(audit->size() == 1);
  CHECK(audit->front().type == "tool.called");
  CHECK(audit->front().details["tool"] == "add_task");

  // With a listener, the start is stored before message.start is handed out.
  std::optional<Run> seen_at_start;
  AgentRequest next{"list tasks"};
  next.conversation_id = quiet->conversation_id;
  Result<AgentReply> heard = core->agent().Send(me, next, ctx, [&](const AgentEvent& e) {
    if (e.type == "message.start") {
      Result<Run> r = core->storage().GetRun(me.user_id, e.data["run_id"]);
      if (r.ok()) seen_at_start = *r;
    }
    return true;
  });
  REQUIRE(heard.ok());
  // A listened turn's events are kept in full for its listeners and stored
  // by reference once the reply is written with them.
  Result<std::vector<RunEvent>> stored_heard =
      core->storage().ListRunEvents(me.user_id, heard->run_id, 0, 100);
  REQUIRE(stored_heard.ok());
  REQUIRE(stored_heard->back().type == "message.done");
  CHECK(stored_heard->back().data["message_ref"] == heard->message.id);
  std::vector<RunEvent> heard_replay = AttachAll(core->runs(), me, heard->run_id, 0);
  REQUIRE(heard_replay.back().type == "message.done");
  CHECK(heard_replay.back().data["message"] == MessageToJson(heard->message));
  REQUIRE(seen_at_start.has_value());
  CHECK(seen_at_start->status == RunStatus::kRunning);
  CHECK(probe->starts == 1);
  CHECK(probe->finishes == 2);
  CHECK(probe->finishes_with_start == 1);
  CHECK(core->storage().ListMessages(me.user_id, quiet->conversation_id, "", 10)->messages.size() ==
        4);
}

TEST_CASE("runs: a storage that keeps no runs still keeps every turn's messages") {
  ProbedCore p(/*keeps_runs=*/false);
  auto& core = p.f.core;
  auto& probe = p.probe;
  const RequestContext& ctx = p.f.ctx;
  Principal me = p.f.NewUser("ann@example.com");
  Result<AgentReply> quiet = core->agent().Send(me, {"add a task to buy milk"}, ctx);
  REQUIRE(quiet.ok());
  CHECK(quiet->message.status == MessageStatus::kCompleted);
  AgentRequest next{"list tasks"};
  next.conversation_id = quiet->conversation_id;
  int events = 0;
  Result<AgentReply> heard =
      core->agent().Send(me, next, ctx, [&](const AgentEvent&) { return ++events > 0; });
  REQUIRE(heard.ok());
  CHECK(events >= 3);
  Result<MessagePage> kept = core->storage().ListMessages(me.user_id, quiet->conversation_id, "", 10);
  REQUIRE(kept.ok());
  REQUIRE(kept->messages.size() == 4);
  CHECK(kept->messages[0].content == "add a task to buy milk");
  CHECK(kept->messages[2].content == "list tasks");
  CHECK(kept->messages[3].content.find("buy milk") != std::string::npos);
  CHECK(IsNotFound(core->runs().Get(me, heard->run_id).status()));
  // Tool calls are audited though the run could not be kept.
  CHECK(core->storage().ListAudit(me.user_id, 10, std::nullopt)->size() == 2);
}

}  // namespace
}  // namespace assistant
