// Black-box: assistant-gateway in front of two real servers over one
// SQLite database: every route family through it, a backend killed with
// traffic going on, a run re-attached through it, and the edge's request
// ids, CORS and rate limit.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <chrono>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

#include "assistant/jwt.hpp"
#include "crypto/base64url.hpp"
#include "counting_upstream.hpp"
#include "gateway_process.hpp"
#include "harness.hpp"


using namespace http_test;

namespace {

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

  // The rest of the surface, one call or two per family, each through the
  // gateway to whichever backend is next.
  const std::string task_id = task.json["task"]["id"];
  CHECK(g.Call("PATCH", "/api/tasks/" + task_id, Json{{"completed", true}}, u.access_token)
            .json["task"]["completed"] == true);
  CHECK(g.Call("DELETE", "/api/tasks/" + task_id, std::nullopt, u.access_token).status == 204);
  CHECK(g.Call("PUT", "/api/user/data/prefs/theme", Json("dark"), u.access_token).status == 200);
  CHECK(g.Call("GET", "/api/user/data/prefs/theme", std::nullopt, u.access_token).json["value"] ==
        "dark");
  CHECK(g.Call("PUT", "/api/agent/state?app_id=notes", Json{{"a", 1}}, u.access_token).status ==
        200);
  CHECK(g.Call("PATCH", "/api/agent/state?app_id=notes", Json{{"b", 2}}, u.access_token).status ==
        200);
  CHECK(g.Call("GET", "/api/agent/state?app_id=notes", std::nullopt, u.access_token)
            .json["state"] == Json{{"a", 1}, {"b", 2}});
  CHECK(g.Call("GET", "/api/agent/history", std::nullopt, u.access_token).status == 200);
  CHECK(g.Call("GET", "/api/user/audit", std::nullopt, u.access_token).status == 200);
  CHECK(g.Call("GET", "/api/auth/sessions", std::nullopt, u.access_token).json["sessions"].size() ==
        1);
  auto key = g.Call("POST", "/api/auth/api-keys", Json{{"name", "k"}, {"scopes", {"agent"}}},
                    u.access_token);
  REQUIRE(key.status == 201);
  CHECK(g.Call("GET", "/v1/models", std::nullopt, key.json["key"]).status == 200);
  CHECK(g.Call("GET", "/.well-known/jwks.json").json["keys"].size() >= 1);
  CHECK(g.Call("GET", "/openapi.json").status == 200);
  // A multipart body is forwarded as it came: the backend, not the
  // gateway, says it wants JSON.
  auto multipart = g.Raw("POST", "/api/tasks", "--b\r\nContent-Disposition: form-data; "
                         "name=\"title\"\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b",
                         {{"Authorization", "Bearer " + u.access_token}});
  CHECK(multipart.status == 415);
  CHECK(multipart.json["error"]["message"] == "send the body as application/json");
  auto refreshed = g.Call("POST", "/api/auth/refresh", Json{{"refresh_token", u.refresh_token}});
  REQUIRE(refreshed.status == 200);
  CHECK(g.Call("POST", "/api/auth/logout", std::nullopt,
               refreshed.json["access_token"].get<std::string>()).status == 204);

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

TEST_CASE("a backend answering garbage to the token check: the edge lets the backend decide") {
  // A backend in this process whose every answer, JWKS and verify
  // included, is not what the gateway asked for.
  httplib::Server backend;
  std::atomic<int> jwks{0}, verify{0}, forwarded{0};
  backend.Get(".*", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/.well-known/jwks.json") ++jwks;
    else if (req.path == "/api/auth/verify") ++verify;
    else if (req.path != "/readyz") ++forwarded;
    res.set_content("<html>not what you asked for</html>", "text/html");
  });
  const int port = backend.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { backend.listen_after_bind(); });
  {
    TempDir dir;
    GatewayProcess g(dir.path(), {"--backend", "http://127.0.0.1:" + std::to_string(port),
                                  "--rate-limit", "0", "--token-check", "jwks"});
    REQUIRE(g.port() > 0);
    const std::string jwt = assistant::Base64UrlEncode(R"({"alg":"EdDSA","kid":"k"})") + "." +
                            assistant::Base64UrlEncode(R"({"sub":"x","exp":9999999999})") +
                            ".AAAA";
    // No JWKS could be read, and no verdict: neither is a refusal.
    auto local = g.Call("GET", "/api/tasks", std::nullopt, jwt);
    CHECK(local.status == 200);
    CHECK(local.body.find("not what you asked for") != std::string::npos);
    CHECK(jwks >= 1);
    auto key = g.Call("GET", "/api/tasks", std::nullopt, "ak_garbage");  // an API key: verify
    CHECK(key.status == 200);
    CHECK(verify == 1);
    CHECK(forwarded == 2);
  }
  backend.stop();
  serving.join();
}

