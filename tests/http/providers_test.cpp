// Black-box: the openai, ollama and cohere providers through the real
// assistant-server binary. Each test points the server at a fake upstream
// (tests/fake_upstream) that replays recorded streams from tests/data/llm
// byte for byte, cut into small chunks at awkward boundaries, and checks
// what the client sees, what is stored, and what the provider sent upstream:
// plain and streamed replies, the tool loop, upstream errors and retries, a
// stalled upstream and a stream broken mid-way. The API key must never show
// in the server's log or in a response.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fake_upstream/fake_upstream.hpp"
#include "harness.hpp"

using namespace http_test;
using fake_upstream::FakeUpstream;
using fake_upstream::RecordedRequest;
using fake_upstream::Reply;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr const char* kApiKey = "sk-e2e-Q9wZr4Tn7Lx2Vb8Mc5Kd";
constexpr const char* kModel = "e2e-model-7b";
// The title the add_task recordings ask for.
constexpr const char* kToolTitle = "Buy oat milk 🥛 for Zoë";
const std::vector<std::string> kProtocols = {"openai", "ollama", "cohere"};
const std::set<std::string> kBuiltinTools = {"add_task",      "list_tasks",      "complete_task",
                                             "uncomplete_task", "delete_task", "update_task",
                                             "clear_completed"};

std::string Recorded(const std::string& name) {
  return fake_upstream::ReadFile(std::string(ASSISTANT_LLM_DATA_DIR) + "/" + name);
}

std::string StreamFile(const std::string& protocol, const std::string& what) {
  return protocol + "_" + what + (protocol == "ollama" ? ".ndjson" : ".sse");
}

Json Expected(const std::string& file) {
  return Json::parse(Recorded(file.substr(0, file.rfind('.')) + ".expected.json"));
}

std::string Joined(const Json& deltas, size_t count) {
  std::string out;
  for (size_t i = 0; i < count && i < deltas.size(); ++i) out += deltas[i].get<std::string>();
  return out;
}

// The server, started against `fake` with the key in its environment only.
std::unique_ptr<ServerProcess> StartServer(const FakeUpstream& fake, const std::string& protocol,
                                           std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--llm-provider", protocol, "--llm-base-url", fake.base_url(),
                                   "--llm-model", kModel};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<ServerProcess>(
      args, "", true, std::map<std::string, std::string>{{"ASSISTANT_LLM_API_KEY", kApiKey}});
}

struct SseEvent {
  bool has_id = false;
  long id = 0;
  std::string event;
  Json data;
};

std::vector<SseEvent> ParseSse(const std::string& body) {
  std::vector<SseEvent> out;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::istringstream frame(body.substr(pos, end - pos));
    pos = end + 2;
    SseEvent ev;
    std::string line;
    while (std::getline(frame, line)) {
      if (line.rfind("id: ", 0) == 0) {
        ev.has_id = true;
        ev.id = std::stol(line.substr(4));
      } else if (line.rfind("event: ", 0) == 0) {
        ev.event = line.substr(7);
      } else if (line.rfind("data: ", 0) == 0) {
        ev.data = Json::parse(line.substr(6), nullptr, false);
      }
    }
    out.push_back(std::move(ev));
  }
  return out;
}

// The documented order (docs/server.md "Streaming"): message.start first, one terminal event (message.done or
// error) last, ids 1, 2, 3, ... on every event.
void CheckEnvelope(std::vector<SseEvent> events, const std::string& terminal) {
  REQUIRE(events.size() >= 2);
  for (size_t i = 0; i < events.size(); ++i) {
    CAPTURE(i);
    CHECK(events[i].has_id);
    CHECK(events[i].id == static_cast<long>(i + 1));
    CHECK_FALSE(events[i].data.is_discarded());
  }
  CHECK(events.front().event == "message.start");
  CHECK(events.front().data["conversation_id"].is_string());
  CHECK(events.front().data["message_id"].is_string());
  CHECK(events.front().data["run_id"].is_string());
  CHECK(events.back().event == terminal);
  for (size_t i = 1; i + 1 < events.size(); ++i) {
    CAPTURE(i);
    CHECK(events[i].event != "message.start");
    CHECK(events[i].event != "message.done");
    CHECK(events[i].event != "error");
  }
}

std::string DeltaText(const std::vector<SseEvent>& events) {
  std::string out;
  for (const SseEvent& e : events) {
    if (e.event == "message.delta" && e.data.is_object()) out += e.data.value("content", "");
  }
  return out;
}

Response SendMessage(const ServerProcess& s, const User& u, const std::string& text, bool stream) {
  return s.Call("POST", "/api/agent/message", Json{{"message", text}, {"stream", stream}},
                u.access_token);
}

