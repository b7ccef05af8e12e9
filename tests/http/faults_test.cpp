// Storage faults over real HTTP on loopback (the server in this process, its
// storage behind a wrapper that can fail every write): a full disk, an I/O
// error and a database that stays locked each give a clear status, leave
// nothing half-written, and the server goes on once the fault clears. An
// audited action whose audit row fails is refused whole.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "assistant/core.hpp"
#include "assistant/storage_wrapper.hpp"
#include "harness.hpp"
#include "logger.hpp"
#include "server.hpp"

using namespace assistant;
using namespace assistant::server;

namespace {

enum class Fault { kNone, kFull, kIoError, kBusy };

// Fails every write with the fault that is set, as the SQLite backend
// reports each of them; reads pass.
class FaultyWrites final : public StorageWrapper {
 public:
  using StorageWrapper::StorageWrapper;
  std::atomic<Fault> fault{Fault::kNone};

  Status CreateTask(const Task& t) override { return Or([&] { return target()->CreateTask(t); }); }
  Status UpdateTask(const Task& t) override { return Or([&] { return target()->UpdateTask(t); }); }
  Status CreateConversation(const Conversation& c) override {
    return Or([&] { return target()->CreateConversation(c); });
  }
  Status AppendMessage(const std::string& user_id, const Message& m) override {
    return Or([&] { return target()->AppendMessage(user_id, m); });
  }
  Status StartRun(const RunStart& start) override {
    return Or([&] { return target()->StartRun(start); });
  }
  Status AppendRunEvents(const std::vector<RunEventBatch>& batches) override {
    return Or([&] { return target()->AppendRunEvents(batches); });
  }
  Status FinishRun(const RunFinish& finish) override {
    return Or([&] { return target()->FinishRun(finish); });
  }
  Status AppendAudit(const AuditEvent& e) override {
    return Or([&] { return target()->AppendAudit(e); });
  }

 private:
  template <typename Write>
  Status Or(Write write) {
    switch (fault.load()) {
      case Fault::kFull:
        return ResourceExhaustedError("database or disk is full", "storage_full");
      case Fault::kIoError:
        return InternalError("disk I/O error writing /srv/secret/assistant.db");
      case Fault::kBusy:
        return UnavailableError("database is busy past the busy timeout");
      case Fault::kNone:
        break;
    }
    return write();
  }
};

// The real server on a free loopback port, in this process.
struct LiveServer {
  explicit LiveServer(std::shared_ptr<FaultyWrites> storage) : storage(std::move(storage)) {
    Options o;
    o.auth.jwt_secret = std::string(32, 's');
    o.auth.password_hash.memory_kib = 64;
    o.auth.password_hash.iterations = 1;
    o.mailer = std::make_shared<MemoryMailer>();
    auto opened = Assistant::Open(o, this->storage);
    REQUIRE(opened.ok());
    core = std::move(*opened);
    config.port = 0;
    config.rate_limit_auth = 0;
    config.rate_limit_api = 0;
    server = std::make_unique<HttpServer>(*core, config, logger);
    REQUIRE(server->Bind().ok());
    runner = std::thread([this] { server->Run(); });
  }
  ~LiveServer() {
    server->Stop();
    runner.join();
  }
  httplib::Client Client() const {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(10, 0);
    return c;
  }

