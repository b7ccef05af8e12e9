// Black-box: the app proxy, ANY /api/apps/{id}/proxy/{path}, in front of
// the example app (examples/identity_app, which checks X-Assistant-Identity
// with the server's JWKS alone) and of in-process upstreams that count,
// stall or are not there. Every case runs against the server and again
// through assistant-gateway, which serves the proxy itself.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "counting_upstream.hpp"
#include "gateway_process.hpp"
#include "harness.hpp"

extern char** environ;

using namespace http_test;

namespace {

using Clock = std::chrono::steady_clock;

// A loopback port free at the time of asking (nothing listens on it after).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// examples/identity_app run with /usr/bin/python3.
class IdentityApp {
 public:
  IdentityApp(const std::string& app_id, int port, int server_port) : port_(port) {
    std::vector<std::string> args = {
        "/usr/bin/python3", ASSISTANT_IDENTITY_APP, "--app-id", app_id, "--port",
        std::to_string(port), "--jwks",
        "http://127.0.0.1:" + std::to_string(server_port) + "/.well-known/jwks.json"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t quiet;
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid_, argv[0], &quiet, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&quiet);
    // Ready when it accepts a connection.
    for (int i = 0; i < 200 && pid_ > 0; ++i) {
      httplib::Client cli("127.0.0.1", port_);
      if (cli.Get("/ready")) {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  ~IdentityApp() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  int port_;
  bool ready_ = false;
};

// An upstream in this process: counts requests and the connections they
// came on (by the client's port), answers after `delay`.
class LocalUpstream {
 public:
  explicit LocalUpstream(std::chrono::milliseconds delay = {}) {
    server_.Get(".*", [this, delay](const httplib::Request& req, httplib::Response& res) {
      ++hits;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ports_.insert(req.remote_port);
      }
      std::this_thread::sleep_for(delay);
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~LocalUpstream() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::atomic<int> hits{0};
  size_t connections() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ports_.size();
  }

 private:
  mutable std::mutex mu_;
  std::set<int> ports_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

std::string AppsJson(int echo_port, int local_port, int down_port, int count_port) {
  std::ostringstream o;
  o << R"({"apps":[)"
    << R"({"id":"echo","name":"Echo","upstream":"http://127.0.0.1:)" << echo_port
    << R"(/base","scopes":["tasks:read","agent"],"allowed_origins":["https://echo.example"]},)"
    << R"({"id":"local","name":"Local","upstream":"http://127.0.0.1:)" << local_port
    << R"(","scopes":[],"allowed_origins":[]},)"
    << R"({"id":"down","name":"Down","upstream":"http://127.0.0.1:)" << down_port
    << R"(","scopes":[],"allowed_origins":[]},)"
    << R"({"id":"count","name":"Count","upstream":"http://127.0.0.1:)" << count_port
    << R"(","scopes":[],"allowed_origins":[]}]})";
  return o.str();
}

enum class Via { kServer, kGateway };
const char* ViaName(Via via) { return via == Via::kServer ? "server" : "gateway"; }
constexpr Via kVias[] = {Via::kServer, Via::kGateway};