TEST_CASE("the gateway serves the registry itself and re-reads it on SIGHUP") {
  TempDir dir;
  const std::string file = dir.path() + "/apps.json";
  auto write = [&](const std::string& text) { std::ofstream(file, std::ios::trunc) << text; };
  write(R"({"apps":[{"id":"notes","name":"Notes","upstream":"http://127.0.0.1:9/base",
    "scopes":["agent"],"allowed_origins":[]}]})");
  // The backend has no --apps: what the gateway answers is its own.
  ServerProcess a({}, dir.path());
  REQUIRE(a.started());
  // The servers keep their identity key in the database, sealed under the
  // JWT secret: the gateway reads it there.
  GatewayProcess g(dir.path(), {"--backend", Origin(a), "--rate-limit", "0", "--apps", file,
                                "--database", a.database(), "--jwt-secret-file",
                                a.db_path() + ".jwt-secret"});
  REQUIRE(g.port() > 0);
  User u = RegisterVia(g);
  REQUIRE(!u.access_token.empty());

  CHECK(g.Call("GET", "/api/apps").status == 401);
  CHECK(g.Call("GET", "/api/apps", std::nullopt, "garbage").status == 401);
  auto list = g.Call("GET", "/api/apps", std::nullopt, u.access_token);
  REQUIRE(list.status == 200);
  REQUIRE(list.json["apps"].size() == 1);
  CHECK(list.json["apps"][0] == Json{{"id", "notes"}, {"name", "Notes"}, {"scopes", {"agent"}},
                                     {"allowed_origins", Json::array()}});
  CHECK(a.Call("GET", "/api/apps", std::nullopt, u.access_token).json["apps"] == Json::array());
  auto one = g.Call("GET", "/api/apps/notes", std::nullopt, u.access_token);
  REQUIRE(one.status == 200);
  CHECK(one.json["app"]["name"] == "Notes");
  CHECK(g.Call("GET", "/api/apps/nope", std::nullopt, u.access_token).ErrorCode() ==
        "not_found");

  write(R"({"apps":[{"id":"mail","name":"Mail","upstream":"http://127.0.0.1:9",
    "scopes":[],"allowed_origins":[]}]})");
  REQUIRE(kill(g.pid(), SIGHUP) == 0);
  bool reloaded = false;
  for (int i = 0; i < 100 && !reloaded; ++i) {
    auto l = g.Call("GET", "/api/apps", std::nullopt, u.access_token);
    reloaded = l.status == 200 && l.json["apps"].size() == 1 && l.json["apps"][0]["id"] == "mail";
    if (!reloaded) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(reloaded);
  // A bad file keeps the loaded apps, and the gateway keeps serving.
  write(R"({"apps":[{"id":"mail","name":"Mail","upstream":"ftp://x","scopes":[],
    "allowed_origins":[]}]})");
  REQUIRE(kill(g.pid(), SIGHUP) == 0);
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    logged = g.log().find("apps[0].upstream") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(logged);
  auto kept = g.Call("GET", "/api/apps", std::nullopt, u.access_token);
  REQUIRE(kept.status == 200);
  CHECK(kept.json["apps"][0]["id"] == "mail");
}

