// Black-box: the app proxy in front of an https:// app, and assistant-gateway
// in front of an https:// backend. The app is a TLS
// server in this process with a self-signed certificate made for the test;
// the server trusts it only when SSL_CERT_FILE names it, as OpenSSL does.
#include <signal.h>
#include <sys/socket.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "gateway_process.hpp"
#include "harness.hpp"

using namespace http_test;

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

// A certificate and key for 127.0.0.1 (its subjectAltName), made with the
// openssl command into `dir`.
bool MakeCertificate(const std::string& dir) {
  const std::string command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
                              " -nodes -days 1 -subj /CN=127.0.0.1"
                              " -addext subjectAltName=IP:127.0.0.1 -keyout " +
                              dir + "/key.pem -out " + dir + "/cert.pem 2>/dev/null";
  return std::system(command.c_str()) == 0;
}

// Answers every request on 127.0.0.1 over TLS with "tls:" and its target,
// one thread per connection.
class TlsUpstream {
 public:
  explicit TlsUpstream(const std::string& dir)
      : context_(asio::ssl::context::tls_server), acceptor_(io_) {
    context_.use_certificate_chain_file(dir + "/cert.pem");
    context_.use_private_key_file(dir + "/key.pem", asio::ssl::context::pem);
    const asio::ip::tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(at.protocol());
    acceptor_.bind(at);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accepting_ = std::thread([this] { Accept(); });
  }
  ~TlsUpstream() {
    stopping_ = true;
    // Wakes the accept; connections still open are ended under the lock.
    boost::system::error_code ec;
    asio::ip::tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ec);
    accepting_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : serving_) t.join();
  }
  int port() const { return port_; }
  // Requests answered, and connections that carried one, other than the
  // gateway's health checks (/readyz, each on a connection of its own).
  std::atomic<int> answered{0};
  std::atomic<int> connections{0};
  std::atomic<int> closed{0};  // of those connections, ended by the client

 private:
  void Accept() {
    for (;;) {
      auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      if (stopping_) return;
      if (ec) continue;
      std::lock_guard<std::mutex> lock(mu_);
      open_.push_back(socket->native_handle());
      serving_.emplace_back([this, socket] { Serve(std::move(*socket)); });
    }
  }
  void Serve(asio::ip::tcp::socket socket) {
    asio::ssl::stream<asio::ip::tcp::socket> tls(std::move(socket), context_);
    boost::system::error_code ec;
    tls.handshake(asio::ssl::stream_base::server, ec);  // fails when the client distrusts it
    boost::beast::flat_buffer buffer;
    bool counted = false;
    while (!ec) {
      bhttp::request<bhttp::string_body> req;
      bhttp::read(tls, buffer, req, ec);
      if (ec) break;
      const bool health = req.target() == "/readyz";
      if (!health && !counted) {
        counted = true;
        ++connections;
      }
      bhttp::response<bhttp::string_body> res(bhttp::status::ok, req.version());
      res.set(bhttp::field::content_type, "text/plain");
      res.body() = "tls:" + std::string(req.target());
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      if (!health) ++answered;  // before the write, so a caller that has the answer sees it
      bhttp::write(tls, res, ec);
      if (!res.keep_alive()) break;
    }
    if (counted && !stopping_) ++closed;
  }

  asio::io_context io_;
  asio::ssl::context context_;
  asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accepting_;
  std::mutex mu_;
  std::vector<int> open_;
  std::vector<std::thread> serving_;
};

// Polls `done` for up to 5 s.
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 250; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// A gateway started with SSL_CERT_FILE=`cert_file`: it inherits this
// process's environment, which is set for the start alone.
std::unique_ptr<GatewayProcess> GatewayTrusting(const std::string& dir,
                                                const std::vector<std::string>& args,
                                                const std::string& cert_file) {
  setenv("SSL_CERT_FILE", cert_file.c_str(), 1);
  auto g = std::make_unique<GatewayProcess>(dir, args);
  unsetenv("SSL_CERT_FILE");
  return g;
}

}  // namespace

