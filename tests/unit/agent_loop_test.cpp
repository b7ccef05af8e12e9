#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_impl.hpp"
#include "agent/builtin_tools.hpp"
#include "core_fixture.hpp"
#include "scripted_provider.hpp"
#include "services/audit_log.hpp"

using namespace assistant;
using assistant::testing::CoreFixture;
using assistant::testing::ScriptedProvider;

namespace {

struct Recorded {
  std::vector<AgentEvent> events;
  AgentEventSink sink() {
    return [this](const AgentEvent& e) {
      events.push_back(e);
      return true;
    };
  }
  std::vector<std::string> types() const {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.type);
    return out;
  }
  std::string deltas() const {
    std::string out;
    for (const auto& e : events) {
      if (e.type == "message.delta") out += e.data["content"].get<std::string>();
    }
    return out;
  }
  const AgentEvent* first(const std::string& type) const {
    for (const auto& e : events) {
      if (e.type == type) return &e;
    }
    return nullptr;
  }
};

// An agent over the fixture's storage with a scripted provider and the
// built-in tools.
struct ScriptedAgent {
  std::shared_ptr<ScriptedProvider> provider;
  AuditLog audit;
  std::unique_ptr<Agent> agent;
  ScriptedAgent(CoreFixture& f, ScriptedProvider::Script script, AgentOptions options = {})
      : provider(std::make_shared<ScriptedProvider>(std::move(script))),
        audit(f.core->storage(), f.core->clock()) {
    AgentDeps deps;
    deps.storage = &f.core->storage();
    deps.clock = &f.core->clock();
    deps.audit = &audit;
    deps.provider = provider;
    deps.options = options;
    auto a = NewAgent(std::move(deps));
    REQUIRE(a.ok());
    agent = std::move(*a);
    REQUIRE(RegisterBuiltinTools(agent->tools(), f.core->tasks()).ok());
  }
};

Result<ChatResponse> Say(const std::string& text, const DeltaSink& sink) {
  ChatResponse r;
  for (size_t i = 0; i < text.size(); i += 4) {
    std::string chunk = text.substr(i, 4);
    if (sink && !sink(chunk)) return CancelledError("cancelled");
    r.content += chunk;
  }
  r.usage.prompt_tokens = 10;
  r.usage.completion_tokens = 3;
  r.finish_reason = "stop";
  return r;
}

}  // namespace