// A server whose registry points at the example app, a local upstream
// (stalling for `delay`) and a port where nothing listens; with
// Via::kGateway, a gateway in front of it with the same registry and the
// server's identity key, and the calls go to the gateway.
struct ProxySetup {
  explicit ProxySetup(Via via, std::chrono::milliseconds delay = {},
                      std::vector<std::string> extra = {})
      : local(delay), echo_port(FreePort()) {
    const std::string file = dir.path() + "/apps.json";
    std::ofstream(file) << AppsJson(echo_port, local.port(), FreePort(), count.port());
    std::vector<std::string> args = {"--apps", file};
    args.insert(args.end(), extra.begin(), extra.end());
    server = std::make_unique<ServerProcess>(args);
    if (!server->started()) return;
    if (via == Via::kGateway) {
      std::vector<std::string> g = {"--backend",
                                    "http://127.0.0.1:" + std::to_string(server->port()),
                                    "--rate-limit", "0", "--database", server->database(),
                                    "--jwt-secret-file", server->db_path() + ".jwt-secret"};
      g.insert(g.end(), args.begin(), args.end());
      gateway = std::make_unique<GatewayProcess>(dir.path(), g);
    }
    user = Register(*server);
    app = std::make_unique<IdentityApp>("echo", echo_port, server->port());
  }
  bool ready() const {
    return server->started() && app->ready() && (!gateway || gateway->port() > 0);
  }
  int port() const { return gateway ? gateway->port() : server->port(); }
  Response Call(const std::string& method, const std::string& path,
                const std::optional<Json>& body = std::nullopt, const std::string& token = "",
                httplib::Headers headers = {}) const {
    return gateway ? gateway->Call(method, path, body, token, headers)
                   : server->Call(method, path, body, token, headers);
  }
  Response Raw(const std::string& method, const std::string& path, const std::string& body,
               const std::string& content_type, httplib::Headers headers = {}) const {
    return gateway ? gateway->Raw(method, path, body, content_type, headers)
                   : server->Raw(method, path, body, content_type, headers);
  }
  TempDir dir;
  LocalUpstream local;
  CountingUpstream count;
  int echo_port;
  std::unique_ptr<ServerProcess> server;
  std::unique_ptr<GatewayProcess> gateway;
  User user;
  std::unique_ptr<IdentityApp> app;
};

std::string KeyWithScopes(const ServerProcess& s, const User& u, Json scopes) {
  auto r = s.Call("POST", "/api/auth/api-keys", Json{{"name", "k"}, {"scopes", scopes}},
                  u.access_token);
  return r.json["key"].get<std::string>();
}

}  // namespace

TEST_SUITE("http.app_proxy") {

TEST_CASE("every method reaches the app with path, query and body; the identity is verified") {
  for (const Via via : kVias) {
    INFO(ViaName(via));
    ProxySetup p(via);
    REQUIRE(p.ready());
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      CAPTURE(method);
      const bool with_body = std::string(method) != "GET";
      auto r = p.Raw(method, "/api/apps/echo/proxy/notes/a%20b/?x=1&y=two",
                     with_body ? "{\"text\":\"hi\"}" : "", with_body ? "application/json" : "",
                     {{"Authorization", "Bearer " + p.user.access_token}});
      REQUIRE(r.status == 200);
      CHECK(r.json["method"] == method);
      CHECK(r.json["path"] == "/base/notes/a%20b/?x=1&y=two");
      CHECK(r.json["body"] == (with_body ? "{\"text\":\"hi\"}" : ""));
      // The app checked signature, aud and exp against the server's JWKS
      // alone, also for a token the gateway signed.
      CHECK(r.json["claims"]["sub"] == p.user.id);
      CHECK(r.json["claims"]["aud"] == "echo");
      CHECK(r.json["claims"]["iss"] == "libassistant");
      CHECK(r.json["claims"]["exp"].get<int64_t>() - r.json["claims"]["iat"].get<int64_t>() == 60);
      CHECK(r.json["claims"]["scope"] == "tasks:read agent");
      CHECK(r.Header("X-App") == "echo");
    }
    // HEAD is a GET without the body.
    auto head = p.Raw("HEAD", "/api/apps/echo/proxy/x", "", "",
                      {{"Authorization", "Bearer " + p.user.access_token}});
    CHECK(head.status == 200);
    CHECK(head.body.empty());
  }
}

