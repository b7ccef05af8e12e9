// The steps of one agent turn (agent/turn.hpp), taken one by one, and the
// run API around them (Agent::Start, AgentRun).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/builtin_tools.hpp"
#include "agent/run_registry.hpp"
#include "agent/turn.hpp"
#include "core_fixture.hpp"
#include "scripted_provider.hpp"
#include "services/audit_log.hpp"

using namespace assistant;
using assistant::testing::CoreFixture;
using assistant::testing::FastOptions;
using assistant::testing::ScriptedProvider;
using std::chrono::milliseconds;

namespace {

// Turns over the fixture's storage with a scripted provider and the
// built-in tools, each step called by the test.
struct TurnRig {
  CoreFixture& f;
  ScriptedProvider provider;
  AuditLog audit;
  RunRegistry runs;
  AgentOptions options;
  ToolRegistry tools;
  TurnDeps deps;

  TurnRig(CoreFixture& fixture, ScriptedProvider::Script script, AgentOptions o = {})
      : f(fixture),
        provider(std::move(script)),
        audit(f.core->storage(), f.core->clock()),
        runs(f.core->storage(), f.core->clock(), RunOptions{}, audit.logger()),
        options(std::move(o)) {
    REQUIRE(RegisterBuiltinTools(tools, f.core->tasks()).ok());
    deps.storage = &f.core->storage();
    deps.clock = &f.core->clock();
    deps.audit = &audit;
    deps.runs = &runs;
    deps.provider = &provider;
    deps.observer = NullObserver();
    deps.options = &options;
    deps.tools = &tools;
  }
  std::unique_ptr<Turn> Prepared(const Principal& p, const AgentRequest& request) {
    auto turn = std::make_unique<Turn>(deps, p, f.ctx);
    REQUIRE(turn->Prepare(request).ok());
    return turn;
  }
  // Prepared, then its run opened with a listener.
  std::unique_ptr<Turn> Opened(const Principal& p, const AgentRequest& request) {
    std::unique_ptr<Turn> turn = Prepared(p, request);
    REQUIRE(turn->Open(true, nullptr).ok());
    return turn;
  }
  std::vector<RunEvent> Events(const Principal& p, const std::string& run_id) {
    std::vector<RunEvent> out;
    REQUIRE(runs.Attach(p, run_id, 0, [&](const RunEvent& e) {
                  if (!e.type.empty()) out.push_back(e);
                  return true;
                }).ok());
    return out;
  }
};

Result<ChatResponse> AskTool(const std::string& title) {
  ChatResponse r;
  r.tool_calls.push_back({"", "add_task", {{"title", title}}});
  return r;
}

Result<ChatResponse> Say(const std::string& text, const DeltaSink& sink) {
  ChatResponse r;
  sink(text);
  r.content = text;
  return r;
}

// Asks for add_task first, then says "Done.".
Result<ChatResponse> ToolThenText(const ChatRequest&, const DeltaSink& sink,
                                  const CancellationToken&, int call) {
  return call == 0 ? AskTool("buy milk") : Say("Done.", sink);
}

// Steps 3 to 5 once: the prompt, the model asking for a tool, the tool.
void TakeToolStep(Turn& turn) {
  turn.BuildPrompt();
  std::optional<ChatResponse> first = turn.CallModel();
  REQUIRE(first.has_value());
  CHECK(turn.RunTools(*first, 0));
}

ChatMessage Chat(MessageRole role, std::string content) {
  return ChatMessage{role, std::move(content), {}, "", ""};
}

// Waits up to 5 s for `done`.
template <typename F>
bool Eventually(F done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

}  // namespace

TEST_SUITE("agent turn") {

TEST_CASE("turn: the prompt keeps the newest history that fits the budget") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  AgentOptions o;
  o.history_token_budget = 10;  // 40 characters
  TurnRig rig(f, nullptr, o);
  AgentRequest req;
  req.message = "now";
  req.history = std::vector<ChatMessage>{Chat(MessageRole::kUser, std::string(20, 'a')),
                                         Chat(MessageRole::kAssistant, std::string(20, 'b')),
                                         Chat(MessageRole::kUser, std::string(20, 'c'))};
  auto turn = rig.Prepared(ann, req);
  turn->BuildPrompt();
  const std::vector<ChatMessage>& m = turn->chat().messages;
  REQUIRE(m.size() == 4);
  CHECK(m[0].role == MessageRole::kSystem);
  CHECK(m[1].content == std::string(20, 'b'));
  CHECK(m[2].content == std::string(20, 'c'));
  CHECK(m[3].role == MessageRole::kUser);
  CHECK(m[3].content == "now");
}

TEST_CASE("turn: a tool answer stays with its call when history is trimmed") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  AgentOptions o;
  o.history_token_budget = 5;
  TurnRig rig(f, nullptr, o);
  ChatMessage asked = Chat(MessageRole::kAssistant, "");
  asked.tool_calls.push_back({"c1", "x", Json::object()});  // 5 characters: 2 tokens
  ChatMessage answer = Chat(MessageRole::kTool, std::string(8, 'r'));     // 11 characters: 3 tokens
  answer.tool_call_id = "c1";
  answer.name = "x";
  AgentRequest req;
  req.message = "now";
  req.history = std::vector<ChatMessage>{Chat(MessageRole::kUser, std::string(8, 'q')), asked, answer};
  auto turn = rig.Prepared(ann, req);
  turn->BuildPrompt();
  const std::vector<ChatMessage>& m = turn->chat().messages;
  REQUIRE(m.size() == 4);
  CHECK(m[1].role == MessageRole::kAssistant);
  REQUIRE(m[1].tool_calls.size() == 1);
  CHECK(m[2].role == MessageRole::kTool);
  CHECK(m[2].tool_call_id == "c1");
  CHECK(m[3].content == "now");
}