TEST_CASE("the gateway refuses to start on a bad registry or without the identity key") {
  TempDir dir;
  const std::string file = dir.path() + "/apps.json";
  std::ofstream(file) << R"({"apps":[{"id":"ok","name":"A","upstream":"http://127.0.0.1:1",
    "scopes":[],"allowed_origins":[]},{"id":"b","name":"B","upstream":"ftp://x","scopes":[],
    "allowed_origins":[]}]})";
  const std::string empty_keys = dir.path() + "/no-keys";
  std::filesystem::create_directory(empty_keys);
  {
    GatewayProcess bad(dir.path(), {"--backend", "http://127.0.0.1:1", "--apps", file,
                                    "--identity-keys", empty_keys});
    CHECK(bad.port() == 0);
    CHECK(bad.log().find("identity") != std::string::npos);
  }
  // An empty key directory is not filled with a key no app could check.
  CHECK(std::filesystem::is_empty(empty_keys));
  {
    GatewayProcess no_keys(dir.path(), {"--backend", "http://127.0.0.1:1", "--apps", file});
    CHECK(no_keys.port() == 0);
    CHECK(no_keys.log().find("--identity-keys") != std::string::npos);
  }
  ServerProcess a({}, dir.path());
  REQUIRE(a.started());
  GatewayProcess bad_file(dir.path(), {"--backend", Origin(a), "--apps", file, "--database",
                                       a.database(), "--jwt-secret-file",
                                       a.db_path() + ".jwt-secret"});
  CHECK(bad_file.port() == 0);
  CHECK(bad_file.log().find("apps[1].upstream") != std::string::npos);
}

TEST_CASE("the gateway refuses a database that holds no identity key instead of making one") {
  TempDir dir;
  const std::string file = dir.path() + "/apps.json";
  std::ofstream(file) << R"({"apps":[{"id":"ok","name":"A","upstream":"http://127.0.0.1:1",
    "scopes":[],"allowed_origins":[]}]})";
  const std::string secret = dir.path() + "/jwt-secret";
  std::ofstream(secret) << "a-secret-no-server-has-used-yet-0123456789";
  // No server ever ran on this database: a key the gateway made would sign
  // tokens that no server's JWKS publishes.
  const std::string db = "sqlite://" + dir.path() + "/never-served.db";
  {
    GatewayProcess g(dir.path(), {"--backend", "http://127.0.0.1:1", "--apps", file,
                                  "--database", db, "--jwt-secret-file", secret});
    CHECK(g.port() == 0);
    CHECK(g.exit_code() == 2);
    CHECK(g.log().find("holds no identity key") != std::string::npos);
  }
  // Nor was an empty database left at the path.
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/never-served.db"));
  // Once a server on it made the key, the same gateway starts.
  ServerProcess a({"--database", db, "--jwt-secret-file", secret}, dir.path());
  REQUIRE(a.started());
  a.Terminate();
  GatewayProcess after(dir.path(), {"--backend", "http://127.0.0.1:1", "--apps", file,
                                    "--database", db, "--jwt-secret-file", secret});
  CHECK(after.port() > 0);
}

