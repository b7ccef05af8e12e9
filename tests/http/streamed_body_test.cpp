// The transport's streamed request bodies (docs/server.md "Streamed request
// bodies") over raw loopback sockets, through the server's app proxy (a
// chunked upload there streams) to an upstream in this process that reads
// each body as it arrives: the chunked framing is Beast's, a trailer field
// or a bad chunk is a 400 and cuts the upstream's body short, and a client
// that stalls past the body timeout frees the upstream too.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "counting_upstream.hpp"
#include "harness.hpp"

using namespace http_test;

namespace {

// Sends `request` on a new connection and reads until the server closes or
// `wait` passes.
std::string Exchange(int port, const std::string& request,
                     std::chrono::milliseconds wait = std::chrono::milliseconds(5000)) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

int StatusOf(const std::string& answer) {
  return answer.size() > 12 && answer.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(answer.substr(9, 3))
                                                                 : 0;
}

}  // namespace

TEST_SUITE("http.transport") {

TEST_CASE("a streamed body: chunks decoded by Beast; a trailer or bad chunk is 400 and frees the upstream") {
  CountingUpstream upstream;
  REQUIRE(upstream.port() > 0);
  TempDir dir;
  const std::string apps = dir.path() + "/apps.json";
  std::ofstream(apps) << R"({"apps":[{"id":"count","name":"Count","upstream":"http://127.0.0.1:)"
                      << upstream.port() << R"(","scopes":[],"allowed_origins":[]}]})";
  ServerProcess s({"--apps", apps});
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string head = "POST /api/apps/count/proxy/up HTTP/1.1\r\nHost: t\r\n"
                           "Authorization: Bearer " + u.access_token +
                           "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

  const std::string good = Exchange(s.port(), head + "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
  CHECK(StatusOf(good) == 200);
  CHECK(good.find(R"("bytes":11)") != std::string::npos);
  CHECK(good.find(R"("fnv":")" + std::to_string(Fnv1a("hello world")) + "\"") != std::string::npos);

  const int failed = upstream.bodies_failed;
  // A trailer could add a field no check saw (Content-Length, Authorization).
  CHECK(StatusOf(Exchange(s.port(), head + "5\r\nhello\r\n0\r\nX-Late: 1\r\n\r\n")) == 400);
  CHECK(StatusOf(Exchange(s.port(), head + "5\r\nhello\r\nzz\r\nhello\r\n")) == 400);
  // The 400 can reach the client before the upstream saw its body cut.
  for (int i = 0; i < 300 && (upstream.reading > 0 || upstream.bodies_failed < failed + 2); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(upstream.reading == 0);
  CHECK(upstream.bodies_failed == failed + 2);
  CHECK(upstream.bodies_ended == 1);
}

}  // TEST_SUITE
