// Black-box: tasks, conversations, user and user data, agent (plain and
// SSE), history, state, memory, and cross-user 404s on every resource.
#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"

using namespace http_test;

namespace {

struct SseEvent {
  int id = 0;
  std::string event;
  Json data;
};

std::vector<SseEvent> ParseSse(const std::string& body) {
  std::vector<SseEvent> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::istringstream frame(body.substr(pos, end - pos));
    pos = end + 2;
    SseEvent ev;
    std::string line;
    while (std::getline(frame, line)) {
      if (line.rfind("id: ", 0) == 0) ev.id = std::stoi(line.substr(4));
      if (line.rfind("event: ", 0) == 0) ev.event = line.substr(7);
      if (line.rfind("data: ", 0) == 0) ev.data = Json::parse(line.substr(6), nullptr, false);
    }
    out.push_back(ev);
  }
  return out;
}

}  // namespace

TEST_SUITE("http.resources") {

TEST_CASE("tasks: create, read, update, list, clear completed, delete") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string t = u.access_token;
  auto created = s.Call("POST", "/api/tasks",
                        Json{{"title", "  buy\x01 milk  "}, {"description", "2 litres\nsemi"},
                             {"due_at", "2030-01-02T03:04:05Z"}, {"priority", 2}},
                        t);
  REQUIRE(created.status == 201);
  const Json task = created.json["task"];
  CHECK(task["title"] == "buy milk");
  CHECK(task["description"] == "2 litres\nsemi");
  CHECK(task["completed"] == false);
  CHECK(task["priority"] == 2);
  CHECK(task["due_at"] == "2030-01-02T03:04:05.000Z");
  const std::string id = task["id"];

  CHECK(s.Call("GET", "/api/tasks/" + id, std::nullopt, t).json["task"]["id"] == id);
  auto patched = s.Call("PATCH", "/api/tasks/" + id, Json{{"completed", true}, {"due_at", nullptr}}, t);
  REQUIRE(patched.status == 200);
  CHECK(patched.json["task"]["completed"] == true);
  CHECK(patched.json["task"]["due_at"].is_null());
  CHECK(patched.json["task"]["title"] == "buy milk");

  REQUIRE(s.Call("POST", "/api/tasks", Json{{"title", "second"}}, t).status == 201);
  auto pending = s.Call("GET", "/api/tasks?status=pending", std::nullopt, t);
  REQUIRE(pending.status == 200);
  REQUIRE(pending.json["tasks"].size() == 1);
  CHECK(pending.json["tasks"][0]["title"] == "second");
  CHECK(pending.json["next_cursor"].is_null());
  CHECK(s.Call("GET", "/api/tasks?status=completed", std::nullopt, t).json["tasks"].size() == 1);
  CHECK(s.Call("GET", "/api/tasks?q=SEC", std::nullopt, t).json["tasks"].size() == 1);

  auto cleared = s.Call("POST", "/api/tasks/clear-completed", std::nullopt, t);
  REQUIRE(cleared.status == 200);
  CHECK(cleared.json["deleted"] == 1);
  CHECK(s.Call("GET", "/api/tasks/" + id, std::nullopt, t).status == 404);

  const std::string second = pending.json["tasks"][0]["id"];
  CHECK(s.Call("DELETE", "/api/tasks/" + second, std::nullopt, t).status == 204);
  CHECK(s.Call("DELETE", "/api/tasks/" + second, std::nullopt, t).status == 404);
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, t).json["tasks"].empty());
}

TEST_CASE("tasks: paging with limit and cursor") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(s.Call("POST", "/api/tasks", Json{{"title", "t" + std::to_string(i)}}, u.access_token).status == 201);
  }
  auto p1 = s.Call("GET", "/api/tasks?limit=2", std::nullopt, u.access_token);
  REQUIRE(p1.json["tasks"].size() == 2);
  REQUIRE(p1.json["next_cursor"].is_string());
  std::set<std::string> seen;
  for (const auto& x : p1.json["tasks"]) seen.insert(x["id"].get<std::string>());
  std::string cursor = p1.json["next_cursor"];
  while (!cursor.empty()) {
    auto p = s.Call("GET", "/api/tasks?limit=2&cursor=" + cursor, std::nullopt, u.access_token);
    REQUIRE(p.status == 200);
    for (const auto& x : p.json["tasks"]) seen.insert(x["id"].get<std::string>());
    cursor = p.json["next_cursor"].is_string() ? p.json["next_cursor"].get<std::string>() : "";
  }
  CHECK(seen.size() == 5);
  CHECK(s.Call("GET", "/api/tasks?limit=abc", std::nullopt, u.access_token).status == 422);
  CHECK(s.Call("GET", "/api/tasks?cursor=%21%21garbage", std::nullopt, u.access_token).status == 422);
}