TEST_CASE("identity headers are the proxy's; credentials and cookies never reach the app") {
  for (const Via via : kVias) {
    INFO(ViaName(via));
    ProxySetup p(via);
    REQUIRE(p.ready());
    auto r = p.Raw("POST", "/api/apps/echo/proxy/h", "{}", "application/json",
                   {{"Authorization", "Bearer " + p.user.access_token},
                    {"Cookie", "access_token=abc; theme=dark"},
                    {"X-Assistant-User-Id", "someone-else"},
                    {"X-Assistant-App-Id", "other"},
                    {"X-Assistant-Identity", "forged"},
                    {"Proxy-Authorization", "Basic eDp5"},
                    {"Connection", "X-Hop"},
                    {"X-Hop", "1"},
                    {"X-Kept", "yes"}});
    REQUIRE(r.status == 200);
    const Json& h = r.json["headers"];
    CHECK(!h.contains("authorization"));
    CHECK(!h.contains("cookie"));
    CHECK(!h.contains("proxy-authorization"));
    CHECK(!h.contains("x-hop"));
    CHECK(h["x-kept"] == Json::array({"yes"}));
    CHECK(h["x-assistant-user-id"] == Json::array({p.user.id}));
    CHECK(h["x-assistant-app-id"] == Json::array({"echo"}));
    CHECK(h["x-assistant-identity"].size() == 1);
    CHECK(h["x-assistant-identity"][0] != "forged");
    CHECK(h["x-request-id"] == Json::array({r.Header("X-Request-ID")}));
    // Back: the app's status and headers, the proxy's security headers, and
    // no cookie set by the app.
    CHECK(r.Header("X-Content-Type-Options") == "nosniff");
    CHECK(r.Header("X-Frame-Options") == "DENY");
    CHECK(r.Header("Set-Cookie").empty());
    auto teapot = p.Call("GET", "/api/apps/echo/proxy/t?status=418", std::nullopt,
                         p.user.access_token);
    CHECK(teapot.status == 418);
    CHECK(teapot.json["method"] == "GET");
  }
}

TEST_CASE("the gateway sends the address it saw in X-Forwarded-For, not a client's own chain") {
  // The gateway has no --trusted-proxies here, so the chain this client
  // sends is its own word (a trusted proxy's is kept: trusted_proxies_test).
  ProxySetup p(Via::kGateway);
  REQUIRE(p.ready());
  auto r = p.Call("GET", "/api/apps/echo/proxy/xff", std::nullopt, p.user.access_token,
                  {{"X-Forwarded-For", "203.0.113.9"}});
  REQUIRE(r.status == 200);
  CHECK(r.json["headers"]["x-forwarded-for"] == Json::array({"127.0.0.1"}));
}

TEST_CASE("401 before anything is forwarded; an API key needs the apps scope") {
  for (const Via via : kVias) {
    INFO(ViaName(via));
    ProxySetup p(via);
    REQUIRE(p.ready());
    ServerProcess& s = *p.server;
    auto anon = p.Call("GET", "/api/apps/local/proxy/x");
    CHECK(anon.status == 401);
    CHECK(p.Call("GET", "/api/apps/local/proxy/x", std::nullopt, "garbage").status == 401);
    const std::string no_apps = KeyWithScopes(s, p.user, {"tasks:read"});
    auto refused = p.Call("GET", "/api/apps/local/proxy/x", std::nullopt, no_apps);
    CHECK(refused.status == 403);
    CHECK(refused.ErrorCode() == "insufficient_scope");
    CHECK(p.local.hits == 0);
    CHECK(p.Call("GET", "/api/apps/local/proxy/x", std::nullopt, p.user.access_token).status ==
          200);
    CHECK(p.local.hits == 1);

    // The identity's scope is the key's scopes within the app's.
    const std::string key = KeyWithScopes(s, p.user, {"apps", "tasks:read", "tasks:write"});
    auto r = p.Call("GET", "/api/apps/echo/proxy/k", std::nullopt, key);
    REQUIRE(r.status == 200);
    CHECK(r.json["claims"]["scope"] == "tasks:read");
    const std::string bare = KeyWithScopes(s, p.user, {"apps"});
    auto empty = p.Call("GET", "/api/apps/echo/proxy/k", std::nullopt, bare);
    REQUIRE(empty.status == 200);
    CHECK(empty.json["claims"]["scope"] == "");
  }
}

