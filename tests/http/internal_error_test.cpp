// In-process: a storage failure becomes a 500 (or 503) that says nothing
// about internals, while the log keeps the cause with the request id.
#include <fcntl.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "assistant/core.hpp"
#include "assistant/storage_wrapper.hpp"
#include "harness.hpp"
#include "logger.hpp"
#include "server.hpp"

using namespace assistant;
using namespace assistant::server;

namespace {

class BrokenReads final : public StorageWrapper {
 public:
  using StorageWrapper::StorageWrapper;
  Status Ping() override { return UnavailableError("cannot open /srv/secret/assistant.db"); }
  Result<std::vector<Task>> ListTasks(const std::string&, const TaskQuery&) override {
    return InternalError("SQL logic error near \"SELECT\" in /srv/secret/assistant.db");
  }
};

}  // namespace

TEST_SUITE("server.unit") {

TEST_CASE("a 500 leaks nothing and is logged with its request id") {
  http_test::TempDir dir;
  Options o;
  o.auth.jwt_secret = std::string(32, 's');
  o.auth.password_hash.memory_kib = 64;
  o.auth.password_hash.iterations = 1;
  o.mailer = std::make_shared<MemoryMailer>();
  auto storage = OpenStorage("sqlite::memory:");
  REQUIRE(storage.ok());
  auto core = Assistant::Open(o, std::make_shared<BrokenReads>(std::move(*storage)));
  REQUIRE(core.ok());
  auto reg = (*core)->auth().Register({"ann@example.com", "correct horse", "Ann"}, {});
  REQUIRE(reg.ok());

  const std::string log_path = dir.path() + "/server.log";
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  {
    server::Logger logger(LogFormat::kText, fd);
    ServerConfig config;
    HttpServer server(**core, config, logger);

    server::http::Request req;
    req.method = "GET";
    req.target = req.path = "/api/tasks";
    req.remote_addr = "127.0.0.1";
    req.headers.Add("Authorization", "Bearer " + reg->tokens.access_token);
    req.headers.Add("X-Request-ID", "req-500");
    server::http::Response res;
    server.Handle(req, res);
    CHECK(res.status == 500);
    const Json body = Json::parse(res.body);
    CHECK(body["error"]["code"] == "internal_error");
    CHECK(body["error"]["request_id"] == "req-500");
    CHECK(res.body.find("secret") == std::string::npos);
    CHECK(res.body.find("SQL") == std::string::npos);

    server::http::Request ready;
    ready.method = "GET";
    ready.target = ready.path = "/readyz";
    ready.headers.Add("X-Request-ID", "req-503");
    server::http::Response ready_res;
    server.Handle(ready, ready_res);
    CHECK(ready_res.status == 503);
    CHECK(ready_res.body.find("secret") == std::string::npos);
    logger.Flush();
  }
  ::close(fd);
  std::ifstream in(log_path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string log = ss.str();
  CHECK(log.find("request_id=req-500") != std::string::npos);
  CHECK(log.find("SQL logic error") != std::string::npos);  // the cause, for the operator
  CHECK(log.find("request_id=req-503") != std::string::npos);
  CHECK(log.find(reg->tokens.access_token) == std::string::npos);
}

}  // TEST_SUITE
