#include <doctest/doctest.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "assistant/storage_wrapper.hpp"
#include "core_fixture.hpp"
#include "test_temp_dir.hpp"

using namespace assistant;
using assistant::testing::CoreFixture;
using assistant::testing::FastOptions;

namespace {

struct Line {
  LogLevel level;
  std::string message;
  std::vector<LogField> fields;
};

class RecordingLogger final : public Logger {
 public:
  void Log(LogLevel level, std::string_view message, const std::vector<LogField>& fields) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back({level, std::string(message), fields});
  }
  std::vector<Line> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<Line> lines_;
};

// Storage whose audit writes fail.
class NoAudit final : public StorageWrapper {
 public:
  using StorageWrapper::StorageWrapper;
  Status AppendAudit(const AuditEvent&) override { return UnavailableError("disk on fire"); }
};

}  // namespace

TEST_SUITE("core logger") {
  TEST_CASE("signing keys made fresh for a database with users are warned of, once each") {
    const std::string dir = MakeTestTempDir("fresh-keys");
    auto open = [&](const std::string& secret) {
      auto logger = std::make_shared<RecordingLogger>();
      Options o = FastOptions(std::make_shared<FakeClock>());
      o.database_url = "sqlite://" + dir + "/a.db";
      o.auth.jwt_algorithm = JwtAlgorithm::kEdDSA;
      o.auth.jwt_secret = secret;
      o.logger = logger;
      auto core = Assistant::Open(o);
      REQUIRE(core.ok());
      return std::make_pair(std::move(*core), logger);
    };
    auto warnings = [](RecordingLogger& l) {
      std::vector<Line> out;
      for (auto& line : l.lines()) {
        if (line.level == LogLevel::kWarning) out.push_back(line);
      }
      return out;
    };
    {
      // An empty database: fresh keys lose nobody's tokens.
      auto [core, logger] = open("first-secret-first-secret-first-secret");
      CHECK(warnings(*logger).empty());
      REQUIRE(core->auth().Register({"ann@example.com", "correct horse battery", "Ann"}, {}).ok());
    }
    {
      // The same secret opens the stored keys: nothing is made, no warning.
      auto [core, logger] = open("first-secret-first-secret-first-secret");
      CHECK(warnings(*logger).empty());
    }
    // Another secret cannot open them (a restore without its secret file):
    // both keys are made again, and the tokens they signed are lost.
    auto [core, logger] = open("other-secret-other-secret-other-secret");
    const auto lines = warnings(*logger);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].message.find("a new EdDSA signing key was generated for a database that "
                                "already has users") == 0);
    CHECK(lines[1].message.find("a new identity key was generated") == 0);
    for (const auto& l : lines) {
      REQUIRE(l.fields.size() == 1);
      CHECK(l.fields[0].key == "users");
      CHECK(l.fields[0].value == "1");
      CHECK(l.message.find("PRIVATE") == std::string::npos);
    }
    std::filesystem::remove_all(dir);
  }

  TEST_CASE("the core's lines go to the embedder's logger, with fields and no secrets") {
    auto logger = std::make_shared<RecordingLogger>();
    Options o = FastOptions(std::make_shared<FakeClock>());
    o.logger = logger;
    auto base = OpenStorage("sqlite::memory:", {});
    REQUIRE(base.ok());
    CoreFixture f(o, std::make_shared<NoAudit>(std::shared_ptr<Storage>(std::move(*base))));
    // A registration's audit row goes with its session (not AppendAudit); a
    // refused login's goes alone, and may fail without failing the refusal.
    auto reg = f.core->auth().Register({"ann@example.com", "correct horse battery", "Ann"}, {});
    REQUIRE(reg.ok());
    CHECK_FALSE(f.core->auth().Login("ann@example.com", "wrong horse battery", {}).ok());
    auto lines = logger->lines();
    REQUIRE_FALSE(lines.empty());
    CHECK(lines[0].level == LogLevel::kError);
    CHECK(lines[0].message == "audit: could not record an event");
    REQUIRE(lines[0].fields.size() == 2);
    CHECK(lines[0].fields[0].key == "type");
    CHECK(lines[0].fields[0].value == "auth.login");
    CHECK(lines[0].fields[1].value.find("disk on fire") != std::string::npos);
    for (const auto& l : lines) {
      for (const auto& field : l.fields) {
        CHECK(field.value.find("correct horse battery") == std::string::npos);
        CHECK(field.value.find(reg->tokens.access_token) == std::string::npos);
      }
    }
  }

  TEST_CASE("an embedder's provider replaces the built-in one") {
    struct Echo final : LlmProvider {
      std::string name() const override { return "echo"; }
      Result<ChatResponse> Chat(const ChatRequest& r, const DeltaSink& sink,
                                const CancellationToken&) override {
        ChatResponse out;
        out.content = "echo: " + r.messages.back().content;
        sink(out.content);
        out.finish_reason = "stop";
        return out;
      }
    };
    Options o = FastOptions(std::make_shared<FakeClock>());
    o.agent.provider = ProviderKind::kOpenAi;  // no model, unused: the instance wins
    o.agent.llm = std::make_shared<Echo>();
    CoreFixture f(o);
    auto reg = f.core->auth().Register({"ann@example.com", "correct horse battery", "Ann"}, {});
    REQUIRE(reg.ok());
    AgentRequest req;
    req.message = "hello there";
    auto reply = f.core->agent().Send(Principal::ForUser(reg->user.id), req, {});
    REQUIRE(reply.ok());
    CHECK(reply->message.content == "echo: hello there");
  }

}  // TEST_SUITE