// The messages of a conversation (the newest one when `conversation_id` is
// empty), oldest first.
Json StoredMessages(const ServerProcess& s, const User& u, const std::string& conversation_id) {
  const std::string path = conversation_id.empty()
                               ? "/api/agent/history"
                               : "/api/agent/history?conversation_id=" + conversation_id;
  Response r = s.Call("GET", path, std::nullopt, u.access_token);
  REQUIRE(r.status == 200);
  return r.json["messages"];
}

// The provider's address and key never reach a client or the log.
void CheckNoSecrets(const std::string& text, const FakeUpstream& fake) {
  CHECK(text.find(kApiKey) == std::string::npos);
  CHECK(text.find("127.0.0.1:" + std::to_string(fake.port())) == std::string::npos);
}

std::set<std::string> Keys(const Json& object) {
  std::set<std::string> out;
  if (object.is_object()) {
    for (auto it = object.begin(); it != object.end(); ++it) out.insert(it.key());
  }
  return out;
}

// The first request of a turn: route, headers, and a body in the
// provider's own shape holding the system prompt, the user's message and
// the built-in tools with their JSON Schemas.
void CheckFirstRequest(const std::string& protocol, const FakeUpstream& fake,
                       const RecordedRequest& req, const std::string& user_message) {
  CHECK(req.method == "POST");
  CHECK(req.path == fake.chat_path());
  CHECK(req.headers.count("authorization") == 1);
  if (req.headers.count("authorization") == 1) {
    CHECK(req.headers.at("authorization") == std::string("Bearer ") + kApiKey);
  }
  CHECK(req.headers.count("content-type") == 1);
  if (req.headers.count("content-type") == 1) {
    CHECK(req.headers.at("content-type").rfind("application/json", 0) == 0);
  }
  const std::string accept = protocol == "ollama" ? "application/x-ndjson" : "text/event-stream";
  CHECK(req.headers.count("accept") == 1);
  if (req.headers.count("accept") == 1) CHECK(req.headers.at("accept") == accept);

  Json body = Json::parse(req.body, nullptr, false);
  REQUIRE(body.is_object());
  std::set<std::string> keys = {"model", "messages", "stream", "tools"};
  if (protocol == "openai") keys.insert("stream_options");
  CHECK(Keys(body) == keys);
  CHECK(body["model"] == kModel);
  CHECK(body["stream"] == true);
  if (protocol == "openai") CHECK(body["stream_options"] == Json{{"include_usage", true}});

  Json messages = body["messages"];
  REQUIRE(messages.is_array());
  REQUIRE(messages.size() == 2);
  CHECK(Keys(messages[0]) == std::set<std::string>{"role", "content"});
  CHECK(messages[0]["role"] == "system");
  REQUIRE(messages[0]["content"].is_string());
  CHECK_FALSE(messages[0]["content"].get<std::string>().empty());
  CHECK(messages[1] == Json{{"role", "user"}, {"content", user_message}});

  Json tools = body["tools"];
  REQUIRE(tools.is_array());
  std::set<std::string> names;
  for (Json t : tools) {
    CHECK(Keys(t) == std::set<std::string>{"type", "function"});
    CHECK(t["type"] == "function");
    Json fn = t["function"];
    CHECK(Keys(fn) == std::set<std::string>{"name", "description", "parameters"});
    CHECK(fn["parameters"]["type"] == "object");
    CHECK(fn["parameters"]["properties"].is_object());
    names.insert(fn.value("name", ""));
    if (fn["name"] == "add_task") {
      CHECK(fn["parameters"]["properties"]["title"]["type"] == "string");
      CHECK(fn["parameters"]["required"] == Json::array({"title"}));
    }
  }
  CHECK(names == kBuiltinTools);
}

// An error body in each API's own shape carrying `message`.
std::string ErrorBody(const std::string& protocol, const std::string& message) {
  if (protocol == "openai") {
    return Json{{"error",
                 {{"message", message}, {"type", "server_error"}, {"param", nullptr},
                  {"code", nullptr}}}}
        .dump();
  }
  if (protocol == "ollama") return Json{{"error", message}}.dump();
  return Json{{"id", "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b"}, {"message", message}}.dump();
}

Reply ErrorReply(const std::string& protocol, int status, const std::string& message) {
  Reply r;
  r.status = status;
  r.body = ErrorBody(protocol, message);
  r.content_type = "application/json";
  return r;
}

}  // namespace

