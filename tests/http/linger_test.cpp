// Black-box: an answer sent before the request's body was read (a 413 for
// a length over the limit, a 401 on an upload the gateway streams) reaches
// a client that is still sending that body, and the connection then ends
// in order, not with a reset (RFC 9112 section 9.6; docs/server.md
// "Connections and limits"). The client behaves as browsers and curl do:
// it goes on sending in paced pieces and reads what comes back meanwhile.
// Every read and send has a deadline, so a regression fails, never hangs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "assistant/jwt.hpp"
#include "counting_upstream.hpp"
#include "gateway_process.hpp"
#include "harness.hpp"

using namespace http_test;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// The transport's linger time (kLingerTime in transport.cpp).
constexpr milliseconds kLinger(3000);

// One connection that uploads: every send and read is non-blocking and
// polled, and the first failure is kept (errno), as is an orderly end.
class Uploader {
 public:
  // From `source` (an address in 127.0.0.0/8) when given, so that a test
  // has a client address of its own for the per-address cap.
  explicit Uploader(int port, const std::string& source = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    if (!source.empty()) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      REQUIRE(::inet_pton(AF_INET, source.c_str(), &local.sin_addr) == 1);
      REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Uploader() { ::close(fd_); }
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  // Sends all of `bytes` within `wait`, reading meanwhile; false when a
  // send failed (error()), the connection ended, or the time ran out.
  bool Send(const std::string& bytes, milliseconds wait = milliseconds(3000)) {
    const auto deadline = Clock::now() + wait;
    size_t off = 0;
    while (off < bytes.size() && error_ == 0 && Clock::now() < deadline) {
      pollfd p{fd_, static_cast<short>(POLLOUT | (ended_ ? 0 : POLLIN)), 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      if (p.revents & POLLIN) ReadAvailable();
      if (!(p.revents & (POLLOUT | POLLERR | POLLHUP))) continue;
      const ssize_t n =
          ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        off += static_cast<size_t>(n);
        sent_ += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        error_ = errno;
      }
    }
    return off == bytes.size();
  }
  // Reads until the server ends the connection (in order or not) or
  // `wait` is over.
  void ReadToEnd(milliseconds wait = milliseconds(3000)) {
    const auto deadline = Clock::now() + wait;
    while (!ended_ && error_ == 0 && Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) ReadAvailable();
    }
  }
  // Reads until a whole answer is in, within `wait`.
  bool AwaitAnswer(milliseconds wait = milliseconds(3000)) {
    const auto deadline = Clock::now() + wait;
    while (!Answered() && !ended_ && error_ == 0 && Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) ReadAvailable();
    }
    return Answered();
  }

  // The answer's head (status line and fields) and body, once whole.
  bool Answered() const {
    const size_t end = received_.find("\r\n\r\n");
    return end != std::string::npos && received_.size() >= end + 4 + ContentLength();
  }
  int status() const {
    return received_.compare(0, 9, "HTTP/1.1 ") == 0 ? std::atoi(received_.c_str() + 9) : 0;
  }
  std::string Header(const std::string& name) const {
    const std::string key = "\r\n" + name + ": ";
    const size_t at = received_.find(key);
    const size_t end = received_.find("\r\n\r\n");
    if (at == std::string::npos || at > end) return "";
    return received_.substr(at + key.size(), received_.find("\r\n", at + 2) - at - key.size());
  }
  Json body() const {
    const size_t end = received_.find("\r\n\r\n");
    if (!Answered()) return Json();
    return Json::parse(received_.substr(end + 4, ContentLength()), nullptr, false);
  }
  const std::string& received() const { return received_; }
  bool ended() const { return ended_; }  // the server ended in order (FIN)
  int error() const { return error_; }   // the first failed send or read (ECONNRESET, EPIPE)
  size_t sent() const { return sent_; }

 private:
  size_t ContentLength() const {
    const std::string v = Header("Content-Length");
    return v.empty() ? 0 : std::stoul(v);
  }
  void ReadAvailable() {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        received_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) ended_ = true;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) error_ = errno;
      return;
    }
  }

  int fd_ = -1;
  std::string received_;
  bool ended_ = false;
  int error_ = 0;
  size_t sent_ = 0;
};

std::string Errno(int e) { return e == 0 ? "none" : std::strerror(e); }

// Sends `head`, then `total` bytes of body in 256 KiB pieces 25 ms apart
// (8 MiB take about a second), reading all along; then reads to the end.
// What a client uploading at a steady pace sees of an early answer.
void UploadPaced(Uploader& c, const std::string& head, size_t total) {
  REQUIRE(c.Send(head));
  const std::string piece(256 << 10, 'b');
  for (size_t done = 0; done < total && c.error() == 0; done += piece.size()) {
    if (!c.Send(piece)) break;
    std::this_thread::sleep_for(milliseconds(25));
  }
  c.ReadToEnd();
}

// A request on its own connection from `source`: its status, 0 when the
// connection ended without one within 2 s.
int StatusFrom(int port, const std::string& source, const std::string& request) {
  Uploader c(port, source);
  if (!c.Send(request)) return 0;
  c.AwaitAnswer(milliseconds(2000));
  return c.status();
}

const std::string kHealthz = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

std::string PostHead(const std::string& target, size_t length) {
  return "POST " + target + " HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n" +
         "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

}  // namespace

