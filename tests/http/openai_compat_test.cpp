// Black-box: the OpenAI-compatible endpoint (/v1/models, /v1/chat/completions)
// through the real assistant-server binary: the wire format the OpenAI SDKs
// read (plain and streamed), the agent acting for the key's user only, the
// client's history reaching the model, OpenAI-shaped errors, credentials
// and scopes, and a client that hangs up mid-stream. tests/sdk/openai-node
// drives the same routes with the official SDK.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fake_upstream/fake_upstream.hpp"
#include "harness.hpp"

using namespace http_test;
using fake_upstream::FakeUpstream;

namespace {

constexpr const char* kModel = "libassistant";

std::string Recorded(const std::string& name) {
  return fake_upstream::ReadFile(std::string(ASSISTANT_LLM_DATA_DIR) + "/" + name);
}

// An API key of `u` with `scopes`.
std::string ApiKey(const ServerProcess& s, const User& u, const std::vector<std::string>& scopes) {
  auto r = s.Call("POST", "/api/auth/api-keys", Json{{"name", "sdk"}, {"scopes", scopes}},
                  u.access_token);
  REQUIRE(r.status == 201);
  return r.json["key"].get<std::string>();
}

Json UserTurn(const std::string& text, Json extra = Json::object()) {
  Json body = {{"model", kModel},
               {"messages", Json::array({{{"role", "user"}, {"content", text}}})}};
  for (auto it = extra.begin(); it != extra.end(); ++it) body[it.key()] = it.value();
  return body;
}

std::string ReplyText(const Response& r) {
  return r.json["choices"][0]["message"]["content"].get<std::string>();
}

// Every SSE field line of a /v1 stream: OpenAI streams data lines only.
struct ChatStream {
  std::vector<Json> chunks;  // the JSON data frames, in order
  bool done = false;         // ended with data: [DONE]
  bool only_data_lines = true;
  std::string Text() const {
    std::string out;
    for (const Json& c : chunks) {
      if (!c.contains("choices")) continue;
      for (const Json& ch : c["choices"]) {
        if (ch["delta"].contains("content")) out += ch["delta"]["content"].get<std::string>();
      }
    }
    return out;
  }
};

ChatStream ParseChatStream(const std::string& body) {
  ChatStream out;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    const std::string frame = body.substr(pos, end - pos);
    pos = end + 2;
    if (frame.rfind("data: ", 0) != 0 || frame.find('\n') != std::string::npos) {
      out.only_data_lines = false;
      continue;
    }
    const std::string data = frame.substr(6);
    if (data == "[DONE]") {
      CHECK_FALSE(out.done);  // once, and last
      out.done = true;
      continue;
    }
    CHECK_FALSE(out.done);
    Json j = Json::parse(data, nullptr, false);
    CHECK_FALSE(j.is_discarded());
    out.chunks.push_back(std::move(j));
  }
  CHECK(pos == body.size());  // no half frame left over
  return out;
}

// OpenAI's error shape, exactly: {"error":{"message","type","param","code"}}.
void CheckOpenAiError(const Response& r, int status, const std::string& code,
                      const Json& param = nullptr) {
  INFO(r.status << " " << r.body);
  CHECK(r.status == status);
  CHECK(r.Header("Content-Type").rfind("application/json", 0) == 0);
  CHECK_FALSE(r.Header("X-Request-ID").empty());
  REQUIRE(r.json.is_object());
  REQUIRE(r.json.size() == 1);
  const Json& e = r.json["error"];
  REQUIRE(e.is_object());
  CHECK(e.size() == 4);
  CHECK(e["message"].is_string());
  CHECK_FALSE(e["message"].get<std::string>().empty());
  CHECK(e["type"] == (status >= 500 ? "server_error" : "invalid_request_error"));
  CHECK(e["code"] == code);
  CHECK(e["param"] == param);
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Streams `body` with the upstream cut into slow chunks, and hangs up once
// the first text chunk ("Hi") arrived. Returns what was received.
std::string HangUpAfterFirstText(const ServerProcess& s, const std::string& key, Json body) {
  httplib::Client client("127.0.0.1", s.port());
  client.set_read_timeout(20, 0);
  std::string received;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.headers = {{"Authorization", "Bearer " + key}};
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    received.append(data, n);
    return received.find("\"content\":\"Hi\"") == std::string::npos;
  };
  client.send(req);
  return received;
}

