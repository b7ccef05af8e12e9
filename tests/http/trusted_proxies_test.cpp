// Black-box: --trusted-proxies. X-Forwarded-For names the client only when
// the connection comes from a trusted proxy; the per-IP auth limit, the
// audit rows and the access log then count the forwarded address.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <doctest/doctest.h>

#include <chrono>
#include <thread>
#include <utility>

#include <httplib.h>

#include "gateway_process.hpp"
#include "harness.hpp"

using namespace http_test;

namespace {

const Json kBadLogin{{"email", "nobody@example.com"}, {"password", "whatever pw"}};

int LoginAs(const ServerProcess& s, const std::string& forwarded_for) {
  return s.Call("POST", "/api/auth/login", kBadLogin, "", {{"X-Forwarded-For", forwarded_for}})
      .status;
}

// Connections of `c` come from loopback address `source` (127.0.0.0/8 is
// all loopback on Linux), so the gateway sees a client of that address.
void BindSource(httplib::Client& c, const std::string& source) {
  c.set_socket_options([source](int sock) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &a.sin_addr);
    bind(sock, reinterpret_cast<sockaddr*>(&a), sizeof a);
  });
}

// A login to the gateway from `source`.
int LoginFrom(const std::string& source, int port) {
  httplib::Client c("127.0.0.1", port);
  BindSource(c, source);
  auto r = c.Post("/api/auth/login", kBadLogin.dump(), "application/json");
  return r ? r->status : 0;
}

// A GET of the gateway's /echo from `source` with the X-Forwarded-For
// `forwarded_for` (none when empty): the status (0 when none came) and body.
std::pair<int, std::string> EchoFrom(const std::string& source, int port,
                                     const std::string& forwarded_for) {
  httplib::Client c("127.0.0.1", port);
  BindSource(c, source);
  httplib::Headers headers;
  if (!forwarded_for.empty()) headers.emplace("X-Forwarded-For", forwarded_for);
  auto r = c.Get("/echo", headers);
  return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
}

// The server's log once it holds `text` (lines are written in batches,
// about every 100 ms), or as it is after 5 s.
std::string LogWith(const ServerProcess& s, const std::string& text) {
  std::string log = s.log();
  for (int i = 0; i < 250 && log.find(text) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    log = s.log();
  }
  return log;
}

}  // namespace

