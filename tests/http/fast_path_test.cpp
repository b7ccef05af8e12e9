// Black-box: the fast path (reference-server/src/fast_request.hpp) answers
// exactly as cpp-httplib's own request path does, and leaves to the library
// what it declines. Raw requests over loopback sockets.
//
// A request is forced through the library by an `Expect` header that is not
// `100-continue` (the library ignores it, the fast path declines any
// Expect) or by padding its header block past the 4 KiB read-ahead buffer.
// Which path served a request is read from the server's
// assistant_http_fast_path_requests_total counter.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cerrno>
#include <regex>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace http_test;

namespace {

const std::string kForceFallback = "Expect: x-take-the-library-path\r\n";

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

uint64_t FastCount(int port) {
  const Reply r =
      Exchange(port, "GET /metrics HTTP/1.1\r\nHost: t\r\n" + kForceFallback + "\r\n");
  REQUIRE(r.status() == 200);
  static const std::regex kLine("assistant_http_fast_path_requests_total ([0-9]+)");
  std::smatch m;
  REQUIRE(std::regex_search(r.body, m, kLine));
  return std::stoull(m[1].str());
}

// What differs between two answers to the same request: the request id
// (header and error bodies), rate-limit counters, ids and times of rows
// created by the request.
std::string Normalized(std::string s) {
  static const std::regex kVolatile(
      "(X-Request-ID|RateLimit-[A-Za-z]+): [^\r]*|\"request_id\":\"[^\"]*\"|"
      "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|"
      "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z");
  return std::regex_replace(s, kVolatile, "*");
}

// `head` is a request line and headers, each line ending in CRLF, without
// the blank line; `body` follows it.
std::string Request(const std::string& head, const std::string& body = "",
                    const std::string& extra = "") {
  return head + extra + "\r\n" + body;
}

}  // namespace

TEST_SUITE("http.fast_path") {

TEST_CASE("the fast path answers byte for byte as the library does") {
  ServerProcess s({"--cors-origins", "https://app.example"});
  REQUIRE(s.started());
  const User u = Register(s);
  REQUIRE(!u.access_token.empty());
  const std::string auth = "Authorization: Bearer " + u.access_token + "\r\n";
  REQUIRE(s.Call("POST", "/api/tasks", Json{{"title", "first \"quoted\" é"}}, u.access_token).status ==
          201);
  const std::string json_body = "{\"title\":\"from the test\"}";
  const std::string json_len = std::to_string(json_body.size());
  struct Case {
    std::string head;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"GET /api/tasks HTTP/1.1\r\nHost: t\r\n" + auth, ""},
      {"GET /api/tasks?limit=1&status=open HTTP/1.1\r\nHost: t\r\n" + auth, ""},
      {"GET /api/tasks?q=%22quoted%22&limit=5 HTTP/1.1\r\nHost: t\r\n" + auth, ""},
      {"GET /api/tasks HTTP/1.1\r\nHost: t\r\n", ""},
      {"GET /api/tasks HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer nonsense\r\n", ""},
      {"GET /api/no/such/route HTTP/1.1\r\nHost: t\r\n" + auth, ""},
      {"GET /api/t%61sks HTTP/1.1\r\nHost: t\r\n" + auth, ""},
      {"DELETE /api/tasks HTTP/1.1\r\nHost: t\r\n" + auth, ""},
      {"GET /healthz HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\n", ""},
      {"GET /healthz HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example\r\n", ""},
      {"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-ID: fixed-id-%41%42\r\n", ""},
      {"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n", ""},
      {"GET /healthz HTTP/1.1\r\nHost: t\r\nAccept-Encoding: identity\r\n", ""},
      {"POST /api/tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
           json_len + "\r\n" + auth,
       json_body},
      {"POST /api/tasks HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: " +
           json_len + "\r\n" + auth,
       json_body},
      {"POST /api/tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
       "Content-Length: 3\r\n" + auth,
       "{x}"},
      {"POST /api/tasks/clear-completed HTTP/1.1\r\nHost: t\r\n" + auth, ""},
      {"PATCH /api/tasks/00000000-0000-0000-0000-000000000000 HTTP/1.1\r\nHost: t\r\n"
       "Content-Type: application/json\r\nContent-Length: 2\r\n" + auth,
       "{}"},
      {"GET /api/user/me HTTP/1.1\r\nHost: t\r\n" + auth, ""},
  };
  // Header values are URL-decoded, as the library does (0.11).
  const Reply decoded = Exchange(s.port(), "GET /healthz HTTP/1.1\r\nHost: t\r\n"
                                           "X-Request-ID: fixed-id-%41%42\r\n\r\n");
  CHECK(decoded.Header("X-Request-ID") == "fixed-id-AB");
  const std::string padding = "X-Padding: " + std::string(5000, 'p') + "\r\n";
  for (const Case& c : cases) {
    CAPTURE(c.head);
    const uint64_t before = FastCount(s.port());
    const Reply fast = Exchange(s.port(), Request(c.head, c.body));
    const uint64_t after_fast = FastCount(s.port());
    const Reply library = Exchange(s.port(), Request(c.head, c.body, kForceFallback));
    const Reply padded = Exchange(s.port(), Request(c.head, c.body, padding));
    const uint64_t after_library = FastCount(s.port());
    CHECK(after_fast == before + 1);            // served by the fast path
    CHECK(after_library == after_fast);         // these two were not
    REQUIRE(fast.status() != 0);
    CHECK(Normalized(fast.head) == Normalized(library.head));
    CHECK(Normalized(fast.body) == Normalized(library.body));
    CHECK(Normalized(fast.head) == Normalized(padded.head));
    CHECK(Normalized(fast.body) == Normalized(padded.body));
  }
}