TEST_SUITE("http.providers") {

TEST_CASE("providers: a plain reply is the recorded text, and the request is the provider's wire format") {
  for (const std::string& protocol : kProtocols) {
    CAPTURE(protocol);
    FakeUpstream fake(protocol);
    const std::string file = StreamFile(protocol, "text_utf8");
    Json expected = Expected(file);
    fake.EnqueueStream(Recorded(file));
    auto s = StartServer(fake, protocol);
    REQUIRE(s->started());
    const User u = Register(*s);
    const std::string message = "Say hello in two languages, s'il te plaît 🙂";

    Response r = SendMessage(*s, u, message, /*stream=*/false);
    REQUIRE(r.status == 200);
    CHECK(r.json["message"]["role"] == "assistant");
    CHECK(r.json["message"]["content"] == expected["content"]);
    CHECK(r.json["message"]["status"] == "completed");
    CHECK(r.json["message"]["tool_calls"].is_null());
    Json usage = expected["usage"];
    CHECK(r.json["usage"]["prompt_tokens"] == usage["prompt_tokens"]);
    CHECK(r.json["usage"]["completion_tokens"] == usage["completion_tokens"]);
    CHECK(r.json["usage"]["total_tokens"] ==
          usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());

    REQUIRE(fake.request_count() == 1);
    CheckFirstRequest(protocol, fake, fake.requests()[0], message);

    Json stored = StoredMessages(*s, u, r.json["conversation_id"]);
    REQUIRE(stored.size() == 2);
    CHECK(stored[0]["role"] == "user");
    CHECK(stored[0]["content"] == message);
    CHECK(stored[1]["id"] == r.json["message"]["id"]);
    CHECK(stored[1]["content"] == expected["content"]);
    CHECK(stored[1]["status"] == "completed");
    CheckNoSecrets(s->log(), fake);
  }
}

TEST_CASE("providers: a streamed reply is SSE in the documented order whose deltas make the recorded text") {
  for (const std::string& protocol : kProtocols) {
    CAPTURE(protocol);
    FakeUpstream fake(protocol);
    const std::string file = StreamFile(protocol, "text_utf8");
    Json expected = Expected(file);
    fake.EnqueueStream(Recorded(file));
    auto s = StartServer(fake, protocol);
    REQUIRE(s->started());
    const User u = Register(*s);

    Response r = SendMessage(*s, u, "Hello there", /*stream=*/true);
    REQUIRE(r.status == 200);
    CHECK(r.Header("Content-Type").rfind("text/event-stream", 0) == 0);
    std::vector<SseEvent> events = ParseSse(r.body);
    CheckEnvelope(events, "message.done");
    // Every upstream delta reaches the client as its own event.
    std::vector<std::string> deltas;
    for (SseEvent& e : events) {
      if (e.event == "message.delta") deltas.push_back(e.data["content"]);
      CHECK(e.event != "tool.call");
    }
    CHECK(Json(deltas) == expected["deltas"]);
    CHECK(DeltaText(events) == expected["content"].get<std::string>());
    Json done = events.back().data;
    CHECK(done["message"]["id"] == events.front().data["message_id"]);
    CHECK(done["message"]["content"] == expected["content"]);
    CHECK(done["message"]["status"] == "completed");
    CHECK(done["usage"]["prompt_tokens"] == expected["usage"]["prompt_tokens"]);
    CHECK(done["usage"]["completion_tokens"] == expected["usage"]["completion_tokens"]);

    REQUIRE(fake.request_count() == 1);
    CheckFirstRequest(protocol, fake, fake.requests()[0], "Hello there");
    Json stored =
        StoredMessages(*s, u, events.front().data["conversation_id"].get<std::string>());
    REQUIRE(stored.size() == 2);
    CHECK(stored[1]["content"] == expected["content"]);
    CHECK(stored[1]["status"] == "completed");
    CheckNoSecrets(s->log(), fake);
  }
}

TEST_CASE("providers: the tool loop adds the task for the caller only and sends the result back") {
  for (const std::string& protocol : kProtocols) {
    CAPTURE(protocol);
    FakeUpstream fake(protocol);
    const std::string call_file = StreamFile(protocol, "add_task");
    const std::string text_file = StreamFile(protocol, "after_tool");
    Json expected_call = Expected(call_file)["tool_calls"][0];
    Json expected_text = Expected(text_file);
    fake.EnqueueStream(Recorded(call_file));
    fake.EnqueueStream(Recorded(text_file));
    auto s = StartServer(fake, protocol);
    REQUIRE(s->started());
    const User ann = Register(*s, "Ann");
    const User bob = Register(*s, "Bob");
    REQUIRE(s->Call("POST", "/api/tasks", Json{{"title", "Bob's own task"}}, bob.access_token)
                .status == 201);

    Response r = SendMessage(*s, ann, "Remind me to buy oat milk for Zoë", /*stream=*/true);
    REQUIRE(r.status == 200);
    std::vector<SseEvent> events = ParseSse(r.body);
    CheckEnvelope(events, "message.done");

    // tool.call, then tool.result for the same call, then the text.
    int call_at = -1, result_at = -1, first_delta_at = -1;
    for (size_t i = 0; i < events.size(); ++i) {
      if (events[i].event == "tool.call" && call_at < 0) call_at = static_cast<int>(i);
      if (events[i].event == "tool.result" && result_at < 0) result_at = static_cast<int>(i);
      if (events[i].event == "message.delta" && first_delta_at < 0) {
        first_delta_at = static_cast<int>(i);
      }
    }
    REQUIRE(call_at > 0);
    REQUIRE(result_at > call_at);
    REQUIRE(first_delta_at > result_at);
    Json call = events[call_at].data;
    Json result = events[result_at].data;
    CHECK(call["name"] == "add_task");
    CHECK(call["arguments"] == Json{{"title", kToolTitle}});
    CHECK(call["id"].is_string());
    CHECK(result["id"] == call["id"]);
    CHECK(result["name"] == "add_task");
    CHECK(result["result"]["task"]["title"] == kToolTitle);
    const std::string task_id = result["result"]["task"]["id"];
    CHECK(DeltaText(events) == expected_text["content"].get<std::string>());
    Json done = events.back().data["message"];
    CHECK(done["content"] == expected_text["content"]);
    REQUIRE(done["tool_calls"].is_array());
    REQUIRE(done["tool_calls"].size() == 1);
    CHECK(done["tool_calls"][0]["name"] == "add_task");
    // Usage adds up over both upstream calls.
    CHECK(events.back().data["usage"]["prompt_tokens"] ==
          Expected(call_file)["usage"]["prompt_tokens"].get<int>() +
              expected_text["usage"]["prompt_tokens"].get<int>());

    // The task is Ann's, and Bob neither sees it nor can reach it.
    Response ann_tasks = s->Call("GET", "/api/tasks", std::nullopt, ann.access_token);
    REQUIRE(ann_tasks.json["tasks"].size() == 1);
    CHECK(ann_tasks.json["tasks"][0]["id"] == task_id);
    CHECK(ann_tasks.json["tasks"][0]["title"] == kToolTitle);
    Response bob_tasks = s->Call("GET", "/api/tasks", std::nullopt, bob.access_token);
    REQUIRE(bob_tasks.json["tasks"].size() == 1);
    CHECK(bob_tasks.json["tasks"][0]["title"] == "Bob's own task");
    CHECK(s->Call("GET", "/api/tasks/" + task_id, std::nullopt, bob.access_token).status == 404);

    // The second upstream request carries the call and its result in the
    // protocol's own shape.
    REQUIRE(fake.request_count() == 2);
    const std::vector<RecordedRequest> sent = fake.requests();
    CheckFirstRequest(protocol, fake, sent[0], "Remind me to buy oat milk for Zoë");
    Json second = Json::parse(sent[1].body, nullptr, false);
    REQUIRE(second.is_object());
    CHECK(second["stream"] == true);
    Json m = second["messages"];
    REQUIRE(m.is_array());
    REQUIRE(m.size() == 4);
    CHECK(m[0] == Json::parse(sent[0].body)["messages"][0]);
    CHECK(m[1] == Json::parse(sent[0].body)["messages"][1]);
    Json asked = m[2];
    Json answered = m[3];
    CHECK(asked["role"] == "assistant");
    REQUIRE(asked["tool_calls"].is_array());
    REQUIRE(asked["tool_calls"].size() == 1);
    Json sent_call = asked["tool_calls"][0];
    CHECK(answered["role"] == "tool");
    std::string result_text;
    if (protocol == "openai" || protocol == "cohere") {
      // Arguments as JSON text; the result answers the call by id.
      CHECK(Keys(sent_call) == std::set<std::string>{"id", "type", "function"});
      CHECK(sent_call["id"] == expected_call["id"]);
      CHECK(sent_call["id"] == call["id"]);
      CHECK(sent_call["type"] == "function");
      CHECK(sent_call["function"]["name"] == "add_task");
      REQUIRE(sent_call["function"]["arguments"].is_string());
      CHECK(Json::parse(sent_call["function"]["arguments"].get<std::string>()) ==
            Json{{"title", kToolTitle}});
      CHECK(answered["tool_call_id"] == expected_call["id"]);
    }
    if (protocol == "openai") {
      CHECK(Keys(asked) == std::set<std::string>{"role", "content", "tool_calls"});
      CHECK(asked["content"].is_null());
      CHECK(Keys(answered) == std::set<std::string>{"role", "tool_call_id", "content"});
      REQUIRE(answered["content"].is_string());
      result_text = answered["content"];
    } else if (protocol == "ollama") {
      // Arguments as an object; the result names the tool.
      CHECK(Keys(sent_call) == std::set<std::string>{"function"});
      CHECK(sent_call["function"] ==
            Json{{"name", "add_task"}, {"arguments", {{"title", kToolTitle}}}});
      CHECK(Keys(answered) == std::set<std::string>{"role", "content", "tool_name"});
      CHECK(answered["tool_name"] == "add_task");
      REQUIRE(answered["content"].is_string());
      result_text = answered["content"];
    } else {
      // Cohere v2: the plan goes back with its calls; the result is a list
      // holding one document whose data is the result object.
      CHECK(Keys(asked) == std::set<std::string>{"role", "tool_plan", "tool_calls"});
      CHECK(asked["tool_plan"] == "I will add the task for the user.");
      CHECK(Keys(answered) == std::set<std::string>{"role", "tool_call_id", "content"});
      REQUIRE(answered["content"].is_array());
      REQUIRE(answered["content"].size() == 1);
      CHECK(answered["content"][0]["type"] == "document");
      REQUIRE(answered["content"][0]["document"]["data"].is_object());
      result_text = answered["content"][0]["document"]["data"].dump();
    }
    Json sent_result = Json::parse(result_text, nullptr, false);
    CHECK(sent_result == result["result"]);
    CheckNoSecrets(s->log(), fake);
  }
}

TEST_CASE("providers: concurrent tool loops each add the task for their own caller") {
  const std::vector<std::string> names = {"Ann", "Bob", "Cid", "Dee"};
  for (const std::string& protocol : kProtocols) {
    CAPTURE(protocol);
    FakeUpstream fake(protocol);
    const std::string call_body = Recorded(StreamFile(protocol, "add_task"));
    const std::string text_body = Recorded(StreamFile(protocol, "after_tool"));
    REQUIRE(call_body.find(" oat") != std::string::npos);
    // The requests interleave in no fixed order, so the reply follows the
    // request: a tool result gets the text, a user asking "for <name>" gets
    // an add_task call whose title names them.
    fake.SetResponder([call_body, text_body](const RecordedRequest& req) -> std::optional<Reply> {
      Json body = Json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body["messages"].is_array()) return std::nullopt;
      Reply r;
      for (Json m : body["messages"]) {
        if (m["role"] == "tool") {
          r.body = text_body;
          return r;
        }
      }
      const std::string asked = body["messages"].back().value("content", "");
      const size_t at = asked.rfind("for ");
      if (at == std::string::npos) return std::nullopt;
      r.body = call_body;
      r.body.replace(r.body.find(" oat"), 4, " " + asked.substr(at + 4) + "'s");
      return r;
    });
    auto s = StartServer(fake, protocol);
    REQUIRE(s->started());
    std::vector<User> users;
    for (const std::string& name : names) users.push_back(Register(*s, name));

    std::vector<Response> replies(names.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < names.size(); ++i) {
      threads.emplace_back([&, i] {
        replies[i] = SendMessage(*s, users[i], "Add a task for " + names[i], /*stream=*/false);
      });
    }
    for (std::thread& t : threads) t.join();

    for (size_t i = 0; i < names.size(); ++i) {
      CAPTURE(names[i]);
      const std::string title = "Buy " + names[i] + "'s milk 🥛 for Zoë";
      REQUIRE(replies[i].status == 200);
      CHECK(replies[i].json["message"]["tool_calls"][0]["result"]["task"]["title"] == title);
      Response tasks = s->Call("GET", "/api/tasks", std::nullopt, users[i].access_token);
      REQUIRE(tasks.status == 200);
      REQUIRE(tasks.json["tasks"].size() == 1);
      CHECK(tasks.json["tasks"][0]["title"] == title);
    }
    CHECK(fake.request_count() == static_cast<int>(2 * names.size()));
    CheckNoSecrets(s->log(), fake);
  }
}