TEST_SUITE("http.gateway") {

TEST_CASE("an https backend is verified and its kept TLS connection reused") {
  TempDir dir;
  REQUIRE(MakeCertificate(dir.path()));
  TlsUpstream backend(dir.path());
  const std::vector<std::string> args = {
      "--backend", "https://127.0.0.1:" + std::to_string(backend.port()), "--rate-limit", "0",
      "--token-check", "off"};

  SUBCASE("trusted through SSL_CERT_FILE: answers, two calls on one connection") {
    auto g = GatewayTrusting(dir.path(), args, dir.path() + "/cert.pem");
    REQUIRE(g->port() > 0);
    auto first = g->Raw("GET", "/one", "", "");
    auto second = g->Raw("GET", "/two", "", "");
    CHECK(first.status == 200);
    CHECK(first.body == "tls:/one");
    CHECK(second.status == 200);
    CHECK(second.body == "tls:/two");
    CHECK(backend.answered == 2);
    CHECK(backend.connections == 1);
  }
  SUBCASE("not trusted: 502 upstream_error, the cause logged, the backend never asked") {
    auto g = GatewayTrusting(dir.path(), args, dir.path() + "/missing.pem");
    REQUIRE(g->port() > 0);
    auto r = g->Raw("GET", "/one", "", "");
    CHECK(r.status == 502);
    CHECK(r.ErrorCode() == "upstream_error");
    INFO(g->log());
    CHECK(g->log().find("did not verify") != std::string::npos);
    CHECK(backend.answered == 0);
  }
}


TEST_CASE("the token check asks an https backend on the connection requests are forwarded on") {
  TempDir dir;
  REQUIRE(MakeCertificate(dir.path()));
  TlsUpstream backend(dir.path());
  const std::vector<std::string> args = {
      "--backend", "https://127.0.0.1:" + std::to_string(backend.port()), "--rate-limit", "0",
      "--token-check", "verify"};

  SUBCASE("trusted: the verify call and the request share one kept connection") {
    auto g = GatewayTrusting(dir.path(), args, dir.path() + "/cert.pem");
    REQUIRE(g->port() > 0);
    // The verify answer is not JSON: no verdict, so the backend decides.
    auto r = g->Raw("GET", "/api/tasks", "", "", {{"Authorization", "Bearer ak_test"}});
    CHECK(r.status == 200);
    CHECK(r.body == "tls:/api/tasks");
    CHECK(backend.answered == 2);  // /api/auth/verify, then the request
    CHECK(backend.connections == 1);
  }
  SUBCASE("not trusted: neither the check nor the request reaches it") {
    auto g = GatewayTrusting(dir.path(), args, dir.path() + "/missing.pem");
    REQUIRE(g->port() > 0);
    auto r = g->Raw("GET", "/api/tasks", "", "", {{"Authorization", "Bearer ak_test"}});
    CHECK(r.status == 502);
    CHECK(r.ErrorCode() == "upstream_error");
    CHECK(backend.answered == 0);
  }
}

}  // TEST_SUITE