TEST_CASE("turn: tool results are fed back to the model") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  TurnRig rig(f, ToolThenText);
  auto turn = rig.Opened(ann, {"add buy milk"});
  TakeToolStep(*turn);
  std::optional<ChatResponse> second = turn->CallModel();
  REQUIRE(second.has_value());
  CHECK_FALSE(turn->RunTools(*second, 1));
  // The second call saw the call and the tool's result.
  const std::vector<ChatRequest> asked = rig.provider.requests();
  REQUIRE(asked.size() == 2);
  const std::vector<ChatMessage>& m = asked[1].messages;
  REQUIRE(m.size() >= 2);
  CHECK(m[m.size() - 2].role == MessageRole::kAssistant);
  REQUIRE(m[m.size() - 2].tool_calls.size() == 1);
  CHECK(m.back().role == MessageRole::kTool);
  CHECK(m.back().content.find("buy milk") != std::string::npos);

  Result<AgentReply> reply = turn->Finish();
  REQUIRE(reply.ok());
  CHECK(reply->message.status == MessageStatus::kCompleted);
  CHECK(reply->message.content == "Done.");
  REQUIRE(reply->message.tool_calls.has_value());
  CHECK((*reply->message.tool_calls)[0]["result"].dump().find("buy milk") != std::string::npos);
  CHECK(f.core->tasks().List(ann, {})->items.size() == 1);
}

TEST_CASE("turn: a provider error mid-stream keeps the partial text and ends the run failed") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  TurnRig rig(f, [](const ChatRequest&, const DeltaSink& sink, const CancellationToken&,
                    int) -> Result<ChatResponse> {
    sink("partial ");
    sink("text");
    return UnavailableError("connection reset", "upstream_error");
  });
  auto turn = rig.Opened(ann, {"hello"});
  turn->BuildPrompt();
  CHECK_FALSE(turn->CallModel().has_value());
  CHECK(turn->status() == RunStatus::kFailed);
  CHECK(turn->reply_text() == "partial text");
  Result<AgentReply> reply = turn->Finish();
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.status().reason() == "upstream_error");

  std::vector<RunEvent> events = rig.Events(ann, turn->run()->id());
  REQUIRE(events.size() >= 2);
  CHECK(events.front().type == "message.start");
  CHECK(events.back().type == "error");
  CHECK(events.back().data["error"]["code"] == "upstream_error");
  CHECK(rig.runs.Get(ann, turn->run()->id())->status == RunStatus::kFailed);
  auto history = f.core->agent().History(ann, turn->conversation_id(), 10);
  REQUIRE(history.ok());
  REQUIRE(history->messages.size() == 2);
  CHECK(history->messages[1].status == MessageStatus::kFailed);
  CHECK(history->messages[1].content == "partial text");
}

