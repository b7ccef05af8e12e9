// Black-box: operations routes, the request path's protections (request
// ids, security headers, CORS, limits, unknown routes), configuration at
// start, logs, graceful shutdown, restart persistence and kill -9.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "harness.hpp"

using namespace http_test;

TEST_SUITE("http.ops") {

TEST_CASE("healthz, readyz, metrics, openapi need no credential") {
  ServerProcess s;
  REQUIRE(s.started());
  auto h = s.Call("GET", "/healthz");
  CHECK(h.status == 200);
  CHECK(h.json["status"] == "ok");
  CHECK(s.Call("GET", "/readyz").status == 200);
  const User u = Register(s);
  s.Call("GET", "/api/tasks", std::nullopt, u.access_token);
  s.Call("GET", "/api/tasks/nope", std::nullopt, u.access_token);
  auto m = s.Call("GET", "/metrics");
  REQUIRE(m.status == 200);
  CHECK(m.Header("Content-Type").rfind("text/plain", 0) == 0);
  CHECK(m.body.find(R"(assistant_http_requests_total{method="GET",route="/api/tasks",status="200"} 1)") != std::string::npos);
  CHECK(m.body.find(R"(assistant_http_requests_total{method="GET",route="/api/tasks/{id}",status="404"} 1)") != std::string::npos);
  CHECK(m.body.find(R"(assistant_http_requests_total{method="POST",route="/api/auth/register",status="201"} 1)") != std::string::npos);
  CHECK(m.body.find("assistant_http_request_duration_seconds_bucket") != std::string::npos);
  CHECK(m.body.find("assistant_http_requests_in_flight 1") != std::string::npos);  // this request
}

TEST_CASE("metrics count what the product did: runs, model and tool calls, storage writes") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  auto add = s.Call("POST", "/api/agent/message", Json{{"message", "add task water the plants"}},
                    u.access_token);
  REQUIRE(add.status == 200);
  auto m = s.Call("GET", "/metrics");
  REQUIRE(m.status == 200);
  CHECK(m.body.find("assistant_agent_runs_started_total 1\n") != std::string::npos);
  CHECK(m.body.find(R"(assistant_agent_runs_finished_total{status="completed"} 1)") !=
        std::string::npos);
  CHECK(m.body.find(R"(assistant_llm_calls_total{provider="rules",outcome="ok"})") !=
        std::string::npos);
  CHECK(m.body.find(R"(assistant_tool_calls_total{tool="add_task",outcome="ok"} 1)") !=
        std::string::npos);
  CHECK(m.body.find(R"(assistant_storage_writes_total{operation="CreateUser",outcome="ok"} 1)") !=
        std::string::npos);
  CHECK(m.body.find(R"(assistant_storage_writes_total{operation="CreateTask",outcome="ok"} 1)") !=
        std::string::npos);
  CHECK(m.body.find("assistant_agent_run_duration_seconds_count 1\n") != std::string::npos);
  CHECK(m.body.find("assistant_streams_open 0\n") != std::string::npos);
}

TEST_CASE("a request for no route logs the method and path it refused") {
  ServerProcess s;
  REQUIRE(s.started());
  CHECK(s.Call("GET", "/api/no-such-thing/42").status == 404);
  // The log is written by its own thread: give it a moment.
  std::string log;
  for (int i = 0; i < 100 && log.find("/api/no-such-thing/42") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    log = s.log();
  }
  CHECK(log.find("no such route") != std::string::npos);
  CHECK(log.find("/api/no-such-thing/42") != std::string::npos);
}

