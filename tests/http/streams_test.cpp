// The worker model under many open agent streams (docs/server.md "Worker
// model"): streams get workers of their own, up to --max-streams, so
// ordinary requests are still answered while they are all open; one stream
// more is refused with 503 and Retry-After, and a slot frees when a stream
// ends. One user gets at most --max-streams-per-user of them (429), so others
// still get streams. A client that stops reading, or reads a few bytes a
// second, is dropped and its slot freed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "fake_upstream/fake_upstream.hpp"
#include "harness.hpp"

namespace http_test {
namespace {

using std::chrono::milliseconds;

// One text delta, then the end; the fake holds after the first event when
// told to, so the stream stays open.
const std::string kReply =
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"hello\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

fake_upstream::Reply HeldReply() {
  fake_upstream::Reply r;
  r.body = kReply;
  r.chunk_pattern = {};  // all at once
  r.hold_after = 0;      // after the first event
  r.hold_silently = true;
  r.hold_tick = milliseconds(100);
  return r;
}

// A streamed agent turn on a raw socket, so that hundreds can be open at
// once without a thread each.
class RawStream {
 public:
  RawStream(int port, const std::string& token, const std::string& path = "/api/agent/message",
            const std::string& body = R"({"message":"hello","stream":true})") {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{10, 0};  // a starved server fails the read instead of hanging the test
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    const std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Authorization: Bearer " + token +
                            "\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
    connected_ = ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) ==
                 static_cast<ssize_t>(req.size());
  }
  ~RawStream() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawStream(const RawStream&) = delete;
  RawStream& operator=(const RawStream&) = delete;