TEST_SUITE("database urls") {
  TEST_CASE("a database URL is parsed once, with memory databases told apart") {
    auto file = ParseDatabaseUrl("sqlite://data/app.db");
    REQUIRE(file.ok());
    CHECK(file->path == "data/app.db");
    CHECK_FALSE(file->in_memory);
    CHECK(ParseDatabaseUrl("sqlite:///var/lib/a.db")->path == "/var/lib/a.db");
    for (const char* memory : {"sqlite::memory:", "sqlite://:memory:"}) {
      auto m = ParseDatabaseUrl(memory);
      REQUIRE(m.ok());
      CHECK(m->in_memory);
      CHECK(m->path.empty());  // nothing may be placed beside it
    }
    auto bad = ParseDatabaseUrl("mysql://root:hunter2@db/app");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().reason() == "invalid_database_url");
    CHECK(bad.status().message().find("hunter2") == std::string::npos);
    auto pg = ParseDatabaseUrl("postgresql://u:secret@h/db");
#ifdef ASSISTANT_WITH_POSTGRES
    REQUIRE(pg.ok());
    CHECK(pg->backend == DatabaseUrl::Backend::kPostgres);
    CHECK(pg->path.empty());  // nothing is placed beside a server database
    CHECK(ParseDatabaseUrl("postgres://u@h/db")->backend == DatabaseUrl::Backend::kPostgres);
#else
    REQUIRE_FALSE(pg.ok());
    CHECK(pg.status().reason() == "backend_unavailable");
#endif
    CHECK(ParseDatabaseUrl("sqlite://").status().reason() == "invalid_database_url");
  }

  TEST_CASE("PrincipalFor refuses a user that does not exist, up front") {
    CoreFixture f;
    auto none = f.core->PrincipalFor("01a2b3c4-0000-7000-8000-000000000000");
    REQUIRE_FALSE(none.ok());
    CHECK(none.status().code() == StatusCode::kNotFound);
    CHECK(none.status().reason() == "unknown_user");
    auto reg = f.core->auth().Register({"ann@example.com", "correct horse battery", "Ann"}, {});
    REQUIRE(reg.ok());
    auto me = f.core->PrincipalFor(reg->user.id);
    REQUIRE(me.ok());
    CHECK(me->HasScope("tasks:write"));
  }

}  // TEST_SUITE