TEST_SUITE("http.linger") {

TEST_CASE("a body over the limit, still being sent after the 413: the whole answer, then an orderly end") {
  ServerProcess s({"--body-limit", "1048576"});
  REQUIRE(s.started());
  const size_t kBody = 8 << 20;
  Uploader c(s.port());
  UploadPaced(c, PostHead("/api/tasks", kBody), kBody);
  CAPTURE(c.received().substr(0, 300));
  CAPTURE(c.sent());
  CHECK_MESSAGE(c.error() == 0, "the connection failed: ", Errno(c.error()));
  CHECK(c.sent() == PostHead("/api/tasks", kBody).size() + kBody);
  REQUIRE(c.Answered());
  CHECK(c.status() == 413);
  CHECK(c.Header("Connection") == "close");
  CHECK(c.body()["error"]["code"] == "payload_too_large");
  CHECK(c.ended());
}

TEST_CASE("a client that goes on sending after the 413 is cut after the linger time; its slot is held until then") {
  // One connection per client address: while the refused one lingers it
  // holds the address's slot, so nobody can pile up lingering connections.
  ServerProcess s({"--body-limit", "1048576", "--max-connections-per-ip", "1"});
  REQUIRE(s.started());
  const std::string source = "127.31.0.1";
  Uploader c(s.port(), source);
  REQUIRE(c.Send(PostHead("/api/tasks", size_t{1} << 30)));
  REQUIRE(c.AwaitAnswer());
  CHECK(c.status() == 413);
  const auto answered = Clock::now();
  // 16 KiB every 20 ms, for ever: cut by the server, or given up at twice
  // the linger time.
  const std::string piece(16 << 10, 'f');
  bool probed = false;
  while (c.error() == 0 && Clock::now() - answered < 2 * kLinger) {
    if (!c.Send(piece, milliseconds(500))) break;
    if (!probed && Clock::now() - answered > milliseconds(1000)) {
      probed = true;
      CHECK_MESSAGE(StatusFrom(s.port(), source, kHealthz) == 503,
                    "the lingering connection holds its client's slot");
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  const auto lasted = std::chrono::duration_cast<milliseconds>(Clock::now() - answered);
  CAPTURE(lasted.count());
  CAPTURE(Errno(c.error()));
  CHECK(c.ended());  // the server's side ended right after its answer
  CHECK(c.error() != 0);  // then the discarding stopped: cut
  CHECK(lasted >= kLinger - milliseconds(500));
  CHECK(lasted <= kLinger + milliseconds(2000));
  // The slot is free again.
  int status = 0;
  for (int i = 0; i < 20 && status != 200; ++i) {
    status = StatusFrom(s.port(), source, kHealthz);
    if (status != 200) std::this_thread::sleep_for(milliseconds(50));
  }
  CHECK(status == 200);
}

TEST_CASE("a client that floods after the 413 is cut once 32 MiB were discarded, before the linger time") {
  ServerProcess s({"--body-limit", "1048576"});
  REQUIRE(s.started());
  Uploader c(s.port());
  REQUIRE(c.Send(PostHead("/api/tasks", size_t{1} << 30)));
  REQUIRE(c.AwaitAnswer());
  CHECK(c.status() == 413);
  const auto answered = Clock::now();
  const size_t before = c.sent();
  const std::string piece(1 << 20, 'f');
  while (c.error() == 0 && Clock::now() - answered < 2 * kLinger) c.Send(piece, milliseconds(500));
  const size_t accepted = c.sent() - before;
  const auto lasted = std::chrono::duration_cast<milliseconds>(Clock::now() - answered);
  CAPTURE(accepted);
  CAPTURE(lasted.count());
  CHECK(c.error() != 0);
  // Discarded, not refused at once (socket buffers alone take a few MiB),
  // and bounded: 32 MiB plus what the buffers hold.
  CHECK(accepted >= size_t{24} << 20);
  CHECK(accepted <= size_t{48} << 20);
  CHECK(lasted < kLinger - milliseconds(500));
}

TEST_CASE("gateway: an upload it streams, refused 401 without a credential, gets the whole 401 while it is still sent") {
  CountingUpstream app;
  REQUIRE(app.port() > 0);
  const std::string origin = "http://127.0.0.1:" + std::to_string(app.port());
  TempDir dir;
  const std::string keys = dir.path() + "/identity";
  REQUIRE(assistant::KeyRing::LoadOrCreateEd25519(keys).ok());
  const std::string file = dir.path() + "/apps.json";
  std::ofstream(file) << R"({"apps":[{"id":"up","name":"Up","upstream":")" << origin
                      << R"(","scopes":[],"allowed_origins":[]}]})";
  GatewayProcess g(dir.path(), {"--backend", origin, "--rate-limit", "0", "--body-limit",
                                std::to_string(64 << 20), "--apps", file, "--identity-keys", keys});
  REQUIRE(g.port() > 0);
  const size_t kBody = 8 << 20;  // over 64 KiB: streamed to its handler
  const std::string head = PostHead("/api/apps/up/proxy/upload", kBody);
  Uploader c(g.port());
  UploadPaced(c, head, kBody);
  CAPTURE(c.received().substr(0, 300));
  CAPTURE(c.sent());
  CHECK_MESSAGE(c.error() == 0, "the connection failed: ", Errno(c.error()));
  CHECK(c.sent() == head.size() + kBody);
  REQUIRE(c.Answered());
  CHECK(c.status() == 401);
  CHECK(c.Header("Connection") == "close");
  CHECK(c.body()["error"]["code"] == "unauthenticated");
  CHECK(c.ended());
  CHECK(app.bodies_ended + app.bodies_failed == 0);  // nothing was forwarded
  CHECK(g.Call("GET", "/healthz").status == 200);
}

}  // TEST_SUITE