fake_upstream::Reply SlowReply() {
  fake_upstream::Reply slow;
  slow.body = Recorded("openai_text_utf8.sse");
  // About 4 s for the whole stream: the client hangs up well before its end.
  slow.chunk_delay = std::chrono::milliseconds(8);
  return slow;
}

// A client hangs up after the first text of a slow stream; the server
// (started with `flags`) closes its upstream request while the fake is
// still sending, so the rest of the reply is never paid for, and serves the
// next stream in full.
void CheckHangUpDropsUpstream(const std::vector<std::string>& flags, const std::string& full_text) {
  FakeUpstream fake("openai");
  const std::string slow_body = SlowReply().body;
  fake.Enqueue(SlowReply());
  fake.EnqueueStream(Recorded("openai_text_utf8.sse"));
  std::vector<std::string> args = {"--llm-provider", "openai", "--llm-base-url", fake.base_url(),
                                   "--llm-model", "upstream-model"};
  args.insert(args.end(), flags.begin(), flags.end());
  ServerProcess s(args);
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string key = ApiKey(s, u, {"agent"});
  const std::string got = HangUpAfterFirstText(s, key, UserTurn("Say hello", {{"stream", true}}));
  CHECK(got.find("[DONE]") == std::string::npos);
  CHECK(fake.WaitForClientClose(std::chrono::seconds(10)));
  const size_t sent = fake.body_bytes_sent();
  CHECK(sent < slow_body.size());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(fake.body_bytes_sent() == sent);
  auto next = s.Call("POST", "/v1/chat/completions", UserTurn("Say hello", {{"stream", true}}), key);
  REQUIRE(next.status == 200);
  const ChatStream st = ParseChatStream(next.body);
  CHECK(st.done);
  CHECK(st.Text() == full_text);
}

}  // namespace

TEST_SUITE("http.openai") {

TEST_CASE("models: one model, listed and retrievable; unknown models are 404") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string key = ApiKey(s, u, {"agent"});
  auto list = s.Call("GET", "/v1/models", std::nullopt, key);
  REQUIRE(list.status == 200);
  CHECK(list.json["object"] == "list");
  REQUIRE(list.json["data"].size() == 1);
  const Json model = list.json["data"][0];
  CHECK(model["id"] == kModel);
  CHECK(model["object"] == "model");
  CHECK(model["created"].is_number_integer());
  CHECK(model["created"].get<int64_t>() <= UnixNow());
  CHECK(model["owned_by"].is_string());
  auto one = s.Call("GET", std::string("/v1/models/") + kModel, std::nullopt, key);
  REQUIRE(one.status == 200);
  CHECK(one.json == model);
  CheckOpenAiError(s.Call("GET", "/v1/models/gpt-4o", std::nullopt, key), 404, "model_not_found");

  // /openapi.json describes the routes with OpenAI's error shape.
  auto doc = s.Call("GET", "/openapi.json");
  REQUIRE(doc.status == 200);
  CHECK(doc.json["paths"]["/v1/models"].contains("get"));
  CHECK(doc.json["paths"]["/v1/models/{model}"].contains("get"));
  const Json& chat = doc.json["paths"]["/v1/chat/completions"]["post"];
  CHECK(chat["responses"]["200"]["content"].contains("text/event-stream"));
  for (const char* status : {"401", "403", "404", "400"}) {
    INFO(status);
    CHECK(chat["responses"][status]["content"]["application/json"]["schema"]["$ref"] ==
          "#/components/schemas/OpenAIError");
  }
}