TEST_CASE("openapi.json describes every documented route served") {
  ServerProcess s;
  REQUIRE(s.started());
  auto doc = s.Call("GET", "/openapi.json");
  REQUIRE(doc.status == 200);
  CHECK(doc.json["openapi"] == "3.1.0");
  const std::vector<std::pair<std::string, std::string>> spec = {
      {"post", "/api/auth/register"}, {"post", "/api/auth/login"}, {"post", "/api/auth/refresh"},
      {"post", "/api/auth/logout"}, {"get", "/api/auth/verify"}, {"get", "/api/auth/sessions"},
      {"delete", "/api/auth/sessions/{id}"}, {"post", "/api/auth/forgot-password"},
      {"post", "/api/auth/reset-password"}, {"post", "/api/auth/send-verification-email"},
      {"post", "/api/auth/verify-email"}, {"post", "/api/auth/api-keys"}, {"get", "/api/auth/api-keys"},
      {"delete", "/api/auth/api-keys/{id}"}, {"get", "/.well-known/jwks.json"},
      {"get", "/api/user/me"}, {"patch", "/api/user/me"}, {"delete", "/api/user/me"},
      {"get", "/api/user/audit"}, {"get", "/api/user/data/{namespace}/{key}"},
      {"put", "/api/user/data/{namespace}/{key}"}, {"delete", "/api/user/data/{namespace}/{key}"},
      {"get", "/api/user/data/{namespace}"}, {"get", "/api/tasks"}, {"post", "/api/tasks"},
      {"get", "/api/tasks/{id}"}, {"patch", "/api/tasks/{id}"}, {"delete", "/api/tasks/{id}"},
      {"post", "/api/tasks/clear-completed"}, {"get", "/api/conversations"},
      {"post", "/api/conversations"}, {"get", "/api/conversations/{id}"},
      {"patch", "/api/conversations/{id}"}, {"delete", "/api/conversations/{id}"},
      {"get", "/api/conversations/{id}/messages"}, {"post", "/api/conversations/{id}/fork"},
      {"post", "/api/agent/message"}, {"get", "/api/agent/history"}, {"get", "/api/agent/state"},
      {"put", "/api/agent/state"}, {"patch", "/api/agent/state"}, {"get", "/api/agent/memory"},
      {"post", "/api/agent/memory"}, {"delete", "/api/agent/memory/{id}"}, {"get", "/healthz"},
      {"get", "/readyz"}, {"get", "/metrics"}, {"get", "/openapi.json"}};
  for (const auto& [method, path] : spec) {
    INFO(method << " " << path);
    REQUIRE(doc.json["paths"].contains(path));
    CHECK(doc.json["paths"][path].contains(method));
  }
  // And every documented operation is really served: no route-level 404.
  const User u = Register(s);
  for (const auto& [path, ops] : doc.json["paths"].items()) {
    for (const auto& [method, op] : ops.items()) {
      std::string concrete = path;
      for (size_t p; (p = concrete.find('{')) != std::string::npos;) {
        concrete.replace(p, concrete.find('}', p) - p + 1, "x");
      }
      std::string m = method;
      for (auto& c : m) c = static_cast<char>(std::toupper(c));
      if (m == "DELETE" && concrete == "/api/user/me") continue;  // would end the test user
      auto r = s.Call(m, concrete, m == "GET" || m == "DELETE" ? std::nullopt : std::optional<Json>(Json::object()),
                      u.access_token);
      INFO(m << " " << concrete << " -> " << r.status << " " << r.body);
      CHECK(r.status != 405);
      CHECK(r.body.find("no such route") == std::string::npos);
    }
  }
}

TEST_CASE("request ids, security headers, uniform errors for unknown routes and methods") {
  ServerProcess s;
  REQUIRE(s.started());
  auto kept = s.Call("GET", "/healthz", std::nullopt, "", {{"X-Request-ID", "client-abc.1:2"}});
  CHECK(kept.Header("X-Request-ID") == "client-abc.1:2");
  auto replaced = s.Call("GET", "/healthz", std::nullopt, "", {{"X-Request-ID", "bad id <x>"}});
  CHECK(replaced.Header("X-Request-ID").size() == 32);
  auto too_long = s.Call("GET", "/healthz", std::nullopt, "", {{"X-Request-ID", std::string(129, 'a')}});
  CHECK(too_long.Header("X-Request-ID") != std::string(129, 'a'));
  CHECK(kept.Header("X-Content-Type-Options") == "nosniff");
  CHECK(kept.Header("X-Frame-Options") == "DENY");
  CHECK(kept.Header("Referrer-Policy") == "no-referrer");

  auto unknown = s.Call("GET", "/api/nothing-here", std::nullopt, "", {{"X-Request-ID", "rid-404"}});
  CHECK(unknown.status == 404);
  CHECK(unknown.ErrorCode() == "not_found");
  CHECK(unknown.json["error"]["request_id"] == "rid-404");
  // A header block over the transport's 32 KiB never reaches a route: still JSON.
  auto huge_header = s.Call("GET", "/api/tasks", std::nullopt, std::string(40000, 'A'));
  CHECK(huge_header.status == 431);
  CHECK(huge_header.ErrorCode() == "header_fields_too_large");
  CHECK_FALSE(huge_header.Header("X-Request-ID").empty());
  auto huge_uri = s.Call("GET", "/api/tasks?q=" + std::string(9000, 'a'));
  CHECK(huge_uri.status == 414);
  CHECK(huge_uri.ErrorCode() == "uri_too_long");
  auto wrong_method = s.Call("PUT", "/api/tasks", Json::object());
  CHECK(wrong_method.status == 405);
  CHECK(wrong_method.Header("Allow").find("GET") != std::string::npos);
  // More segments than any route has: a 404 like any unknown path, and no
  // Allow header (routing keeps a request's segments in a fixed array).
  std::string deep_path;
  for (int i = 0; i < 40; ++i) deep_path += "/api";
  auto deep = s.Call("OPTIONS", deep_path);
  CHECK(deep.status == 404);
  CHECK(deep.ErrorCode() == "not_found");
  CHECK(s.Call("GET", deep_path).status == 404);
  // Empty segments are skipped.
  CHECK(s.Call("GET", "//healthz/").status == 200);
}

