// End to end through the public API only: register, get a scoped API key,
// talk to the rules agent, check tasks and history.
#include <doctest/doctest.h>

#include <string>

#include "core_fixture.hpp"

using namespace assistant;
using assistant::testing::CoreFixture;

TEST_SUITE("scenario") {

TEST_CASE("a registered user manages a list by chatting; a narrow key cannot write") {
  CoreFixture f;
  auto reg = f.core->auth().Register({"ann@example.com", "correct horse battery", "Ann"}, f.ctx);
  REQUIRE(reg.ok());
  auto me = f.core->auth().Authenticate(reg->tokens.access_token);
  REQUIRE(me.ok());
  Agent& agent = f.core->agent();

  auto added = agent.Send(*me, {"Remind me to call mom"}, f.ctx);
  REQUIRE(added.ok());
  CHECK(added->message.content == "Added \u201Ccall mom\u201D to your list.");
  AgentRequest more{"add buy milk to my list", added->conversation_id};
  REQUIRE(agent.Send(*me, more, f.ctx).ok());
  AgentRequest done{"I finished call mom", added->conversation_id};
  auto finished = agent.Send(*me, done, f.ctx);
  REQUIRE(finished.ok());
  CHECK(finished->message.content == "Marked \u201Ccall mom\u201D as done.");
  AgentRequest pending{"pending tasks", added->conversation_id};
  auto listed = agent.Send(*me, pending, f.ctx);
  REQUIRE(listed.ok());
  CHECK(listed->message.content == "Here are your pending tasks:\n1. buy milk");
  AgentRequest rename{"rename buy milk to buy oat milk", added->conversation_id};
  auto renamed = agent.Send(*me, rename, f.ctx);
  REQUIRE(renamed.ok());
  CHECK(renamed->message.content == "Renamed \u201Cbuy milk\u201D to \u201Cbuy oat milk\u201D.");
  AgentRequest clear{"clear completed", added->conversation_id};
  auto cleared = agent.Send(*me, clear, f.ctx);
  REQUIRE(cleared.ok());
  CHECK(cleared->message.content == "Cleared 1 completed task.");
  AgentRequest remove{"remove buy oat milk from my list", added->conversation_id};
  auto removed = agent.Send(*me, remove, f.ctx);
  REQUIRE(removed.ok());
  CHECK(removed->message.content == "Deleted \u201Cbuy oat milk\u201D.");
  AgentRequest empty{"what's on my list?", added->conversation_id};
  CHECK(agent.Send(*me, empty, f.ctx)->message.content == "You have no tasks.");
  AgentRequest missing{"mark walk the dog as done", added->conversation_id};
  CHECK(agent.Send(*me, missing, f.ctx)->message.content ==
        "I couldn't find a task matching \u201Cwalk the dog\u201D.");
  CHECK(agent.History(*me, std::nullopt, 200)->messages.size() == 18);

  // An API key with `agent` and tasks:read but not tasks:write.
  auto key = f.core->auth().CreateApiKey(*me, {"bot", {"agent", "tasks:read"}, std::nullopt},
                                         f.ctx);
  REQUIRE(key.ok());
  auto bot = f.core->auth().Authenticate(key->key);
  REQUIRE(bot.ok());
  auto denied = agent.Send(*bot, {"add sneaky task"}, f.ctx);
  REQUIRE(denied.ok());
  CHECK(denied->message.content.find("not allowed") != std::string::npos);
  TaskListOptions all;
  CHECK(f.core->tasks().List(*me, all)->items.empty());
  // It can still read.
  CHECK(agent.Send(*bot, {"show my tasks"}, f.ctx)->message.content == "You have no tasks.");
}

}  // TEST_SUITE