TEST_CASE("pipelined requests in one send are answered in order") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string auth = "Authorization: Bearer " + u.access_token + "\r\n";
  std::string batch;
  std::vector<std::string> titles;
  for (int i = 0; i < 30; ++i) {
    const std::string body = "{\"title\":\"pipelined " + std::to_string(i) + "\"}";
    titles.push_back("pipelined " + std::to_string(i));
    batch += "POST /api/tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
             "Content-Length: " + std::to_string(body.size()) + "\r\n" + auth +
             (i % 3 == 0 ? kForceFallback : "") + "\r\n" + body;
    batch += "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
  }
  const uint64_t before = FastCount(s.port());
  const int fd = Connect(s.port());
  SendAll(fd, batch);
  std::string pending;
  for (int i = 0; i < 30; ++i) {
    CAPTURE(i);
    const Reply created = ReadReply(fd, pending);
    REQUIRE(created.status() == 201);
    CHECK(Json::parse(created.body)["task"]["title"] == titles[i]);
    CHECK(ReadReply(fd, pending).status() == 200);
  }
  ::close(fd);
  // 60 requests, 10 forced to the library; some of the rest may have been
  // cut by the 4 KiB buffer and gone to the library too.
  const uint64_t fast = FastCount(s.port()) - before;
  CHECK(fast <= 50);
  CHECK(fast >= 25);
  const Response list = s.Call("GET", "/api/tasks?limit=100", std::nullopt, u.access_token);
  CHECK(list.json["tasks"].size() == 30);
}

