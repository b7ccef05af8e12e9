// The transport's answers, in process (reference-server/src/http/
// transport.cpp, Session::Answer): the worker that ran a handler sends the
// answer itself when the socket takes it whole, hands the rest to the event
// loop, and starts reading the next request. Whatever the path, a client
// must read exactly the bytes Beast's own serializer makes of each answer,
// in request order, with keep-alive and pipelining, however it paces itself.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/beast/http.hpp>
#include <chrono>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http/transport.hpp"
#include "loopback_socket.hpp"
#include "test_seed.hpp"

namespace {

namespace http = assistant::server::http;
namespace bhttp = boost::beast::http;

struct Planned {
  bool head = false;
  int status = 200;
  std::string body;
  std::string tag;  // an extra header field's value
};

// Request `n` of `seed`: a random status (204 among them: no body, no
// Content-Length), a body from empty to past the server's socket buffer (4 MB
// at most on Linux), random bytes; some requests are HEAD.
Planned Plan(unsigned seed, int n) {
  std::mt19937 rng(seed * 131 + static_cast<unsigned>(n));
  Planned p;
  p.head = rng() % 6 == 0;
  const int statuses[] = {200, 201, 404, 204, 500};
  p.status = statuses[rng() % 5];
  const size_t size = rng() % 5 == 0 ? rng() % 6000000 : rng() % 20000;
  p.body.resize(p.status == 204 ? 0 : size);
  for (auto& c : p.body) c = static_cast<char>(rng());
  p.tag = std::to_string(rng());
  return p;
}

// What Beast writes for the answer, the way the transport fills its fields.
std::string Expected(const Planned& p, bool keep_alive) {
  bhttp::response<bhttp::string_body> msg;
  msg.version(11);
  msg.result(static_cast<unsigned>(p.status));
  msg.insert("X-Tag", p.tag);
  msg.keep_alive(keep_alive);
  const bool bodiless = p.status == 204;
  if (!bodiless && p.head) {
    msg.content_length(p.body.size());
  } else if (!bodiless) {
    msg.body() = p.body;
    msg.content_length(p.body.size());
  }
  std::ostringstream out;
  out << msg.base();
  return out.str() + (p.head ? std::string() : msg.body());
}

}  // namespace

TEST_SUITE("http.transport") {
  TEST_CASE(
      "answers arrive as Beast serializes them, in order, pipelined, to a slow random reader") {
    const unsigned seed = TestSeed();
    MESSAGE("seed " << seed);
    http::TransportOptions options;
    options.workers = 4;
    options.drain_timeout = std::chrono::milliseconds(2000);
    http::Transport transport(
        options,
        [&](const http::Request& req, http::Response& res) {
          const Planned p = Plan(seed, std::stoi(req.Query("n")));
          res.status = p.status;
          res.headers.Set("X-Tag", p.tag);
          res.body = p.body;
        },
        [](int status, const http::Request&, http::Response& res, const std::string&) {
          res.status = status;
        });
    REQUIRE(transport.Bind().ok());
    std::thread runner([&] { transport.Run(); });

    constexpr int kRequests = 40;
    std::string requests;
    std::string expected;
    std::vector<size_t> answered_by;  // the answers' length up to request n
    for (int n = 0; n < kRequests; ++n) {
      const Planned p = Plan(seed, n);
      const bool last = n == kRequests - 1;
      requests += std::string(p.head ? "HEAD" : "GET") + " /a?n=" + std::to_string(n) +
                  " HTTP/1.1\r\nHost: t\r\n" + (last ? "Connection: close\r\n" : "") + "\r\n";
      expected += Expected(p, !last);
      answered_by.push_back(expected.size());
    }
    const int fd = ConnectWithFixedReceiveBuffer(transport.port());
    // Half the requests pipelined in one write, the rest one by one as
    // answers come, so both the buffered and the read path start requests.
    size_t cut = 0;
    int sent = 0;
    for (; sent < kRequests / 2; ++sent) cut = requests.find("\r\n\r\n", cut) + 4;
    REQUIRE(::send(fd, requests.data(), cut, MSG_NOSIGNAL) == static_cast<ssize_t>(cut));
    std::mt19937 pace(seed);
    std::string got;
    std::vector<char> buf(1 << 16);
    for (;;) {
      // The next request now and then, and whenever every answer so far came.
      if (sent < kRequests && (pace() % 3 == 0 || got.size() >= answered_by[sent - 1])) {
        const size_t next = requests.find("\r\n\r\n", cut) + 4;
        ::send(fd, requests.data() + cut, next - cut, MSG_NOSIGNAL);
        cut = next;
        ++sent;
      }
      const ssize_t r = ::recv(fd, buf.data(), 1 + pace() % buf.size(), 0);
      if (r <= 0) break;  // the last request asked the server to close
      got.append(buf.data(), static_cast<size_t>(r));
      if (pace() % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(pace() % 2000));
    }
    ::close(fd);
    transport.Stop();
    runner.join();
    INFO(got.size() << " bytes of " << expected.size());
    CHECK(cut == requests.size());
    CHECK(got.size() == expected.size());
    const auto diff = std::mismatch(got.begin(), got.end(), expected.begin(), expected.end());
    INFO("first difference at byte " << (diff.first - got.begin()));
    const bool same = got == expected;  // not printed: megabytes
    CHECK(same);
  }
}