TEST_CASE("providers: an upstream 500 is retried, then fails the turn with upstream_error") {
  for (const std::string& protocol : kProtocols) {
    CAPTURE(protocol);
    FakeUpstream fake(protocol);
    auto s = StartServer(fake, protocol);
    REQUIRE(s->started());
    const User u = Register(*s);

    // Non-streamed: a 502 error object after the first try and two retries.
    // The upstream's text quotes the key and its own address, as some
    // proxies do: neither may reach the client or the log.
    const std::string leaky =
        std::string("backend ") + fake.base_url() + " failed for key " + kApiKey;
    for (int i = 0; i < 3; ++i) fake.Enqueue(ErrorReply(protocol, 500, leaky));
    Response plain = SendMessage(*s, u, "Hello", /*stream=*/false);
    CHECK(plain.status == 502);
    CHECK(plain.ErrorCode() == "upstream_error");
    REQUIRE(plain.json["error"]["message"].is_string());
    CHECK_FALSE(plain.json["error"]["message"].get<std::string>().empty());
    CheckNoSecrets(plain.body, fake);
    CHECK(fake.request_count() == 3);
    // The operator finds the upstream's status in the log, under the
    // request id.
    const std::string log = s->log();
    const size_t logged = log.find(plain.Header("X-Request-ID"));
    REQUIRE(logged != std::string::npos);
    CHECK(log.find("HTTP 500", logged) != std::string::npos);
    CHECK(log.find("[redacted]", logged) != std::string::npos);
    Json stored = StoredMessages(*s, u, "");
    REQUIRE(stored.size() == 2);
    CHECK(stored[1]["role"] == "assistant");
    CHECK(stored[1]["status"] == "failed");
    CHECK(stored[1]["content"] == "");

    // Streamed: the same as an `error` event ending the stream.
    for (int i = 0; i < 3; ++i) fake.Enqueue(ErrorReply(protocol, 500, leaky));
    Response streamed = SendMessage(*s, u, "Hello again", /*stream=*/true);
    REQUIRE(streamed.status == 200);
    std::vector<SseEvent> events = ParseSse(streamed.body);
    CheckEnvelope(events, "error");
    CHECK(events.back().data["error"]["code"] == "upstream_error");
    CHECK(events.back().data["error"]["message"].is_string());
    CheckNoSecrets(streamed.body, fake);
    CHECK(fake.request_count() == 6);
    stored = StoredMessages(*s, u, events.front().data["conversation_id"].get<std::string>());
    REQUIRE(stored.size() == 2);
    CHECK(stored[1]["id"] == events.front().data["message_id"]);
    CHECK(stored[1]["status"] == "failed");
    CheckNoSecrets(s->log(), fake);
  }
}