TEST_CASE("turn: a cancel between steps stops before the next model call") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  TurnRig rig(f, ToolThenText);
  auto turn = rig.Opened(ann, {"add buy milk"});
  TakeToolStep(*turn);
  turn->run()->Cancel();
  CHECK_FALSE(turn->CallModel().has_value());
  CHECK(rig.provider.requests().size() == 1);
  CHECK(turn->status() == RunStatus::kCancelled);
  Result<AgentReply> reply = turn->Finish();
  REQUIRE(reply.ok());
  CHECK(reply->message.status == MessageStatus::kCancelled);
  REQUIRE(reply->message.tool_calls.has_value());
  CHECK(reply->message.tool_calls->size() == 1);  // the tool that ran is kept
  CHECK(rig.runs.Get(ann, turn->run()->id())->status == RunStatus::kCancelled);
}

TEST_CASE("turn: Prepare refuses up front and reads only") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal bob = f.NewUser("bob@example.com");
  auto bobs = f.core->agent().Send(bob, {"hello"}, f.ctx);
  REQUIRE(bobs.ok());
  TurnRig rig(f, nullptr);
  auto prepare = [&](const Principal& p, AgentRequest req) {
    Turn turn(rig.deps, p, f.ctx);
    return turn.Prepare(req);
  };
  AgentRequest other;
  other.message = "hi";
  other.conversation_id = bobs->conversation_id;
  CHECK(IsNotFound(prepare(ann, other)));
  AgentRequest unstored = other;
  unstored.store = false;
  CHECK(prepare(bob, unstored).field() == "conversation_id");
  CHECK(prepare(Principal::ForUser("no-such-user"), {"hi"}).reason() == "unknown_user");
  CHECK(prepare(CoreFixture::WithScopes(ann, {"tasks:read"}), {"hi"}).code() ==
        StatusCode::kPermissionDenied);
  CHECK(prepare(ann, {"   "}).field() == "message");
  CHECK(rig.provider.requests().empty());
  CHECK(f.core->conversations().List(ann, {})->items.empty());
}

TEST_CASE("agent: Start refuses past max_turns_in_flight and frees the place when a turn ends") {
  std::atomic<bool> release{false};
  auto provider = std::make_shared<ScriptedProvider>(
      [&](const ChatRequest&, const DeltaSink& sink, const CancellationToken&,
          int) -> Result<ChatResponse> {
        while (!release.load()) std::this_thread::sleep_for(milliseconds(1));
        return Say("ok", sink);
      });
  Options o = FastOptions(nullptr);
  o.agent.llm = provider;
  o.agent.max_turns_in_flight = 1;
  CoreFixture f(o);
  Principal ann = f.NewUser("ann@example.com");
  auto first = f.core->agent().Start(ann, {"one"}, f.ctx);
  REQUIRE(first.ok());
  CHECK_FALSE((*first)->run_id().empty());
  CHECK_FALSE((*first)->conversation_id().empty());
  auto second = f.core->agent().Start(ann, {"two"}, f.ctx);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::kResourceExhausted);
  CHECK(second.status().reason() == "agent_busy");
  // A bad request is told what is wrong with it, busy or not.
  CHECK(f.core->agent().Start(ann, {""}, f.ctx).status().field() == "message");
  release = true;
  Result<AgentReply> reply = (*first)->Wait();
  REQUIRE(reply.ok());
  CHECK(reply->message.id == (*first)->message_id());
  CHECK(reply->run_id == (*first)->run_id());
  CHECK((*first)->Wait().status().code() == StatusCode::kFailedPrecondition);
  CHECK(Eventually([&] { return f.core->agent().Start(ann, {"three"}, f.ctx).ok(); }));
}