TEST_SUITE("http.trusted_proxies") {

TEST_CASE("trusted proxies: a spoofed X-Forwarded-For from an untrusted peer is ignored") {
  ServerProcess s({"--rate-limit-auth", "2"});
  REQUIRE(s.started());
  CHECK(LoginAs(s, "198.51.100.1") == 401);
  CHECK(LoginAs(s, "198.51.100.2") == 401);
  // A third "client" is still the same peer: limited.
  CHECK(LoginAs(s, "198.51.100.3") == 429);
  const std::string log = LogWith(s, "status=429");
  CHECK(log.find("status=429") != std::string::npos);
  CHECK(log.find("ip=127.0.0.1") != std::string::npos);
  CHECK(log.find("198.51.100.") == std::string::npos);
}

TEST_CASE("trusted proxies: from a trusted peer the per-IP limit counts the forwarded client") {
  ServerProcess s({"--rate-limit-auth", "2", "--trusted-proxies", "10.0.0.0/8,127.0.0.0/8,::1"});
  REQUIRE(s.started());
  CHECK(LoginAs(s, "198.51.100.1") == 401);
  // The right-most address that is not itself trusted is the client.
  CHECK(LoginAs(s, "203.0.113.7, 198.51.100.1, 10.1.2.3") == 401);
  CHECK(LoginAs(s, "198.51.100.1") == 429);
  // Another forwarded client has a window of its own.
  CHECK(LoginAs(s, "198.51.100.2") == 401);
  CHECK(LoginAs(s, "2001:db8::1") == 401);
  CHECK(LogWith(s, "ip=198.51.100.2").find("ip=198.51.100.2") != std::string::npos);

  // The audit rows carry the forwarded address too.
  const User u = Register(s);
  REQUIRE(!u.access_token.empty());
  auto audit = s.Call("GET", "/api/user/audit", std::nullopt, u.access_token);
  REQUIRE(audit.status == 200);
  bool loopback_row = false;
  for (const auto& e : audit.json["events"]) loopback_row |= e.value("ip", "") == "127.0.0.1";
  CHECK(loopback_row);  // registered directly: the peer itself
  httplib::Headers xff{{"X-Forwarded-For", "192.0.2.44"}};
  CHECK(s.Call("POST", "/api/auth/login", Json{{"email", u.email}, {"password", u.password}}, "",
               xff)
            .status == 200);
  audit = s.Call("GET", "/api/user/audit", std::nullopt, u.access_token);
  bool forwarded_row = false;
  for (const auto& e : audit.json["events"]) forwarded_row |= e.value("ip", "") == "192.0.2.44";
  CHECK(forwarded_row);
}

TEST_CASE("trusted proxies: through the gateway two clients have separate limits") {
  TempDir dir;
  ServerProcess s({"--rate-limit-auth", "2", "--trusted-proxies", "127.0.0.1/32"}, dir.path());
  REQUIRE(s.started());
  GatewayProcess g(dir.path(), {"--backend", "http://127.0.0.1:" + std::to_string(s.port()),
                                "--rate-limit", "0"});
  REQUIRE(g.port() > 0);
  CHECK(LoginFrom("127.0.0.2", g.port()) == 401);
  CHECK(LoginFrom("127.0.0.2", g.port()) == 401);
  CHECK(LoginFrom("127.0.0.2", g.port()) == 429);
  CHECK(LoginFrom("127.0.0.3", g.port()) == 401);
  CHECK(LoginFrom("127.0.0.3", g.port()) == 401);
  CHECK(LoginFrom("127.0.0.3", g.port()) == 429);
}

TEST_CASE("trusted proxies at the gateway: a spoofed X-Forwarded-For moves the rate limit bucket only from a trusted peer") {
  // A backend that answers with the X-Forwarded-For it received.
  httplib::Server backend;
  backend.Get("/readyz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  backend.Get("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(req.get_header_value("X-Forwarded-For"), "text/plain");
  });
  const int port = backend.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serving([&] { backend.listen_after_bind(); });
  TempDir dir;
  {
    GatewayProcess g(dir.path(), {"--backend", "http://127.0.0.1:" + std::to_string(port),
                                  "--rate-limit", "2", "--token-check", "off",
                                  "--trusted-proxies", "127.0.0.2/32"});
    REQUIRE(g.port() > 0);

    using Answer = std::pair<int, std::string>;
    // Untrusted peer 127.0.0.3: its chain is dropped, not passed on, and
    // every "client" it names shares the peer's bucket.
    CHECK(EchoFrom("127.0.0.3", g.port(), "198.51.100.1") == Answer{200, "127.0.0.3"});
    CHECK(EchoFrom("127.0.0.3", g.port(), "198.51.100.2").first == 200);
    CHECK(EchoFrom("127.0.0.3", g.port(), "198.51.100.3").first == 429);

    // Trusted peer 127.0.0.2: the forwarded client is the bucket, and the
    // chain goes on with the peer appended.
    for (int i = 0; i < 2; ++i) {
      CHECK(EchoFrom("127.0.0.2", g.port(), "203.0.113.9, 198.51.100.1") ==
            Answer{200, "203.0.113.9, 198.51.100.1, 127.0.0.2"});
    }
    CHECK(EchoFrom("127.0.0.2", g.port(), "198.51.100.1").first == 429);
    // Another forwarded client has a window of its own, as does the proxy.
    CHECK(EchoFrom("127.0.0.2", g.port(), "198.51.100.2").first == 200);
    CHECK(EchoFrom("127.0.0.2", g.port(), "") == Answer{200, "127.0.0.2"});
  }
  {
    GatewayProcess bad(dir.path(), {"--backend", "http://127.0.0.1:" + std::to_string(port),
                                    "--trusted-proxies", "127.0.0.1,10.0.0.0/33"});
    CHECK(bad.port() == 0);
    CHECK(bad.exit_code() == 2);
    CHECK(bad.log().find("\"10.0.0.0/33\"") != std::string::npos);
  }
  backend.stop();
  serving.join();
}

TEST_CASE("trusted proxies: a bad CIDR is a start-up error naming it") {
  TempDir dir;
  for (const char* bad : {"10.0.0.0/33", "300.1.1.1", "::1/129", "10.0.0.0/", "fe80::/x"}) {
    const RunResult r = RunServerToExit(
        {"--database", "sqlite://" + dir.path() + "/a.db", "--trusted-proxies",
         std::string("127.0.0.1,") + bad},
        dir.path());
    CHECK_MESSAGE(r.exit_code == 2, bad);
    CHECK_MESSAGE(r.output.find(std::string("\"") + bad + "\"") != std::string::npos, r.output);
  }
}

}  // TEST_SUITE