TEST_CASE("chat completion: the agent acts for the key's user and answers in OpenAI's shape") {
  ServerProcess s;
  REQUIRE(s.started());
  const User ann = Register(s, "Ann");
  const User bob = Register(s, "Bob");
  const std::string key = ApiKey(s, ann, {"agent", "tasks:read", "tasks:write"});

  const int64_t before = UnixNow();
  auto r = s.Call("POST", "/v1/chat/completions", UserTurn("add task buy milk"), key);
  REQUIRE(r.status == 200);
  INFO(r.body);
  CHECK(r.json["id"].get<std::string>().rfind("chatcmpl-", 0) == 0);
  CHECK(r.json["object"] == "chat.completion");
  CHECK(r.json["created"].get<int64_t>() >= before);
  CHECK(r.json["created"].get<int64_t>() <= UnixNow());
  CHECK(r.json["model"] == kModel);
  REQUIRE(r.json["choices"].size() == 1);
  const Json choice = r.json["choices"][0];
  CHECK(choice["index"] == 0);
  CHECK(choice["finish_reason"] == "stop");
  CHECK(choice["logprobs"].is_null());
  CHECK(choice["message"]["role"] == "assistant");
  CHECK(choice["message"]["refusal"].is_null());
  // The tools ran on the server: the client sees only the final text.
  CHECK_FALSE(choice["message"].contains("tool_calls"));
  CHECK(ReplyText(r).find("buy milk") != std::string::npos);
  const Json usage = r.json["usage"];
  CHECK(usage["total_tokens"].get<int64_t>() ==
        usage["prompt_tokens"].get<int64_t>() + usage["completion_tokens"].get<int64_t>());

  // The task is Ann's, not Bob's.
  auto ann_tasks = s.Call("GET", "/api/tasks", std::nullopt, ann.access_token);
  REQUIRE(ann_tasks.json["tasks"].size() == 1);
  CHECK(ann_tasks.json["tasks"][0]["title"] == "buy milk");
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, bob.access_token).json["tasks"].empty());
  auto bob_list = s.Call("POST", "/v1/chat/completions", UserTurn("list tasks"),
                         ApiKey(s, bob, {"agent", "tasks:read"}));
  REQUIRE(bob_list.status == 200);
  CHECK(ReplyText(bob_list).find("buy milk") == std::string::npos);

  // Content as text parts; store defaults to false, as OpenAI's does.
  Json parts = UserTurn("");
  parts["messages"][0]["content"] = Json::array(
      {{{"type", "text"}, {"text", "list"}}, {{"type", "text"}, {"text", "tasks"}}});
  auto listed = s.Call("POST", "/v1/chat/completions", parts, key);
  REQUIRE(listed.status == 200);
  CHECK(ReplyText(listed).find("buy milk") != std::string::npos);
  CHECK(s.Call("GET", "/api/conversations", std::nullopt, ann.access_token)
            .json["conversations"]
            .empty());
  // store:true keeps the turn as a conversation whose reply is the completion.
  auto stored = s.Call("POST", "/v1/chat/completions", UserTurn("list tasks", {{"store", true}}), key);
  REQUIRE(stored.status == 200);
  auto convs = s.Call("GET", "/api/conversations", std::nullopt, ann.access_token);
  REQUIRE(convs.json["conversations"].size() == 1);
  auto msgs = s.Call("GET",
                     "/api/conversations/" + convs.json["conversations"][0]["id"].get<std::string>() +
                         "/messages",
                     std::nullopt, ann.access_token);
  REQUIRE(msgs.json["messages"].size() == 2);
  CHECK("chatcmpl-" + msgs.json["messages"][1]["id"].get<std::string>() == stored.json["id"]);
  CHECK(msgs.json["messages"][1]["content"] == ReplyText(stored));

  // A key with agent but without tasks:write gets a tool error, never a write.
  auto read_only = s.Call("POST", "/v1/chat/completions", UserTurn("add task sneaky"),
                          ApiKey(s, ann, {"agent", "tasks:read"}));
  REQUIRE(read_only.status == 200);
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, ann.access_token).json["tasks"].size() == 1);
}