TEST_CASE("a request sent byte by byte, or its body in pieces, is answered as a whole one") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string auth = "Authorization: Bearer " + u.access_token + "\r\n";
  const std::string get = Request("GET /api/tasks HTTP/1.1\r\nHost: t\r\n" + auth);
  const Reply whole = Exchange(s.port(), get);
  REQUIRE(whole.status() == 200);
  {
    const int fd = Connect(s.port());
    for (char c : get) SendAll(fd, std::string(1, c));
    std::string pending;
    const Reply slow = ReadReply(fd, pending);
    CHECK(Normalized(slow.head) == Normalized(whole.head));
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

TEST_CASE("connection handling: keep-alive, Connection: close, HTTP/1.0, the last request") {
  ServerProcess s;
  REQUIRE(s.started());
  const std::string health = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
  {
    const int fd = Connect(s.port());
    SendAll(fd, health + health);
    std::string pending;
    const Reply a = ReadReply(fd, pending);
    CHECK(a.Header("Keep-Alive") == "timeout=5, max=10000");
    CHECK(a.Header("Connection").empty());
    CHECK(ReadReply(fd, pending).status() == 200);
    SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    const Reply closing = ReadReply(fd, pending);
    CHECK(closing.status() == 200);
    CHECK(closing.Header("Connection") == "close");
    CHECK(closing.Header("Keep-Alive").empty());
    CHECK(pending.empty());
    CHECK(PeerClosed(fd));
    ::close(fd);
  }
  {
    const uint64_t before = FastCount(s.port());
    const int fd = Connect(s.port());
    SendAll(fd, "GET /healthz HTTP/1.0\r\nHost: t\r\n\r\n");
    std::string pending;
    CHECK(ReadReply(fd, pending).status() == 200);
    CHECK(PeerClosed(fd));
    ::close(fd);
    CHECK(FastCount(s.port()) == before);  // HTTP/1.0 is the library's
  }
  {
    // The server's keep_alive_max_count (10000): the last request's answer
    // says close, and the connection ends.
    const int fd = Connect(s.port());
    std::string pending;
    std::string batch;
    for (int i = 0; i < 100; ++i) batch += health;
    for (int round = 0; round < 100; ++round) {
      SendAll(fd, batch);
      for (int i = 0; i < 100; ++i) {
        const Reply r = ReadReply(fd, pending);
        REQUIRE(r.status() == 200);
        if (round == 99 && i == 99) {
          CHECK(r.Header("Connection") == "close");
        } else if (r.Header("Keep-Alive").empty()) {
          FAIL("response " << round * 100 + i << " has no Keep-Alive");
        }
      }
    }
    SendAll(fd, health);
    CHECK(PeerClosed(fd));
    ::close(fd);
  }
}

TEST_CASE("ambiguous or oversized requests are the library's, with its answers") {
  ServerProcess s({"--body-limit", "2048"});
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string auth = "Authorization: Bearer " + u.access_token + "\r\n";
  const std::string post = "POST /api/tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n" + auth;
  const std::string body = "{\"title\":\"x\"}";
  const std::string len = "Content-Length: " + std::to_string(body.size()) + "\r\n";
  const uint64_t before = FastCount(s.port());

  // Duplicate Content-Length: the library reads the first.
  const Reply dup = Exchange(s.port(), post + len + len + "\r\n" + body);
  CHECK(dup.status() == 201);
  // Content-Length with Transfer-Encoding: chunked wins in the library.
  const Reply both = Exchange(s.port(), post + len + "Transfer-Encoding: chunked\r\n\r\n" +
                                            "d\r\n" + body + "\r\n0\r\n\r\n");
  CHECK(both.status() == 201);
  // A Content-Length that is not plain digits (the library's strtoull
  // takes the sign).
  const Reply odd = Exchange(s.port(), post + "Content-Length: +13\r\n\r\n" + body);
  CHECK(odd.status() == 201);
  // Over the body limit: 413 with the error JSON.
  const std::string big = "{\"title\":\"" + std::string(2100, 'x') + "\"}";
  const Reply over = Exchange(s.port(), post + "Content-Length: " + std::to_string(big.size()) +
                                            "\r\n\r\n" + big);
  CHECK(over.status() == 413);
  CHECK(Json::parse(over.body)["error"]["code"] == "payload_too_large");
  // A header folded onto the next line (obs-fold).
  const Reply folded = Exchange(s.port(), "GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n");
  CHECK(folded.status() == 200);
  // A bare LF ends a header line: the library skips that line.
  const Reply bare_lf = Exchange(s.port(), "GET /api/tasks HTTP/1.1\r\nHost: t\r\n" + auth.substr(0, auth.size() - 2) + "\n\r\n");
  CHECK(bare_lf.status() == 401);
  // GET with an empty body length is an ordinary GET.
  const Reply get_body = Exchange(s.port(), "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  CHECK(get_body.status() == 200);
  // Oversized request line and header line.
  const Reply long_uri = Exchange(s.port(), "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(long_uri.status() == 414);
  const Reply long_header = Exchange(s.port(), "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " +
                                                   std::string(9000, 'h') + "\r\n\r\n");
  CHECK(long_header.status() == 400);
  // Garbage request line.
  CHECK(Exchange(s.port(), "GET\r\n\r\n").status() == 400);
  CHECK(FastCount(s.port()) == before);

  // At the limit, whole in the buffer: the fast path takes it.
  const std::string at_limit = "{\"title\":\"" + std::string(2048 - 12, 'y') + "\"}";
  REQUIRE(at_limit.size() == 2048);
  const Reply fits = Exchange(s.port(), post + "Content-Length: 2048\r\n\r\n" + at_limit);
  CHECK(fits.status() != 0);
  CHECK(fits.status() != 413);  // read and parsed (the title may be too long)
  CHECK(FastCount(s.port()) == before + 1);
}

TEST_CASE("a GET carrying a body is refused and its body never runs as a request") {
  // cpp-httplib never reads a GET's body; left in the connection, it would
  // be parsed as a second request that a proxy in front never sent.
  ServerProcess s;
  REQUIRE(s.started());
  const std::string hidden = "DELETE /api/agent/memory/x HTTP/1.1\r\nHost: t\r\n\r\n";
  for (const std::string& framing :
       {"Content-Length: " + std::to_string(hidden.size()) + "\r\n",
        std::string("Transfer-Encoding: chunked\r\n")}) {
    for (const std::string method : {"GET", "OPTIONS", "HEAD"}) {
      const int fd = Connect(s.port());
      const std::string body = framing[0] == 'C' ? hidden : "0\r\n\r\n" + hidden;
      SendAll(fd, method + " /healthz HTTP/1.1\r\nHost: t\r\n" + framing + "\r\n" + body);
      std::string pending;
      const Reply r = ReadReply(fd, pending);
      CHECK_MESSAGE(r.status() == 400, method << " " << framing);
      CHECK(r.Header("Connection") == "close");
      if (method != "HEAD") {
        CHECK(Json::parse(r.body)["error"]["code"] == "malformed_request");
      }
      // Nothing more: no answer to the hidden request, and the end.
      if (method == "HEAD") pending.clear();  // a HEAD answer has no body
      CHECK(pending.empty());
      CHECK(PeerClosed(fd));
      ::close(fd);
    }
  }
  // An empty body length stays an ordinary GET, and the connection lives on.
  const int fd = Connect(s.port());
  SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
              "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string pending;
  CHECK(ReadReply(fd, pending).status() == 200);
  CHECK(ReadReply(fd, pending).status() == 200);
  ::close(fd);
}

TEST_CASE("a streamed reply is the library's; the request before it on the connection is ours") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string auth = "Authorization: Bearer " + u.access_token + "\r\n";
  const std::string body = "{\"message\":\"list tasks\",\"stream\":true}";
  const uint64_t before = FastCount(s.port());
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
  CHECK(FastCount(s.port()) == before + 1);  // the healthz only
}

}  // TEST_SUITE
