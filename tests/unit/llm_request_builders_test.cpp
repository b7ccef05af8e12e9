// The request bodies of the three chat APIs, and NewProvider's choices.
#include <doctest/doctest.h>

#include "assistant/providers.hpp"
#include "llm/request_builders.hpp"

using namespace assistant;
using namespace assistant::llm;

namespace {

// A conversation with every kind of message: system, user, an assistant
// turn asking for a tool (with some text), the tool's result, a final answer.
ChatRequest SampleConversation() {
  ChatRequest r;
  r.messages.push_back({MessageRole::kSystem, "You manage tasks.", {}, "", ""});
  r.messages.push_back({MessageRole::kUser, "Add milk", {}, "", ""});
  ChatMessage ask{MessageRole::kAssistant, "Adding it.", {}, "", ""};
  ask.tool_calls.push_back({"call_1", "add_task", Json{{"title", "milk"}}});
  r.messages.push_back(ask);
  r.messages.push_back({MessageRole::kTool, R"({"task":{"id":"t1","title":"milk"}})", {}, "call_1", "add_task"});
  r.messages.push_back({MessageRole::kAssistant, "Done.", {}, "", ""});
  ToolSpec add;
  add.name = "add_task";
  add.description = "Add a task";
  add.parameters = {{"type", "object"}, {"properties", {{"title", {{"type", "string"}}}}}};
  r.tools.push_back(add);
  ToolSpec clear;
  clear.name = "clear_completed";
  clear.description = "Remove completed tasks";
  r.tools.push_back(clear);  // no parameters
  return r;
}

}  // namespace

TEST_CASE("llm request: OpenAI shape") {
  auto body = BuildOpenAiRequest(SampleConversation(), "gpt-4o-mini");
  REQUIRE(body.ok());
  const Json& b = *body;
  CHECK(b["model"] == "gpt-4o-mini");
  CHECK(b["stream"] == true);
  CHECK(b["stream_options"]["include_usage"] == true);
  const Json& m = b["messages"];
  REQUIRE(m.size() == 5);
  CHECK(m[0] == Json{{"role", "system"}, {"content", "You manage tasks."}});
  CHECK(m[2]["role"] == "assistant");
  CHECK(m[2]["content"] == "Adding it.");
  CHECK(m[2]["tool_calls"][0]["id"] == "call_1");
  CHECK(m[2]["tool_calls"][0]["type"] == "function");
  CHECK(m[2]["tool_calls"][0]["function"]["name"] == "add_task");
  // Arguments travel as a JSON string.
  REQUIRE(m[2]["tool_calls"][0]["function"]["arguments"].is_string());
  CHECK(Json::parse(m[2]["tool_calls"][0]["function"]["arguments"].get<std::string>()) ==
        Json{{"title", "milk"}});
  CHECK(m[3] == Json{{"role", "tool"},
                     {"tool_call_id", "call_1"},
                     {"content", R"({"task":{"id":"t1","title":"milk"}})"}});
  CHECK(b["tools"][0]["type"] == "function");
  CHECK(b["tools"][0]["function"]["name"] == "add_task");
  CHECK(b["tools"][0]["function"]["parameters"]["properties"]["title"]["type"] == "string");
  // A tool without parameters still gets an object schema.
  CHECK(b["tools"][1]["function"]["parameters"] ==
        Json{{"type", "object"}, {"properties", Json::object()}});

  // An assistant turn that only calls tools has null content.
  ChatRequest r = SampleConversation();
  r.messages[2].content.clear();
  CHECK((*BuildOpenAiRequest(r, "m"))["messages"][2]["content"].is_null());
}

TEST_CASE("llm request: Ollama shape") {
  auto body = BuildOllamaRequest(SampleConversation(), "llama3.1");
  REQUIRE(body.ok());
  const Json& b = *body;
  CHECK(b["model"] == "llama3.1");
  CHECK(b["stream"] == true);
  CHECK_FALSE(b.contains("stream_options"));
  const Json& m = b["messages"];
  // Arguments are an object, not a string.
  CHECK(m[2]["tool_calls"][0] ==
        Json{{"function", {{"name", "add_task"}, {"arguments", {{"title", "milk"}}}}}});
  CHECK(m[3] == Json{{"role", "tool"},
                     {"content", R"({"task":{"id":"t1","title":"milk"}})"},
                     {"tool_name", "add_task"}});
  CHECK(b["tools"][1]["function"]["name"] == "clear_completed");
}

