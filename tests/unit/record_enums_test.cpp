// The closed sets of the public records: every enumerator's name is the
// text storage already holds and the JSON already shows (so no migration
// and no change on the wire), it parses back to itself, and anything else
// is refused with the field named.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "assistant/jwt.hpp"
#include "assistant/runs.hpp"
#include "assistant/settings.hpp"
#include "assistant/types.hpp"

using namespace assistant;

namespace {

// Each enumerator with the name it must keep, a parse function, the field
// a refusal names, and names that must be refused.
template <typename E>
void CheckClosedSet(const std::vector<std::pair<E, std::string>>& expected,
                    const char* (*name_of)(E), Result<E> (*parse)(std::string_view),
                    const std::string& field, const std::vector<std::string>& refused) {
  for (const auto& [value, name] : expected) {
    CAPTURE(name);
    CHECK(std::string(name_of(value)) == name);
    Result<E> back = parse(name);
    REQUIRE(back.ok());
    CHECK(*back == value);
  }
  for (const std::string& bad : refused) {
    CAPTURE(bad);
    Result<E> r = parse(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().field() == field);
  }
}

}  // namespace

TEST_SUITE("record enums") {

TEST_CASE("run status: each status keeps its stored name and nothing else parses") {
  CheckClosedSet<RunStatus>({{RunStatus::kRunning, "running"},
                             {RunStatus::kCompleted, "completed"},
                             {RunStatus::kCancelled, "cancelled"},
                             {RunStatus::kFailed, "failed"}},
                            &RunStatusName, &ParseRunStatus, "status",
                            {"", "Running", "done", "running ", "canceled"});
}

TEST_CASE("message role: each role keeps its stored name and nothing else parses") {
  CheckClosedSet<MessageRole>({{MessageRole::kUser, "user"},
                               {MessageRole::kAssistant, "assistant"},
                               {MessageRole::kSystem, "system"},
                               {MessageRole::kTool, "tool"}},
                              &MessageRoleName, &ParseMessageRole, "role",
                              {"", "robot", "developer", "User", std::string("user\0", 5)});
}

TEST_CASE("message status: each status keeps its stored name and nothing else parses") {
  CheckClosedSet<MessageStatus>({{MessageStatus::kCompleted, "completed"},
                                 {MessageStatus::kCancelled, "cancelled"},
                                 {MessageStatus::kFailed, "failed"}},
                                &MessageStatusName, &ParseMessageStatus, "status",
                                {"", "running", "Completed", "ok"});
}

TEST_CASE("audit outcome: each outcome keeps its stored name and nothing else parses") {
  CheckClosedSet<AuditOutcome>({{AuditOutcome::kOk, "ok"}, {AuditOutcome::kFailed, "failed"}},
                               &AuditOutcomeName, &ParseAuditOutcome, "outcome",
                               {"", "OK", "success", "fail", "ok "});
}

TEST_CASE("token purpose: each purpose keeps its stored name and nothing else parses") {
  CheckClosedSet<TokenPurpose>({{TokenPurpose::kPasswordReset, "password_reset"},
                                {TokenPurpose::kEmailVerification, "email_verification"}},
                               &TokenPurposeName, &ParseTokenPurpose, "purpose",
                               {"", "reset", "Password_Reset", "email-verification"});
}

TEST_CASE("key purpose: each purpose keeps its stored name and nothing else parses") {
  CheckClosedSet<KeyPurpose>({{KeyPurpose::kAccess, "access"}, {KeyPurpose::kIdentity, "identity"}},
                             &KeyPurposeName, &ParseKeyPurpose, "purpose",
                             {"", "Access", "refresh", "identity "});
}

TEST_CASE("task filter: each filter keeps its name, and an empty one means all") {
  CheckClosedSet<TaskFilter>({{TaskFilter::kAll, "all"},
                              {TaskFilter::kPending, "pending"},
                              {TaskFilter::kCompleted, "completed"}},
                             &TaskFilterName, &ParseTaskFilter, "status",
                             {"done", "ALL", "open", " pending"});
  // `GET /api/tasks?status=` lists everything, as it did before the enum.
  Result<TaskFilter> empty = ParseTaskFilter("");
  REQUIRE(empty.ok());
  CHECK(*empty == TaskFilter::kAll);
  CHECK(ParseTaskFilter("done").status().message() == "status must be all, pending or completed");
}

TEST_CASE("provider kind and JWT algorithm: the names the settings accept") {
  CheckClosedSet<ProviderKind>({{ProviderKind::kRules, "rules"},
                                {ProviderKind::kOpenAi, "openai"},
                                {ProviderKind::kOllama, "ollama"},
                                {ProviderKind::kCohere, "cohere"}},
                               &ProviderKindName, &ParseProviderKind, "provider",
                               {"OpenAI", "anthropic", "rules "});
  CheckClosedSet<JwtAlgorithm>({{JwtAlgorithm::kHS256, "HS256"}, {JwtAlgorithm::kEdDSA, "EdDSA"}},
                               &JwtAlgorithmName, &ParseJwtAlgorithm, "jwt_alg",
                               {"", "hs256", "RS256", "none"});
}

}  // TEST_SUITE
