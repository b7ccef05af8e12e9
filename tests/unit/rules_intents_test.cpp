#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "assistant/llm.hpp"

using namespace assistant;

namespace assistant::rules_internal {
Json DetectIntentForTest(const std::string& message);
}  // namespace assistant::rules_internal

namespace {

std::vector<ToolSpec> AllTools() {
  std::vector<ToolSpec> out;
  for (const char* n : {"add_task", "list_tasks", "complete_task", "uncomplete_task",
                        "delete_task", "update_task", "clear_completed"}) {
    out.push_back({n, "", Json{{"type", "object"}}});
  }
  return out;
}

// One turn of the provider on a user message, collecting streamed text.
struct Turn {
  ChatResponse response;
  std::vector<std::string> deltas;
};

Turn Ask(LlmProvider& p, std::vector<ChatMessage> messages) {
  ChatRequest req;
  req.tools = AllTools();
  req.messages = std::move(messages);
  Turn t;
  CancellationToken cancel;
  auto r = p.Chat(req, [&](std::string_view d) {
    t.deltas.emplace_back(d);
    return true;
  }, cancel);
  REQUIRE(r.ok());
  t.response = *r;
  return t;
}

ChatMessage UserMsg(const std::string& text) { return {MessageRole::kUser, text, {}, "", ""}; }

}  // namespace

