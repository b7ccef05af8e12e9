// Black-box: agent runs through the real assistant-server binary
// (docs/server.md "Runs"). A streamed turn's SSE ids are the run's event
// numbers; a client that drops mid-stream re-attaches with Last-Event-ID and
// gets exactly the rest; cancel answers 202, attached clients get the
// cancelled message.done, and the upstream request is closed within a
// second — also when the cancel arrives at a second server process on the
// same database.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_upstream/fake_upstream.hpp"
#include "harness.hpp"

using namespace http_test;
using fake_upstream::FakeUpstream;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

struct Event {
  long id = -1;  // -1: the frame had no id
  std::string type;
  Json data;
};

// Splits an SSE byte stream into events as bytes arrive; comments
// (keep-alives) are skipped.
class SseReader {
 public:
  // Returns the events completed by `bytes`.
  std::vector<Event> Feed(const char* bytes, size_t n) {
    buffer_.append(bytes, n);
    std::vector<Event> out;
    size_t end;
    while ((end = buffer_.find("\n\n")) != std::string::npos) {
      const std::string frame = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      Event e;
      size_t pos = 0;
      while (pos <= frame.size()) {
        size_t nl = frame.find('\n', pos);
        if (nl == std::string::npos) nl = frame.size();
        const std::string line = frame.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.rfind("id: ", 0) == 0) e.id = std::stol(line.substr(4));
        if (line.rfind("event: ", 0) == 0) e.type = line.substr(7);
        if (line.rfind("data: ", 0) == 0) e.data = Json::parse(line.substr(6), nullptr, false);
      }
      if (!e.type.empty()) out.push_back(std::move(e));
    }
    return out;
  }

 private:
  std::string buffer_;
};

// One streaming request. `on_event` returns false to hang up at once.
struct Stream {
  int status = 0;
  std::vector<Event> events;
  bool hung_up = false;
};

Stream OpenStream(const ServerProcess& s, const std::string& method, const std::string& path,
                  const std::string& token, const std::string& body,
                  httplib::Headers headers = {},
                  const std::function<bool(const Event&)>& on_event = nullptr) {
  httplib::Client cli("127.0.0.1", s.port());
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(30, 0);
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = std::move(headers);
  req.headers.emplace("Authorization", "Bearer " + token);
  if (!body.empty()) {
    req.body = body;
    req.headers.emplace("Content-Type", "application/json");
  }
  Stream out;
  SseReader reader;
  std::string raw;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    raw.append(data, n);
    for (Event& e : reader.Feed(data, n)) {
      out.events.push_back(e);
      if (on_event && !on_event(out.events.back())) {
        out.hung_up = true;
        return false;
      }
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  cli.send(req, res, err);
  out.status = res.status;
  if (out.status != 200 && !raw.empty()) {
    // An error before the stream began is a JSON body; keep it readable.
    Event e;
    e.type = "http_error";
    e.data = Json::parse(raw, nullptr, false);
    out.events.push_back(e);
  }
  return out;
}

Stream PostMessage(const ServerProcess& s, const std::string& token, const std::string& message,
                   const std::function<bool(const Event&)>& on_event = nullptr) {
  return OpenStream(s, "POST", "/api/agent/message", token,
                    Json{{"message", message}, {"stream", true}}.dump(), {}, on_event);
}

std::string Deltas(const std::vector<Event>& events) {
  std::string text;
  for (const Event& e : events) {
    if (e.type == "message.delta") text += e.data["content"].get<std::string>();
  }
  return text;
}

std::string RunId(const std::vector<Event>& events) {
  return events.empty() ? "" : events.front().data.value("run_id", "");
}

std::string Recorded(const std::string& name) {
  return fake_upstream::ReadFile(std::string(ASSISTANT_LLM_DATA_DIR) + "/" + name);
}

std::string RecordedText(const std::string& name) {
  return Json::parse(Recorded(name.substr(0, name.rfind('.')) + ".expected.json"))["content"];
}

std::vector<std::string> OpenAiArgs(const FakeUpstream& fake) {
  return {"--llm-provider", "openai", "--llm-base-url", fake.base_url(), "--llm-model", "m"};
}

// A slow, complete stream: long enough to hang up in the middle.
fake_upstream::Reply Slow(const std::string& file) {
  fake_upstream::Reply r;
  r.body = Recorded(file);
  r.chunk_delay = milliseconds(4);
  return r;
}

// Some deltas, then the connection held open until the client closes it.
fake_upstream::Reply Held(const std::string& file) {
  fake_upstream::Reply r;
  r.body = Recorded(file);
  r.hold_after = r.body.size() / 2;
  return r;
}

void WaitFor(const std::function<bool()>& done, milliseconds limit = milliseconds(10000)) {
  const auto until = SteadyClock::now() + limit;
  while (!done() && SteadyClock::now() < until) std::this_thread::sleep_for(milliseconds(5));
  REQUIRE(done());
}

// A streamed turn on its own thread against a Held reply: when the
// constructor returns, the run has started and sent two deltas.
class TurnInFlight {
 public:
  TurnInFlight(const ServerProcess& s, const std::string& token) {
    client_ = std::thread([this, &s, token] {
      Stream got = PostMessage(s, token, "say hi", [this](const Event& e) {
        if (e.type == "message.start") {
          std::lock_guard<std::mutex> lock(mu_);
          run_id_ = e.data["run_id"];
        }
        if (e.type == "message.delta") ++deltas_;
        return true;
      });
      std::lock_guard<std::mutex> lock(mu_);
      streamed_ = std::move(got);
    });
    WaitFor([this] { return deltas_.load() >= 2; });
  }
  ~TurnInFlight() {
    if (client_.joinable()) client_.join();
  }

  std::string run_id() {
    std::lock_guard<std::mutex> lock(mu_);
    return run_id_;
  }
  // Waits for the stream's end; what the client received.
  const Stream& Finish() {
    if (client_.joinable()) client_.join();
    return streamed_;
  }

 private:
  std::mutex mu_;
  std::string run_id_;
  std::atomic<int> deltas_{0};
  Stream streamed_;
  std::thread client_;
};

}  // namespace