TEST_SUITE("agent") {

TEST_CASE("rules agent: add, list, complete, with events in order and both messages stored") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Agent& agent = f.core->agent();

  Recorded rec;
  auto reply = agent.Send(ann, {"add buy milk to my list"}, f.ctx, rec.sink());
  REQUIRE(reply.ok());
  CHECK(reply->message.role == MessageRole::kAssistant);
  CHECK(reply->message.status == MessageStatus::kCompleted);
  CHECK(reply->message.content == "Added \u201Cbuy milk\u201D to your list.");
  CHECK(reply->usage.total_tokens() > 0);

  // The task exists.
  auto tasks = f.core->tasks().List(ann, {});
  REQUIRE(tasks.ok());
  REQUIRE(tasks->items.size() == 1);
  CHECK(tasks->items[0].title == "buy milk");

  // Events: start, tool.call, tool.result, deltas, done.
  std::vector<std::string> types = rec.types();
  REQUIRE(types.size() >= 5);
  CHECK(types[0] == "message.start");
  CHECK(types[1] == "tool.call");
  CHECK(types[2] == "tool.result");
  CHECK(types.back() == "message.done");
  for (size_t i = 3; i + 1 < types.size(); ++i) CHECK(types[i] == "message.delta");
  const AgentEvent* start = rec.first("message.start");
  const AgentEvent* done = rec.first("message.done");
  CHECK(start->data["conversation_id"] == reply->conversation_id);
  CHECK(start->data["run_id"] == reply->run_id);
  CHECK(done->data["message"]["id"] == start->data["message_id"]);
  CHECK(done->data["message"]["id"] == reply->message.id);
  CHECK(done->data["usage"]["total_tokens"] == reply->usage.total_tokens());
  CHECK(rec.deltas() == reply->message.content);
  const AgentEvent* call = rec.first("tool.call");
  CHECK(call->data["name"] == "add_task");
  CHECK(call->data["arguments"] == Json{{"title", "buy milk"}});
  const AgentEvent* result = rec.first("tool.result");
  CHECK(result->data["id"] == call->data["id"]);
  CHECK(result->data["result"]["task"]["title"] == "buy milk");

  // Both messages are stored; the assistant's carries its tool calls.
  auto history = agent.History(ann, reply->conversation_id, 50);
  REQUIRE(history.ok());
  REQUIRE(history->messages.size() == 2);
  CHECK(history->messages[0].role == MessageRole::kUser);
  CHECK(history->messages[0].content == "add buy milk to my list");
  const Message& stored = history->messages[1];
  CHECK(stored.id == reply->message.id);
  CHECK(stored.content == rec.deltas());
  REQUIRE(stored.tool_calls.has_value());
  REQUIRE(stored.tool_calls->size() == 1);
  CHECK((*stored.tool_calls)[0]["name"] == "add_task");
  CHECK((*stored.tool_calls)[0]["arguments"] == Json{{"title", "buy milk"}});
  CHECK((*stored.tool_calls)[0]["result"]["task"]["title"] == "buy milk");
  CHECK(MessageToJson(stored)["tool_calls"] == *stored.tool_calls);

  // The conversation is titled by the first message.
  CHECK(f.core->conversations().Get(ann, reply->conversation_id)->title ==
        "add buy milk to my list");

  // The tool call is audited.
  auto audit = f.core->users().Audit(ann, 50, "");
  REQUIRE(audit.ok());
  REQUIRE_FALSE(audit->items.empty());
  CHECK(audit->items[0].type == "tool.called");
  CHECK(audit->items[0].outcome == AuditOutcome::kOk);
  CHECK(audit->items[0].details == Json{{"tool", "add_task"}});
  CHECK(audit->items[0].request_id == "req-1");

  // Same conversation: list, then complete.
  AgentRequest list{"what's on my list?", reply->conversation_id};
  auto listed = agent.Send(ann, list, f.ctx);
  REQUIRE(listed.ok());
  CHECK(listed->conversation_id == reply->conversation_id);
  CHECK(listed->message.content == "Here are your tasks:\n1. buy milk");

  AgentRequest complete{"mark buy milk as done", reply->conversation_id};
  auto completed = agent.Send(ann, complete, f.ctx);
  REQUIRE(completed.ok());
  CHECK(completed->message.content == "Marked \u201Cbuy milk\u201D as done.");
  CHECK(f.core->tasks().List(ann, {})->items[0].completed);

  auto all = agent.History(ann, std::nullopt, 50);  // newest conversation
  REQUIRE(all.ok());
  CHECK(all->messages.size() == 6);
}

TEST_CASE("greeting and unknown input answer without tools") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Recorded rec;
  auto reply = f.core->agent().Send(ann, {"hello!"}, f.ctx, rec.sink());
  REQUIRE(reply.ok());
  CHECK(reply->message.content.find("Hello") == 0);
  CHECK_FALSE(reply->message.tool_calls.has_value());
  CHECK(rec.first("tool.call") == nullptr);
  CHECK(rec.deltas() == reply->message.content);
}

TEST_CASE("a key with agent but without tasks:write gets a tool error, never a write") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal key = CoreFixture::WithScopes(ann, {"agent", "tasks:read"});
  Recorded rec;
  auto reply = f.core->agent().Send(key, {"add buy milk"}, f.ctx, rec.sink());
  REQUIRE(reply.ok());
  CHECK(reply->message.status == MessageStatus::kCompleted);
  const AgentEvent* result = rec.first("tool.result");
  REQUIRE(result != nullptr);
  CHECK(result->data["name"] == "add_task");
  CHECK(result->data["result"]["error"]["code"] == "insufficient_scope");
  CHECK(result->data["result"]["error"]["message"].is_string());
  CHECK(rec.types().back() == "message.done");
  CHECK(reply->message.content.find("not allowed") != std::string::npos);
  CHECK(f.core->tasks().List(ann, {})->items.empty());
  auto audit = f.core->users().Audit(ann, 50, "");
  REQUIRE(audit.ok());
  REQUIRE_FALSE(audit->items.empty());
  CHECK(audit->items[0].type == "tool.called");
  CHECK(audit->items[0].outcome == AuditOutcome::kFailed);
}