TEST_CASE("sequential calls to an app share one kept connection") {
  for (const Via via : kVias) {
    INFO(ViaName(via));
    ProxySetup p(via);
    REQUIRE(p.ready());
    for (int i = 0; i < 4; ++i) {
      auto r = p.Call("GET", "/api/apps/local/proxy/n?i=" + std::to_string(i), std::nullopt,
                      p.user.access_token);
      CHECK(r.status == 200);
    }
    CHECK(p.local.hits == 4);
    CHECK(p.local.connections() == 1);
  }
}

TEST_CASE("unknown app 404; dot segments 400") {
  for (const Via via : kVias) {
    INFO(ViaName(via));
    ProxySetup p(via);
    REQUIRE(p.ready());
    auto missing = p.Call("GET", "/api/apps/nope/proxy/x", std::nullopt, p.user.access_token);
    CHECK(missing.status == 404);
    auto dots = p.Call("GET", "/api/apps/echo/proxy/a/%2e%2e/b", std::nullopt,
                       p.user.access_token);
    CHECK(dots.status == 400);
  }
}

TEST_CASE("an app that is down is 502, one that stalls is 504, neither hangs") {
  for (const Via via : kVias) {
    INFO(ViaName(via));
    ProxySetup p(via, std::chrono::milliseconds(3000), {"--apps-timeout", "1"});
    REQUIRE(p.ready());
    auto down = p.Call("GET", "/api/apps/down/proxy/x", std::nullopt, p.user.access_token);
    CHECK(down.status == 502);
    CHECK(down.ErrorCode() == "upstream_error");
    CHECK(down.body.find("127.0.0.1") == std::string::npos);
    const auto start = Clock::now();
    auto slow = p.Call("GET", "/api/apps/local/proxy/x", std::nullopt, p.user.access_token);
    const auto took = Clock::now() - start;
    CHECK(slow.status == 504);
    CHECK(slow.ErrorCode() == "upstream_timeout");
    CHECK(took < std::chrono::milliseconds(2500));
  }
}

TEST_CASE("an SSE answer arrives event by event; a large answer streams whole") {
  for (const Via via : kVias) {
    INFO(ViaName(via));
    ProxySetup p(via);
    REQUIRE(p.ready());
    httplib::Client cli("127.0.0.1", p.port());
    cli.set_read_timeout(10, 0);
    std::vector<Clock::duration> arrivals;
    std::string text;
    const auto start = Clock::now();
    auto r = cli.Get("/api/apps/echo/proxy/events?n=3&gap_ms=400",
                     {{"Authorization", "Bearer " + p.user.access_token}},
                     [&](const char* data, size_t n) {
                       text.append(data, n);
                       arrivals.push_back(Clock::now() - start);
                       return true;
                     });
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Content-Type") == "text/event-stream");
    CHECK(text.find("id: 1\nevent: tick") != std::string::npos);
    CHECK(text.find("id: 3\nevent: tick") != std::string::npos);
    REQUIRE(arrivals.size() >= 2);
    // Written 400 ms apart (800 ms first to last): a buffered answer would
    // arrive all at once. At least one gap must show; a loaded machine may
    // delay the first piece until the second is written (seen at 400 ms).
    CHECK(arrivals.back() - arrivals.front() >= std::chrono::milliseconds(300));

    // The same for a POST with a small body (read whole, not as an upload):
    // its answer streams too.
    httplib::Request post;
    post.method = "POST";
    post.path = "/api/apps/echo/proxy/events?n=3&gap_ms=400";
    post.headers = {{"Authorization", "Bearer " + p.user.access_token},
                    {"Content-Type", "application/json"}};
    post.body = R"({"q":1})";
    std::vector<Clock::duration> post_arrivals;
    const auto post_start = Clock::now();
    post.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      post_arrivals.push_back(Clock::now() - post_start);
      return true;
    };
    auto posted = cli.send(post);
    REQUIRE(posted);
    CHECK(posted->status == 200);
    REQUIRE(post_arrivals.size() >= 2);
    CHECK(post_arrivals.back() - post_arrivals.front() >= std::chrono::milliseconds(300));

    auto big = p.Call("GET", "/api/apps/echo/proxy/bytes?n=300000", std::nullopt,
                      p.user.access_token);
    CHECK(big.status == 200);
    CHECK(big.body == std::string(300000, 'x'));
  }
}