TEST_CASE("runs http: SSE ids are the run's event numbers; status and replay after an id") {
  ServerProcess s;
  REQUIRE(s.started());
  User u = Register(s);
  Stream st = PostMessage(s, u.access_token, "add a task to water the plants");
  REQUIRE(st.status == 200);
  REQUIRE(st.events.size() >= 3);
  for (size_t i = 0; i < st.events.size(); ++i) CHECK(st.events[i].id == static_cast<long>(i + 1));
  CHECK(st.events.front().type == "message.start");
  CHECK(st.events.back().type == "message.done");
  const std::string run_id = RunId(st.events);
  REQUIRE_FALSE(run_id.empty());

  Response run = s.Call("GET", "/api/agent/runs/" + run_id, std::nullopt, u.access_token);
  REQUIRE(run.status == 200);
  CHECK(run.json["run"]["id"] == run_id);
  CHECK(run.json["run"]["status"] == "completed");
  CHECK(run.json["run"]["message_id"] == st.events.front().data["message_id"]);
  CHECK(run.json["run"]["conversation_id"] == st.events.front().data["conversation_id"]);
  CHECK(run.json["run"]["created_at"].is_string());
  CHECK(run.json["run"]["finished_at"].is_string());

  // The header and the query parameter name the same position.
  Stream by_header = OpenStream(s, "GET", "/api/agent/runs/" + run_id + "/events",
                                u.access_token, "", {{"Last-Event-ID", "2"}});
  Stream by_query = OpenStream(s, "GET", "/api/agent/runs/" + run_id + "/events?last_event_id=2",
                               u.access_token, "");
  for (const Stream* r : {&by_header, &by_query}) {
    REQUIRE(r->status == 200);
    REQUIRE(r->events.size() == st.events.size() - 2);
    for (size_t i = 0; i < r->events.size(); ++i) {
      CHECK(r->events[i].id == st.events[i + 2].id);
      CHECK(r->events[i].type == st.events[i + 2].type);
      CHECK(r->events[i].data == st.events[i + 2].data);
    }
  }
  Response bad = s.Call("GET", "/api/agent/runs/" + run_id + "/events", std::nullopt,
                        u.access_token, {{"Last-Event-ID", "two"}});
  CHECK(bad.status == 422);
  CHECK(bad.ErrorCode() == "invalid_field");
}