TEST_CASE("providers: a 429 with Retry-After is retried after the wait and then succeeds") {
  for (const std::string& protocol : kProtocols) {
    CAPTURE(protocol);
    FakeUpstream fake(protocol);
    const std::string file = StreamFile(protocol, "text_utf8");
    Reply limited = ErrorReply(protocol, 429, "Rate limit reached; please try again in 1s.");
    limited.headers["Retry-After"] = "1";
    fake.Enqueue(limited);
    fake.EnqueueStream(Recorded(file));
    auto s = StartServer(fake, protocol);
    REQUIRE(s->started());
    const User u = Register(*s);

    const auto start = SteadyClock::now();
    Response r = SendMessage(*s, u, "Hello", /*stream=*/true);
    const auto elapsed = SteadyClock::now() - start;
    REQUIRE(r.status == 200);
    std::vector<SseEvent> events = ParseSse(r.body);
    CheckEnvelope(events, "message.done");
    CHECK(DeltaText(events) == Expected(file)["content"].get<std::string>());
    CHECK(fake.request_count() == 2);
    // The second try waited for the second the server asked for.
    CHECK(elapsed >= std::chrono::milliseconds(950));
    const std::vector<RecordedRequest> sent = fake.requests();
    REQUIRE(sent.size() == 2);
    CHECK(sent[1].body == sent[0].body);
    CheckNoSecrets(s->log(), fake);
  }
}