TEST_CASE("body limit 413, content type 415, malformed 400, deep JSON 400") {
  ServerProcess s({"--body-limit", "4096"});
  REQUIRE(s.started());
  const User u = Register(s);
  const httplib::Headers auth = {{"Authorization", "Bearer " + u.access_token}};
  auto big = s.Raw("POST", "/api/tasks", "{\"title\":\"" + std::string(5000, 'x') + "\"}", "application/json", auth);
  CHECK(big.status == 413);
  CHECK(big.ErrorCode() == "payload_too_large");
  CHECK_FALSE(big.Header("X-Request-ID").empty());
  auto text = s.Raw("POST", "/api/tasks", "title=x", "text/plain", auth);
  CHECK(text.status == 415);
  auto broken = s.Raw("POST", "/api/tasks", "{\"title\": \"x\"", "application/json", auth);
  CHECK(broken.status == 400);
  CHECK(broken.ErrorCode() == "malformed_request");
  auto deep = s.Raw("POST", "/api/tasks", std::string(2000, '[') + std::string(2000, ']'), "application/json", auth);
  CHECK(deep.status == 400);
  auto deep_any = s.Raw("PUT", "/api/user/data/ns/k", std::string(2000, '[') + std::string(2000, ']'), "application/json", auth);
  CHECK(deep_any.status == 400);
  auto charset = s.Raw("POST", "/api/tasks", "{\"title\":\"x\"}", "application/json; charset=utf-8", auth);
  CHECK(charset.status == 201);
  // Each input a plain parse would take silently is a 400 naming its
  // problem, and nothing is created.
  auto refused = [&](const std::string& body, const std::string& says) {
    CAPTURE(body);
    auto r = s.Raw("POST", "/api/tasks", body, "application/json", auth);
    CHECK(r.status == 400);
    CHECK(r.ErrorCode() == "malformed_request");
    CHECK(r.json["error"]["message"].get<std::string>().find(says) != std::string::npos);
  };
  refused(std::string(65, '[') + std::string(65, ']'), "nested too deeply");
  refused("{\"title\":\"first\",\"title\":\"second\"}", "key \"title\" more than once");
  refused("{\"title\":\"x\",\"priority\":1e999}", "number overflow");
  refused("{\"title\":\"bad \xff\xfe byte\"}", "not valid UTF-8");
  refused("{\"title\":\"\xed\xa0\x80 surrogate\"}", "not valid UTF-8");
  auto listed = s.Call("GET", "/api/tasks", std::nullopt, u.access_token);
  REQUIRE(listed.status == 200);
  CHECK(listed.json["tasks"].size() == 1);  // only the charset one
  // The server is still fine after all of that.
  CHECK(s.Call("GET", "/healthz").status == 200);
}

