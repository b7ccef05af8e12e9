#include <doctest/doctest.h>

#include <string>

#include "core_fixture.hpp"

using namespace assistant;
using assistant::testing::CoreFixture;
using assistant::testing::FastOptions;

TEST_SUITE("core") {

TEST_CASE("Open builds every service on in-memory SQLite") {
  CoreFixture f;
  CHECK(f.core->storage().Backend() == "sqlite");
  CHECK(f.core->storage().Ping().ok());
  CHECK(f.core->clock().Now() == f.clock->Now());
  CHECK(f.core->options().agent.provider == ProviderKind::kRules);
  std::vector<std::string> names;
  for (const ToolSpec& t : f.core->agent().tools().Specs()) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"add_task", "list_tasks", "complete_task",
                                          "uncomplete_task", "delete_task", "update_task",
                                          "clear_completed"});
}

TEST_CASE("a provider this build does not have is refused by name, and Open refuses bad URLs") {
  auto r = ParseProviderKind("nonsense");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("nonsense") != std::string::npos);

  // HTTP providers need a model; the check happens at Open, not at the first message.
  Options no_model = FastOptions(std::make_shared<FakeClock>());
  no_model.agent.provider = ProviderKind::kOpenAi;
  CHECK(Assistant::Open(no_model).status().field() == "model");
  Options ollama = FastOptions(std::make_shared<FakeClock>());
  ollama.agent.provider = ProviderKind::kOllama;
  ollama.agent.model = "llama3.1";
  CHECK(Assistant::Open(ollama).ok());

  Options bad_url = FastOptions(std::make_shared<FakeClock>());
  bad_url.database_url = "mysql://nope";
  CHECK(Assistant::Open(bad_url).status().code() == StatusCode::kInvalidArgument);

  CHECK(Assistant::Open(FastOptions(nullptr), nullptr).status().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("Open on caller-provided storage shares it") {
  auto storage = OpenStorage("sqlite::memory:");
  REQUIRE(storage.ok());
  std::shared_ptr<Storage> shared(std::move(*storage));
  auto clock = std::make_shared<FakeClock>();
  auto core = Assistant::Open(FastOptions(clock), shared);
  REQUIRE(core.ok());
  CHECK(&(*core)->storage() == shared.get());
}

TEST_CASE("apps registering tools: the agent can be given more than the built-ins") {
  CoreFixture f;
  Tool weather{{"weather", "Today's weather", Json{{"type", "object"}}},
               [](const ToolContext& ctx, const Json&) -> Result<Json> {
                 return Json{{"user", ctx.principal.user_id}, {"sky", "clear"}};
               }};
  REQUIRE(f.core->agent().tools().Register(weather).ok());
  CHECK(f.core->agent().tools().Has("weather"));
  CHECK(f.core->agent().tools().Register(weather).code() == StatusCode::kAlreadyExists);
}

}  // TEST_SUITE