TEST_CASE("agent scope, message validation, foreign conversations") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal bob = f.NewUser("bob@example.com");
  Agent& agent = f.core->agent();
  Principal no_agent = CoreFixture::WithScopes(ann, {"tasks:read", "tasks:write"});
  CHECK(agent.Send(no_agent, {"hi"}, f.ctx).status().reason() == "insufficient_scope");
  CHECK(agent.History(no_agent, std::nullopt, 10).status().code() ==
        StatusCode::kPermissionDenied);
  CHECK(agent.Send(Principal{}, {"hi"}, f.ctx).status().code() == StatusCode::kUnauthenticated);

  CHECK(agent.Send(ann, {""}, f.ctx).status().field() == "message");
  CHECK(agent.Send(ann, {" \n\t "}, f.ctx).status().field() == "message");
  CHECK(agent.Send(ann, {std::string(32001, 'a')}, f.ctx).status().field() == "message");
  CHECK(agent.Send(ann, {"bad \xC3"}, f.ctx).status().reason() == "malformed_request");
  auto longest = agent.Send(ann, {std::string(32000, 'a')}, f.ctx);
  REQUIRE(longest.ok());
  CHECK(longest->message.status == MessageStatus::kCompleted);

  auto mine = agent.Send(ann, {"hi"}, f.ctx);
  REQUIRE(mine.ok());
  AgentRequest intrude{"add steal", mine->conversation_id};
  CHECK(agent.Send(bob, intrude, f.ctx).status().code() == StatusCode::kNotFound);
  CHECK(agent.History(bob, mine->conversation_id, 10).status().code() == StatusCode::kNotFound);
  CHECK(agent.History(bob, std::nullopt, 10)->messages.empty());
  CHECK(f.core->tasks().List(bob, {})->items.empty());
  AgentRequest missing{"hi", std::string("no-such-conversation")};
  CHECK(agent.Send(ann, missing, f.ctx).status().code() == StatusCode::kNotFound);

  // Long first messages make a title of at most ~60 characters, one line.
  auto long_msg = agent.Send(ann, {"please remember that\nthe quarterly report is due on friday and "
                                   "needs the sales figures from every region"},
                             f.ctx);
  REQUIRE(long_msg.ok());
  std::string title = f.core->conversations().Get(ann, long_msg->conversation_id)->title;
  CHECK(title.find('\n') == std::string::npos);
  CHECK(title.rfind("please remember that the quarterly", 0) == 0);
  CHECK(title.size() <= 64);
}

TEST_CASE("cancellation stores a cancelled partial message") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  // Streams two deltas, then waits for the cancel as a slow upstream would.
  ScriptedAgent sa(f, [](const ChatRequest&, const DeltaSink& sink,
                         const CancellationToken& token, int) -> Result<ChatResponse> {
    sink("partial ");
    sink("text");
    while (!token.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return CancelledError("cancelled");
  });
  CancellationToken cancel;
  std::vector<AgentEvent> events;
  int deltas = 0;
  auto reply = sa.agent->Send(ann, {"help"}, f.ctx,
                              [&](const AgentEvent& e) {
                                events.push_back(e);
                                if (e.type == "message.delta" && ++deltas == 2) cancel.Cancel();
                                return true;
                              },
                              &cancel);
  REQUIRE(reply.ok());
  CHECK(reply->message.status == MessageStatus::kCancelled);
  CHECK(deltas == 2);
  std::string streamed;
  for (const auto& e : events) {
    if (e.type == "message.delta") streamed += e.data["content"].get<std::string>();
  }
  CHECK(streamed == "partial text");
  CHECK(reply->message.content == streamed);
  CHECK(events.back().type == "message.done");
  CHECK(events.back().data["message"]["status"] == "cancelled");
  auto history = sa.agent->History(ann, reply->conversation_id, 10);
  REQUIRE(history.ok());
  REQUIRE(history->messages.size() == 2);
  CHECK(history->messages[1].status == MessageStatus::kCancelled);
  CHECK(history->messages[1].content == streamed);
}