TEST_CASE("providers: an upstream that stalls before its first byte times out the turn") {
  for (const std::string& protocol : kProtocols) {
    CAPTURE(protocol);
    FakeUpstream fake(protocol);
    for (int i = 0; i < 2; ++i) {
      Reply stalled;
      stalled.body = Recorded(StreamFile(protocol, "text_utf8"));
      stalled.delay_before_headers = std::chrono::seconds(20);
      fake.Enqueue(stalled);
    }
    auto s = StartServer(fake, protocol, {"--llm-timeout", "1"});
    REQUIRE(s->started());
    const User u = Register(*s);

    // The bound is loose on purpose (a busy machine); without the timeout
    // the turn would wait the fake's 20 s, or the client's 30 s.
    auto start = SteadyClock::now();
    Response plain = SendMessage(*s, u, "Hello", /*stream=*/false);
    CHECK(SteadyClock::now() - start < std::chrono::seconds(10));
    CHECK(plain.status == 504);
    CHECK(plain.ErrorCode() == "upstream_timeout");
    CheckNoSecrets(plain.body, fake);
    Json stored = StoredMessages(*s, u, "");
    REQUIRE(stored.size() == 2);
    CHECK(stored[1]["status"] == "failed");
    CHECK(stored[1]["content"] == "");
    // A timeout is not retried.
    CHECK(fake.request_count() == 1);

    start = SteadyClock::now();
    Response streamed = SendMessage(*s, u, "Hello again", /*stream=*/true);
    CHECK(SteadyClock::now() - start < std::chrono::seconds(10));
    REQUIRE(streamed.status == 200);
    std::vector<SseEvent> events = ParseSse(streamed.body);
    CheckEnvelope(events, "error");
    CHECK(events.back().data["error"]["code"] == "upstream_timeout");
    stored = StoredMessages(*s, u, events.front().data["conversation_id"].get<std::string>());
    REQUIRE(stored.size() == 2);
    CHECK(stored[1]["status"] == "failed");
    CHECK(fake.request_count() == 2);
    CheckNoSecrets(s->log(), fake);
  }
}