TEST_CASE("chat completion stream: OpenAI chunks, [DONE], same text as the plain reply") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string key = ApiKey(s, u, {"agent", "tasks:read", "tasks:write"});

  auto added = s.Call("POST", "/v1/chat/completions",
                      UserTurn("add task call mum",
                               {{"stream", true}, {"stream_options", {{"include_usage", true}}}}),
                      key);
  REQUIRE(added.status == 200);
  CHECK(added.Header("Content-Type").rfind("text/event-stream", 0) == 0);
  CHECK_FALSE(added.Header("X-Request-ID").empty());
  const ChatStream st = ParseChatStream(added.body);
  CHECK(st.done);
  CHECK(st.only_data_lines);
  REQUIRE(st.chunks.size() >= 4);  // role, text..., finish, usage
  const std::string id = st.chunks[0]["id"];
  CHECK(id.rfind("chatcmpl-", 0) == 0);
  for (size_t i = 0; i < st.chunks.size(); ++i) {
    const Json& c = st.chunks[i];
    INFO("chunk " << i << ": " << c.dump());
    CHECK(c["id"] == id);
    CHECK(c["object"] == "chat.completion.chunk");
    CHECK(c["model"] == kModel);
    CHECK(c["created"] == st.chunks[0]["created"]);
    REQUIRE(c.contains("usage"));
    if (i + 1 < st.chunks.size()) {
      CHECK(c["usage"].is_null());
      REQUIRE(c["choices"].size() == 1);
      CHECK(c["choices"][0]["index"] == 0);
      CHECK(c["choices"][0]["logprobs"].is_null());
      CHECK_FALSE(c["choices"][0]["delta"].contains("tool_calls"));
    }
  }
  const Json& first = st.chunks[0]["choices"][0];
  CHECK(first["delta"]["role"] == "assistant");
  CHECK(first["delta"]["content"] == "");
  CHECK(first["finish_reason"].is_null());
  const Json& finish = st.chunks[st.chunks.size() - 2]["choices"][0];
  CHECK(finish["finish_reason"] == "stop");
  CHECK(finish["delta"] == Json::object());
  const Json& last = st.chunks.back();
  CHECK(last["choices"] == Json::array());
  CHECK(last["usage"]["total_tokens"].get<int64_t>() ==
        last["usage"]["prompt_tokens"].get<int64_t>() +
            last["usage"]["completion_tokens"].get<int64_t>());
  CHECK(st.Text().find("call mum") != std::string::npos);
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, u.access_token).json["tasks"].size() == 1);

  // The same question, plain and streamed (without usage): the same text.
  auto plain = s.Call("POST", "/v1/chat/completions", UserTurn("list tasks"), key);
  REQUIRE(plain.status == 200);
  auto streamed = s.Call("POST", "/v1/chat/completions", UserTurn("list tasks", {{"stream", true}}),
                         key);
  REQUIRE(streamed.status == 200);
  const ChatStream st2 = ParseChatStream(streamed.body);
  CHECK(st2.done);
  CHECK(st2.Text() == ReplyText(plain));
  CHECK(st2.Text().find("call mum") != std::string::npos);
  for (const Json& c : st2.chunks) {
    CHECK_FALSE(c.contains("usage"));
    CHECK(c["choices"].size() == 1);
  }
  CHECK(st2.chunks.back()["choices"][0]["finish_reason"] == "stop");
}