TEST_CASE("tasks: invalid fields are 422 naming the field") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  auto check = [&](const Json& body, const std::string& field) {
    auto r = s.Call("POST", "/api/tasks", body, u.access_token);
    CHECK(r.status == 422);
    CHECK(r.json["error"]["field"] == field);
  };
  check(Json::object(), "title");
  check(Json{{"title", ""}}, "title");
  check(Json{{"title", std::string(501, 'x')}}, "title");
  check(Json{{"title", 42}}, "title");
  check(Json{{"title", "ok"}, {"due_at", "tomorrow"}}, "due_at");
  // Past what the clock holds: refused with the range, not stored as a
  // wrapped-around date.
  auto far = s.Call("POST", "/api/tasks", Json{{"title", "ok"}, {"due_at", "9999-12-31T00:00:00Z"}},
                    u.access_token);
  CHECK(far.status == 422);
  CHECK(far.json["error"]["field"] == "due_at");
  CHECK(far.json["error"]["message"].get<std::string>().find("1678 to 2261") != std::string::npos);
  check(Json{{"title", "ok"}, {"due_at", "1066-10-14T09:00:00Z"}}, "due_at");
  check(Json{{"title", "ok"}, {"priority", "high"}}, "priority");
  check(Json{{"title", "ok"}, {"priority", 1e12}}, "priority");
  check(Json{{"title", "ok"}, {"description", std::string(10001, 'x')}}, "description");
  CHECK(s.Call("PATCH", "/api/tasks/x", Json{{"completed", "yes"}}, u.access_token).status == 422);
  // Characters, not bytes: 500 two-byte characters fit.
  std::string wide;
  for (int i = 0; i < 500; ++i) wide += "\xc3\xa9";
  CHECK(s.Call("POST", "/api/tasks", Json{{"title", wide}}, u.access_token).status == 201);
}

TEST_CASE("conversations: create, list, search, rename, messages, fork, delete") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string t = u.access_token;
  auto created = s.Call("POST", "/api/conversations", Json{{"title", "Holiday plans"}}, t);
  REQUIRE(created.status == 201);
  const std::string cid = created.json["conversation"]["id"];
  CHECK(created.json["conversation"]["app_id"].is_null());
  auto msg = s.Call("POST", "/api/agent/message", Json{{"message", "add task pack sunscreen"}, {"conversation_id", cid}}, t);
  REQUIRE(msg.status == 200);
  CHECK(msg.json["conversation_id"] == cid);

  auto list = s.Call("GET", "/api/conversations", std::nullopt, t);
  REQUIRE(list.status == 200);
  CHECK(list.json["conversations"].size() == 1);
  auto found = s.Call("GET", "/api/conversations?q=sunscr*", std::nullopt, t);
  REQUIRE(found.status == 200);
  REQUIRE(found.json["conversations"].size() == 1);
  CHECK(found.json["conversations"][0]["id"] == cid);
  CHECK(s.Call("GET", "/api/conversations?q=volcano", std::nullopt, t).json["conversations"].empty());

  auto renamed = s.Call("PATCH", "/api/conversations/" + cid, Json{{"title", "Trip"}}, t);
  CHECK(renamed.json["conversation"]["title"] == "Trip");

  auto messages = s.Call("GET", "/api/conversations/" + cid + "/messages", std::nullopt, t);
  REQUIRE(messages.status == 200);
  REQUIRE(messages.json["messages"].size() == 2);
  CHECK(messages.json["messages"][0]["role"] == "user");
  CHECK(messages.json["messages"][1]["role"] == "assistant");
  CHECK(messages.json["has_more"] == false);
  auto one = s.Call("GET", "/api/conversations/" + cid + "/messages?limit=1", std::nullopt, t);
  REQUIRE(one.json["messages"].size() == 1);
  CHECK(one.json["messages"][0]["role"] == "assistant");
  CHECK(one.json["has_more"] == true);

  const std::string first_id = messages.json["messages"][0]["id"];
  auto fork = s.Call("POST", "/api/conversations/" + cid + "/fork", Json{{"message_id", first_id}}, t);
  REQUIRE(fork.status == 201);
  CHECK(fork.json["conversation"]["title"] == "Trip (fork)");
  const std::string fid = fork.json["conversation"]["id"];
  CHECK(s.Call("GET", "/api/conversations/" + fid + "/messages", std::nullopt, t).json["messages"].size() == 1);
  CHECK(s.Call("POST", "/api/conversations/" + cid + "/fork", Json::object(), t).status == 422);

  CHECK(s.Call("DELETE", "/api/conversations/" + cid, std::nullopt, t).status == 204);
  CHECK(s.Call("GET", "/api/conversations/" + cid, std::nullopt, t).status == 404);
  CHECK(s.Call("GET", "/api/conversations?q=sunscreen", std::nullopt, t).json["conversations"].size() == 1);  // the fork
}

