// In-process tests of ConnectionStream, the per-connection stream the server
// serves requests through: what it holds back, what it sends at once, what
// it keeps between requests. Each test drives it over a real loopback TCP
// connection and looks at what the peer can read.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "connection_stream.hpp"

using assistant::server::ConnectionStream;

namespace {

// A connected loopback TCP pair: `server` is what ConnectionStream wraps,
// `client` plays the HTTP client.
struct SocketPair {
  int server = -1;
  int client = -1;
  SocketPair() {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener, 1) == 0);
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    client = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    server = ::accept(listener, nullptr, nullptr);
    REQUIRE(server >= 0);
    ::close(listener);
    const int one = 1;
    ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~SocketPair() {
    ::close(server);
    ::close(client);
  }
  // What the client can read within `wait_ms` (everything that arrived).
  std::string ClientReads(int wait_ms = 200) const {
    std::string out;
    pollfd p{client, POLLIN, 0};
    while (::poll(&p, 1, out.empty() ? wait_ms : 20) > 0) {
      char buf[8192];
      const ssize_t n = ::recv(client, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  void ClientSends(const std::string& data) const {
    REQUIRE(::send(client, data.data(), data.size(), 0) == static_cast<ssize_t>(data.size()));
  }
};

const std::string kHead = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n\r\n";

}  // namespace

TEST_SUITE("server.connection_stream") {

TEST_CASE("a response's header block waits for its body; both leave together") {
  SocketPair pair;
  ConnectionStream stream(pair.server, 5, 5);
  CHECK(stream.write(kHead.data(), kHead.size()) == static_cast<ssize_t>(kHead.size()));
  CHECK(pair.ClientReads(50).empty());  // held back
  CHECK(stream.write("body", 4) == 4);
  CHECK(pair.ClientReads() == kHead + "body");
  CHECK(stream.FinishResponse());
  CHECK(pair.ClientReads(50).empty());  // nothing was left
}

TEST_CASE("what is still held when the response ends is sent by FinishResponse") {
  SocketPair pair;
  ConnectionStream stream(pair.server, 5, 5);
  // A HEAD response: the header block alone.
  CHECK(stream.write(kHead.data(), kHead.size()) == static_cast<ssize_t>(kHead.size()));
  CHECK(pair.ClientReads(50).empty());
  CHECK(stream.FinishResponse());
  CHECK(pair.ClientReads() == kHead);
  // The next response is held again: FinishResponse started a new one.
  CHECK(stream.write(kHead.data(), kHead.size()) > 0);
  CHECK(pair.ClientReads(50).empty());
  CHECK(stream.FinishResponse());
  CHECK(pair.ClientReads() == kHead);
}

TEST_CASE("a response without Content-Length (a stream) is sent write by write") {
  SocketPair pair;
  ConnectionStream stream(pair.server, 5, 5);
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
  CHECK(stream.write(head.data(), head.size()) > 0);
  CHECK(pair.ClientReads() == head);
  const std::string frame = "6\r\ndata:1\r\n";
  CHECK(stream.write(frame.data(), frame.size()) > 0);
  CHECK(pair.ClientReads() == frame);
  CHECK(stream.write(frame.data(), frame.size()) > 0);
  CHECK(pair.ClientReads() == frame);
  CHECK(stream.FinishResponse());
  // The next response on the connection is coalesced again.
  CHECK(stream.write(kHead.data(), kHead.size()) > 0);
  CHECK(pair.ClientReads(50).empty());
  CHECK(stream.FinishResponse());
}

TEST_CASE("is_writable sends what is held and ends holding for the response") {
  SocketPair pair;
  ConnectionStream stream(pair.server, 5, 5);
  CHECK(stream.write(kHead.data(), kHead.size()) > 0);
  CHECK(stream.is_writable());
  CHECK(pair.ClientReads() == kHead);
  CHECK(stream.write("bo", 2) == 2);
  CHECK(pair.ClientReads() == "bo");
  CHECK(stream.FinishResponse());
}

TEST_CASE("100 Continue goes out at once and the response after it is still coalesced") {
  SocketPair pair;
  ConnectionStream stream(pair.server, 5, 5);
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  CHECK(stream.write(interim.data(), interim.size()) > 0);
  CHECK(pair.ClientReads() == interim);
  pair.ClientSends("abcd");
  char body[4];
  CHECK(stream.read(body, 4) == 4);
  CHECK(std::string(body, 4) == "abcd");
  CHECK(stream.write(kHead.data(), kHead.size()) > 0);
  CHECK(pair.ClientReads(50).empty());
  CHECK(stream.write("body", 4) == 4);
  CHECK(pair.ClientReads() == kHead + "body");
  CHECK(stream.FinishResponse());
}

TEST_CASE("a held write is sent before the stream waits to read") {
  SocketPair pair;
  ConnectionStream stream(pair.server, 5, 5);
  CHECK(stream.write("ping", 4) == 4);  // no Content-Length: sent at once anyway
  CHECK(pair.ClientReads() == "ping");
  CHECK(stream.FinishResponse());
  CHECK(stream.write(kHead.data(), kHead.size()) > 0);  // held
  pair.ClientSends("x");
  char c = 0;
  CHECK(stream.read(&c, 1) == 1);  // sends the header block first
  CHECK(c == 'x');
  CHECK(pair.ClientReads() == kHead);
}

TEST_CASE("bytes read ahead are kept for the next request (pipelining)") {
  SocketPair pair;
  ConnectionStream stream(pair.server, 5, 5);
  std::atomic<int> listening{3};
  pair.ClientSends("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  CHECK(stream.WaitForRequest(1000, listening));
  std::string first;
  char c;
  while (first.size() < 19 && stream.read(&c, 1) == 1) first += c;
  CHECK(first == "GET /a HTTP/1.1\r\n\r\n");
  CHECK(stream.FinishResponse());
  // The second request is already here: no wait, and nothing lost.
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(stream.WaitForRequest(1000, listening));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));
  char rest[19];
  CHECK(stream.read(rest, sizeof rest) == 19);
  CHECK(std::string(rest, 19) == "GET /b HTTP/1.1\r\n\r\n");
}

TEST_CASE("WaitForRequest: false after the idle timeout, when the server stops, or on EOF") {
  SocketPair pair;
  ConnectionStream stream(pair.server, 5, 5);
  std::atomic<int> listening{3};
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(stream.WaitForRequest(120, listening));
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(100));
  listening = INVALID_SOCKET;
  pair.ClientSends("GET / HTTP/1.1\r\n\r\n");
  CHECK_FALSE(stream.WaitForRequest(1000, listening));  // stopping: no new request
  listening = 3;
  CHECK(stream.WaitForRequest(1000, listening));
  char buf[64];
  CHECK(stream.read(buf, sizeof buf) > 0);
  ::shutdown(pair.client, SHUT_WR);
  const auto t1 = std::chrono::steady_clock::now();
  CHECK_FALSE(stream.WaitForRequest(5000, listening));  // the peer is done
  CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(2));  // at once
}

TEST_CASE("addresses are the peer's and ours, numeric") {
  SocketPair pair;
  ConnectionStream stream(pair.server, 5, 5);
  std::string ip;
  int port = 0;
  stream.get_remote_ip_and_port(ip, port);
  CHECK(ip == "127.0.0.1");
  sockaddr_in client_addr{};
  socklen_t len = sizeof client_addr;
  ::getsockname(pair.client, reinterpret_cast<sockaddr*>(&client_addr), &len);
  CHECK(port == ntohs(client_addr.sin_port));
  stream.get_local_ip_and_port(ip, port);
  CHECK(ip == "127.0.0.1");
  CHECK(port > 0);
}

TEST_CASE("a body larger than the coalescing size is sent whole, with the header block") {
  SocketPair pair;
  ConnectionStream stream(pair.server, 5, 5);
  const std::string body(ConnectionStream::kCoalesceBytes * 3 + 17, 'z');
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  CHECK(stream.write(head.data(), head.size()) > 0);
  CHECK(stream.write(body.data(), body.size()) == static_cast<ssize_t>(body.size()));
  CHECK(stream.FinishResponse());
  CHECK(pair.ClientReads() == head + body);
}

}  // TEST_SUITE