TEST_CASE("a POST without Content-Length has an empty body, not a 400") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  // What `curl -X POST` sends: no Content-Length, no Transfer-Encoding.
  auto raw = [&](const std::string& text) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(s.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (out.find("\r\n\r\n") != std::string::npos) break;
    }
    ::close(fd);
    return out;
  };
  const std::string reply = raw("POST /api/tasks/clear-completed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                u.access_token + "\r\nConnection: close\r\n\r\n");
  CHECK(reply.rfind("HTTP/1.1 200", 0) == 0);
  const std::string logout = raw("POST /api/auth/logout HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                 u.access_token + "\r\nConnection: close\r\n\r\n");
  CHECK(logout.rfind("HTTP/1.1 204", 0) == 0);
}

TEST_CASE("CORS allow-list and preflight") {
  ServerProcess s({"--cors-origins", "https://app.example,https://other.example"});
  REQUIRE(s.started());
  auto allowed = s.Call("GET", "/healthz", std::nullopt, "", {{"Origin", "https://app.example"}});
  CHECK(allowed.Header("Access-Control-Allow-Origin") == "https://app.example");
  CHECK(allowed.Header("Access-Control-Allow-Credentials") == "true");
  auto denied = s.Call("GET", "/healthz", std::nullopt, "", {{"Origin", "https://evil.example"}});
  CHECK(denied.Header("Access-Control-Allow-Origin").empty());
  auto preflight = s.Call("OPTIONS", "/api/tasks", std::nullopt, "",
                          {{"Origin", "https://other.example"}, {"Access-Control-Request-Method", "POST"}});
  CHECK(preflight.status == 204);
  CHECK(preflight.Header("Access-Control-Allow-Methods").find("POST") != std::string::npos);
  CHECK(preflight.Header("Access-Control-Allow-Headers").find("Authorization") != std::string::npos);
  auto bad_preflight = s.Call("OPTIONS", "/api/tasks", std::nullopt, "", {{"Origin", "https://evil.example"}});
  CHECK(bad_preflight.status == 403);
  CHECK(bad_preflight.Header("Access-Control-Allow-Origin").empty());
  auto plain_options = s.Call("OPTIONS", "/api/tasks/abc");
  CHECK(plain_options.status == 204);
  CHECK(plain_options.Header("Allow").find("PATCH") != std::string::npos);
  CHECK(s.Call("OPTIONS", "/nowhere", std::nullopt, "", {{"Origin", "https://app.example"}}).status == 404);
}

TEST_CASE("a refused start leaves no file behind, and a taken port says why") {
  TempDir dir;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--database", "mysql://u:p@h/db", "--port", "0"},
#ifndef ASSISTANT_WITH_POSTGRES
        // A URL no backend of this build takes.
        std::vector<std::string>{"--database", "postgresql://u:p@h/db", "--port", "0"},
#endif
        std::vector<std::string>{"--database", "sqlite://", "--port", "0"}}) {
    auto refused = RunServerToExit(args, dir.path());
    CHECK(refused.exit_code == 1);
    CHECK(refused.output.find("u:p@") == std::string::npos);
  }
#ifdef ASSISTANT_WITH_POSTGRES
  {
    // A PostgreSQL URL is taken and fails only when connecting (port 1:
    // nothing listens); the password is never shown. Its development secret
    // may stay in the working directory, so this runs in a directory of its own.
    TempDir pg_dir;
    auto refused = RunServerToExit(
        {"--database", "postgresql://u:p4ssw0rd@127.0.0.1:1/db", "--port", "0"}, pg_dir.path());
    CHECK(refused.exit_code == 1);
    CHECK(refused.output.find("p4ssw0rd") == std::string::npos);
    CHECK(refused.output.find("storage_unavailable") != std::string::npos);
  }
#endif
  size_t files = 0;  // beyond the logs the harness writes there
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().filename().string().rfind("run-", 0) == 0) continue;
    ++files;
    MESSAGE("left behind: " << entry.path());
  }
  CHECK(files == 0);

  // A port held by another program's socket (without SO_REUSEPORT).
  const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(holder, 4) == 0);
  socklen_t len = sizeof a;
  ::getsockname(holder, reinterpret_cast<sockaddr*>(&a), &len);
  auto taken = RunServerToExit({"--database", "sqlite::memory:", "--port",
                                std::to_string(ntohs(a.sin_port))},
                               dir.path());
  ::close(holder);
  CHECK(taken.exit_code == 1);
  CHECK(taken.output.find("Address already in use") != std::string::npos);
}