  // Reads until `text` has arrived (true), or the connection ends or 10 s
  // pass without a byte (false).
  bool ReadUntil(const std::string& text) {
    while (connected_ && received_.find(text) == std::string::npos) {
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      received_.append(buf, static_cast<size_t>(n));
    }
    return connected_;
  }
  const std::string& received() const { return received_; }
  // Reads at most `n` bytes: how many, 0 once the connection has ended.
  ssize_t ReadSome(size_t n) {
    char buf[256];
    const ssize_t got = ::recv(fd_, buf, std::min(n, sizeof buf), 0);
    if (got > 0) received_.append(buf, static_cast<size_t>(got));
    return got;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string received_;
};

// A /v1 stream whose client `reads` as it likes (on a thread of its own)
// while the upstream floods it and then stays open: the server must drop
// that client within its write timeout, closing the upstream request, so
// another user's stream gets the only slot.
void CheckSlowClientDropped(
    const std::function<void(RawStream&, const std::atomic<bool>& stop)>& reads) {
  // Far more text than the socket buffers between server and client hold,
  // then an upstream that stays open: only dropping the client ends it.
  std::string big;
  const std::string piece(1000, 'x');
  for (int i = 0; i < 12000; ++i) {
    big += "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
           "\"delta\":{\"content\":\"" + piece + "\"},\"finish_reason\":null}]}\n\n";
  }
  fake_upstream::FakeUpstream fake("openai", 8);
  fake_upstream::Reply flood;
  flood.body = big + "data: [DONE]\n\n";
  flood.chunk_pattern = {65536};
  flood.chunk_delay = milliseconds(0);
  flood.hold_after = big.size();
  fake.Enqueue(flood);
  fake.EnqueueStream(kReply);
  ServerProcess s({"--llm-provider", "openai", "--llm-base-url", fake.base_url(),
                   "--llm-model", "m", "--max-streams", "1", "--threads", "4"});
  REQUIRE(s.started());
  const User stuck_user = Register(s);
  const User other = Register(s);

  const auto start = std::chrono::steady_clock::now();
  // A /v1 turn stores nothing, so it ends with its client.
  RawStream stuck(s.port(), stuck_user.access_token, "/v1/chat/completions",
                  R"({"model":"libassistant","stream":true,)"
                  R"("messages":[{"role":"user","content":"hi"}]})");
  std::atomic<bool> stop{false};
  std::thread reader([&] { reads(stuck, stop); });
  Response next;
  do {
    std::this_thread::sleep_for(milliseconds(200));
    next = s.Call("POST", "/api/agent/message", Json{{"message", "hi"}, {"stream", true}},
                  other.access_token);
  } while (next.status == 503 &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(40));
  const auto waited = std::chrono::steady_clock::now() - start;
  MESSAGE("the slot was free after "
          << std::chrono::duration_cast<milliseconds>(waited).count() << " ms");
  // Within the write timeout (10 s) once the buffers filled: not never.
  CHECK(waited < std::chrono::seconds(20));
  // Its upstream request was closed too.
  CHECK(fake.WaitForClientClose(std::chrono::seconds(0)));
  INFO(next.status << " " << next.body);
  CHECK(next.status == 200);
  CHECK(next.body.find("event: message.done") != std::string::npos);
  stop = true;
  reader.join();
}

}  // namespace

TEST_SUITE("http.streams") {
  TEST_CASE("300 open streams leave ordinary requests answered, and one more is refused") {
    constexpr int kStreams = 300;
    auto fake = std::make_unique<fake_upstream::FakeUpstream>("openai", kStreams + 16);
    for (int i = 0; i < kStreams + 1; ++i) fake->Enqueue(HeldReply());
    ServerProcess s({"--llm-provider", "openai", "--llm-base-url", fake->base_url(),
                     "--llm-model", "m", "--max-streams", std::to_string(kStreams), "--threads",
                     "8", "--max-streams-per-user", std::to_string(kStreams)});
    REQUIRE(s.started());
    const User u = Register(s);
    REQUIRE(!u.access_token.empty());
    REQUIRE(s.Call("POST", "/api/tasks", Json{{"title", "milk"}}, u.access_token).status == 201);

    std::vector<std::unique_ptr<RawStream>> streams;
    for (int i = 0; i < kStreams; ++i) {
      streams.push_back(std::make_unique<RawStream>(s.port(), u.access_token));
    }
    // Every stream is running: its first delta came through.
    int running = 0;
    for (auto& st : streams) running += st->ReadUntil("\"content\":\"hello\"") ? 1 : 0;
    REQUIRE(running == kStreams);
    CHECK(fake->request_count() == kStreams);

    // Ordinary requests are served by the workers streams cannot take.
    for (int i = 0; i < 50; ++i) {
      const Response r = s.Call("GET", "/api/tasks", std::nullopt, u.access_token);
      REQUIRE(r.status == 200);
      CHECK(r.json["tasks"].size() == 1);
    }
    CHECK(s.Call("GET", "/healthz").status == 200);

    // One stream more: refused before it starts, with a hint when to retry.
    const Response over = s.Call("POST", "/api/agent/message",
                                 Json{{"message", "one more"}, {"stream", true}}, u.access_token);
    CHECK(over.status == 503);
    CHECK(over.ErrorCode() == "too_many_streams");
    CHECK(over.Header("Retry-After") == "1");
    CHECK(over.Header("Content-Type").find("application/json") != std::string::npos);
    CHECK(fake->request_count() == kStreams);  // no turn started for it

    // The upstream goes away: the streams end, and the server drains.
    fake.reset();
    streams.clear();
  }

  TEST_CASE("a slot frees when its stream ends") {
    fake_upstream::FakeUpstream fake("openai", 8);
    fake_upstream::Reply slow;
    slow.body = kReply;
    slow.delay_before_headers = milliseconds(4000);  // the first turn waits on its LLM
    fake.Enqueue(slow);
    fake.EnqueueStream(kReply);
    ServerProcess s({"--llm-provider", "openai", "--llm-base-url", fake.base_url(),
                     "--llm-model", "m", "--max-streams", "1", "--threads", "4"});
    REQUIRE(s.started());
    const User u = Register(s);

    RawStream first(s.port(), u.access_token);
    REQUIRE(first.ReadUntil("event: message.start"));
    const Response refused = s.Call("POST", "/api/agent/message",
                                    Json{{"message", "again"}, {"stream", true}}, u.access_token);
    CHECK(refused.status == 503);
    CHECK(refused.Header("Retry-After") == "1");
    // Re-attaching is a stream too: refused the same way, before anything.
    const std::string& said = first.received();
    const size_t at = said.find("\"run_id\":\"");
    REQUIRE(at != std::string::npos);
    const std::string run_id = said.substr(at + 10, said.find('"', at + 10) - (at + 10));
    const Response attach = s.Call("GET", "/api/agent/runs/" + run_id + "/events", std::nullopt,
                                   u.access_token);
    CHECK(attach.status == 503);
    CHECK(attach.Header("Retry-After") == "1");
    CHECK(attach.body.find("event:") == std::string::npos);
    // Not a stream: served while the one stream slot is taken.
    CHECK(s.Call("GET", "/api/tasks", std::nullopt, u.access_token).status == 200);

    REQUIRE(first.ReadUntil("event: message.done"));
    // The stream told the client not to reuse its connection, so its worker
    // is free once it ends.
    CHECK(first.received().find("Connection: close") != std::string::npos);
    // The slot is released when the server drops the finished response, a
    // moment after the client saw its end: retry as Retry-After says.
    Response next;
    for (int i = 0; i < 20; ++i) {
      next = s.Call("POST", "/api/agent/message", Json{{"message", "again"}, {"stream", true}},
                    u.access_token);
      if (next.status != 503) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
    CHECK(next.status == 200);
    CHECK(next.body.find("event: message.done") != std::string::npos);
  }

  TEST_CASE("one user cannot take every slot: past its share it gets 429, others still stream") {
    constexpr int kShare = 4;  // the default for --max-streams 16: max(4, 16 / 8)
    fake_upstream::FakeUpstream fake("openai", 16);
    for (int i = 0; i < kShare + 2; ++i) fake.Enqueue(HeldReply());
    ServerProcess s({"--llm-provider", "openai", "--llm-base-url", fake.base_url(),
                     "--llm-model", "m", "--max-streams", "16", "--threads", "4"});
    REQUIRE(s.started());
    const User greedy = Register(s);
    const User other = Register(s);

    std::vector<std::unique_ptr<RawStream>> mine;
    for (int i = 0; i < kShare; ++i) {
      mine.push_back(std::make_unique<RawStream>(s.port(), greedy.access_token));
      REQUIRE(mine.back()->ReadUntil("\"content\":\"hello\""));
    }
    const Response over = s.Call("POST", "/api/agent/message",
                                 Json{{"message", "one more"}, {"stream", true}},
                                 greedy.access_token);
    CHECK(over.status == 429);
    CHECK(over.json["error"]["code"] == "too_many_user_streams");
    CHECK(over.json["error"]["message"].get<std::string>().find("4 streams") != std::string::npos);
    CHECK(over.Header("Retry-After") == "1");
    CHECK(fake.request_count() == kShare);  // no turn started for it

    // Another user is served while the first holds its share.
    RawStream theirs(s.port(), other.access_token);
    CHECK(theirs.ReadUntil("\"content\":\"hello\""));
    CHECK(fake.request_count() == kShare + 1);

    // Ordinary requests of the first user are still served.
    CHECK(s.Call("GET", "/api/tasks", std::nullopt, greedy.access_token).status == 200);
  }

  TEST_CASE("a client that stops reading is dropped: its turn ends and its slot goes to others") {
    CheckSlowClientDropped([](RawStream&, const std::atomic<bool>&) {});  // never reads a byte
  }

  TEST_CASE("a client that reads a few bytes a second is dropped as one that stops") {
    CheckSlowClientDropped([](RawStream& stuck, const std::atomic<bool>& stop) {
      // 16 bytes every 250 ms: alive, but 64 B/s against a 12 MB reply.
      while (!stop && stuck.ReadSome(16) > 0) std::this_thread::sleep_for(milliseconds(250));
    });
  }

}

}  // namespace http_test