TEST_CASE("user: profile, data store, audit, account deletion") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string t = u.access_token;
  auto me = s.Call("PATCH", "/api/user/me", Json{{"name", "Ann B"}, {"preferences", {{"theme", "dark"}}}}, t);
  REQUIRE(me.status == 200);
  CHECK(me.json["user"]["name"] == "Ann B");
  CHECK(me.json["user"]["preferences"]["theme"] == "dark");
  CHECK(s.Call("PATCH", "/api/user/me", Json{{"preferences", 3}}, t).status == 422);

  auto put = s.Call("PUT", "/api/user/data/app1/handoff", Json{{"items", {1, 2, 3}}}, t);
  REQUIRE(put.status == 200);
  CHECK(put.json["namespace"] == "app1");
  CHECK(put.json["key"] == "handoff");
  CHECK(put.json["value"]["items"].size() == 3);
  CHECK(s.Call("PUT", "/api/user/data/app1/count", Json(42), t).status == 200);
  auto got = s.Call("GET", "/api/user/data/app1/handoff", std::nullopt, t);
  CHECK(got.json["value"]["items"][2] == 3);
  auto ns = s.Call("GET", "/api/user/data/app1", std::nullopt, t);
  REQUIRE(ns.status == 200);
  CHECK(ns.json["namespace"] == "app1");
  CHECK(ns.json["entries"].size() == 2);
  CHECK(s.Call("PUT", "/api/user/data/app1/bad%20key", Json(1), t).status == 422);
  CHECK(s.Raw("PUT", "/api/user/data/app1/k", "", "application/json", {{"Authorization", "Bearer " + t}}).status == 400);
  CHECK(s.Call("DELETE", "/api/user/data/app1/count", std::nullopt, t).status == 204);
  CHECK(s.Call("GET", "/api/user/data/app1/count", std::nullopt, t).status == 404);

  auto audit = s.Call("GET", "/api/user/audit?limit=10", std::nullopt, t);
  REQUIRE(audit.status == 200);
  REQUIRE_FALSE(audit.json["events"].empty());
  bool registered = false;
  for (const auto& e : audit.json["events"]) {
    if (e["type"] == "user.registered") registered = true;
  }
  CHECK(registered);

  CHECK(s.Call("DELETE", "/api/user/me", std::nullopt, t).status == 204);
  // Revocation is immediate, account deletion included (docs/http-api.md
  // "Conventions").
  CHECK(s.Call("GET", "/api/user/me", std::nullopt, t).status == 401);
  CHECK(s.Call("POST", "/api/auth/login", Json{{"email", u.email}, {"password", u.password}}).status == 401);
}