TEST_CASE("chat completion: the client's history and system messages reach the model") {
  FakeUpstream fake("openai");
  fake.EnqueueStream(Recorded("openai_text_utf8.sse"));
  ServerProcess s({"--llm-provider", "openai", "--llm-base-url", fake.base_url(), "--llm-model",
                   "upstream-model"});
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string key = ApiKey(s, u, {"agent"});
  Json body = {
      {"model", kModel},
      {"temperature", 0.2},  // accepted and not applicable: ignored
      {"max_tokens", 100},
      {"user", "end-user-1"},
      {"messages",
       Json::array(
           {{{"role", "developer"}, {"content", "Answer in French."}},
            {{"role", "user"}, {"content", "What is on my list?"}},
            {{"role", "assistant"},
             {"content", nullptr},
             {"tool_calls", Json::array({{{"id", "call_1"},
                                          {"type", "function"},
                                          {"function",
                                           {{"name", "list_tasks"},
                                            {"arguments", R"({"status":"all"})"}}}}})}},
            {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", R"({"tasks":[]})"}},
            {{"role", "assistant"}, {"content", "Nothing yet."}},
            {{"role", "user"}, {"content", "Say hello"}}})}};
  auto r = s.Call("POST", "/v1/chat/completions", body, key);
  REQUIRE(r.status == 200);
  INFO(r.body);
  CHECK(ReplyText(r) == "Hi 👋! 你好，世界. Café ☕ 🇯🇵");
  CHECK(r.json["model"] == kModel);  // the id the client asked for, not the upstream's

  REQUIRE(fake.requests().size() == 1);
  // Non-const: a missing key reads as null instead of undefined behaviour.
  Json sent = Json::parse(fake.requests()[0].body);
  INFO(sent.dump(2));
  CHECK(sent["model"] == "upstream-model");
  Json m = sent["messages"];
  REQUIRE(m.size() == 6);
  CHECK(m[0]["role"] == "system");
  // The client's instructions extend the agent's own prompt.
  const std::string system = m[0]["content"];
  CHECK(system.size() > std::string("Answer in French.").size());
  CHECK(system.find("Answer in French.") != std::string::npos);
  CHECK(m[1]["role"] == "user");
  CHECK(m[1]["content"] == "What is on my list?");
  CHECK(m[2]["role"] == "assistant");
  REQUIRE(m[2]["tool_calls"].size() == 1);
  CHECK(m[2]["tool_calls"][0]["id"] == "call_1");
  CHECK(m[2]["tool_calls"][0]["function"]["name"] == "list_tasks");
  CHECK(Json::parse(m[2]["tool_calls"][0]["function"]["arguments"].get<std::string>()) ==
        Json{{"status", "all"}});
  CHECK(m[3]["role"] == "tool");
  CHECK(m[3]["tool_call_id"] == "call_1");
  CHECK(m[3]["content"] == R"({"tasks":[]})");
  CHECK(m[4]["role"] == "assistant");
  CHECK(m[4]["content"] == "Nothing yet.");
  CHECK(m[5]["role"] == "user");
  CHECK(m[5]["content"] == "Say hello");
  // store was not asked for: nothing kept.
  CHECK(s.Call("GET", "/api/conversations", std::nullopt, u.access_token).json["conversations"].empty());
}

TEST_CASE("an upstream failure: 502 in OpenAI's shape, or a last error frame without [DONE]") {
  FakeUpstream fake("openai");
  for (int i = 0; i < 4; ++i) fake.EnqueueStream(Recorded("openai_error_midstream.sse"));
  ServerProcess s({"--llm-provider", "openai", "--llm-base-url", fake.base_url(), "--llm-model",
                   "upstream-model"});
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string key = ApiKey(s, u, {"agent"});
  const Response plain = s.Call("POST", "/v1/chat/completions", UserTurn("hi"), key);
  CheckOpenAiError(plain, 502, "upstream_error");
  // The upstream's own words and address stay in the server.
  CHECK(plain.body.find("processing your request") == std::string::npos);
  CHECK(plain.body.find("127.0.0.1") == std::string::npos);

  auto r = s.Call("POST", "/v1/chat/completions", UserTurn("hi", {{"stream", true}}), key);
  REQUIRE(r.status == 200);
  const ChatStream st = ParseChatStream(r.body);
  CHECK_FALSE(st.done);
  REQUIRE(st.chunks.size() >= 2);
  CHECK(st.Text() == "Partial ✓");
  const Json& last = st.chunks.back();
  REQUIRE(last.contains("error"));
  CHECK(last.size() == 1);
  CHECK(last["error"]["type"] == "server_error");
  CHECK(last["error"]["code"] == "upstream_error");
  CHECK(last["error"]["param"].is_null());
  CHECK(last["error"]["message"].is_string());
  CHECK(r.body.find("processing your request") == std::string::npos);
  CHECK(r.body.find("127.0.0.1") == std::string::npos);
}

TEST_CASE("chat completion: bad requests are OpenAI errors naming the param") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string key = ApiKey(s, u, {"agent", "tasks:read"});
  auto post = [&](const Json& body) { return s.Call("POST", "/v1/chat/completions", body, key); };
  auto with = [](Json body, const std::string& field, Json value) {
    body[field] = std::move(value);
    return body;
  };
  const Json ok = UserTurn("hello");
  Json no_model = ok;
  no_model.erase("model");
  Json no_messages = ok;
  no_messages.erase("messages");

  CheckOpenAiError(post(no_messages), 400, "missing_field", "messages");
  CheckOpenAiError(post(with(ok, "messages", Json::array())), 400, "invalid_field", "messages");
  CheckOpenAiError(post(with(ok, "messages", "hello")), 400, "invalid_field", "messages");
  CheckOpenAiError(post(no_model), 400, "missing_field", "model");
  CheckOpenAiError(post(with(ok, "model", "gpt-4o")), 404, "model_not_found");
  CheckOpenAiError(
      post(with(ok, "messages", Json::array({{{"role", "user"}, {"content", "hi"}},
                                             {{"role", "assistant"}, {"content", "hello"}}}))),
      400, "invalid_field", "messages[1].role");
  CheckOpenAiError(post(with(ok, "messages", Json::array({{{"role", "wizard"}, {"content", "hi"}}}))),
                   400, "invalid_field", "messages[0].role");
  CheckOpenAiError(post(with(ok, "messages", Json::array({{{"content", "hi"}}}))), 400,
                   "missing_field", "messages[0].role");
  CheckOpenAiError(post(with(ok, "messages", Json::array({{{"role", "user"}, {"content", 7}}}))),
                   400, "invalid_field", "messages[0].content");
  CheckOpenAiError(post(with(ok, "messages", Json::array({{{"role", "user"}, {"content", "  \n"}}}))),
                   400, "invalid_field", "messages[0].content");
  CheckOpenAiError(
      post(with(ok, "messages",
                Json::array({{{"role", "user"},
                              {"content", Json::array({{{"type", "image_url"},
                                                        {"image_url", {{"url", "x"}}}}})}}}))),
      400, "unsupported_content", "messages[0].content[0].type");
  CheckOpenAiError(
      post(with(ok, "messages",
                Json::array({{{"role", "tool"}, {"content", "{}"}}, {{"role", "user"}, {"content", "hi"}}}))),
      400, "missing_field", "messages[0].tool_call_id");
  CheckOpenAiError(post(with(ok, "stream", "yes")), 400, "invalid_field", "stream");
  CheckOpenAiError(post(with(ok, "store", 1)), 400, "invalid_field", "store");
  CheckOpenAiError(post(with(ok, "n", 2)), 400, "invalid_field", "n");
  CheckOpenAiError(
      post(with(ok, "tools", Json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}}))),
      400, "unsupported_parameter", "tools");
  CheckOpenAiError(post(with(ok, "response_format", {{"type", "json_object"}})), 400,
                   "unsupported_parameter", "response_format.type");
  // The agent's own limit on the message, reported at the client's param.
  CheckOpenAiError(post(UserTurn(std::string(40000, 'a'))), 400, "invalid_field",
                   "messages[0].content");
  // Accepted and fitting: n 1, empty tools, text format.
  CHECK(post(with(with(with(ok, "n", 1), "tools", Json::array()), "response_format",
                  {{"type", "text"}}))
            .status == 200);

  auto auth = httplib::Headers{{"Authorization", "Bearer " + key}};
  CheckOpenAiError(s.Raw("POST", "/v1/chat/completions", "{\"model\":", "application/json", auth),
                   400, "malformed_request");
  CheckOpenAiError(s.Raw("POST", "/v1/chat/completions", UserTurn("hi").dump(), "text/plain", auth),
                   415, "unsupported_media_type");
  CheckOpenAiError(s.Raw("POST", "/v1/chat/completions", "[1]", "application/json", auth), 400,
                   "malformed_request");
  // Nothing of that reached the agent's tools.
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, u.access_token).json["tasks"].empty());
}