TEST_CASE("runs http: a client that hangs up mid-stream re-attaches and misses nothing") {
  FakeUpstream fake("openai");
  fake.Enqueue(Slow("openai_text_utf8.sse"));
  ServerProcess s(OpenAiArgs(fake));
  REQUIRE(s.started());
  User u = Register(s);
  Stream first = PostMessage(s, u.access_token, "say hi",
                             [](const Event& e) { return e.type != "message.delta"; });
  REQUIRE(first.hung_up);
  const std::string run_id = RunId(first.events);
  REQUIRE_FALSE(run_id.empty());
  const long last_seen = first.events.back().id;

  Stream rest = OpenStream(s, "GET", "/api/agent/runs/" + run_id + "/events", u.access_token, "",
                           {{"Last-Event-ID", std::to_string(last_seen)}});
  REQUIRE(rest.status == 200);
  REQUIRE_FALSE(rest.events.empty());
  CHECK(rest.events.front().id == last_seen + 1);
  for (size_t i = 1; i < rest.events.size(); ++i) {
    CHECK(rest.events[i].id == rest.events[i - 1].id + 1);
  }
  REQUIRE(rest.events.back().type == "message.done");
  const Json& message = rest.events.back().data["message"];
  CHECK(message["status"] == "completed");
  // Deltas before the hang-up plus those after it are the stored reply.
  const std::string joined = Deltas(first.events) + Deltas(rest.events);
  CHECK(joined == message["content"].get<std::string>());
  CHECK(joined == RecordedText("openai_text_utf8.sse"));
  Response history = s.Call("GET", "/api/agent/history?conversation_id=" +
                                       first.events.front().data["conversation_id"].get<std::string>(),
                            std::nullopt, u.access_token);
  REQUIRE(history.status == 200);
  CHECK(history.json["messages"].back()["content"] == joined);
  CHECK(s.Call("GET", "/api/agent/runs/" + run_id, std::nullopt, u.access_token)
            .json["run"]["status"] == "completed");
}

TEST_CASE("runs http: --on-disconnect cancel stops the turn when the client hangs up") {
  FakeUpstream fake("openai");
  fake.Enqueue(Slow("openai_text_utf8.sse"));
  std::vector<std::string> args = OpenAiArgs(fake);
  args.insert(args.end(), {"--on-disconnect", "cancel"});
  ServerProcess c(args);
  REQUIRE(c.started());
  User u = Register(c);
  Stream first = PostMessage(c, u.access_token, "say hi",
                             [](const Event& e) { return e.type != "message.delta"; });
  REQUIRE(first.hung_up);
  const std::string run_id = RunId(first.events);
  Stream rest = OpenStream(c, "GET", "/api/agent/runs/" + run_id + "/events", u.access_token, "",
                           {{"Last-Event-ID", std::to_string(first.events.back().id)}});
  REQUIRE_FALSE(rest.events.empty());
  REQUIRE(rest.events.back().type == "message.done");
  CHECK(rest.events.back().data["message"]["status"] == "cancelled");
  CHECK(c.Call("GET", "/api/agent/runs/" + run_id, std::nullopt, u.access_token)
            .json["run"]["status"] == "cancelled");
  // Cut short: less than the whole recorded reply was kept.
  CHECK(Deltas(first.events) + Deltas(rest.events) != RecordedText("openai_text_utf8.sse"));
}

TEST_CASE("runs http: cancel answers 202, listeners get the cancelled message, upstream closed") {
  FakeUpstream fake("openai");
  fake.Enqueue(Held("openai_text_utf8.sse"));
  ServerProcess s(OpenAiArgs(fake));
  REQUIRE(s.started());
  User u = Register(s);

  TurnInFlight turn(s, u.access_token);
  const std::string id = turn.run_id();
  Stream attached;
  std::thread listener([&] {
    attached = OpenStream(s, "GET", "/api/agent/runs/" + id + "/events", u.access_token, "",
                          {{"Last-Event-ID", "1"}});
  });
  std::this_thread::sleep_for(milliseconds(200));
  CHECK(s.Call("GET", "/api/agent/runs/" + id, std::nullopt, u.access_token)
            .json["run"]["status"] == "running");

  const auto cancelled_at = SteadyClock::now();
  Response accepted = s.Call("POST", "/api/agent/runs/" + id + "/cancel", std::nullopt,
                             u.access_token);
  CHECK(accepted.status == 202);
  CHECK(accepted.json["run"]["id"] == id);
  REQUIRE(fake.WaitForClientClose(milliseconds(1000)));
  CHECK(fake.client_closed_at() - cancelled_at < milliseconds(1000));
  const Stream& streamed = turn.Finish();
  listener.join();

  for (const Stream* r : {&streamed, static_cast<const Stream*>(&attached)}) {
    REQUIRE(r->status == 200);
    REQUIRE_FALSE(r->events.empty());
    CHECK(r->events.back().type == "message.done");
    CHECK(r->events.back().data["message"]["status"] == "cancelled");
  }
  CHECK(attached.events.front().id == 2);
  const std::string kept = streamed.events.back().data["message"]["content"];
  CHECK(Deltas(streamed.events) == kept);
  CHECK(Deltas(attached.events) == kept);
  CHECK_FALSE(kept.empty());
  Response run = s.Call("GET", "/api/agent/runs/" + id, std::nullopt, u.access_token);
  CHECK(run.json["run"]["status"] == "cancelled");
  // Cancelling a finished run changes nothing.
  Response again = s.Call("POST", "/api/agent/runs/" + id + "/cancel", std::nullopt,
                          u.access_token);
  CHECK(again.status == 202);
  CHECK(again.json["run"]["status"] == "cancelled");
}