TEST_CASE("agent: message, history, state, memory") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string t = u.access_token;
  auto add = s.Call("POST", "/api/agent/message", Json{{"message", "add task water the plants"}}, t);
  REQUIRE(add.status == 200);
  CHECK(add.json["message"]["role"] == "assistant");
  CHECK(add.json["message"]["content"].get<std::string>().find("water the plants") != std::string::npos);
  CHECK(add.json["usage"]["total_tokens"].get<int>() ==
        add.json["usage"]["prompt_tokens"].get<int>() + add.json["usage"]["completion_tokens"].get<int>());
  const std::string cid = add.json["conversation_id"];
  // The tool really ran, as the caller.
  auto tasks = s.Call("GET", "/api/tasks", std::nullopt, t);
  REQUIRE(tasks.json["tasks"].size() == 1);
  CHECK(tasks.json["tasks"][0]["title"] == "water the plants");

  auto list = s.Call("POST", "/api/agent/message", Json{{"message", "list tasks"}, {"conversation_id", cid}}, t);
  REQUIRE(list.status == 200);
  CHECK(list.json["message"]["content"].get<std::string>().find("water the plants") != std::string::npos);

  auto history = s.Call("GET", "/api/agent/history", std::nullopt, t);
  REQUIRE(history.status == 200);
  CHECK(history.json["messages"].size() == 4);
  CHECK(s.Call("GET", "/api/agent/history?conversation_id=" + cid + "&limit=2", std::nullopt, t).json["messages"].size() == 2);

  CHECK(s.Call("POST", "/api/agent/message", Json{{"message", ""}}, t).status == 422);
  CHECK(s.Call("POST", "/api/agent/message", Json{{"message", "hi"}, {"conversation_id", "nope"}}, t).status == 404);

  auto state0 = s.Call("GET", "/api/agent/state", std::nullopt, t);
  REQUIRE(state0.status == 200);
  CHECK(state0.json["state"] == Json::object());
  auto put = s.Call("PUT", "/api/agent/state?app_id=notes", Json{{"mode", "brief"}, {"n", 1}}, t);
  REQUIRE(put.status == 200);
  auto patch = s.Raw("PATCH", "/api/agent/state?app_id=notes", R"({"n":null,"x":true})",
                     "application/merge-patch+json", {{"Authorization", "Bearer " + t}});
  REQUIRE(patch.status == 200);
  CHECK(patch.json["state"] == Json{{"mode", "brief"}, {"x", true}});
  CHECK(s.Call("GET", "/api/agent/state?app_id=notes", std::nullopt, t).json["state"]["x"] == true);
  CHECK(s.Call("GET", "/api/agent/state", std::nullopt, t).json["state"] == Json::object());
  CHECK(s.Call("PUT", "/api/agent/state", Json::array({1}), t).status == 422);

  auto mem = s.Call("POST", "/api/agent/memory", Json{{"content", "prefers mornings"}}, t);
  REQUIRE(mem.status == 201);
  const std::string mid = mem.json["memory"]["id"];
  auto mems = s.Call("GET", "/api/agent/memory", std::nullopt, t);
  REQUIRE(mems.json["memories"].size() == 1);
  CHECK(mems.json["memories"][0]["content"] == "prefers mornings");
  CHECK(s.Call("POST", "/api/agent/memory", Json{{"content", ""}}, t).status == 422);
  CHECK(s.Call("DELETE", "/api/agent/memory/" + mid, std::nullopt, t).status == 204);
  CHECK(s.Call("GET", "/api/agent/memory", std::nullopt, t).json["memories"].empty());
}

TEST_CASE("agent: SSE framing of a streamed reply") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  for (const bool via_accept : {false, true}) {
    INFO("via Accept header: " << via_accept);
    Response r = via_accept
                     ? s.Call("POST", "/api/agent/message", Json{{"message", "add task call mum"}},
                              u.access_token, {{"Accept", "text/event-stream"}})
                     : s.Call("POST", "/api/agent/message",
                              Json{{"message", "add task call mum"}, {"stream", true}}, u.access_token);
    REQUIRE(r.status == 200);
    CHECK(r.Header("Content-Type").rfind("text/event-stream", 0) == 0);
    CHECK_FALSE(r.Header("X-Request-ID").empty());
    const auto events = ParseSse(r.body);
    REQUIRE(events.size() >= 3);
    for (size_t i = 0; i < events.size(); ++i) {
      CHECK(events[i].id == static_cast<int>(i + 1));  // consecutive from 1
      CHECK(events[i].data.is_object());
    }
    CHECK(events.front().event == "message.start");
    CHECK(events.front().data["run_id"].is_string());
    CHECK(events.front().data["conversation_id"].is_string());
    CHECK(events.back().event == "message.done");
    CHECK(events.back().data["message"]["id"] == events.front().data["message_id"]);
    CHECK(events.back().data["usage"].contains("total_tokens"));
    std::string text;
    bool saw_call = false, saw_result = false;
    for (const auto& e : events) {
      if (e.event == "message.delta") text += e.data["content"].get<std::string>();
      if (e.event == "tool.call") {
        saw_call = true;
        CHECK(e.data["name"] == "add_task");
        CHECK(e.data["arguments"].is_object());
      }
      if (e.event == "tool.result") saw_result = true;
    }
    CHECK(saw_call);
    CHECK(saw_result);
    CHECK(text == events.back().data["message"]["content"].get<std::string>());
  }
  // A refusal before the turn starts is a plain JSON error, not a stream.
  auto bad = s.Call("POST", "/api/agent/message",
                    Json{{"message", "hi"}, {"conversation_id", "missing"}, {"stream", true}},
                    u.access_token);
  CHECK(bad.status == 404);
  CHECK(bad.Header("Content-Type").find("application/json") != std::string::npos);
  CHECK(bad.json["error"]["code"] == "not_found");
}