TEST_CASE("credentials: 401 without, 403 without scope agent (streamed too), tokens accepted") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  CheckOpenAiError(s.Call("GET", "/v1/models"), 401, "unauthenticated");
  CheckOpenAiError(s.Call("POST", "/v1/chat/completions", UserTurn("hi")), 401, "unauthenticated");
  CheckOpenAiError(s.Call("POST", "/v1/chat/completions", UserTurn("hi"), "ak_not_a_real_key"), 401,
                   "invalid_token");
  const std::string tasks_only = ApiKey(s, u, {"tasks:read", "tasks:write"});
  CheckOpenAiError(s.Call("GET", "/v1/models", std::nullopt, tasks_only), 403, "insufficient_scope");
  CheckOpenAiError(s.Call("GET", std::string("/v1/models/") + kModel, std::nullopt, tasks_only), 403,
                   "insufficient_scope");
  CheckOpenAiError(s.Call("POST", "/v1/chat/completions", UserTurn("add task x"), tasks_only), 403,
                   "insufficient_scope");
  CheckOpenAiError(
      s.Call("POST", "/v1/chat/completions", UserTurn("add task x", {{"stream", true}}), tasks_only),
      403, "insufficient_scope");
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, u.access_token).json["tasks"].empty());
  // A login's access token carries every scope and works like a key.
  auto r = s.Call("POST", "/v1/chat/completions", UserTurn("hello"), u.access_token);
  CHECK(r.status == 200);
  CHECK(r.json["object"] == "chat.completion");
}