TEST_CASE("a sink that stops listening hears no more and does not stop the run") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  int seen = 0;
  auto reply = f.core->agent().Send(ann, {"add buy milk"}, f.ctx, [&](const AgentEvent&) {
    ++seen;
    return false;
  });
  REQUIRE(reply.ok());
  CHECK(reply->message.status == MessageStatus::kCompleted);
  CHECK(seen == 1);
  CHECK(f.core->tasks().List(ann, {})->items.size() == 1);
}

TEST_CASE("a provider failure stores a failed partial message and returns the error") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  ScriptedAgent sa(f, [](const ChatRequest&, const DeltaSink& sink, const CancellationToken&,
                         int) -> Result<ChatResponse> {
    sink("partial ");
    sink("text");
    return UnavailableError("upstream said no", "upstream_error");
  });
  Recorded rec;
  auto reply = sa.agent->Send(ann, {"hello"}, f.ctx, rec.sink());
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.status().reason() == "upstream_error");
  CHECK(rec.types().back() == "error");
  CHECK(rec.events.back().data["error"]["code"] == "upstream_error");
  CHECK(rec.first("message.done") == nullptr);
  auto history = sa.agent->History(ann, std::nullopt, 10);
  REQUIRE(history.ok());
  REQUIRE(history->messages.size() == 2);
  CHECK(history->messages[1].status == MessageStatus::kFailed);
  CHECK(history->messages[1].content == "partial text");
  CHECK(history->messages[1].id == rec.first("message.start")->data["message_id"]);
}

TEST_CASE("the prompt: system prompt, memory, state, replayed tool calls, bad arguments") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  REQUIRE(f.core->agent_state().AddMemory(ann, "Prefers metric units").ok());
  REQUIRE(f.core->agent_state().Put(ann, "notes", Json{{"mode", "brief"}}).ok());
  ScriptedAgent sa(f, [](const ChatRequest& req, const DeltaSink& sink, const CancellationToken&,
                         int call) -> Result<ChatResponse> {
    if (call == 0) {
      ChatResponse r;
      r.tool_calls.push_back({"c1", "add_task", {{"title", "buy milk"}}});
      r.tool_calls.push_back({"c2", "add_task", {{"title", 7}}});  // schema error
      r.tool_calls.push_back({"c3", "no_such_tool", Json::object()});
      return r;
    }
    return Say("ok", sink);
  });
  AgentRequest req{"do things", std::nullopt, std::string("notes")};
  Recorded rec;
  auto first = sa.agent->Send(ann, req, f.ctx, rec.sink());
  REQUIRE(first.ok());
  CHECK(first->usage.prompt_tokens == 10);
  std::vector<AgentEvent> results;
  for (const auto& e : rec.events) {
    if (e.type == "tool.result") results.push_back(e);
  }
  REQUIRE(results.size() == 3);
  CHECK(results[0].data["result"]["task"]["title"] == "buy milk");
  CHECK(results[1].data["result"]["error"]["code"] == "invalid_field");
  CHECK(results[1].data["result"]["error"]["message"].get<std::string>().find("title") !=
        std::string::npos);
  CHECK(results[2].data["result"]["error"]["code"] == "unknown_tool");
  CHECK(rec.types().back() == "message.done");

  auto reqs = sa.provider->requests();
  REQUIRE(reqs.size() == 2);
  const ChatRequest& r0 = reqs[0];
  REQUIRE(r0.messages.size() == 2);
  CHECK(r0.messages[0].role == MessageRole::kSystem);
  CHECK(r0.messages[0].content.find("helpful assistant") != std::string::npos);
  CHECK(r0.messages[0].content.find("Prefers metric units") != std::string::npos);
  CHECK(r0.messages[0].content.find("\"mode\":\"brief\"") != std::string::npos);
  CHECK(r0.tools.size() == 7);
  // The second step sees the calls and their results.
  const ChatRequest& r1 = reqs[1];
  REQUIRE(r1.messages.size() == 6);
  CHECK(r1.messages[2].role == MessageRole::kAssistant);
  CHECK(r1.messages[2].tool_calls.size() == 3);
  CHECK(r1.messages[3].role == MessageRole::kTool);
  CHECK(r1.messages[3].tool_call_id == "c1");
  CHECK(r1.messages[3].name == "add_task");

  // The next turn replays the stored turn: user, assistant calls, tool results, assistant text.
  AgentRequest next{"again", first->conversation_id, std::string("notes")};
  REQUIRE(sa.agent->Send(ann, next, f.ctx).ok());
  reqs = sa.provider->requests();
  const ChatRequest& r2 = reqs[2];
  std::vector<std::string> roles;
  for (const auto& m : r2.messages) roles.push_back(MessageRoleName(m.role));
  CHECK(roles == std::vector<std::string>{"system", "user", "assistant", "tool", "tool", "tool",
                                          "assistant", "user"});
  CHECK(r2.messages[2].tool_calls[0].id == "c1");
  CHECK(r2.messages[2].tool_calls[0].arguments == Json{{"title", "buy milk"}});
  CHECK(r2.messages[4].tool_call_id == "c2");
  CHECK(Json::parse(r2.messages[4].content)["error"]["code"] == "invalid_field");
  CHECK(r2.messages[6].content == "ok");
  CHECK(r2.messages[7].content == "again");
}