TEST_CASE("another user's resources are 404 on every route") {
  ServerProcess s;
  REQUIRE(s.started());
  const User a = Register(s, "Ann");
  const User b = Register(s, "Bob");
  const std::string ta = a.access_token, tb = b.access_token;
  const std::string task = s.Call("POST", "/api/tasks", Json{{"title", "secret"}}, ta).json["task"]["id"];
  auto msg = s.Call("POST", "/api/agent/message", Json{{"message", "hello"}}, ta);
  const std::string conv = msg.json["conversation_id"];
  const std::string message_id = msg.json["message"]["id"];
  const std::string mem = s.Call("POST", "/api/agent/memory", Json{{"content", "x"}}, ta).json["memory"]["id"];
  const std::string key = s.Call("POST", "/api/auth/api-keys", Json{{"name", "k"}, {"scopes", {"tasks:read"}}}, ta)
                              .json["api_key"]["id"];
  const std::string session = s.Call("GET", "/api/auth/sessions", std::nullopt, ta).json["sessions"][0]["id"];
  REQUIRE(s.Call("PUT", "/api/user/data/ns/k", Json(1), ta).status == 200);

  struct Probe {
    std::string method, path;
    std::optional<Json> body;
  };
  const std::vector<Probe> probes = {
      {"GET", "/api/tasks/" + task, {}},
      {"PATCH", "/api/tasks/" + task, Json{{"title", "mine"}}},
      {"DELETE", "/api/tasks/" + task, {}},
      {"GET", "/api/conversations/" + conv, {}},
      {"PATCH", "/api/conversations/" + conv, Json{{"title", "mine"}}},
      {"DELETE", "/api/conversations/" + conv, {}},
      {"GET", "/api/conversations/" + conv + "/messages", {}},
      {"POST", "/api/conversations/" + conv + "/fork", Json{{"message_id", message_id}}},
      {"POST", "/api/agent/message", Json{{"message", "list tasks"}, {"conversation_id", conv}}},
      {"GET", "/api/agent/history?conversation_id=" + conv, {}},
      {"DELETE", "/api/agent/memory/" + mem, {}},
      {"DELETE", "/api/auth/api-keys/" + key, {}},
      {"DELETE", "/api/auth/sessions/" + session, {}},
      {"GET", "/api/user/data/ns/k", {}},
      {"DELETE", "/api/user/data/ns/k", {}},
  };
  for (const auto& p : probes) {
    INFO(p.method << " " << p.path);
    auto r = s.Call(p.method, p.path, p.body, tb);
    CHECK(r.status == 404);
  }
  // B's listings show nothing of A's.
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, tb).json["tasks"].empty());
  CHECK(s.Call("GET", "/api/conversations?q=hello", std::nullopt, tb).json["conversations"].empty());
  CHECK(s.Call("GET", "/api/user/data/ns", std::nullopt, tb).json["entries"].empty());
  // And A's things are all still there.
  CHECK(s.Call("GET", "/api/tasks/" + task, std::nullopt, ta).json["task"]["title"] == "secret");
  CHECK(s.Call("GET", "/api/conversations/" + conv, std::nullopt, ta).status == 200);
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, ta).status == 200);
  CHECK(s.Call("GET", "/api/user/data/ns/k", std::nullopt, ta).json["value"] == 1);
}

}  // TEST_SUITE