TEST_CASE("runs http: a second server on the same database re-attaches and cancels") {
  FakeUpstream fake("openai");
  fake.Enqueue(Held("openai_text_utf8.sse"));
  ServerProcess a(OpenAiArgs(fake));
  REQUIRE(a.started());
  ServerProcess b({}, a.dir());
  REQUIRE(b.started());
  User u = Register(a);

  TurnInFlight turn(a, u.access_token);
  const std::string id = turn.run_id();
  Response there = b.Call("GET", "/api/agent/runs/" + id, std::nullopt, u.access_token);
  REQUIRE(there.status == 200);
  CHECK(there.json["run"]["status"] == "running");
  Stream attached;
  std::thread listener([&] {
    attached = OpenStream(b, "GET", "/api/agent/runs/" + id + "/events", u.access_token, "");
  });
  std::this_thread::sleep_for(milliseconds(300));

  const auto cancelled_at = SteadyClock::now();
  Response accepted = b.Call("POST", "/api/agent/runs/" + id + "/cancel", std::nullopt,
                             u.access_token);
  CHECK(accepted.status == 202);
  REQUIRE(fake.WaitForClientClose(milliseconds(1000)));
  CHECK(fake.client_closed_at() - cancelled_at < milliseconds(1000));
  const Stream& streamed = turn.Finish();
  listener.join();

  REQUIRE(attached.status == 200);
  REQUIRE(attached.events.size() == streamed.events.size());
  for (size_t i = 0; i < attached.events.size(); ++i) {
    CHECK(attached.events[i].id == static_cast<long>(i + 1));
    CHECK(attached.events[i].type == streamed.events[i].type);
  }
  CHECK(attached.events.back().type == "message.done");
  CHECK(attached.events.back().data["message"]["status"] == "cancelled");
  CHECK(Deltas(attached.events) == attached.events.back().data["message"]["content"]);
  CHECK(b.Call("GET", "/api/agent/runs/" + id, std::nullopt, u.access_token)
            .json["run"]["status"] == "cancelled");
}

TEST_CASE("runs http: other users' runs are 404; runs need scope agent") {
  ServerProcess s;
  REQUIRE(s.started());
  User ann = Register(s, "Ann");
  User bob = Register(s, "Bob");
  Response sent = s.Call("POST", "/api/agent/message", Json{{"message", "hello"}},
                         ann.access_token);
  REQUIRE(sent.status == 200);
  const std::string id = sent.json["run_id"];
  REQUIRE(s.Call("GET", "/api/agent/runs/" + id, std::nullopt, ann.access_token).status == 200);
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/agent/runs/" + id},
           {"GET", "/api/agent/runs/" + id + "/events"},
           {"POST", "/api/agent/runs/" + id + "/cancel"},
           {"GET", "/api/agent/runs/no-such-run"},
           {"GET", "/api/agent/runs/no-such-run/events"}}) {
    Response r = s.Call(method, path, std::nullopt, bob.access_token);
    CHECK(r.status == 404);
    CHECK(r.ErrorCode() == "not_found");
  }
  Response key = s.Call("POST", "/api/auth/api-keys",
                        Json{{"name", "reader"}, {"scopes", {"tasks:read"}}}, ann.access_token);
  REQUIRE(key.status == 201);
  const std::string reader = key.json["key"];
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/agent/runs/" + id},
           {"GET", "/api/agent/runs/" + id + "/events"},
           {"POST", "/api/agent/runs/" + id + "/cancel"}}) {
    Response r = s.Call(method, path, std::nullopt, reader);
    CHECK(r.status == 403);
    CHECK(r.ErrorCode() == "insufficient_scope");
  }
  Response unauth = s.Call("GET", "/api/agent/runs/" + id);
  CHECK(unauth.status == 401);
}
