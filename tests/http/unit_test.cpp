// In-process tests of assistant-server's pieces: the rate limiter, request
// ids, configuration, the Status -> HTTP mapping, log formatting, metrics
// and the route table against the OpenAPI document.
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "assistant/core.hpp"
#include "assistant/http_status.hpp"
#include "common/json_text.hpp"
#include "common/openai_http_status.hpp"
#include "config.hpp"
#include "harness.hpp"
#include "logger.hpp"
#include "metrics.hpp"
#include "product_metrics.hpp"
#include "render.hpp"
#include "request_id.hpp"
#include "server.hpp"
#include "stream_slots.hpp"
#include "trusted_proxies.hpp"

using namespace assistant;
using namespace assistant::server;
using std::chrono::seconds;

TEST_SUITE("server.unit") {

TEST_CASE("request ids: sane client ids kept, anything else replaced") {
  CHECK(IsSaneRequestId("abc-123_X.y:z"));
  CHECK(IsSaneRequestId(std::string(128, 'a')));
  CHECK_FALSE(IsSaneRequestId(""));
  CHECK_FALSE(IsSaneRequestId(std::string(129, 'a')));
  CHECK_FALSE(IsSaneRequestId("has space"));
  CHECK_FALSE(IsSaneRequestId("new\nline"));
  CHECK_FALSE(IsSaneRequestId("<script>"));
  CHECK(RequestIdFor("client-1") == "client-1");
  const std::string fresh = RequestIdFor("bad id");
  CHECK(fresh.size() == 32);
  CHECK(IsSaneRequestId(fresh));
  CHECK(NewRequestId() != NewRequestId());
}

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST_CASE("config: defaults are those docs/server.md states") {
  auto c = ParseConfig({}, FakeEnv({}));
  REQUIRE(c.ok());
  CHECK(c->host == "127.0.0.1");
  CHECK(c->port == 8000);
  CHECK(c->database_url == "sqlite://assistant.db");
  CHECK(c->jwt_alg == "HS256");
  CHECK(c->llm_provider == "rules");
  CHECK(c->rate_limit_auth == 10);
  CHECK(c->rate_limit_api == 100);
  CHECK(c->on_disconnect == "continue");
  CHECK(c->log_format == "text");
  CHECK(c->refresh_grace == 10);
  CHECK(c->llm_timeout == 60);
  CHECK(c->run_retention == 3600);
  CHECK(c->body_limit == 1u << 20);
  CHECK_FALSE(c->production);
}

TEST_CASE("config: environment read, flag wins, both --flag v and --flag=v") {
  auto c = ParseConfig({"--port", "9001", "--rate-limit-api=0", "--cors-origins",
                        "https://a.example, https://b.example"},
                       FakeEnv({{"ASSISTANT_PORT", "7000"},
                                {"ASSISTANT_HOST", "0.0.0.0"},
                                {"ASSISTANT_LLM_API_KEY", "sk-test"},
                                {"ASSISTANT_PRODUCTION", "1"},
                                {"ASSISTANT_JWT_ALG", "EdDSA"}}));
  REQUIRE(c.ok());
  CHECK(c->port == 9001);
  CHECK(c->host == "0.0.0.0");
  CHECK(c->rate_limit_api == 0);
  CHECK(c->llm_api_key == "sk-test");
  CHECK(c->production);
  CHECK(c->cookie_secure);  // forced by production
  CHECK(c->jwt_alg == "EdDSA");
  CHECK(c->cors_origins == std::vector<std::string>{"https://a.example", "https://b.example"});
}

TEST_CASE("config: bad values are refused naming the flag") {
  auto bad = [](std::vector<std::string> args) {
    auto c = ParseConfig(args, FakeEnv({}));
    return c.ok() ? std::string() : c.status().field();
  };
  CHECK(bad({"--port", "70000"}) == "port");
  CHECK(bad({"--port", "12ab"}) == "port");
  CHECK(bad({"--jwt-alg", "RS256"}) == "jwt-alg");
  CHECK(bad({"--on-disconnect", "maybe"}) == "on-disconnect");
  CHECK(bad({"--log-format", "xml"}) == "log-format");
  CHECK(bad({"--llm-provider", "magic"}) == "llm-provider");
  CHECK(bad({"--no-such-flag"}) == "no-such-flag");
  CHECK(bad({"--threads"}) == "threads");
  CHECK(bad({"--llm-api-key", "sk"}) == "llm-api-key");  // env only
  auto env_bad = ParseConfig({}, FakeEnv({{"ASSISTANT_RATE_LIMIT_AUTH", "-1"}}));
  CHECK_FALSE(env_bad.ok());
}

TEST_CASE("config: --copy-database takes FROM and TO") {
  auto c = ParseConfig({"--copy-database", "sqlite://a.db", "postgresql://h/db", "--port", "1"},
                       FakeEnv({}));
  REQUIRE(c.ok());
  REQUIRE(c->copy_database.has_value());
  CHECK(c->copy_database->first == "sqlite://a.db");
  CHECK(c->copy_database->second == "postgresql://h/db");
  CHECK_FALSE(ParseConfig({}, FakeEnv({}))->copy_database.has_value());
  auto short_of_one = ParseConfig({"--copy-database", "a.db"}, FakeEnv({}));
  REQUIRE_FALSE(short_of_one.ok());
  CHECK(short_of_one.status().field() == "copy-database");
  CHECK(HelpText().find("--copy-database FROM TO") != std::string::npos);
}

TEST_CASE("config: --db-pool sizes the PostgreSQL pool the core opens") {
  auto c = ParseConfig({"--db-pool", "16"}, FakeEnv({}));
  REQUIRE(c.ok());
  auto options = BuildCoreOptions(*c);
  REQUIRE(options.ok());
  CHECK(options->storage.pool_connections == 16);
  CHECK(BuildCoreOptions(*ParseConfig({}, FakeEnv({})))->storage.pool_connections == 8);
  auto zero = ParseConfig({"--db-pool", "0"}, FakeEnv({}));
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.status().field() == "db-pool");
  CHECK_FALSE(ParseConfig({}, FakeEnv({{"ASSISTANT_DB_POOL", "257"}})).ok());
}