TEST_CASE("a large upload passes to the backend as it is read; the body limit holds") {
  using Clock = std::chrono::steady_clock;
  // A backend in this process: ready, and an upload route that notes when
  // its first bytes arrive and how many came.
  httplib::Server backend;
  std::atomic<size_t> received{0};
  std::atomic<int> handled{0};
  std::atomic<int64_t> first_piece_ms{-1};
  const auto start = Clock::now();
  auto since = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  };
  backend.Get("/readyz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  backend.Post("/upload", [&](const httplib::Request&, httplib::Response& res,
                              const httplib::ContentReader& reader) {
    size_t n = 0;
    reader([&](const char*, size_t len) {
      if (n == 0) first_piece_ms = since();
      n += len;
      return true;
    });
    received = n;
    ++handled;
    res.set_content(Json{{"bytes", n}}.dump(), "application/json");
  });
  const int port = backend.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { backend.listen_after_bind(); });

  TempDir dir;
  GatewayProcess g(dir.path(), {"--backend", "http://127.0.0.1:" + std::to_string(port),
                                "--rate-limit", "0", "--token-check", "off", "--body-limit",
                                std::to_string(4 << 20)});
  REQUIRE(g.port() > 0);
  httplib::Client cli("127.0.0.1", g.port());
  cli.set_read_timeout(30, 0);
  // 2 MiB, chunked, the second half sent 800 ms after the first.
  const std::string half(1 << 20, 'u');
  int64_t sent_all_ms = -1;
  auto r = cli.Post("/upload",
                    [&](size_t offset, httplib::DataSink& sink) {
                      if (offset == half.size()) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(800));
                      }
                      if (offset < 2 * half.size()) return sink.write(half.data(), half.size());
                      sent_all_ms = since();
                      sink.done();
                      return true;
                    },
                    "application/octet-stream");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(Json::parse(r->body)["bytes"] == 2 * half.size());
  CHECK(received == 2 * half.size());
  // The backend had bytes well before the client had sent them all: the
  // gateway did not hold the body.
  REQUIRE(first_piece_ms >= 0);
  CHECK(sent_all_ms - first_piece_ms >= 500);

  // Over --body-limit, chunked: 413, and the backend never gets it whole.
  received = 0;
  const std::string big(5 << 20, 'v');
  auto over = cli.Post("/upload",
                       [&](size_t offset, httplib::DataSink& sink) {
                         if (offset < big.size()) return sink.write(big.data() + offset, 1 << 20);
                         sink.done();
                         return true;
                       },
                       "application/octet-stream");
  if (over) CHECK(over->status == 413);  // else the gateway closed before the answer
  CHECK(received < big.size());
  // With a length over the limit: 413 before anything is forwarded (once
  // the backend is done with the cut upload above).
  for (int i = 0; i < 500 && handled < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  received = 0;
  httplib::Client cli2("127.0.0.1", g.port());
  auto declared = cli2.Post("/upload", big, "application/octet-stream");
  if (declared) CHECK(declared->status == 413);
  CHECK(received == 0);

  backend.stop();
  serving.join();
}

TEST_CASE("uploads and multipart bodies arrive byte for byte; memory stays flat; a cut upload is freed") {
  CountingUpstream backend;
  REQUIRE(backend.port() > 0);
  TempDir dir;
  GatewayProcess g(dir.path(), {"--backend", "http://127.0.0.1:" + std::to_string(backend.port()),
                                "--rate-limit", "0", "--token-check", "off", "--body-limit",
                                std::to_string(64 << 20)});
  REQUIRE(g.port() > 0);

  // Multipart, small (read whole) and large (streamed): as sent.
  for (size_t size : {size_t{10}, size_t{300} << 10}) {
    CAPTURE(size);
    const std::string body =
        "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n" +
        std::string(size, 'm') + "\r\n--b--\r\n";
    auto r = g.Raw("POST", "/upload", body, "multipart/form-data; boundary=b");
    REQUIRE(r.status == 200);
    CHECK(r.json["bytes"] == body.size());
    CHECK(r.json["fnv"] == std::to_string(Fnv1a(body)));
    CHECK(r.json["content_type"] == "multipart/form-data; boundary=b");
  }

  // 48 MiB with a length: intact at the backend, and the gateway's peak
  // memory grows by far less than the body.
  const long peak_before = PeakMemoryKiB(g.pid());
  REQUIRE(peak_before > 0);
  std::string big(48 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 65537) big[i] = static_cast<char>('a' + i % 26);
  auto r = g.Raw("PUT", "/upload", big, "application/octet-stream");
  REQUIRE(r.status == 200);
  CHECK(r.json["bytes"] == big.size());
  CHECK(r.json["fnv"] == std::to_string(Fnv1a(big)));
  const long grown_kib = PeakMemoryKiB(g.pid()) - peak_before;
  MESSAGE("the gateway's peak memory grew by ", grown_kib, " KiB for a 48 MiB upload");
  CHECK(grown_kib < 16 * 1024);

  // A client that vanishes mid-body: the backend's read ends, nothing is
  // left reading, and the gateway serves on.
  const int failed_before = backend.bodies_failed;
  {
    PartialUpload cut(g.port(),
                      "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 8000000\r\n\r\n",
                      512 << 10);
    REQUIRE(cut.sent());
    for (int i = 0; i < 200 && backend.reading == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(backend.reading == 1);
  }
  for (int i = 0; i < 500 && backend.reading > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(backend.reading == 0);
  CHECK(backend.bodies_failed == failed_before + 1);
  CHECK(g.Call("GET", "/healthz").status == 200);
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