TEST_SUITE("http.app_proxy") {

TEST_CASE("an https app answers through the proxy when its certificate verifies, else 502") {
  TempDir dir;
  REQUIRE(MakeCertificate(dir.path()));
  TlsUpstream upstream(dir.path());
  const std::string apps = WriteOneAppRegistry(
      dir.path(), "secure", "https://127.0.0.1:" + std::to_string(upstream.port()) + "/base");

  SUBCASE("trusted through SSL_CERT_FILE: 200 with the app's body") {
    ServerProcess server({"--apps", apps}, "", true,
                         {{"SSL_CERT_FILE", dir.path() + "/cert.pem"}});
    REQUIRE(server.started());
    const User user = Register(server);
    auto r = server.Call("GET", "/api/apps/secure/proxy/x?y=1", std::nullopt, user.access_token);
    CHECK(r.status == 200);
    CHECK(r.body == "tls:/base/x?y=1");
    CHECK(upstream.answered == 1);
  }
  SUBCASE("not trusted: 502 upstream_error, and the app never sees the request") {
    ServerProcess server({"--apps", apps}, "", true,
                         {{"SSL_CERT_FILE", dir.path() + "/missing.pem"}});
    REQUIRE(server.started());
    const User user = Register(server);
    auto r = server.Call("GET", "/api/apps/secure/proxy/x", std::nullopt, user.access_token);
    CHECK(r.status == 502);
    CHECK(r.ErrorCode() == "upstream_error");
    // The reason is the operator's, in the log; the client gets the code.
    INFO(server.log());
    CHECK(server.log().find("did not verify") != std::string::npos);
    CHECK(upstream.answered == 0);
  }
}

TEST_CASE("an app's kept connection is reused, moved on SIGHUP, and closed when it is removed") {
  for (const bool via_gateway : {false, true}) {
    INFO((via_gateway ? "gateway" : "server"));
    TempDir dir;
    REQUIRE(MakeCertificate(dir.path()));
    TlsUpstream first(dir.path()), second(dir.path());
    const std::string apps = dir.path() + "/apps.json";
    auto point_at = [&](const TlsUpstream* up, const std::string& base) {
      std::ofstream out(apps, std::ios::trunc);
      out << R"({"apps":[)";
      if (up) {
        out << R"({"id":"secure","name":"Secure","upstream":"https://127.0.0.1:)" << up->port()
            << base << R"(","scopes":[],"allowed_origins":[]})";
      }
      out << "]}";
    };
    point_at(&first, "/one");
    const std::string cert = dir.path() + "/cert.pem";
    ServerProcess server({"--apps", apps}, "", true, {{"SSL_CERT_FILE", cert}});
    REQUIRE(server.started());
    std::unique_ptr<GatewayProcess> gateway;
    if (via_gateway) {
      gateway = GatewayTrusting(
          dir.path(),
          {"--backend", "http://127.0.0.1:" + std::to_string(server.port()), "--rate-limit", "0",
           "--apps", apps, "--database", server.database(), "--jwt-secret-file",
           server.db_path() + ".jwt-secret"},
          cert);
      REQUIRE(gateway->port() > 0);
    }
    const pid_t reloads = via_gateway ? gateway->pid() : server.pid();
    const User user = Register(server);
    auto call = [&] {
      return via_gateway ? gateway->Call("GET", "/api/apps/secure/proxy/x", std::nullopt,
                                         user.access_token)
                         : server.Call("GET", "/api/apps/secure/proxy/x", std::nullopt,
                                       user.access_token);
    };

    for (int i = 0; i < 3; ++i) CHECK(call().body == "tls:/one/x");
    CHECK(first.answered == 3);
    CHECK(first.connections == 1);

    // The entry's upstream changes: calls go to the new one, and the kept
    // connection to the old one is closed.
    point_at(&second, "/two");
    REQUIRE(kill(reloads, SIGHUP) == 0);
    CHECK(Eventually([&] { return call().body == "tls:/two/x"; }));
    // Every connection to the old one is closed. (A call in flight at the
    // reload, or one finding its kept connection past the pool's age limit
    // on a loaded machine, may have opened one more.)
    CHECK(Eventually([&] { return first.closed == first.connections; }));
    CHECK(second.connections >= 1);

    // The app is removed: its kept connection is closed.
    point_at(nullptr, "");
    REQUIRE(kill(reloads, SIGHUP) == 0);
    CHECK(Eventually([&] { return call().status == 404; }));
    CHECK(Eventually([&] { return second.closed == second.connections; }));
    CHECK(second.connections >= 1);
  }
}

}  // TEST_SUITE