TEST_CASE("every proxied call is audited with app, method, path and status") {
  ProxySetup p(Via::kServer);
  REQUIRE(p.ready());
  ServerProcess& s = *p.server;
  REQUIRE(s.Call("POST", "/api/apps/echo/proxy/audited/x?secret=1", Json::object(),
                 p.user.access_token).status == 200);
  REQUIRE(s.Call("GET", "/api/apps/down/proxy/y", std::nullopt, p.user.access_token).status ==
          502);
  auto audit = s.Call("GET", "/api/user/audit", std::nullopt, p.user.access_token);
  REQUIRE(audit.status == 200);
  std::vector<Json> proxied;
  for (const auto& e : audit.json["events"]) {
    if (e["type"] == "app.proxied") proxied.push_back(e);
  }
  REQUIRE(proxied.size() == 2);  // newest first
  CHECK(proxied[0]["outcome"] == "failed");
  CHECK(proxied[0]["details"] ==
        Json{{"app", "down"}, {"method", "GET"}, {"path", "/y"}, {"status", 502}});
  CHECK(proxied[1]["outcome"] == "ok");
  CHECK(proxied[1]["details"] ==
        Json{{"app", "echo"}, {"method", "POST"}, {"path", "/audited/x"}, {"status", 200}});
}

TEST_CASE("through the gateway, every proxied call is an app.proxied line in its log") {
  ProxySetup p(Via::kGateway);
  REQUIRE(p.ready());
  REQUIRE(p.Call("POST", "/api/apps/echo/proxy/audited/x?secret=1", Json::object(),
                 p.user.access_token).status == 200);
  REQUIRE(p.Call("GET", "/api/apps/down/proxy/y", std::nullopt, p.user.access_token).status ==
          502);
  // The log is written by a thread of its own: give it a moment.
  std::string log;
  for (int i = 0; i < 100; ++i) {
    log = p.gateway->log();
    if (log.find("path=/y") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("msg=app.proxied") != std::string::npos) lines.push_back(line);
  }
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find("app=echo") != std::string::npos);
  CHECK(lines[0].find("method=POST") != std::string::npos);
  CHECK(lines[0].find("path=/audited/x ") != std::string::npos);
  CHECK(lines[0].find("status=200") != std::string::npos);
  CHECK(lines[0].find("user_id=" + p.user.id) != std::string::npos);
  CHECK(lines[0].find("secret") == std::string::npos);
  CHECK(lines[1].find("app=down") != std::string::npos);
  CHECK(lines[1].find("status=502") != std::string::npos);
  CHECK(lines[1].find("outcome=failed") != std::string::npos);
  // The backend saw nothing of it.
  auto audit = p.server->Call("GET", "/api/user/audit", std::nullopt, p.user.access_token);
  REQUIRE(audit.status == 200);
  for (const auto& e : audit.json["events"]) CHECK(e["type"] != "app.proxied");
}