TEST_CASE("llm request: Cohere v2 shape") {
  auto body = BuildCohereRequest(SampleConversation(), "command-r-plus-08-2024");
  REQUIRE(body.ok());
  const Json& b = *body;
  CHECK(b["model"] == "command-r-plus-08-2024");
  CHECK(b["stream"] == true);
  const Json& m = b["messages"];
  // Text next to tool calls is the tool plan.
  CHECK(m[2]["tool_plan"] == "Adding it.");
  CHECK_FALSE(m[2].contains("content"));
  CHECK(m[2]["tool_calls"][0]["id"] == "call_1");
  CHECK(m[2]["tool_calls"][0]["function"]["arguments"].is_string());
  // The SDK's Document.data is an object (Record<string, unknown>), not a
  // JSON string: the API refuses the string with a 400.
  CHECK(m[3] == Json{{"role", "tool"},
                     {"tool_call_id", "call_1"},
                     {"content",
                      {{{"type", "document"},
                        {"document", {{"data", {{"task", {{"id", "t1"}, {"title", "milk"}}}}}}}}}}});
  CHECK(m[4] == Json{{"role", "assistant"}, {"content", "Done."}});
  CHECK(b["tools"][0]["type"] == "function");
}

TEST_CASE("llm request: Cohere sends the model's tool plan and non-object results as text") {
  ChatRequest r = SampleConversation();
  r.messages[2].content = "";
  r.messages[2].tool_plan = "I will add milk.";
  r.messages[3].content = R"(["not", "an", "object"])";
  auto body = BuildCohereRequest(r, "command-a-03-2025");
  REQUIRE(body.ok());
  const Json& m = (*body)["messages"];
  CHECK(m[2]["tool_plan"] == "I will add milk.");
  CHECK_FALSE(m[2].contains("content"));
  CHECK(m[3]["content"] ==
        Json::array({{{"type", "text"}, {"text", R"(["not", "an", "object"])"}}}));
  // A result handed over in process is used as is.
  Json result = {{"ok", true}};
  r.messages[3].tool_result = std::make_shared<const Json>(result);
  auto again = BuildCohereRequest(r, "command-a-03-2025");
  REQUIRE(again.ok());
  CHECK((*again)["messages"][3]["content"][0]["document"]["data"] == result);
}

TEST_CASE("llm request: the request's model wins over the configured one") {
  ChatRequest r = SampleConversation();
  r.model = "override";
  CHECK((*BuildOpenAiRequest(r, "default"))["model"] == "override");
  CHECK((*BuildOllamaRequest(r, "default"))["model"] == "override");
  CHECK((*BuildCohereRequest(r, "default"))["model"] == "override");
}

TEST_CASE("llm request: bad requests are InvalidArgument naming the field") {
  ChatRequest empty;
  auto r = BuildOpenAiRequest(empty, "m");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().field() == "messages");

  ChatRequest no_model = SampleConversation();
  r = BuildCohereRequest(no_model, "");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().field() == "model");

  ChatRequest bad_role = SampleConversation();
  bad_role.messages[1].role = static_cast<MessageRole>(42);  // no such role
  r = BuildOllamaRequest(bad_role, "m");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().field() == "role");

  ChatRequest orphan = SampleConversation();
  orphan.messages[3].tool_call_id.clear();
  r = BuildOpenAiRequest(orphan, "m");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().field() == "tool_call_id");
}

TEST_CASE("llm request: invalid UTF-8 in a message cannot throw") {
  ChatRequest r = SampleConversation();
  r.messages[1].content = "bad \xC3 byte";
  auto body = BuildOpenAiRequest(r, "m");
  REQUIRE(body.ok());
  std::string text = DumpBody(*body);
  CHECK(text.find("bad \xEF\xBF\xBD byte") != std::string::npos);  // U+FFFD
}

TEST_CASE("llm NewProvider: picks by name and checks what it needs") {
  AgentOptions o;
  auto rules = NewProvider(o);
  REQUIRE(rules.ok());
  CHECK((*rules)->name() == "rules");

  for (ProviderKind kind : {ProviderKind::kOpenAi, ProviderKind::kOllama, ProviderKind::kCohere}) {
    const std::string name = ProviderKindName(kind);
    INFO(name);
    AgentOptions http;
    http.provider = kind;
    http.base_url = "http://127.0.0.1:9";
    http.model = "m";
    auto p = NewProvider(http);
    REQUIRE(p.ok());
    CHECK((*p)->name() == name);

    http.model.clear();
    p = NewProvider(http);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().field() == "model");

    http.model = "m";
    http.base_url = "127.0.0.1:9";
    p = NewProvider(http);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().field() == "base_url");
  }
}