TEST_CASE("providers: an upstream that goes silent mid-stream times out with the partial text") {
  for (const std::string& protocol : kProtocols) {
    CAPTURE(protocol);
    FakeUpstream fake(protocol);
    const std::string file = StreamFile(protocol, "text_utf8");
    const std::string body = Recorded(file);
    const Json expected = Expected(file);
    // Silence after the event carrying the second delta, connection open.
    const size_t kept = 2;
    const size_t at = body.find("\"" + expected["deltas"][kept - 1].get<std::string>() + "\"");
    REQUIRE(at != std::string::npos);
    Reply silent;
    silent.body = body;
    silent.hold_after = at;
    silent.hold_silently = true;
    fake.Enqueue(silent);
    auto s = StartServer(fake, protocol, {"--llm-timeout", "1"});
    REQUIRE(s->started());
    const User u = Register(*s);

    const auto start = SteadyClock::now();
    Response r = SendMessage(*s, u, "Hello", /*stream=*/true);
    CHECK(SteadyClock::now() - start < std::chrono::seconds(10));
    REQUIRE(r.status == 200);
    std::vector<SseEvent> events = ParseSse(r.body);
    CheckEnvelope(events, "error");
    CHECK(DeltaText(events) == Joined(expected["deltas"], kept));
    CHECK(events.back().data["error"]["code"] == "upstream_timeout");
    Json stored = StoredMessages(*s, u, events.front().data["conversation_id"].get<std::string>());
    REQUIRE(stored.size() == 2);
    CHECK(stored[1]["status"] == "failed");
    CHECK(stored[1]["content"] == Joined(expected["deltas"], kept));
    CHECK(fake.request_count() == 1);
    CheckNoSecrets(s->log(), fake);
  }
}

TEST_CASE("providers: a stream broken mid-way fails the turn and keeps the partial text") {
  for (const std::string& protocol : kProtocols) {
    CAPTURE(protocol);
    FakeUpstream fake(protocol);
    const std::string file = StreamFile(protocol, "text_utf8");
    const std::string body = Recorded(file);
    Json expected = Expected(file);
    // Cut a few bytes into the event after the one carrying the third delta.
    const size_t kept = 3;
    const std::string third = "\"" + expected["deltas"][kept - 1].get<std::string>() + "\"";
    const size_t at = body.find(third);
    REQUIRE(at != std::string::npos);
    const size_t cut = fake_upstream::EventEnd(body, at, protocol == "ollama") + 7;
    REQUIRE(cut < body.size());
    const std::string partial = Joined(expected["deltas"], kept);
    for (int i = 0; i < 2; ++i) {
      Reply broken;
      broken.body = body;
      broken.break_after = cut;
      fake.Enqueue(broken);
    }
    auto s = StartServer(fake, protocol);
    REQUIRE(s->started());
    const User u = Register(*s);

    Response plain = SendMessage(*s, u, "Hello", /*stream=*/false);
    CHECK(plain.status == 502);
    CHECK(plain.ErrorCode() == "upstream_error");
    CheckNoSecrets(plain.body, fake);
    Json stored = StoredMessages(*s, u, "");
    REQUIRE(stored.size() == 2);
    CHECK(stored[1]["status"] == "failed");
    CHECK(stored[1]["content"] == partial);
    // Text had been delivered, so the turn is not retried (it would repeat).
    CHECK(fake.request_count() == 1);

    Response streamed = SendMessage(*s, u, "Hello again", /*stream=*/true);
    REQUIRE(streamed.status == 200);
    std::vector<SseEvent> events = ParseSse(streamed.body);
    CheckEnvelope(events, "error");
    CHECK(DeltaText(events) == partial);
    CHECK(events.back().data["error"]["code"] == "upstream_error");
    stored = StoredMessages(*s, u, events.front().data["conversation_id"].get<std::string>());
    REQUIRE(stored.size() == 2);
    CHECK(stored[1]["status"] == "failed");
    CHECK(stored[1]["content"] == partial);
    CHECK(fake.request_count() == 2);
    CheckNoSecrets(s->log(), fake);
  }
}