TEST_CASE("config: --help lists every flag with its variable") {
  const std::string help = HelpText();
  for (const char* flag :
       {"--host", "--port", "--database", "--jwt-alg", "--jwt-secret-file", "--jwt-key-dir",
        "--llm-provider", "--llm-base-url", "--llm-model", "--apps", "--cors-origins",
        "--rate-limit-auth", "--rate-limit-api", "--on-disconnect", "--log-format", "--threads",
        "--refresh-grace", "--llm-timeout", "--run-retention", "--production", "--state-dir",
        "--trusted-proxies", "--max-turns-in-flight", "--db-pool"}) {
    CHECK_MESSAGE(help.find(flag) != std::string::npos, flag);
  }
  for (const char* env : {"ASSISTANT_HOST", "ASSISTANT_DATABASE_URL", "ASSISTANT_LLM_API_KEY",
                          "ASSISTANT_RATE_LIMIT_API", "ASSISTANT_PRODUCTION"}) {
    CHECK_MESSAGE(help.find(env) != std::string::npos, env);
  }
}

TEST_CASE("config: production refuses missing or weak secrets; development makes one 0600 at Open") {
  http_test::TempDir dir;
  ServerConfig c;
  c.database_url = "sqlite://" + dir.path() + "/a.db";
  c.production = true;
  auto missing = BuildCoreOptions(c);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().reason() == "weak_secret");

  const std::string weak = dir.path() + "/weak";
  { std::ofstream(weak) << "short-secret\n"; }
  c.jwt_secret_file = weak;
  CHECK(BuildCoreOptions(c).status().reason() == "weak_secret");
  // The core's refusal, in the server's words: it names the flag to change.
  CHECK(BuildCoreOptions(c).status().message().rfind("--jwt-secret-file: ", 0) == 0);

  const std::string strong = dir.path() + "/strong";
  { std::ofstream(strong) << std::string(40, 'k') << "\n\n"; }
  c.jwt_secret_file = strong;
  auto ok = BuildCoreOptions(c);
  REQUIRE(ok.ok());
  CHECK(ok->auth.jwt_secret_file == strong);
  CHECK(ok->production);

  c.argon2_memory_kib = 64;  // weaker hashing than the default: refused too
  CHECK(BuildCoreOptions(c).status().reason() == "weak_secret");

  ServerConfig dev;
  dev.database_url = c.database_url;
  dev.argon2_memory_kib = 64;
  dev.argon2_iterations = 1;
  auto options = BuildCoreOptions(dev);
  REQUIRE(options.ok());
  const std::string secret_path = dir.path() + "/a.db.jwt-secret";
  struct stat st {};
  CHECK(::stat(secret_path.c_str(), &st) != 0);  // nothing written before Open
  std::string first;
  {
    auto core = Assistant::Open(*options);
    REQUIRE(core.ok());
    first = (*core)->options().auth.jwt_secret;
  }
  REQUIRE(::stat(secret_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(first.size() == 64);
  auto again = Assistant::Open(*options);
  REQUIRE(again.ok());
  CHECK((*again)->options().auth.jwt_secret == first);  // persisted
}

TEST_CASE("http status mapping is the table of http_status.hpp") {
  CHECK(HttpStatusFor(Status()) == 200);
  CHECK(HttpStatusFor(InvalidArgumentError("bad", "title")) == 422);
  CHECK(HttpStatusFor(MalformedError("bad json")) == 400);
  CHECK(HttpStatusFor(NotFoundError("x")) == 404);
  CHECK(HttpStatusFor(AlreadyExistsError("x", "email_taken")) == 409);
  CHECK(HttpStatusFor(UnauthenticatedError("x")) == 401);
  CHECK(HttpStatusFor(PermissionDeniedError("x")) == 403);
  CHECK(HttpStatusFor(ResourceExhaustedError("x")) == 429);
  CHECK(HttpStatusFor(ResourceExhaustedError("x", "payload_too_large")) == 413);
  // A full disk does not clear by waiting: not a 429 that clients retry.
  CHECK(HttpStatusFor(ResourceExhaustedError("x", "storage_full")) == 507);
  CHECK(HttpStatusFor(FailedPreconditionError("x", "not_a_session")) == 400);
  CHECK(HttpStatusFor(AbortedError("x")) == 409);
  CHECK(HttpStatusFor(UnavailableError("x")) == 503);
  CHECK(HttpStatusFor(UnavailableError("x", "upstream_error")) == 502);
  CHECK(HttpStatusFor(DeadlineExceededError("x", "upstream_timeout")) == 504);
  CHECK(HttpStatusFor(InternalError("x")) == 500);
  CHECK(HttpStatusFor(DataLossError("x")) == 500);
}

TEST_CASE("the OpenAI-compatible table differs only where OpenAI says 400 for an invalid field") {
  CHECK(OpenAiHttpStatusFor(InvalidArgumentError("bad", "messages[0].role")) == 400);
  CHECK(OpenAiHttpStatusFor(MalformedError("bad json")) == 400);
  for (const Status& s : {Status(), NotFoundError("x"), UnauthenticatedError("x"),
                          PermissionDeniedError("x"), ResourceExhaustedError("x"),
                          ResourceExhaustedError("x", "payload_too_large"),
                          UnavailableError("x", "upstream_error"), InternalError("x")}) {
    CHECK(OpenAiHttpStatusFor(s) == HttpStatusFor(s));
  }
}

TEST_CASE("client errors never carry a 5xx cause") {
  const Json e = ClientError(InternalError("sqlite: /var/lib/secret.db is locked"));
  CHECK(e["code"] == "internal_error");
  CHECK(e["message"].get<std::string>().find("sqlite") == std::string::npos);
  const Json up = ClientError(UnavailableError("http://10.0.0.5:8080 key sk-123", "upstream_error"));
  CHECK(up["code"] == "upstream_error");
  CHECK(up["message"].get<std::string>().find("10.0.0.5") == std::string::npos);
  const Json nf = ClientError(NotFoundError("task not found"));
  CHECK(nf["message"] == "task not found");
}

TEST_CASE("fast task rendering matches the library's time format and JSON escaping") {
  for (int64_t ms : {0LL, 1LL, 999LL, 951782400000LL /* 2000-02-29 */, 1767225600123LL,
                     4102444799999LL /* 2099-12-31T23:59:59.999 */, -1LL, -86400001LL,
                     -2208988800000LL /* 1900-01-01 */}) {
    std::string out;
    AppendTime(out, FromUnixMillis(ms));
    CHECK_MESSAGE(out == "\"" + FormatTime(FromUnixMillis(ms)) + "\"", ms);
  }
  for (const std::string s : {std::string("plain"), std::string("quote \" backslash \\ slash /"),
                              std::string("ctl \x01\x1f\x7f tab\t nl\n cr\r"),
                              std::string("utf8 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                              std::string("bad \xff \xc3 \xed\xa0\x80 end")}) {
    std::string out;
    AppendJsonString(out, s);
    const Json parsed = Json::parse(out, nullptr, false);
    REQUIRE_FALSE(parsed.is_discarded());
    CHECK(parsed.get<std::string>() == Json::parse(Dump(Json(s))).get<std::string>());
  }
  Task t;
  t.id = "t1";
  t.user_id = "u1";
  t.title = "a \"title\"";
  t.description = "line1\nline2";
  t.completed = true;
  t.priority = -3;
  t.created_at = FromUnixMillis(1767225600123);
  t.updated_at = FromUnixMillis(1767225601000);
  Page<Task> page;
  page.items = {t, t};
  page.next_cursor = "abc";
  const Json body = Json::parse(TaskListBody(page));
  REQUIRE(body["tasks"].size() == 2);
  const Json& j = body["tasks"][0];
  CHECK(j["title"] == t.title);
  CHECK(j["description"] == t.description);
  CHECK(j["completed"] == true);
  CHECK(j["due_at"].is_null());
  CHECK(j["priority"] == -3);
  CHECK(j["created_at"] == "2026-01-01T00:00:00.123Z");
  CHECK(body["next_cursor"] == "abc");
  t.due_at = FromUnixMillis(0);
  CHECK(Json::parse(TaskEnvelope(t))["task"]["due_at"] == "1970-01-01T00:00:00.000Z");
  page.items.clear();
  page.next_cursor.clear();
  CHECK(Json::parse(TaskListBody(page)) == Json{{"tasks", Json::array()}, {"next_cursor", nullptr}});
}

TEST_CASE("JSON nesting depth ignores brackets in strings") {
  CHECK(JsonNestingDepth("{}") == 1);
  CHECK(JsonNestingDepth(R"({"a":[1,{"b":2}]})") == 3);
  CHECK(JsonNestingDepth(R"({"a":"[[[[{{{{\"]]"})") == 1);
  CHECK(JsonNestingDepth(std::string(100000, '[')) == 100000);
}

TEST_CASE("text logs quote values so a value cannot forge a field or a line") {
  const std::string line = server::Logger::Format(
      LogFormat::kText, "info", "request",
      {{"route", "/api/tasks"}, {"evil", "x status=200\nlevel=error"}, {"n", 3}});
  CHECK(line.find("route=/api/tasks") != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find("evil=\"x status=200\\nlevel=error\"") != std::string::npos);
  CHECK(line.find("n=3") != std::string::npos);
  const Json j = Json::parse(server::Logger::Format(LogFormat::kJson, "warn", "m", {{"k", "v"}}));
  CHECK(j["level"] == "warn");
  CHECK(j["k"] == "v");
  CHECK(j.contains("time"));
}

// Reads what a Logger wrote to a pipe, after it flushed.
static std::string AccessLine(LogFormat format, std::string_view request_id,
                              std::string_view route, double latency_ms) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  {
    server::Logger logger(format, fds[1]);
    logger.Access(request_id, "GET", route, 200, latency_ms, "127.0.0.1");
  }  // the destructor flushes
  ::close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  return out;
}

TEST_CASE("the access log line has the keys, escaping and formats of Log") {
  const std::string text = AccessLine(LogFormat::kText, "abc-1", "/api/tasks", 1.234);
  CHECK(text.rfind("time=", 0) == 0);
  CHECK(text.find(" level=info msg=request request_id=abc-1 method=GET route=/api/tasks "
                  "status=200 latency_ms=1.23 ip=127.0.0.1\n") != std::string::npos);
  // time=YYYY-MM-DDTHH:MM:SS.mmmZ, as FormatTime writes it.
  const std::string time = text.substr(5, text.find(' ') - 5);
  REQUIRE(time.size() == 24);
  CHECK(ParseTime(time).has_value());
  CHECK(time.back() == 'Z');
  // A value that is not simple is quoted, so it cannot forge a field or a line.
  const std::string evil = AccessLine(LogFormat::kText, "id", "x status=500\nlevel=error", 0);
  CHECK(evil.find("route=\"x status=500\\nlevel=error\" status=200 latency_ms=0.00 ") !=
        std::string::npos);
  CHECK(evil.find('\n') == evil.size() - 1);

  const std::string line = AccessLine(LogFormat::kJson, "abc-1", "bad\"route\xff", 12.5);
  const Json j = Json::parse(line);
  CHECK(j["level"] == "info");
  CHECK(j["msg"] == "request");
  CHECK(j["request_id"] == "abc-1");
  CHECK(j["route"] == "bad\"route\xEF\xBF\xBD");  // invalid UTF-8 replaced, as Dump does
  CHECK(j["status"] == 200);
  CHECK(j["latency_ms"].get<double>() == doctest::Approx(12.5));
  CHECK(j["ip"] == "127.0.0.1");
  CHECK(ParseTime(j["time"].get<std::string>()).has_value());
  CHECK(line.find("\"latency_ms\":12.50,") != std::string::npos);
}

TEST_CASE("metrics render counters, histogram and in-flight gauge") {
  Metrics m({{"GET", "/api/tasks"}, {"POST", "/api/tasks"}});
  m.Observe(0, 200, 0.0007);
  m.Observe(0, 200, 0.2);
  m.Observe(1, 422, 0.001);
  m.AddInFlight(2);
  const std::string text = m.Render();
  CHECK(text.find(R"(assistant_http_requests_total{method="GET",route="/api/tasks",status="200"} 2)") !=
        std::string::npos);
  CHECK(text.find(R"(assistant_http_requests_total{method="POST",route="/api/tasks",status="422"} 1)") !=
        std::string::npos);
  CHECK(text.find(R"(assistant_http_request_duration_seconds_bucket{method="GET",route="/api/tasks",le="0.001"} 1)") !=
        std::string::npos);
  CHECK(text.find(R"(assistant_http_request_duration_seconds_bucket{method="GET",route="/api/tasks",le="+Inf"} 2)") !=
        std::string::npos);
  CHECK(text.find("assistant_http_requests_in_flight 2") != std::string::npos);
}

TEST_CASE("product metrics render runs, model calls, tools and storage writes") {
  server::ProductMetrics p;
  p.RunStarted();
  p.RunFinished({RunStatus::kCompleted, std::chrono::milliseconds(30)});
  ProviderCallEvent ok;
  ok.provider = "openai";
  ok.latency = std::chrono::milliseconds(20);
  ok.prompt_tokens = 11;
  ok.completion_tokens = 4;
  p.ProviderCall(ok);
  ProviderCallEvent failed = ok;
  failed.error_reason = "upstream_error";
  p.ProviderCall(failed);
  p.ToolCall({"say \"hi\"", false});
  StorageWriteEvent w;
  w.operation = "CreateTask";
  p.StorageWrite(w);
  w.error_reason = "unavailable";
  w.busy = true;
  p.StorageWrite(w);
  w.busy = false;
  w.error_reason = "storage_full";
  p.StorageWrite(w);
  std::string text;
  p.Render(&text, 3);
  for (const char* want : {
           "assistant_agent_runs_started_total 1\n",
           "assistant_agent_runs_finished_total{status=\"completed\"} 1\n",
           "assistant_llm_calls_total{provider=\"openai\",outcome=\"ok\"} 1\n",
           "assistant_llm_calls_total{provider=\"openai\",outcome=\"upstream_error\"} 1\n",
           "assistant_llm_tokens_total{provider=\"openai\",kind=\"prompt\"} 22\n",
           "assistant_llm_call_duration_seconds_bucket{provider=\"openai\",le=\"0.025\"} 2\n",
           // A label value is escaped as the text format requires.
           "assistant_tool_calls_total{tool=\"say \\\"hi\\\"\",outcome=\"error\"} 1\n",
           "assistant_storage_writes_total{operation=\"CreateTask\",outcome=\"ok\"} 1\n",
           "assistant_storage_writes_total{operation=\"CreateTask\",outcome=\"busy\"} 1\n",
           "assistant_storage_writes_total{operation=\"CreateTask\",outcome=\"storage_full\"} 1\n",
           "assistant_storage_write_duration_seconds_count 3\n",
           "assistant_agent_run_duration_seconds_bucket{le=\"0.05\"} 1\n",
           "assistant_streams_open 3\n"}) {
    INFO(want);
    CHECK(text.find(want) != std::string::npos);
  }
}

TEST_CASE("every registered route is in the OpenAPI document") {
  Options o;
  o.database_url = "sqlite::memory:";
  o.auth.jwt_secret = std::string(32, 's');
  o.auth.password_hash.memory_kib = 64;
  o.auth.password_hash.iterations = 1;
  o.mailer = std::make_shared<MemoryMailer>();
  auto core = Assistant::Open(o);
  REQUIRE(core.ok());
  ServerConfig config;
  http_test::TempDir dir;
  server::Logger logger(LogFormat::kText, -1);
  HttpServer server(**core, config, logger);
  const Json doc = Json::parse(server.openapi());
  REQUIRE(server.routes().size() >= 40);
  for (const auto& r : server.routes()) {
    std::string method;
    for (char ch : r.method) method += static_cast<char>(std::tolower(ch));
    INFO(r.method << " " << r.path);
    REQUIRE(doc["paths"].contains(r.path));
    CHECK(doc["paths"][r.path].contains(method));
    const Json& op = doc["paths"][r.path][method];
    CHECK(op["responses"].contains(std::to_string(r.success)));
    CHECK(op["responses"].contains("500"));
    if (r.body != BodyKind::kNone) CHECK(op.contains("requestBody"));
  }
  // Every $ref points at a schema that exists.
  std::function<void(const Json&)> check_refs = [&](const Json& j) {
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() == "$ref") {
          const std::string name = it.value().get<std::string>().substr(strlen("#/components/schemas/"));
          CHECK_MESSAGE(doc["components"]["schemas"].contains(name), name);
        } else {
          check_refs(it.value());
        }
      }
    } else if (j.is_array()) {
      for (const auto& x : j) check_refs(x);
    }
  };
  check_refs(doc["paths"]);
}

TEST_CASE("stream slots: a user's share, the server's total, and the count of open streams") {
  CHECK(StreamSlots(512, 0).per_user() == 64);  // max(4, 512 / 8)
  CHECK(StreamSlots(16, 0).per_user() == 4);    // never below 4
  StreamSlots slots(5, 2);
  CHECK(slots.Take("a") == StreamSlots::Outcome::kTaken);
  CHECK(slots.Take("a") == StreamSlots::Outcome::kTaken);
  CHECK(slots.Take("a") == StreamSlots::Outcome::kUserFull);
  CHECK(slots.Take("b") == StreamSlots::Outcome::kTaken);
  CHECK(slots.Take("b") == StreamSlots::Outcome::kTaken);
  CHECK(slots.Take("c") == StreamSlots::Outcome::kTaken);
  CHECK(slots.open() == 5);
  CHECK(slots.Take("d") == StreamSlots::Outcome::kServerFull);
  slots.Release("a");
  CHECK(slots.open() == 4);
  CHECK(slots.Take("a") == StreamSlots::Outcome::kTaken);
}

TEST_CASE("trusted proxies: CIDR matching over IPv4 and IPv6, and the client in a chain") {
  auto t = TrustedProxies::Parse({"10.1.0.0/16", "2001:db8:aa00::/40", "192.0.2.7"});
  REQUIRE(t.ok());
  CHECK(t->Contains("10.1.255.3"));
  CHECK_FALSE(t->Contains("10.2.0.1"));
  CHECK(t->Contains("::ffff:10.1.0.9"));  // an IPv4 peer on a dual-stack socket
  CHECK(t->Contains("2001:db8:aa12::1"));
  CHECK_FALSE(t->Contains("2001:db8:ab00::1"));
  CHECK(t->Contains("192.0.2.7"));
  CHECK_FALSE(t->Contains("192.0.2.8"));
  CHECK_FALSE(t->Contains("not an address"));

  http::Headers h;
  h.Add("X-Forwarded-For", "203.0.113.1, 198.51.100.9");
  h.Add("x-forwarded-for", "10.1.0.2");
  // Fields are one list; trusted hops from the right are skipped.
  CHECK(t->ClientAddress("192.0.2.7", h) == "198.51.100.9");
  CHECK(t->ClientAddress("203.0.113.50", h) == "203.0.113.50");  // untrusted peer
  http::Headers forged;
  forged.Add("X-Forwarded-For", "1.2.3.4, garbage, 198.51.100.9");
  CHECK(t->ClientAddress("10.1.0.1", forged) == "198.51.100.9");
  forged.Set("X-Forwarded-For", "1.2.3.4, garbage");
  CHECK(t->ClientAddress("10.1.0.1", forged) == "10.1.0.1");
  http::Headers none;
  CHECK(t->ClientAddress("10.1.0.1", none) == "10.1.0.1");
  CHECK(TrustedProxies().ClientAddress("10.1.0.1", h) == "10.1.0.1");

  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/-1", "1.2.3", "::/129", "", "a/8"}) {
    auto r = TrustedProxies::Parse({bad});
    CHECK_MESSAGE(!r.ok(), bad);
    if (!r.ok()) {
      CHECK(r.status().message().find(std::string("\"") + bad + "\"") != std::string::npos);
    }
  }
}

}  // TEST_SUITE