  std::shared_ptr<FaultyWrites> storage;
  std::unique_ptr<Assistant> core;
  ServerConfig config;
  server::Logger logger{LogFormat::kText, -1};
  std::unique_ptr<HttpServer> server;
  std::thread runner;
};

std::shared_ptr<FaultyWrites> NewFaultyStorage() {
  auto storage = OpenStorage("sqlite::memory:");
  REQUIRE(storage.ok());
  return std::make_shared<FaultyWrites>(std::shared_ptr<Storage>(std::move(*storage)));
}

std::string Register(httplib::Client& c) {
  auto r = c.Post("/api/auth/register",
                  R"({"email":"ann@example.com","password":"correct horse","name":"Ann"})",
                  "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 201);
  return Json::parse(r->body)["access_token"].get<std::string>();
}

size_t TaskCount(httplib::Client& c, const httplib::Headers& auth) {
  auto r = c.Get("/api/tasks", auth);
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const Json body = Json::parse(r->body);
  REQUIRE(body["tasks"].is_array());
  return body["tasks"].size();
}

}  // namespace

TEST_SUITE("server.faults") {

TEST_CASE("each write fault has its own status, nothing is half-written, and writes resume") {
  struct Case {
    Fault fault;
    int status;
    const char* code;
  };
  // A full disk is not a rate limit (429) that clients retry soon.
  for (const Case& k : {Case{Fault::kFull, 507, "storage_full"},
                        Case{Fault::kBusy, 503, "unavailable"},
                        Case{Fault::kIoError, 500, "internal_error"}}) {
    CAPTURE(k.status);
    LiveServer live(NewFaultyStorage());
    httplib::Client c = live.Client();
    const httplib::Headers auth = {{"Authorization", "Bearer " + Register(c)}};

    live.storage->fault = k.fault;
    auto failed = c.Post("/api/tasks", auth, R"({"title":"buy oat milk"})", "application/json");
    REQUIRE(failed);
    CHECK(failed->status == k.status);
    CHECK(Json::parse(failed->body)["error"]["code"] == k.code);
    CHECK(failed->body.find("/srv/secret") == std::string::npos);
    if (k.fault == Fault::kFull) CHECK_FALSE(failed->has_header("Retry-After"));
    CHECK(TaskCount(c, auth) == 0);

    live.storage->fault = Fault::kNone;
    auto ok = c.Post("/api/tasks", auth, R"({"title":"buy oat milk"})", "application/json");
    REQUIRE(ok);
    CHECK(ok->status == 201);
    CHECK(TaskCount(c, auth) == 1);
  }
}

TEST_CASE("an audit row that cannot be written fails its action whole over HTTP") {
  LiveServer live(NewFaultyStorage());
  httplib::Client c = live.Client();
  const httplib::Headers auth = {{"Authorization", "Bearer " + Register(c)}};
  auto count = [&](const char* path, const char* list) {
    auto r = c.Get(path, auth);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return Json::parse(r->body)[list].size();
  };
  const std::string key_body = R"({"name":"sdk","scopes":["tasks:read"]})";

  // Only AppendAudit fails here (the wrapper leaves key and session writes
  // alone): the action must fail with it, not succeed without its row.
  live.storage->fault = Fault::kFull;
  auto key = c.Post("/api/auth/api-keys", auth, key_body, "application/json");
  REQUIRE(key);
  CHECK(key->status == 507);
  auto logout = c.Post("/api/auth/logout", auth, "", "application/json");
  REQUIRE(logout);
  CHECK(logout->status == 507);
  live.storage->fault = Fault::kNone;
  CHECK(count("/api/auth/api-keys", "api_keys") == 0);
  CHECK(count("/api/auth/sessions", "sessions") == 1);

  key = c.Post("/api/auth/api-keys", auth, key_body, "application/json");
  REQUIRE(key);
  CHECK(key->status == 201);
  CHECK(count("/api/auth/api-keys", "api_keys") == 1);
  logout = c.Post("/api/auth/logout", auth, "", "application/json");
  REQUIRE(logout);
  CHECK(logout->status == 204);
}

TEST_CASE("a full disk during an agent turn fails the turn whole; the next turn completes") {
  LiveServer live(NewFaultyStorage());
  httplib::Client c = live.Client();
  const httplib::Headers auth = {{"Authorization", "Bearer " + Register(c)}};

  live.storage->fault = Fault::kFull;
  auto failed = c.Post("/api/agent/message", auth, R"({"message":"add task water the plants"})",
                       "application/json");
  REQUIRE(failed);
  CHECK(failed->status == 507);
  CHECK(failed->body.find("/srv/secret") == std::string::npos);
  CHECK(TaskCount(c, auth) == 0);
  auto conversations = c.Get("/api/conversations", auth);
  REQUIRE(conversations);
  const Json listed = Json::parse(conversations->body);
  REQUIRE(listed["conversations"].is_array());
  CHECK(listed["conversations"].empty());

  live.storage->fault = Fault::kNone;
  auto ok = c.Post("/api/agent/message", auth, R"({"message":"add task water the plants"})",
                   "application/json");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(TaskCount(c, auth) == 1);
}

TEST_CASE("a full disk during a streamed turn ends it with a storage_full error; the next completes") {
  LiveServer live(NewFaultyStorage());
  httplib::Client c = live.Client();
  const httplib::Headers auth = {{"Authorization", "Bearer " + Register(c)},
                                 {"Accept", "text/event-stream"}};

  live.storage->fault = Fault::kFull;
  auto failed = c.Post("/api/agent/message", auth,
                       R"({"message":"add task water the plants","stream":true})",
                       "application/json");
  REQUIRE(failed);
  MESSAGE("streamed turn on a full disk: " << failed->status << " " << failed->body);
  if (failed->status == 200) {
    // Refused after the stream began: its last event says why.
    CHECK(failed->body.find("event: error") != std::string::npos);
    CHECK(failed->body.find("storage_full") != std::string::npos);
  } else {
    CHECK(failed->status == 507);
  }
  CHECK(failed->body.find("/srv/secret") == std::string::npos);
  CHECK(TaskCount(c, auth) == 0);

  live.storage->fault = Fault::kNone;
  auto ok = c.Post("/api/agent/message", auth,
                   R"({"message":"add task water the plants","stream":true})",
                   "application/json");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->body.find("event: message.done") != std::string::npos);
  CHECK(TaskCount(c, auth) == 1);
}

}  // TEST_SUITE
