// Black-box: how the server's transport (reference-server/src/http/
// transport.hpp) serves a connection a well-behaved client uses: a request
// in pieces, keep-alive and its end, HTTP/1.0, Expect: 100-continue, and a
// streamed reply after a plain one. Raw requests over loopback sockets; the
// hostile cases are transport_test.cpp's.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cerrno>
#include <string>

#include "harness.hpp"

using namespace http_test;

namespace {

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    off += static_cast<size_t>(n);
  }
}

struct Reply {
  std::string head;  // status line and headers, without the blank line
  std::string body;
  int status() const { return head.size() > 12 ? std::stoi(head.substr(9, 3)) : 0; }
  std::string Header(const std::string& name) const {
    const std::string key = "\r\n" + name + ": ";
    const size_t at = head.find(key);
    if (at == std::string::npos) return "";
    const size_t end = head.find("\r\n", at + key.size());
    return head.substr(at + key.size(), end - at - key.size());
  }
};

// Reads one response (Content-Length framed; all of ours are) from `fd`,
// `pending` holding bytes read past the previous one. Status 0 when the
// connection ended first.
Reply ReadReply(int fd, std::string& pending) {
  Reply r;
  char buf[65536];
  size_t end;
  while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return r;
    pending.append(buf, static_cast<size_t>(n));
  }
  r.head = pending.substr(0, end);
  pending.erase(0, end + 4);
  const std::string length = r.Header("Content-Length");
  const size_t len = length.empty() ? 0 : std::stoul(length);
  while (pending.size() < len) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
  }
  r.body = pending.substr(0, len);
  pending.erase(0, len);
  return r;
}

// True when the peer closed (after what was already read).
bool PeerClosed(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, 0);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// One request on its own connection.
Reply Exchange(int port, const std::string& request) {
  const int fd = Connect(port);
  SendAll(fd, request);
  std::string pending;
  Reply r = ReadReply(fd, pending);
  ::close(fd);
  return r;
}

}  // namespace

TEST_SUITE("http.connection") {

TEST_CASE("a request sent byte by byte, or its body in pieces, is answered as a whole one") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string auth = "Authorization: Bearer " + u.access_token + "\r\n";
  const std::string get = "GET /api/tasks HTTP/1.1\r\nHost: t\r\n" + auth + "\r\n";
  const Reply whole = Exchange(s.port(), get);
  REQUIRE(whole.status() == 200);
  {
    const int fd = Connect(s.port());
    for (char c : get) SendAll(fd, std::string(1, c));
    std::string pending;
    const Reply slow = ReadReply(fd, pending);
    CHECK(slow.status() == 200);
    CHECK(slow.body == whole.body);
    ::close(fd);
  }
  {
    const std::string body = "{\"title\":\"" + std::string(200, 'b') + "\"}";
    const std::string head = "POST /api/tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                             "Content-Length: " + std::to_string(body.size()) + "\r\n" + auth + "\r\n";
    const int fd = Connect(s.port());
    SendAll(fd, head + body.substr(0, 10));
    SendAll(fd, body.substr(10, 100));
    SendAll(fd, body.substr(110));
    // The same connection goes on with a request after it.
    SendAll(fd, get);
    std::string pending;
    const Reply created = ReadReply(fd, pending);
    REQUIRE(created.status() == 201);
    CHECK(Json::parse(created.body)["task"]["title"] == std::string(200, 'b'));
    CHECK(ReadReply(fd, pending).status() == 200);
    ::close(fd);
  }
}

TEST_CASE("keep-alive until Connection: close, which is answered and ends the connection") {
  ServerProcess s;
  REQUIRE(s.started());
  const std::string health = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
  const int fd = Connect(s.port());
  std::string pending;
  for (int i = 0; i < 50; ++i) {
    SendAll(fd, health);
    const Reply r = ReadReply(fd, pending);
    REQUIRE(r.status() == 200);
    CHECK(r.Header("Connection").empty());
  }
  SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, CLOSE\r\n\r\n");
  const Reply closing = ReadReply(fd, pending);
  CHECK(closing.status() == 200);
  CHECK(closing.Header("Connection") == "close");
  CHECK(pending.empty());
  CHECK(PeerClosed(fd));
  ::close(fd);
}

TEST_CASE("an HTTP/1.0 request is answered and its connection closed") {
  ServerProcess s;
  REQUIRE(s.started());
  const int fd = Connect(s.port());
  SendAll(fd, "GET /healthz HTTP/1.0\r\nHost: t\r\n\r\n");
  std::string pending;
  const Reply r = ReadReply(fd, pending);
  CHECK(r.status() == 200);
  CHECK(r.body == R"({"status":"ok"})");
  CHECK(PeerClosed(fd));
  ::close(fd);
}

TEST_CASE("Expect: 100-continue gets its interim answer before the body is sent") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string body = R"({"title":"after continue"})";
  const int fd = Connect(s.port());
  SendAll(fd, "POST /api/tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              "Authorization: Bearer " + u.access_token + "\r\nExpect: 100-continue\r\n"
              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  std::string pending;
  const Reply interim = ReadReply(fd, pending);  // sent before any body byte
  CHECK(interim.status() == 100);
  SendAll(fd, body);
  const Reply created = ReadReply(fd, pending);
  REQUIRE(created.status() == 201);
  CHECK(Json::parse(created.body)["task"]["title"] == "after continue");
  ::close(fd);
}

TEST_CASE("a streamed reply after a plain one on the same connection") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string auth = "Authorization: Bearer " + u.access_token + "\r\n";
  const std::string body = "{\"message\":\"list tasks\",\"stream\":true}";
  const int fd = Connect(s.port());
  SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
              "POST /api/agent/message HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              "Content-Length: " + std::to_string(body.size()) + "\r\n" + auth + "\r\n" + body);
  std::string pending;
  CHECK(ReadReply(fd, pending).status() == 200);
  // The stream: chunked, read to the end (the server closes after it).
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) pending.append(buf, static_cast<size_t>(n));
  ::close(fd);
  CHECK(pending.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(pending.find("Content-Type: text/event-stream") != std::string::npos);
  CHECK(pending.find("Transfer-Encoding: chunked") != std::string::npos);
  CHECK(pending.find("event: message.done") != std::string::npos);
  // The last chunk ends the stream properly.
  CHECK(pending.size() >= 5);
  CHECK(pending.compare(pending.size() - 5, 5, "0\r\n\r\n") == 0);
}

}  // TEST_SUITE
