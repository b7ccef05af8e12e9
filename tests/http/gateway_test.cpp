// Black-box: assistant-gateway in front of two real servers over one
// SQLite database: every route family through it, a backend killed with
// traffic going on, a run re-attached through it, and the edge's request
// ids, CORS and rate limit.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

#include "assistant/jwt.hpp"
#include "harness.hpp"

extern char** environ;

using namespace http_test;

namespace {

// build/bin/assistant-gateway on a free port, its log in `dir`.
class GatewayProcess {
 public:
  GatewayProcess(const std::string& dir, std::vector<std::string> args) {
    log_ = dir + "/gateway-" + std::to_string(std::rand()) + ".log";
    args.insert(args.begin(), {ASSISTANT_GATEWAY_BIN, "--port", "0", "--health-interval", "100",
                              "--threads", "32"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 2, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (posix_spawn(&pid_, argv[0], &files, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&files);
    const std::regex port_re(R"(msg=listening.* port=(\d+))");
    for (int i = 0; i < 200 && pid_ > 0 && port_ == 0; ++i) {
      std::ifstream f(log_);
      std::stringstream text;
      text << f.rdbuf();
      std::smatch m;
      const std::string s = text.str();
      if (std::regex_search(s, m, port_re)) port_ = std::stoi(m[1]);
      else std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  ~GatewayProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }

  Response Call(const std::string& method, const std::string& path,
                const std::optional<Json>& body = std::nullopt, const std::string& token = "",
                httplib::Headers headers = {}) const {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(30, 0);
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    httplib::Request req;
    req.method = method;
    req.path = path;
    req.headers = headers;
    if (body) {
      req.body = body->dump();
      req.headers.emplace("Content-Type", "application/json");
    }
    Response out;
    auto r = cli.send(req);
    if (!r) return out;
    out.status = r->status;
    out.body = r->body;
    out.headers = r->headers;
    out.json = Json::parse(out.body, nullptr, false);
    if (out.json.is_discarded()) out.json = nullptr;
    return out;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

std::string Origin(const ServerProcess& s) { return "http://127.0.0.1:" + std::to_string(s.port()); }

// Registers through the gateway.
User RegisterVia(const GatewayProcess& g) {
  User u;
  u.email = "u" + std::to_string(std::rand()) + "@example.com";
  u.password = "password123";
  auto r = g.Call("POST", "/api/auth/register", Json{{"email", u.email}, {"password", u.password}});
  if (r.status == 201) {
    u.id = r.json["user"]["id"];
    u.access_token = r.json["access_token"];
    u.refresh_token = r.json["refresh_token"];
  }
  return u;
}

// Two servers over one database behind a gateway (rate limit off: the
// tests' traffic all comes from one address).
struct TwoBackends {
  TwoBackends()
      : a(std::make_unique<ServerProcess>(std::vector<std::string>{}, dir.path())),
        b(std::make_unique<ServerProcess>(std::vector<std::string>{}, dir.path())),
        g(std::make_unique<GatewayProcess>(
            dir.path(), std::vector<std::string>{"--backend", Origin(*a) + "," + Origin(*b),
                                                 "--rate-limit", "0"})) {}
  bool started() const { return a->started() && b->started() && g->port() > 0; }
  TempDir dir;
  std::unique_ptr<ServerProcess> a, b;
  std::unique_ptr<GatewayProcess> g;
};

}  // namespace

TEST_SUITE("http.gateway") {

TEST_CASE("every route family through the gateway, over two servers sharing a database") {
  TwoBackends t;
  ServerProcess& a = *t.a;
  ServerProcess& b = *t.b;
  GatewayProcess& g = *t.g;
  const TempDir& dir = t.dir;
  REQUIRE(t.started());

  User u = RegisterVia(g);
  REQUIRE(!u.access_token.empty());
  CHECK(g.Call("GET", "/api/user/me", std::nullopt, u.access_token).json["user"]["id"] == u.id);
  auto task = g.Call("POST", "/api/tasks", Json{{"title", "through the gateway"}}, u.access_token);
  REQUIRE(task.status == 201);
  // Round robin: the next requests land on both servers, which share the
  // database, so every one of them sees the task.
  for (int i = 0; i < 4; ++i) {
    auto list = g.Call("GET", "/api/tasks", std::nullopt, u.access_token);
    REQUIRE(list.status == 200);
    CHECK(list.json["tasks"].size() == 1);
  }
  CHECK(g.Call("GET", "/api/conversations", std::nullopt, u.access_token).status == 200);
  CHECK(g.Call("GET", "/api/agent/memory", std::nullopt, u.access_token).status == 200);
  CHECK(g.Call("GET", "/api/apps", std::nullopt, u.access_token).status == 200);
  CHECK(g.Call("GET", "/v1/models").status == 401);  // /v1 reaches a backend, which wants a key
  CHECK(g.Call("GET", "/api/tasks").status == 401);
  auto reply = g.Call("POST", "/api/agent/message", Json{{"message", "add task buy milk"}},
                      u.access_token);
  CHECK(reply.status == 200);

  // The edge's request id: a sane one is kept and reaches the backend's
  // answer; the gateway's own routes answer too.
  auto with_id = g.Call("GET", "/api/user/me", std::nullopt, u.access_token,
                        {{"X-Request-ID", "trace-42"}});
  CHECK(with_id.Header("X-Request-ID") == "trace-42");
  CHECK(g.Call("GET", "/healthz").status == 200);
  CHECK(g.Call("GET", "/readyz").status == 200);
  auto metrics = g.Call("GET", "/metrics");
  CHECK(metrics.body.find("assistant_gateway_backend_up{backend=\"1\"} 1") != std::string::npos);
}

TEST_CASE("a backend killed mid-traffic: idempotent requests keep succeeding through the other") {
  TwoBackends t;
  ServerProcess& a = *t.a;
  ServerProcess& b = *t.b;
  GatewayProcess& g = *t.g;
  const TempDir& dir = t.dir;
  REQUIRE(t.started());
  User u = RegisterVia(g);
  REQUIRE(!u.access_token.empty());

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread traffic([&] {
    while (!stop) {
      auto r = g.Call("GET", "/api/tasks", std::nullopt, u.access_token);
      (r.status == 200 ? ok : failed)++;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  b.Kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  stop = true;
  traffic.join();
  CHECK(ok.load() > 10);
  CHECK(failed.load() == 0);
  CHECK(g.Call("GET", "/readyz").status == 200);
  auto AllUp = [&] {
    const std::string m = g.Call("GET", "/metrics").body;
    return m.find("backend_up{backend=\"0\"} 1") != std::string::npos &&
           m.find("backend_up{backend=\"1\"} 1") != std::string::npos;
  };
  CHECK(!AllUp());
  {
    // The same backend back on its port: in again by itself.
    ServerProcess back({"--port", std::to_string(b.port())}, dir.path());
    REQUIRE(back.started());
    bool in = false;
    for (int i = 0; i < 50 && !in; ++i) {
      in = AllUp();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(in);
  }
  a.Kill9();
  bool unready = false;
  for (int i = 0; i < 50 && !unready; ++i) {
    unready = g.Call("GET", "/readyz").status == 503;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(unready);
  auto down = g.Call("GET", "/api/tasks", std::nullopt, u.access_token);
  CHECK(down.status == 502);
  CHECK(down.body.find("127.0.0.1") == std::string::npos);
}

TEST_CASE("a run re-attached through the gateway from a Last-Event-ID") {
  TwoBackends t;
  ServerProcess& a = *t.a;
  ServerProcess& b = *t.b;
  GatewayProcess& g = *t.g;
  const TempDir& dir = t.dir;
  REQUIRE(t.started());
  User u = RegisterVia(g);
  REQUIRE(!u.access_token.empty());
  auto sse = g.Call("POST", "/api/agent/message",
                    Json{{"message", "add task call mom"}, {"stream", true}}, u.access_token);
  REQUIRE(sse.status == 200);
  CHECK(sse.Header("Content-Type").find("text/event-stream") != std::string::npos);
  std::smatch m;
  REQUIRE(std::regex_search(sse.body, m, std::regex(R"re("run_id":"([^"]+)")re")));
  const std::string run = m[1];
  // Twice, so that both backends serve a re-attach at least once.
  for (int i = 0; i < 2; ++i) {
    auto again = g.Call("GET", "/api/agent/runs/" + run + "/events", std::nullopt, u.access_token,
                        {{"Last-Event-ID", "1"}});
    REQUIRE(again.status == 200);
    CHECK(again.body.find("id: 1\n") == std::string::npos);
    CHECK(again.body.find("id: 2\n") != std::string::npos);
    CHECK(again.body.find("event: message.done") != std::string::npos);
  }
}

TEST_CASE("EdDSA tokens are checked at the edge against the JWKS, across a key rotation") {
  TempDir dir;
  const std::vector<std::string> eddsa = {"--jwt-alg", "EdDSA"};
  auto a = std::make_unique<ServerProcess>(eddsa, dir.path());
  auto b = std::make_unique<ServerProcess>(eddsa, dir.path());
  REQUIRE(a->started());
  REQUIRE(b->started());
  const int port_a = a->port(), port_b = b->port();
  GatewayProcess g(dir.path(), {"--backend", Origin(*a) + "," + Origin(*b), "--rate-limit", "0",
                                "--token-check", "jwks", "--jwks-refresh", "1000"});
  REQUIRE(g.port() > 0);
  User u = RegisterVia(g);
  REQUIRE(!u.access_token.empty());
  CHECK(g.Call("GET", "/api/tasks", std::nullopt, u.access_token).status == 200);

  auto Metric = [&](const std::string& name) {
    const std::string m = g.Call("GET", "/metrics").body;
    const size_t at = m.find("\n" + name + " ");
    return at == std::string::npos ? -1L : std::stol(m.substr(at + name.size() + 2));
  };
  // A flood of tokens naming unknown keys: refused at the edge, with at
  // most one JWKS fetch per --jwks-refresh.
  const std::string forged = assistant::Base64UrlEncode(R"({"alg":"EdDSA","typ":"JWT","kid":"nope"})") +
                             "." + assistant::Base64UrlEncode(R"({"sub":"x","exp":9999999999})") + ".AAAA";
  const long fetches = Metric("assistant_gateway_jwks_fetches_total");
  const long rejected = Metric("assistant_gateway_rejected_tokens_total");
  for (int i = 0; i < 20; ++i) {
    auto r = g.Call("GET", "/api/tasks", std::nullopt, forged);
    CHECK(r.status == 401);
    CHECK(r.ErrorCode() == "invalid_token");
  }
  CHECK(Metric("assistant_gateway_rejected_tokens_total") - rejected == 20);
  CHECK(Metric("assistant_gateway_jwks_fetches_total") - fetches <= 1);

  // Rotation: the backends restart with a new signing key (made in the
  // database by --rotate-keys). Tokens signed with it name a kid the
  // gateway has not seen; it fetches the JWKS again.
  const std::string database = a->database();
  a->Terminate();
  b->Terminate();
  REQUIRE(RunServerToExit({"--database", database, "--jwt-alg", "EdDSA", "--rotate-keys"},
                          dir.path())
              .exit_code == 0);
  a = std::make_unique<ServerProcess>(
      std::vector<std::string>{"--jwt-alg", "EdDSA", "--port", std::to_string(port_a)}, dir.path());
  b = std::make_unique<ServerProcess>(
      std::vector<std::string>{"--jwt-alg", "EdDSA", "--port", std::to_string(port_b)}, dir.path());
  REQUIRE(a->started());
  REQUIRE(b->started());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past --jwks-refresh
  auto login = g.Call("POST", "/api/auth/login", Json{{"email", u.email}, {"password", u.password}});
  REQUIRE(login.status == 200);
  const std::string fresh = login.json["access_token"];
  CHECK(fresh.substr(0, fresh.find('.')) != u.access_token.substr(0, u.access_token.find('.')));
  CHECK(g.Call("GET", "/api/tasks", std::nullopt, fresh).status == 200);
  CHECK(g.Call("GET", "/api/tasks", std::nullopt, u.access_token).status == 200);  // old key verifies
}

TEST_CASE("CORS and the rate limit are applied at the edge") {
  TempDir dir;
  ServerProcess a({}, dir.path());
  REQUIRE(a.started());
  GatewayProcess g(dir.path(), {"--backend", Origin(a), "--cors-origins", "https://app.example",
                                "--rate-limit", "5"});
  REQUIRE(g.port() > 0);
  auto pre = g.Call("OPTIONS", "/api/tasks", std::nullopt, "",
                    {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "GET"}});
  CHECK(pre.status == 204);
  CHECK(pre.Header("Access-Control-Allow-Origin") == "https://app.example");
  auto evil = g.Call("OPTIONS", "/api/tasks", std::nullopt, "",
                     {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "GET"}});
  CHECK(evil.status == 403);
  int limited = 0;
  for (int i = 0; i < 8; ++i) {
    auto r = g.Call("GET", "/api/tasks");
    if (r.status == 429) {
      ++limited;
      CHECK(!r.Header("Retry-After").empty());
    }
  }
  CHECK(limited == 3);
}

}  // TEST_SUITE
