// The transport's streamed request bodies (docs/server.md "Streamed request
// bodies") over raw loopback sockets, through the server's app proxy (a
// chunked upload there streams) to an upstream in this process that reads
// each body as it arrives: the chunked framing is Beast's, a trailer field
// or a bad chunk is a 400 and cuts the upstream's body short, and a client
// that stalls past the body timeout frees the upstream too.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "counting_upstream.hpp"
#include "harness.hpp"
#include "loopback_socket.hpp"

using namespace http_test;

TEST_SUITE("http.transport") {

TEST_CASE("a streamed body: chunks decoded by Beast; a trailer or bad chunk is 400 and frees the upstream") {
  CountingUpstream upstream;
  REQUIRE(upstream.port() > 0);
  TempDir dir;
  ServerProcess s({"--apps", WriteOneAppRegistry(dir.path(), "count",
                                                 "http://127.0.0.1:" +
                                                     std::to_string(upstream.port()))});
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string head = "POST /api/apps/count/proxy/up HTTP/1.1\r\nHost: t\r\n"
                           "Authorization: Bearer " + u.access_token +
                           "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

  const std::string good = ExchangeUntilClose(s.port(), head + "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
  CHECK(StatusOf(good) == 200);
  CHECK(good.find(R"("bytes":11)") != std::string::npos);
  CHECK(good.find(R"("fnv":")" + std::to_string(Fnv1a("hello world")) + "\"") != std::string::npos);

  const int failed = upstream.bodies_failed;
  // A trailer could add a field no check saw (Content-Length, Authorization).
  CHECK(StatusOf(ExchangeUntilClose(s.port(), head + "5\r\nhello\r\n0\r\nX-Late: 1\r\n\r\n")) == 400);
  CHECK(StatusOf(ExchangeUntilClose(s.port(), head + "5\r\nhello\r\nzz\r\nhello\r\n")) == 400);
  // The 400 can reach the client before the upstream saw its body cut.
  for (int i = 0; i < 300 && (upstream.reading > 0 || upstream.bodies_failed < failed + 2); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(upstream.reading == 0);
  CHECK(upstream.bodies_failed == failed + 2);
  CHECK(upstream.bodies_ended == 1);
}

}  // TEST_SUITE