TEST_CASE("agent: a run handle attaches from any event id, replay then live") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  auto run = f.core->agent().Start(ann, {"add buy milk"}, f.ctx);
  REQUIRE(run.ok());
  std::vector<RunEvent> all;
  REQUIRE((*run)->Attach(0, [&](const RunEvent& e) {
                 if (!e.type.empty()) all.push_back(e);
                 return true;
               }).ok());
  REQUIRE(all.size() > 3);
  CHECK(all.front().type == "message.start");
  CHECK(all.back().type == "message.done");
  std::vector<int64_t> later;
  REQUIRE((*run)->Attach(2, [&](const RunEvent& e) {
                 later.push_back(e.id);
                 return true;
               }).ok());
  REQUIRE(later.size() == all.size() - 2);
  CHECK(later.front() == 3);
  CHECK((*run)->Attach(-1, [](const RunEvent&) { return true; }).field() == "last_event_id");
  CHECK((*run)->Wait().ok());
}

TEST_CASE("agent: dropping a handle cancels a turn that stores nothing, not a stored one") {
  std::atomic<bool> release{false};
  std::atomic<int> cancelled{0};
  auto provider = std::make_shared<ScriptedProvider>(
      [&](const ChatRequest&, const DeltaSink& sink, const CancellationToken& token,
          int) -> Result<ChatResponse> {
        while (!release.load()) {
          if (token.cancelled()) {
            ++cancelled;
            return CancelledError("cancelled");
          }
          std::this_thread::sleep_for(milliseconds(1));
        }
        return Say("ok", sink);
      });
  Options o = FastOptions(nullptr);
  o.agent.llm = provider;
  CoreFixture f(o);
  Principal ann = f.NewUser("ann@example.com");

  AgentRequest unstored;
  unstored.message = "hi";
  unstored.store = false;
  auto dropped = f.core->agent().Start(ann, unstored, f.ctx);
  REQUIRE(dropped.ok());
  CHECK((*dropped)->conversation_id().empty());
  REQUIRE(Eventually([&] { return provider->requests().size() == 1; }));
  dropped->reset();
  CHECK(Eventually([&] { return cancelled.load() == 1; }));

  auto stored = f.core->agent().Start(ann, {"hi"}, f.ctx);
  REQUIRE(stored.ok());
  const std::string run_id = (*stored)->run_id();
  REQUIRE(Eventually([&] { return provider->requests().size() == 2; }));
  stored->reset();
  release = true;
  CHECK(Eventually([&] {
    Result<Run> r = f.core->runs().Get(ann, run_id);
    return r.ok() && r->status == RunStatus::kCompleted;
  }));
  CHECK(cancelled.load() == 1);
}

TEST_CASE("agent: a paced turn stops at the event its caller stopped at") {
  auto provider = std::make_shared<ScriptedProvider>(ToolThenText);
  Options o = FastOptions(nullptr);
  o.agent.llm = provider;
  CoreFixture g(o);
  Principal bob = g.NewUser("bob@example.com");
  StartOptions paced;
  paced.paced = true;
  auto run = g.core->agent().Start(bob, {"add buy milk"}, g.ctx, paced);
  REQUIRE(run.ok());
  std::vector<std::string> seen;
  REQUIRE((*run)->Attach(0, [&](const RunEvent& e) {
                 seen.push_back(e.type);
                 (*run)->Cancel();
                 return false;
               }).ok());
  Result<AgentReply> reply = (*run)->Wait();
  REQUIRE(reply.ok());
  CHECK(reply->message.status == MessageStatus::kCancelled);
  CHECK(seen == std::vector<std::string>{"message.start"});
  CHECK(provider->requests().empty());  // stopped before the model was asked
  CHECK(g.core->tasks().List(bob, {})->items.empty());
}

}  // TEST_SUITE