TEST_SUITE("rules") {

TEST_CASE("phrasings map to the expected tool and arguments") {
  struct Case {
    const char* message;
    const char* tool;
    const char* arguments;  // JSON
  };
  const Case cases[] = {
      // add
      {"add buy milk", "add_task", R"({"title":"buy milk"})"},
      {"Add buy milk to my list", "add_task", R"({"title":"buy milk"})"},
      {"add Buy Milk to my list.", "add_task", R"({"title":"Buy Milk"})"},
      {"please add call the bank", "add_task", R"({"title":"call the bank"})"},
      {"remind me to call mom", "add_task", R"({"title":"call mom"})"},
      {"Remind me to call mom!", "add_task", R"({"title":"call mom"})"},
      {"I need to buy eggs", "add_task", R"({"title":"buy eggs"})"},
      {"i have to renew my passport", "add_task", R"({"title":"renew my passport"})"},
      {"I must call the plumber", "add_task", R"({"title":"call the plumber"})"},
      {"i really need to sleep more", "add_task", R"({"title":"sleep more"})"},
      {"put bread on my list", "add_task", R"({"title":"bread"})"},
      {"Put bread on the shopping list", "add_task", R"({"title":"bread"})"},
      {"create a task water the plants", "add_task", R"({"title":"water the plants"})"},
      {"new task: file taxes", "add_task", R"({"title":"file taxes"})"},
      {"add task: \"pay rent\"", "add_task", R"({"title":"pay rent"})"},
      {"can you add book flights please?", "add_task", R"({"title":"book flights"})"},
      // list
      {"list tasks", "list_tasks", R"({"status":"all"})"},
      {"what's on my list?", "list_tasks", R"({"status":"all"})"},
      {"What\xE2\x80\x99s on my list", "list_tasks", R"({"status":"all"})"},
      {"whats on my todo list", "list_tasks", R"({"status":"all"})"},
      {"show my tasks", "list_tasks", R"({"status":"all"})"},
      {"Show me all my tasks", "list_tasks", R"({"status":"all"})"},
      {"what do I have to do?", "list_tasks", R"({"status":"all"})"},
      {"what do i need to do today", "list_tasks", R"({"status":"all"})"},
      {"pending tasks", "list_tasks", R"({"status":"pending"})"},
      {"show pending tasks", "list_tasks", R"({"status":"pending"})"},
      {"completed tasks", "list_tasks", R"({"status":"completed"})"},
      {"list done tasks", "list_tasks", R"({"status":"completed"})"},
      {"what's left", "list_tasks", R"({"status":"pending"})"},
      {"my tasks", "list_tasks", R"({"status":"all"})"},
      // complete
      {"mark buy milk as done", "complete_task", R"({"task":"buy milk"})"},
      {"Mark buy milk as completed.", "complete_task", R"({"task":"buy milk"})"},
      {"mark buy milk done", "complete_task", R"({"task":"buy milk"})"},
      {"complete buy milk", "complete_task", R"({"task":"buy milk"})"},
      {"I finished buy milk", "complete_task", R"({"task":"buy milk"})"},
      {"i've finished the report", "complete_task", R"({"task":"the report"})"},
      {"done with laundry", "complete_task", R"({"task":"laundry"})"},
      {"check off laundry", "complete_task", R"({"task":"laundry"})"},
      {"check laundry off my list", "complete_task", R"({"task":"laundry"})"},
      {"laundry is done", "complete_task", R"({"task":"laundry"})"},
      // uncomplete
      {"mark buy milk as not done", "uncomplete_task", R"({"task":"buy milk"})"},
      {"mark buy milk as incomplete", "uncomplete_task", R"({"task":"buy milk"})"},
      {"uncomplete buy milk", "uncomplete_task", R"({"task":"buy milk"})"},
      {"reopen buy milk", "uncomplete_task", R"({"task":"buy milk"})"},
      // delete
      {"delete buy milk", "delete_task", R"({"task":"buy milk"})"},
      {"remove buy milk from my list", "delete_task", R"({"task":"buy milk"})"},
      {"Remove the task buy milk", "delete_task", R"({"task":"buy milk"})"},
      {"get rid of buy milk", "delete_task", R"({"task":"buy milk"})"},
      // update
      {"rename buy milk to buy oat milk", "update_task",
       R"({"task":"buy milk","title":"buy oat milk"})"},
      {"change buy milk to buy bread", "update_task", R"({"task":"buy milk","title":"buy bread"})"},
      {"update buy milk to buy 2 milks", "update_task",
       R"({"task":"buy milk","title":"buy 2 milks"})"},
      // clear completed
      {"clear completed", "clear_completed", R"({})"},
      {"Clear completed tasks!", "clear_completed", R"({})"},
      {"remove all done tasks", "clear_completed", R"({})"},
      {"delete all completed tasks from my list", "clear_completed", R"({})"},
      {"clear done", "clear_completed", R"({})"},
  };
  for (const Case& c : cases) {
    const std::string info_message = c.message;
    INFO(info_message);
    Json got = rules_internal::DetectIntentForTest(c.message);
    CHECK(got["tool"] == c.tool);
    CHECK(got["arguments"] == Json::parse(c.arguments));
  }
}

TEST_CASE("greeting, help and unknown input answer with text, no tool") {
  for (const char* m : {"hi", "Hello!", "hey", "good morning", "Hey there", "hello, how are you?"}) {
    const std::string info_m = m;
    INFO(info_m);
    Json got = rules_internal::DetectIntentForTest(m);
    CHECK(got["tool"] == "");
    CHECK(got["text"].get<std::string>().find("Hello") == 0);
  }
  for (const char* m : {"help", "Help!", "what can you do?", "What can you do", "I need help"}) {
    const std::string info_m = m;
    INFO(info_m);
    Json got = rules_internal::DetectIntentForTest(m);
    CHECK(got["tool"] == "");
    CHECK(got["text"].get<std::string>().find("add buy milk") != std::string::npos);
  }
  for (const char* m : {"the weather is nice", "42", "\xC2\xBFqu\xC3\xA9 tal?", "I have a question"}) {
    const std::string info_m = m;
    INFO(info_m);
    Json got = rules_internal::DetectIntentForTest(m);
    CHECK(got["tool"] == "");
    CHECK(got["text"].get<std::string>().find("didn't understand") != std::string::npos);
  }
}

TEST_CASE("the provider asks for the tool, then phrases the result") {
  auto p = NewRulesProvider();
  CHECK(p->name() == "rules");
  Turn first = Ask(*p, {{MessageRole::kSystem, "sys", {}, "", ""}, UserMsg("add buy milk to my list")});
  CHECK(first.deltas.empty());
  CHECK(first.response.content.empty());
  CHECK(first.response.finish_reason == "tool_calls");
  REQUIRE(first.response.tool_calls.size() == 1);
  const ToolCall call = first.response.tool_calls[0];
  CHECK(call.name == "add_task");
  CHECK(call.arguments == Json{{"title", "buy milk"}});
  CHECK_FALSE(call.id.empty());
  CHECK(first.response.usage.prompt_tokens > 0);

  Turn second = Ask(*p, {{MessageRole::kSystem, "sys", {}, "", ""},
                         UserMsg("add buy milk to my list"),
                         {MessageRole::kAssistant, "", {call}, "", ""},
                         {MessageRole::kTool, R"({"task":{"id":"t1","title":"buy milk","completed":false}})",
                          {}, call.id, "add_task"}});
  CHECK(second.response.tool_calls.empty());
  CHECK(second.response.content == "Added \u201Cbuy milk\u201D to your list.");
  CHECK(second.deltas.size() > 1);  // streamed in word chunks
  std::string joined;
  for (const auto& d : second.deltas) joined += d;
  CHECK(joined == second.response.content);
  CHECK(second.response.usage.completion_tokens ==
        static_cast<int64_t>((second.response.content.size() + 3) / 4));
}

TEST_CASE("list results become a numbered list or 'You have no tasks.'") {
  auto p = NewRulesProvider();
  ToolCall call{"c1", "list_tasks", {{"status", "all"}}};
  Turn empty = Ask(*p, {UserMsg("what's on my list?"), {MessageRole::kAssistant, "", {call}, "", ""},
                        {MessageRole::kTool, R"({"tasks":[]})", {}, "c1", "list_tasks"}});
  CHECK(empty.response.content == "You have no tasks.");
  Turn two = Ask(*p, {UserMsg("what's on my list?"), {MessageRole::kAssistant, "", {call}, "", ""},
                      {MessageRole::kTool,
                       R"({"tasks":[{"title":"buy milk","completed":false},{"title":"call mom","completed":true}]})",
                       {}, "c1", "list_tasks"}});
  CHECK(two.response.content == "Here are your tasks:\n1. buy milk\n2. call mom (done)");
  ToolCall pending{"c2", "list_tasks", {{"status", "pending"}}};
  Turn none = Ask(*p, {UserMsg("pending tasks"), {MessageRole::kAssistant, "", {pending}, "", ""},
                       {MessageRole::kTool, R"({"tasks":[]})", {}, "c2", "list_tasks"}});
  CHECK(none.response.content == "You have no pending tasks.");
}

TEST_CASE("a result handed over with the tool message reads as the same result in its text") {
  auto p = NewRulesProvider();
  ToolCall call{"c1", "list_tasks", {{"status", "all"}}};
  const Json result = {{"tasks", {{{"title", "buy milk"}, {"completed", false}},
                                  {{"title", "call mom"}, {"completed", true}}}}};
  ChatMessage as_text{MessageRole::kTool, result.dump(), {}, "c1", "list_tasks"};
  ChatMessage handed = as_text;
  handed.tool_result = std::make_shared<const Json>(result);
  Turn from_text = Ask(*p, {UserMsg("list tasks"), {MessageRole::kAssistant, "", {call}, "", ""}, as_text});
  Turn from_value = Ask(*p, {UserMsg("list tasks"), {MessageRole::kAssistant, "", {call}, "", ""}, handed});
  CHECK(from_text.response.content == "Here are your tasks:\n1. buy milk\n2. call mom (done)");
  CHECK(from_value.response.content == from_text.response.content);
  CHECK(from_value.deltas == from_text.deltas);
  CHECK(from_value.response.usage.prompt_tokens == from_text.response.usage.prompt_tokens);
}

TEST_CASE("tool errors are explained, not hidden") {
  auto p = NewRulesProvider();
  ToolCall call{"c1", "complete_task", {{"task", "walk dog"}}};
  Turn t = Ask(*p, {UserMsg("mark walk dog as done"), {MessageRole::kAssistant, "", {call}, "", ""},
                    {MessageRole::kTool, R"({"error":{"code":"not_found","message":"no task matches"}})", {},
                     "c1", "complete_task"}});
  CHECK(t.response.content == "I couldn't find a task matching \u201Cwalk dog\u201D.");
  ToolCall add{"c2", "add_task", {{"title", "x"}}};
  Turn denied = Ask(*p, {UserMsg("add x"), {MessageRole::kAssistant, "", {add}, "", ""},
                         {MessageRole::kTool,
                          R"({"error":{"code":"insufficient_scope","message":"this credential lacks the scope tasks:write"}})",
                          {}, "c2", "add_task"}});
  CHECK(denied.response.content.find("not allowed") != std::string::npos);
  CHECK(denied.response.content.find("tasks:write") != std::string::npos);
}

TEST_CASE("a tool that is not offered is not asked for") {
  auto p = NewRulesProvider();
  ChatRequest req;
  req.messages = {UserMsg("add buy milk")};
  CancellationToken cancel;
  auto r = p->Chat(req, nullptr, cancel);
  REQUIRE(r.ok());
  CHECK(r->tool_calls.empty());
  CHECK_FALSE(r->content.empty());
}

TEST_CASE("cancellation stops the stream with Cancelled") {
  auto p = NewRulesProvider();
  ChatRequest req;
  req.tools = AllTools();
  req.messages = {UserMsg("help")};
  CancellationToken cancel;
  int chunks = 0;
  auto r = p->Chat(req, [&](std::string_view) {
    if (++chunks == 2) cancel.Cancel();
    return true;
  }, cancel);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kCancelled);
  CHECK(chunks == 2);

  CancellationToken fired;
  fired.Cancel();
  CHECK(p->Chat(req, nullptr, fired).status().code() == StatusCode::kCancelled);
  // A sink returning false is a cancel too.
  CancellationToken fresh;
  CHECK(p->Chat(req, [](std::string_view) { return false; }, fresh).status().code() ==
        StatusCode::kCancelled);
}

TEST_CASE("very long input is answered, never matched against the patterns") {
  Json got = rules_internal::DetectIntentForTest("add " + std::string(31000, 'a'));
  CHECK(got["tool"] == "");
  CHECK(got["text"].get<std::string>().find("too long") != std::string::npos);
  // Long but plausible: a 500-character title still works.
  Json ok = rules_internal::DetectIntentForTest("add " + std::string(500, 'b'));
  CHECK(ok["tool"] == "add_task");
  CHECK(ok["arguments"]["title"] == std::string(500, 'b'));
  // Just under the cut-off, every pattern still runs without exhausting the stack.
  for (const char* prefix : {"i need to ", "mark ", "rename ", "what's on ", "remove "}) {
    Json near = rules_internal::DetectIntentForTest(prefix + std::string(1990, 'c'));
    CHECK(near.is_object());
  }
}

}  // TEST_SUITE