TEST_CASE("--help, bad flags and --production refusals") {
  TempDir dir;
  auto help = RunServerToExit({"--help"}, dir.path());
  CHECK(help.exit_code == 0);
  for (const char* f : {"--database", "--jwt-alg", "--rate-limit-auth", "--on-disconnect", "--production",
                        "ASSISTANT_LLM_API_KEY"}) {
    CHECK_MESSAGE(help.output.find(f) != std::string::npos, f);
  }
  auto bad = RunServerToExit({"--port", "banana"}, dir.path());
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("--port") != std::string::npos);

  const std::string db = "sqlite://" + dir.path() + "/p.db";
  auto no_secret = RunServerToExit({"--production", "--database", db, "--port", "0"}, dir.path());
  CHECK(no_secret.exit_code == 1);
  CHECK(no_secret.output.find("jwt-secret-file") != std::string::npos);
  const std::string weak = dir.path() + "/weak.key";
  { std::ofstream(weak) << "password123"; }
  auto weak_secret = RunServerToExit({"--production", "--database", db, "--port", "0", "--jwt-secret-file", weak}, dir.path());
  CHECK(weak_secret.exit_code == 1);
  CHECK(weak_secret.output.find("32 bytes") != std::string::npos);

  const std::string strong = dir.path() + "/strong.key";
  { std::ofstream(strong) << "0123456789abcdef0123456789abcdef0123456789abcdef\n"; }
  ServerProcess prod({"--production", "--database", db, "--port", "0", "--jwt-secret-file", strong}, dir.path(), false);
  REQUIRE(prod.started());
  const User u = Register(prod);
  REQUIRE_FALSE(u.access_token.empty());
  auto login = prod.Call("POST", "/api/auth/login", Json{{"email", u.email}, {"password", u.password}});
  CHECK(login.Header("Set-Cookie").find("Secure") != std::string::npos);
}

TEST_CASE("logs: one structured line per request, never a password or token") {
  ServerProcess s({"--log-format", "json"});
  REQUIRE(s.started());
  const User u = Register(s);
  auto key = s.Call("POST", "/api/auth/api-keys", Json{{"name", "k"}, {"scopes", {"tasks:read"}}}, u.access_token);
  s.Call("GET", "/api/tasks", std::nullopt, u.access_token, {{"X-Request-ID", "trace-me-1"}});
  CHECK(s.Terminate() == 0);  // flushes the log
  const std::string log = s.log();
  CHECK(log.find(u.password) == std::string::npos);
  CHECK(log.find(u.access_token) == std::string::npos);
  CHECK(log.find(u.refresh_token) == std::string::npos);
  CHECK(log.find(key.json["key"].get<std::string>()) == std::string::npos);
  bool found = false;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    Json j = Json::parse(line, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());  // every line is JSON
    if (j.value("request_id", "") == "trace-me-1") {
      found = true;
      CHECK(j["route"] == "/api/tasks");
      CHECK(j["status"] == 200);
      CHECK(j["method"] == "GET");
      CHECK(j["latency_ms"].is_number());
    }
  }
  CHECK(found);
}

TEST_CASE("restart keeps data and sessions; the development secret is 0600") {
  TempDir dir;
  User u;
  std::string task_id;
  {
    ServerProcess first({}, dir.path());
    REQUIRE(first.started());
    u = Register(first);
    task_id = first.Call("POST", "/api/tasks", Json{{"title", "survive restarts"}}, u.access_token).json["task"]["id"];
    CHECK(first.Terminate() == 0);
    CHECK(first.log().find("generated a JWT secret") != std::string::npos);
  }
  struct stat st {};
  REQUIRE(::stat((dir.path() + "/test.db.jwt-secret").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  ServerProcess second({}, dir.path());
  REQUIRE(second.started());
  auto got = second.Call("GET", "/api/tasks/" + task_id, std::nullopt, u.access_token);
  CHECK(got.status == 200);
  CHECK(got.json["task"]["title"] == "survive restarts");
  CHECK(second.Call("POST", "/api/auth/refresh", Json{{"refresh_token", u.refresh_token}}).status == 200);
  CHECK(second.log().find("using the JWT secret") != std::string::npos);
}

TEST_CASE("every file and directory the server creates is its owner's only") {
  TempDir dir;
  ServerProcess s({}, dir.path());
  REQUIRE(s.started());
  const User u = Register(s);  // writes the database, its WAL and the mail outbox
  REQUIRE(s.Call("POST", "/api/tasks", Json{{"title", "private"}}, u.access_token).status == 201);
  std::set<std::string> seen;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("server-", 0) == 0) continue;  // the test's own capture of the server's output
    CAPTURE(entry.path().string());
    struct stat st {};
    REQUIRE(::lstat(entry.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 077) == 0);
    seen.insert(name);
  }
  // On PostgreSQL the database is not a file here; the secret still is.
  const std::string base = std::filesystem::path(s.db_path()).filename().string();
  std::vector<std::string> expected = {base + ".jwt-secret"};
  if (!PostgresMode()) {
    expected.insert(expected.end(), {base, base + "-wal", base + "-shm"});
  }
  for (const std::string& name : expected) {
    CHECK_MESSAGE(seen.count(name) == 1, name);
  }
}