TEST_CASE("providers: /v1 sampling parameters reach each provider under its own names") {
  const Json stop = Json::array({"END", "\n\n"});
  // Each API's names for temperature, top_p, max_tokens, seed and stop.
  const std::map<std::string, Json> expected = {
      {"openai",
       {{"temperature", 0.25}, {"top_p", 1.0}, {"max_tokens", 64}, {"seed", 7}, {"stop", stop}}},
      {"ollama",
       {{"options",
         {{"temperature", 0.25}, {"top_p", 1.0}, {"num_predict", 64}, {"seed", 7}, {"stop", stop}}}}},
      // Cohere's p ends at 0.99.
      {"cohere",
       {{"temperature", 0.25}, {"p", 0.99}, {"max_tokens", 64}, {"seed", 7},
        {"stop_sequences", stop}}}};
  for (const std::string& protocol : kProtocols) {
    CAPTURE(protocol);
    FakeUpstream fake(protocol);
    const std::string file = StreamFile(protocol, "text_utf8");
    fake.EnqueueStream(Recorded(file));
    fake.EnqueueStream(Recorded(file));
    auto s = StartServer(fake, protocol);
    REQUIRE(s->started());
    const User u = Register(*s);
    Json turn = {{"model", "libassistant"},
                 {"messages", Json::array({{{"role", "user"}, {"content", "Say hello"}}})},
                 {"temperature", 0.25},
                 {"top_p", 1},
                 {"max_tokens", 64},
                 {"seed", 7},
                 {"stop", stop}};
    Response r = s->Call("POST", "/v1/chat/completions", turn, u.access_token);
    REQUIRE(r.status == 200);
    CHECK(r.json["choices"][0]["message"]["content"] == Expected(file)["content"]);
    turn["stream"] = true;
    Response streamed = s->Call("POST", "/v1/chat/completions", turn, u.access_token);
    REQUIRE(streamed.status == 200);
    REQUIRE(fake.request_count() == 2);
    for (const RecordedRequest& req : fake.requests()) {
      Json body = Json::parse(req.body, nullptr, false);
      REQUIRE(body.is_object());
      for (auto it = expected.at(protocol).begin(); it != expected.at(protocol).end(); ++it) {
        CAPTURE(it.key());
        CHECK(body[it.key()] == it.value());
      }
      // Nothing under another API's name.
      for (const char* other : {"temperature", "top_p", "p", "max_tokens", "num_predict", "seed",
                                "stop", "stop_sequences", "options"}) {
        if (!expected.at(protocol).contains(other)) CHECK_FALSE(body.contains(other));
      }
    }
  }
}

}  // TEST_SUITE

TEST_CASE("providers: --max-turns-in-flight refuses one turn more with 429 agent_busy") {
  FakeUpstream fake("openai");
  Reply slow;
  slow.body = Recorded(StreamFile("openai", "text_utf8"));
  slow.delay_before_headers = std::chrono::seconds(2);
  fake.Enqueue(slow);
  fake.EnqueueStream(Recorded(StreamFile("openai", "text_utf8")));
  auto s = StartServer(fake, "openai", {"--max-turns-in-flight", "1"});
  REQUIRE(s->started());
  const User a = Register(*s, "Ann");
  const User b = Register(*s, "Bob");

  Response first;
  std::thread holder([&] { first = SendMessage(*s, a, "Hello", /*stream=*/false); });
  const auto deadline = SteadyClock::now() + std::chrono::seconds(10);
  while (fake.request_count() < 1 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // The one slot is held by Ann's turn: another user's turn is refused
  // before anything is stored or sent upstream.
  Response busy = SendMessage(*s, b, "Hello", /*stream=*/true);
  holder.join();
  CHECK(busy.status == 429);
  CHECK(busy.ErrorCode() == "agent_busy");
  CHECK(first.status == 200);
  CHECK(fake.request_count() == 1);
  // The slot is free again once the turn ended.
  CHECK(SendMessage(*s, b, "Hello", /*stream=*/false).status == 200);

  TempDir dir;
  const RunResult zero = RunServerToExit({"--max-turns-in-flight", "0"}, dir.path());
  CHECK(zero.exit_code == 2);
  CHECK(zero.output.find("max-turns-in-flight") != std::string::npos);
}
