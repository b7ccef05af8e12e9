#include <doctest/doctest.h>

#include <string>

#include "core_fixture.hpp"

using namespace assistant;
using assistant::testing::CoreFixture;

TEST_SUITE("agent_state") {

TEST_CASE("state: empty by default, put, merge patch, per app, isolated") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal bob = f.NewUser("bob@example.com");
  AgentStateService& state = f.core->agent_state();

  auto empty = state.Get(ann, "");
  REQUIRE(empty.ok());
  CHECK(empty->state == Json::object());
  CHECK(empty->updated_at == FromUnixMillis(0));

  f.clock->Advance(std::chrono::seconds(1));
  auto put = state.Put(ann, "notes", Json{{"mood", "happy"}, {"count", 1}, {"nested", {{"a", 1}}}});
  REQUIRE(put.ok());
  CHECK(put->updated_at == f.clock->Now());
  auto patched = state.Patch(ann, "notes", Json::parse(R"({"count":2,"mood":null,"nested":{"b":2}})"));
  REQUIRE(patched.ok());
  CHECK(patched->state == Json::parse(R"({"count":2,"nested":{"a":1,"b":2}})"));
  CHECK(state.Get(ann, "notes")->state == patched->state);
  CHECK(state.Get(ann, "")->state == Json::object());  // another app's document
  CHECK(state.Get(bob, "notes")->state == Json::object());

  // Patching a never-written document merges into {}.
  auto fresh = state.Patch(ann, "fresh", Json{{"x", 1}});
  REQUIRE(fresh.ok());
  CHECK(fresh->state == Json{{"x", 1}});

  CHECK(state.Put(ann, "notes", Json::array()).status().code() == StatusCode::kInvalidArgument);
  // A patch that would turn the document into a non-object is refused and changes nothing.
  CHECK_FALSE(state.Patch(ann, "notes", Json("scalar")).ok());
  CHECK(state.Get(ann, "notes")->state == patched->state);
  CHECK(state.Get(ann, "bad app!").status().field() == "app_id");

  Principal tasks_only = CoreFixture::WithScopes(ann, {"tasks:read", "tasks:write"});
  CHECK(state.Get(tasks_only, "").status().reason() == "insufficient_scope");
}

TEST_CASE("memory: add, list newest first, delete, validation, isolation") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal bob = f.NewUser("bob@example.com");
  AgentStateService& state = f.core->agent_state();
  auto first = state.AddMemory(ann, "Likes tea\n\tgreen, not black\x07");
  REQUIRE(first.ok());
  CHECK(first->content == "Likes tea\n\tgreen, not black");
  f.clock->Advance(std::chrono::seconds(1));
  auto second = state.AddMemory(ann, "Lives in Lisbon");
  REQUIRE(second.ok());
  auto list = state.ListMemories(ann);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].id == second->id);

  CHECK(state.AddMemory(ann, "").status().field() == "content");
  CHECK(state.AddMemory(ann, std::string(2001, 'm')).status().field() == "content");
  CHECK(state.AddMemory(ann, std::string(2000, 'm')).ok());

  CHECK(state.ListMemories(bob)->empty());
  CHECK(state.DeleteMemory(bob, first->id).code() == StatusCode::kNotFound);
  REQUIRE(state.DeleteMemory(ann, first->id).ok());
  CHECK(state.ListMemories(ann)->size() == 2);
}

}  // TEST_SUITE