TEST_CASE("--metrics-token-file: /metrics needs the token; a short token refuses to start") {
  TempDir dir;
  const std::string token = "m3tr1cs-t0ken-for-the-scraper-only";
  const std::string file = dir.path() + "/metrics.token";
  { std::ofstream(file) << token << "\n"; }
  ServerProcess s({"--metrics-token-file", file}, dir.path());
  REQUIRE(s.started());
  const Response none = s.Call("GET", "/metrics");
  CHECK(none.status == 401);
  CHECK(none.Header("WWW-Authenticate") == "Bearer");
  CHECK(none.body.find("assistant_") == std::string::npos);
  CHECK(s.Call("GET", "/metrics", std::nullopt, token + "x").status == 401);
  CHECK(s.Call("GET", "/metrics", std::nullopt, token.substr(1)).status == 401);
  const Response ok = s.Call("GET", "/metrics", std::nullopt, token);
  CHECK(ok.status == 200);
  CHECK(ok.Header("Content-Type").rfind("text/plain", 0) == 0);
  // The rest of operations stays open.
  CHECK(s.Call("GET", "/healthz").status == 200);
  CHECK(s.log().find(token) == std::string::npos);

  const std::string short_file = dir.path() + "/short.token";
  { std::ofstream(short_file) << "abc\n"; }
  auto refused = RunServerToExit({"--metrics-token-file", short_file, "--port", "0", "--database",
                                  "sqlite://" + dir.path() + "/other.db"},
                                 dir.path());
  CHECK(refused.exit_code == 1);
  CHECK(refused.output.find("metrics-token-file") != std::string::npos);
}

TEST_CASE("SIGTERM drains in-flight requests and exits 0") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  std::atomic<int> ok{0}, failed{0};
  std::atomic<bool> go{true};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      while (go) {
        auto r = s.Call("POST", "/api/tasks", Json{{"title", "t"}}, u.access_token);
        if (r.status == 201) ++ok;
        else if (r.status != 0) ++failed;  // an answered request must be a success
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int code = s.Terminate();
  go = false;
  for (auto& t : clients) t.join();
  CHECK(code == 0);
  CHECK(ok > 0);
  CHECK(failed == 0);
  CHECK(s.log().find("msg=stopped") != std::string::npos);
}

TEST_CASE("kill -9 during concurrent writes loses no acknowledged write") {
  TempDir dir;
  User u;
  std::mutex mu;
  std::set<std::string> acknowledged;
  {
    ServerProcess s({}, dir.path());
    REQUIRE(s.started());
    u = Register(s);
    std::atomic<bool> go{true};
    std::vector<std::thread> writers;
    for (int i = 0; i < 6; ++i) {
      writers.emplace_back([&, i] {
        int n = 0;
        while (go) {
          auto r = s.Call("POST", "/api/tasks", Json{{"title", "w" + std::to_string(i) + "-" + std::to_string(n++)}},
                          u.access_token);
          if (r.status == 201) {
            std::lock_guard<std::mutex> lock(mu);
            acknowledged.insert(r.json["task"]["id"].get<std::string>());
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    s.Kill9();
    go = false;
    for (auto& t : writers) t.join();
  }
  REQUIRE(acknowledged.size() > 10);
  ServerProcess again({}, dir.path());
  REQUIRE(again.started());
  std::set<std::string> stored;
  std::string cursor;
  do {
    auto page = again.Call("GET", "/api/tasks?limit=200" + (cursor.empty() ? "" : "&cursor=" + cursor),
                           std::nullopt, u.access_token);
    REQUIRE(page.status == 200);
    for (const auto& t : page.json["tasks"]) stored.insert(t["id"].get<std::string>());
    cursor = page.json["next_cursor"].is_string() ? page.json["next_cursor"].get<std::string>() : "";
  } while (!cursor.empty());
  size_t missing = 0;
  for (const auto& id : acknowledged) missing += stored.count(id) == 0;
  CHECK(missing == 0);
  MESSAGE("acknowledged " << acknowledged.size() << ", stored " << stored.size());
}

}  // TEST_SUITE