TEST_CASE("a client that hangs up mid-stream: the turn goes on, or is cancelled, and the server serves") {
  const std::string full_text = "Hi 👋! 你好，世界. Café ☕ 🇯🇵";
  SUBCASE("--on-disconnect continue (default): the stored turn completes") {
    FakeUpstream fake("openai");
    fake.Enqueue(SlowReply());
    ServerProcess s({"--llm-provider", "openai", "--llm-base-url", fake.base_url(), "--llm-model",
                     "upstream-model"});
    REQUIRE(s.started());
    const User u = Register(s);
    const std::string key = ApiKey(s, u, {"agent"});
    const std::string got =
        HangUpAfterFirstText(s, key, UserTurn("Say hello", {{"stream", true}, {"store", true}}));
    CHECK(got.find("chat.completion.chunk") != std::string::npos);
    CHECK(got.find("[DONE]") == std::string::npos);
    // The reply is stored in full once the upstream finished.
    std::string stored;
    for (int i = 0; i < 200 && stored != full_text; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      auto convs = s.Call("GET", "/api/conversations", std::nullopt, u.access_token);
      if (convs.json["conversations"].empty()) continue;
      auto msgs = s.Call("GET",
                         "/api/conversations/" +
                             convs.json["conversations"][0]["id"].get<std::string>() + "/messages",
                         std::nullopt, u.access_token);
      if (msgs.json["messages"].size() == 2 && msgs.json["messages"][1]["status"] == "completed") {
        stored = msgs.json["messages"][1]["content"].get<std::string>();
      }
    }
    CHECK(stored == full_text);
    CHECK_FALSE(fake.WaitForClientClose(std::chrono::milliseconds(0)));
    CHECK(s.Call("GET", "/healthz").status == 200);
  }
  SUBCASE("a turn that stores nothing (the default): the upstream request is dropped") {
    CheckHangUpDropsUpstream({}, full_text);
  }
  SUBCASE("--on-disconnect cancel: the upstream request is dropped too") {
    CheckHangUpDropsUpstream({"--on-disconnect", "cancel"}, full_text);
  }
}