TEST_CASE("an app's allowed origins open its proxy, and nothing else, to the browser") {
  for (const Via via : kVias) {
    INFO(ViaName(via));
    ProxySetup p(via);
    REQUIRE(p.ready());
    const httplib::Headers preflight = {{"Origin", "https://echo.example"},
                                        {"Access-Control-Request-Method", "POST"}};
    auto ok = p.Raw("OPTIONS", "/api/apps/echo/proxy/x", "", "", preflight);
    CHECK(ok.status == 204);
    CHECK(ok.Header("Access-Control-Allow-Origin") == "https://echo.example");
    // Not on another app's proxy, nor on the rest of the API.
    CHECK(p.Raw("OPTIONS", "/api/apps/local/proxy/x", "", "", preflight).status == 403);
    CHECK(p.Raw("OPTIONS", "/api/tasks", "", "", preflight).status == 403);
    auto get = p.Call("GET", "/api/apps/echo/proxy/x", std::nullopt, p.user.access_token,
                      {{"Origin", "https://echo.example"}});
    CHECK(get.status == 200);
    CHECK(get.Header("Access-Control-Allow-Origin") == "https://echo.example");
    auto tasks = p.Call("GET", "/api/tasks", std::nullopt, p.user.access_token,
                        {{"Origin", "https://echo.example"}});
    CHECK(tasks.Header("Access-Control-Allow-Origin").empty());
  }
}

}  // TEST_SUITE

TEST_SUITE("http.app_proxy") {

TEST_CASE("an upload through the proxy passes as it is read: intact, limited, freed when cut") {
  for (const Via via : kVias) {
    INFO(ViaName(via));
    ProxySetup p(via, {}, {"--body-limit", std::to_string(8 << 20)});
    REQUIRE(p.ready());
    const httplib::Headers auth = {{"Authorization", "Bearer " + p.user.access_token}};

    // 6 MiB with a length, more than the transport and forwarder buffer:
    // it reaches the app byte for byte.
    std::string big(6 << 20, 'a');
    for (size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>('a' + i % 26);
    auto r = p.Raw("PUT", "/api/apps/count/proxy/upload", big, "application/octet-stream", auth);
    REQUIRE(r.status == 200);
    CHECK(r.json["bytes"] == big.size());
    CHECK(r.json["fnv"] == std::to_string(Fnv1a(big)));
    CHECK(r.json["complete"] == true);

    // A multipart body is an ordinary body: it arrives as sent.
    const std::string multipart =
        "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n" + std::string(100 << 10, 'm') +
        "\r\n--b--\r\n";
    auto m = p.Raw("POST", "/api/apps/count/proxy/upload", multipart,
                   "multipart/form-data; boundary=b", auth);
    REQUIRE(m.status == 200);
    CHECK(m.json["bytes"] == multipart.size());
    CHECK(m.json["fnv"] == std::to_string(Fnv1a(multipart)));
    CHECK(m.json["content_type"] == "multipart/form-data; boundary=b");

    // Over the body limit, chunked: 413 while reading, and the app never
    // gets the whole body.
    httplib::Client cli("127.0.0.1", p.port());
    cli.set_read_timeout(30, 0);
    const std::string chunk(1 << 20, 'v');
    auto over = cli.Post("/api/apps/count/proxy/upload", auth,
                         [&](size_t offset, httplib::DataSink& sink) {
                           if (offset < (12u << 20)) return sink.write(chunk.data(), chunk.size());
                           sink.done();
                           return true;
                         },
                         "application/octet-stream");
    if (over) CHECK(over->status == 413);  // else it closed before the client read the answer
    CHECK(p.count.bodies_ended == 2);

    // A client that vanishes mid-body: the app's read ends too.
    const int failed_before = p.count.bodies_failed;
    {
      PartialUpload cut(p.port(),
                        "POST /api/apps/count/proxy/upload HTTP/1.1\r\nHost: t\r\n"
                        "Authorization: Bearer " + p.user.access_token +
                            "\r\nContent-Length: 4000000\r\n\r\n",
                        300 << 10);
      REQUIRE(cut.sent());
      for (int i = 0; i < 200 && p.count.reading == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      CHECK(p.count.reading == 1);
    }
    for (int i = 0; i < 500 && p.count.reading > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(p.count.reading == 0);
    CHECK(p.count.bodies_failed > failed_before);
    CHECK(p.Call("GET", "/api/apps", std::nullopt, p.user.access_token).status == 200);
  }
}

}  // TEST_SUITE