TEST_CASE("history is trimmed from the oldest to the token budget") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  AgentOptions options;
  options.history_token_budget = 30;  // ~120 characters
  ScriptedAgent sa(f,
                   [](const ChatRequest&, const DeltaSink& sink, const CancellationToken&,
                      int) { return Say(std::string(40, 'r'), sink); },
                   options);
  auto first = sa.agent->Send(ann, {std::string(40, 'a')}, f.ctx);
  REQUIRE(first.ok());
  for (char c : {'b', 'c'}) {
    f.clock->Advance(std::chrono::milliseconds(1));
    REQUIRE(sa.agent->Send(ann, {std::string(40, c), first->conversation_id}, f.ctx).ok());
  }
  auto reqs = sa.provider->requests();
  REQUIRE(reqs.size() == 3);
  // Third turn: history has a, r, b, r (4 x 10 tokens); 30 keeps the newest three.
  const auto& msgs = reqs[2].messages;
  REQUIRE(msgs.size() == 5);
  CHECK(msgs[0].role == MessageRole::kSystem);
  CHECK(msgs[1].content == std::string(40, 'r'));
  CHECK(msgs[2].content == std::string(40, 'b'));
  CHECK(msgs[3].content == std::string(40, 'r'));
  CHECK(msgs[4].content == std::string(40, 'c'));
}

TEST_CASE("a turn with caller history and store=false writes nothing but still runs tools") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  AgentOptions options;
  options.history_token_budget = 30;  // ~120 characters
  ScriptedAgent sa(f,
                   [](const ChatRequest&, const DeltaSink& sink, const CancellationToken&,
                      int call) -> Result<ChatResponse> {
                     if (call == 0) {
                       ChatResponse r;
                       r.tool_calls.push_back({"c1", "add_task", Json{{"title", "from v1"}}});
                       return r;
                     }
                     return Say("added", sink);
                   },
                   options);
  AgentRequest req{"add it"};
  req.store = false;
  req.history = std::vector<ChatMessage>{
      {MessageRole::kSystem, "answer in French", {}, "", ""},
      {MessageRole::kUser, std::string(200, 'x'), {}, "", ""},  // older than the budget allows
      {MessageRole::kAssistant, "", {ToolCall{"old", "list_tasks", Json::object()}}, "", ""},
      {MessageRole::kTool, "[]", {}, "old", "list_tasks"},
      {MessageRole::kUser, std::string(40, 'u'), {}, "", ""}};
  auto reply = sa.agent->Send(ann, req, f.ctx);
  REQUIRE(reply.ok());
  CHECK(reply->conversation_id.empty());
  CHECK(reply->message.content == "added");
  CHECK_FALSE(reply->message.id.empty());

  auto reqs = sa.provider->requests();
  REQUIRE(reqs.size() == 2);
  const auto& msgs = reqs[0].messages;
  REQUIRE(msgs.size() == 5);
  CHECK(msgs[0].role == MessageRole::kSystem);
  CHECK(msgs[0].content.find("answer in French") != std::string::npos);
  // The tool call and its answer stay together; the oldest user turn is cut.
  CHECK(msgs[1].role == MessageRole::kAssistant);
  CHECK(msgs[1].tool_calls.size() == 1);
  CHECK(msgs[2].role == MessageRole::kTool);
  CHECK(msgs[3].content == std::string(40, 'u'));
  CHECK(msgs[4].content == "add it");

  // The tool acted for Ann; no conversation or message was written.
  auto tasks = f.core->tasks().List(ann, {});
  REQUIRE(tasks.ok());
  REQUIRE(tasks->items.size() == 1);
  CHECK(tasks->items[0].title == "from v1");
  auto convs = f.core->conversations().List(ann, {});
  REQUIRE(convs.ok());
  CHECK(convs->items.empty());

  AgentRequest named{"hi", std::string("some-conversation")};
  named.store = false;
  auto refused = sa.agent->Send(ann, named, f.ctx);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().field() == "conversation_id");

  AgentRequest bad_role{"hi"};
  // No such role (an embedder's cast): refused like any bad history.
  bad_role.history = std::vector<ChatMessage>{{static_cast<MessageRole>(42), "x", {}, "", ""}};
  CHECK(sa.agent->Send(ann, bad_role, f.ctx).status().field() == "messages");
}