TEST_CASE("sampling: refused by the rules provider, which cannot honour it; logprobs refused") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string key = ApiKey(s, u, {"agent"});
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, Json>>{{"temperature", 0.2},
                                                 {"top_p", 0.5},
                                                 {"max_tokens", 16},
                                                 {"seed", 7},
                                                 {"stop", "END"}}) {
    CAPTURE(field);
    CheckOpenAiError(s.Call("POST", "/v1/chat/completions", UserTurn("hi", {{field, value}}), key),
                     400, "unsupported_parameter", field);
    CheckOpenAiError(s.Call("POST", "/v1/chat/completions",
                            UserTurn("hi", {{field, value}, {"stream", true}}), key),
                     400, "unsupported_parameter", field);
  }
  // max_completion_tokens is the same setting under its newer name.
  CheckOpenAiError(
      s.Call("POST", "/v1/chat/completions", UserTurn("hi", {{"max_completion_tokens", 16}}), key),
      400, "unsupported_parameter", "max_tokens");
  CheckOpenAiError(s.Call("POST", "/v1/chat/completions", UserTurn("hi", {{"logprobs", true}}), key),
                   400, "unsupported_parameter", "logprobs");
  CheckOpenAiError(
      s.Call("POST", "/v1/chat/completions", UserTurn("hi", {{"top_logprobs", 2}}), key), 400,
      "unsupported_parameter", "top_logprobs");
  // Wrong types are named as such.
  CheckOpenAiError(
      s.Call("POST", "/v1/chat/completions", UserTurn("hi", {{"temperature", "hot"}}), key), 400,
      "invalid_field", "temperature");
  CheckOpenAiError(s.Call("POST", "/v1/chat/completions", UserTurn("hi", {{"stop", 3}}), key), 400,
                   "invalid_field", "stop");
  // Null, false and the defaults' absence are what OpenAI's SDKs send.
  auto ok = s.Call("POST", "/v1/chat/completions",
                   UserTurn("hi", {{"temperature", nullptr}, {"logprobs", false}, {"stop", nullptr}}),
                   key);
  CHECK(ok.status == 200);
}

TEST_CASE("sampling: out of range values are refused before the provider is asked") {
  FakeUpstream fake("openai");
  ServerProcess s({"--llm-provider", "openai", "--llm-base-url", fake.base_url(), "--llm-model",
                   "upstream-model"});
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string key = ApiKey(s, u, {"agent"});
  for (const auto& [field, value] : std::vector<std::pair<std::string, Json>>{
           {"temperature", 2.5},
           {"temperature", -0.1},
           {"top_p", 1.5},
           {"max_tokens", 0},
           {"stop", Json::array({"a", "b", "c", "d", "e"})},
           {"stop", ""}}) {
    CAPTURE(field);
    CAPTURE(value.dump());
    CheckOpenAiError(s.Call("POST", "/v1/chat/completions", UserTurn("hi", {{field, value}}), key),
                     400, "invalid_field", field);
  }
  CheckOpenAiError(s.Call("POST", "/v1/chat/completions",
                          UserTurn("hi", {{"max_tokens", 8}, {"max_completion_tokens", 9}}), key),
                   400, "invalid_field", "max_completion_tokens");
  CHECK(fake.request_count() == 0);
}

TEST_CASE("an unknown /v1 route or method answers in OpenAI's error shape") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string key = ApiKey(s, u, {"agent"});
  CheckOpenAiError(s.Call("POST", "/v1/completions", Json{{"model", kModel}}, key), 404,
                   "not_found");
  CheckOpenAiError(s.Call("GET", "/v1/embeddings", std::nullopt, key), 404, "not_found");
  CheckOpenAiError(s.Call("GET", "/v1", std::nullopt, key), 404, "not_found");
  CheckOpenAiError(s.Call("DELETE", "/v1/models", std::nullopt, key), 405, "method_not_allowed");
  // The rest of the API keeps its own shape.
  auto other = s.Call("GET", "/api/nothing-here", std::nullopt, key);
  CHECK(other.status == 404);
  CHECK(other.json["error"]["code"] == "not_found");
  CHECK_FALSE(other.json["error"].contains("type"));
}

}  // TEST_SUITE