TEST_CASE("text from several tool steps is kept as paragraphs, and the deltas add up to it") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  ScriptedAgent sa(f, [](const ChatRequest&, const DeltaSink& sink, const CancellationToken&,
                         int call) -> Result<ChatResponse> {
    if (call == 0) {
      Result<ChatResponse> r = Say("Let me add that.", sink);
      r->tool_calls.push_back({"c1", "add_task", {{"title", "buy milk"}}});
      return r;
    }
    if (call == 1) {
      ChatResponse silent;  // a step with a tool call and no text
      silent.tool_calls.push_back({"c2", "list_tasks", Json::object()});
      return silent;
    }
    return Say("Done: one task.", sink);
  });
  Recorded rec;
  auto reply = sa.agent->Send(ann, {"add buy milk"}, f.ctx, rec.sink());
  REQUIRE(reply.ok());
  CHECK(reply->message.content == "Let me add that.\n\nDone: one task.");
  std::string deltas;
  for (const auto& e : rec.events) {
    if (e.type == "message.delta") deltas += e.data["content"].get<std::string>();
  }
  CHECK(deltas == reply->message.content);
  // The model saw each step's own text, without the separator.
  auto reqs = sa.provider->requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[1].messages[2].content == "Let me add that.");
  CHECK(reqs[2].messages[4].content.empty());
}

TEST_CASE("the tool loop stops at max_tool_steps") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  AgentOptions options;
  options.max_tool_steps = 2;
  ScriptedAgent sa(f,
                   [](const ChatRequest&, const DeltaSink&, const CancellationToken&,
                      int call) -> Result<ChatResponse> {
                     ChatResponse r;
                     r.tool_calls.push_back(
                         {"c" + std::to_string(call), "list_tasks", Json::object()});
                     r.usage.prompt_tokens = 1;
                     r.usage.completion_tokens = 1;
                     return r;
                   },
                   options);
  Recorded rec;
  auto reply = sa.agent->Send(ann, {"loop forever"}, f.ctx, rec.sink());
  REQUIRE(reply.ok());
  CHECK(sa.provider->requests().size() == 3);
  CHECK(reply->usage.prompt_tokens == 3);  // summed over steps
  CHECK(reply->usage.completion_tokens == 3);
  REQUIRE(reply->message.tool_calls.has_value());
  CHECK(reply->message.tool_calls->size() == 2);
  CHECK_FALSE(reply->message.content.empty());
  CHECK(rec.deltas() == reply->message.content);
}

TEST_CASE("concurrent turns from several threads each land exactly once") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = f.core->agent().Send(
            ann, {"add task " + std::to_string(t) + "-" + std::to_string(i)}, f.ctx);
        if (!r.ok() || r->message.status != MessageStatus::kCompleted) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int n : failures) CHECK(n == 0);
  TaskListOptions o;
  o.limit = 200;
  auto tasks = f.core->tasks().List(ann, o);
  REQUIRE(tasks.ok());
  std::set<std::string> titles;
  for (const Task& t : tasks->items) titles.insert(t.title);
  CHECK(titles.size() == kThreads * kPerThread);
  CHECK(tasks->items.size() == kThreads * kPerThread);
}

}  // TEST_SUITE
