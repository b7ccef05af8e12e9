#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>

#include "core_fixture.hpp"

using namespace assistant;
using assistant::testing::CoreFixture;

namespace {

Message Msg(const std::string& conv, MessageRole role, const std::string& content) {
  Message m;
  m.conversation_id = conv;
  m.role = role;
  m.content = content;
  return m;
}

}  // namespace

TEST_SUITE("conversations") {

TEST_CASE("create with a default title, rename, delete") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  ConversationService& convs = f.core->conversations();
  auto c = convs.Create(ann, {});
  REQUIRE(c.ok());
  CHECK(c->title == "New conversation");
  CHECK_FALSE(c->app_id.has_value());
  auto named = convs.Create(ann, {"Trip\x01 planning\n", std::string("notes-app")});
  REQUIRE(named.ok());
  CHECK(named->title == "Trip planning");
  CHECK(named->app_id == std::optional<std::string>("notes-app"));
  CHECK(convs.Create(ann, {std::string(201, 'x')}).status().field() == "title");
  CHECK(convs.Create(ann, {"ok", std::string("bad app id!")}).status().field() == "app_id");

  f.clock->Advance(std::chrono::seconds(1));
  ConversationPatch patch;
  patch.title = "Renamed";
  auto up = convs.Update(ann, c->id, patch);
  REQUIRE(up.ok());
  CHECK(up->title == "Renamed");
  CHECK(convs.Get(ann, c->id)->title == "Renamed");
  patch.title = "";
  CHECK(convs.Update(ann, c->id, patch).status().field() == "title");

  REQUIRE(convs.Delete(ann, c->id).ok());
  CHECK(convs.Get(ann, c->id).status().code() == StatusCode::kNotFound);
}

TEST_CASE("messages: validation, order, newest page first with has_more") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  ConversationService& convs = f.core->conversations();
  auto c = convs.Create(ann, {"chat"});
  REQUIRE(c.ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    f.clock->Advance(std::chrono::milliseconds(1));
    auto m = convs.AddMessage(ann, Msg(c->id, i % 2 ? MessageRole::kAssistant : MessageRole::kUser,
                                       "line " + std::to_string(i) + "\n\tindented\x07"));
    REQUIRE(m.ok());
    CHECK(m->content == "line " + std::to_string(i) + "\n\tindented");
    ids.push_back(m->id);
  }
  CHECK(convs.AddMessage(ann, Msg(c->id, MessageRole::kUser, "")).status().field() == "content");
  CHECK(convs.AddMessage(ann, Msg(c->id, MessageRole::kUser, "bad \xF4\x90\x80\x80")).status().reason() ==
        "malformed_request");
  CHECK(convs.AddMessage(ann, Msg(c->id, MessageRole::kUser, std::string(32001, 'a'))).status().field() ==
        "content");

  MessageListOptions o;
  o.limit = 3;
  auto newest = convs.Messages(ann, c->id, o);
  REQUIRE(newest.ok());
  REQUIRE(newest->messages.size() == 3);
  CHECK(newest->messages[0].id == ids[4]);  // oldest first within the newest page
  CHECK(newest->messages[2].id == ids[6]);
  CHECK(newest->has_more);
  o.before = newest->messages[0].id;
  auto older = convs.Messages(ann, c->id, o);
  REQUIRE(older.ok());
  REQUIRE(older->messages.size() == 3);
  CHECK(older->messages[0].id == ids[1]);
  o.before = older->messages[0].id;
  auto oldest = convs.Messages(ann, c->id, o);
  REQUIRE(oldest.ok());
  REQUIRE(oldest->messages.size() == 1);
  CHECK(oldest->messages[0].id == ids[0]);
  CHECK_FALSE(oldest->has_more);

  // The conversation moved to the top of the list when messages arrived.
  auto other = convs.Create(ann, {"older"});
  REQUIRE(other.ok());
  f.clock->Advance(std::chrono::seconds(1));
  REQUIRE(convs.AddMessage(ann, Msg(c->id, MessageRole::kUser, "bump")).ok());
  auto list = convs.List(ann, {});
  REQUIRE(list.ok());
  REQUIRE(list->items.size() == 2);
  CHECK(list->items[0].id == c->id);
}

TEST_CASE("listing pages through conversations newest first") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  ConversationService& convs = f.core->conversations();
  std::vector<std::string> ids;
  for (int i = 0; i < 9; ++i) {
    f.clock->Advance(std::chrono::milliseconds(i % 2));
    ids.push_back(convs.Create(ann, {"c" + std::to_string(i)})->id);
  }
  ConversationListOptions o;
  o.limit = 4;
  std::vector<std::string> seen;
  do {
    auto page = convs.List(ann, o);
    REQUIRE(page.ok());
    for (const auto& c : page->items) seen.push_back(c.id);
    o.cursor = page->next_cursor;
  } while (!o.cursor.empty());
  std::reverse(ids.begin(), ids.end());
  CHECK(seen == ids);
}

TEST_CASE("search finds titles and message text; words all match; prefix with *") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal bob = f.NewUser("bob@example.com");
  ConversationService& convs = f.core->conversations();
  auto trip = convs.Create(ann, {"Trip to Lisbon"});
  auto cook = convs.Create(ann, {"Cooking"});
  auto bobs = convs.Create(bob, {"Lisbon for Bob"});
  REQUIRE((trip.ok() && cook.ok() && bobs.ok()));
  REQUIRE(convs.AddMessage(ann, Msg(cook->id, MessageRole::kUser, "A recipe for pasteis de nata")).ok());
  REQUIRE(convs.AddMessage(ann, Msg(trip->id, MessageRole::kUser, "Book the flight and hotel")).ok());

  auto search = [&](const Principal& p, const std::string& q) {
    ConversationListOptions o;
    o.q = q;
    auto r = convs.List(p, o);
    REQUIRE(r.ok());
    std::vector<std::string> ids;
    for (const auto& c : r->items) ids.push_back(c.id);
    return ids;
  };
  CHECK(search(ann, "lisbon") == std::vector<std::string>{trip->id});
  CHECK(search(ann, "NATA") == std::vector<std::string>{cook->id});
  CHECK(search(ann, "flight hotel") == std::vector<std::string>{trip->id});
  CHECK(search(ann, "flight nata").empty());  // words must be in the same message
  CHECK(search(ann, "pas*") == std::vector<std::string>{cook->id});
  CHECK(search(ann, "pas").empty());  // a bare word is a whole word
  // Query syntax of the full-text engine is not interpreted.
  CHECK(search(ann, "\"lisbon\" OR title:x") .empty());
  CHECK(search(ann, "lisbon)(").size() == 1);
  CHECK(search(ann, "***").empty());
  CHECK(search(bob, "lisbon") == std::vector<std::string>{bobs->id});
  CHECK(search(bob, "nata").empty());

  ConversationListOptions bad;
  bad.q = "lisbon";
  bad.cursor = "garbage!";
  CHECK(convs.List(ann, bad).status().reason() == "invalid_cursor");
}

TEST_CASE("search pages with offset cursors") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  ConversationService& convs = f.core->conversations();
  for (int i = 0; i < 5; ++i) {
    f.clock->Advance(std::chrono::milliseconds(1));
    REQUIRE(convs.Create(ann, {"project alpha " + std::to_string(i)}).ok());
  }
  ConversationListOptions o;
  o.q = "alpha";
  o.limit = 2;
  std::set<std::string> seen;
  int pages = 0;
  do {
    auto page = convs.List(ann, o);
    REQUIRE(page.ok());
    for (const auto& c : page->items) CHECK(seen.insert(c.id).second);
    o.cursor = page->next_cursor;
    REQUIRE(++pages <= 5);
  } while (!o.cursor.empty());
  CHECK(seen.size() == 5);
  CHECK(pages == 3);
}

TEST_CASE("fork copies messages up to the chosen one into '<title> (fork)'") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal bob = f.NewUser("bob@example.com");
  ConversationService& convs = f.core->conversations();
  auto c = convs.Create(ann, {"Plans"});
  REQUIRE(c.ok());
  std::vector<Message> msgs;
  for (int i = 0; i < 4; ++i) {
    f.clock->Advance(std::chrono::milliseconds(1));
    msgs.push_back(*convs.AddMessage(ann, Msg(c->id, i % 2 ? MessageRole::kAssistant : MessageRole::kUser,
                                              "m" + std::to_string(i))));
  }
  auto fork = convs.Fork(ann, c->id, msgs[1].id);
  REQUIRE(fork.ok());
  CHECK(fork->title == "Plans (fork)");
  CHECK(fork->id != c->id);
  auto copied = convs.Messages(ann, fork->id, {});
  REQUIRE(copied.ok());
  REQUIRE(copied->messages.size() == 2);
  CHECK(copied->messages[0].content == "m0");
  CHECK(copied->messages[1].content == "m1");
  CHECK(copied->messages[1].role == MessageRole::kAssistant);
  CHECK(copied->messages[0].id != msgs[0].id);
  CHECK(convs.Messages(ann, c->id, {})->messages.size() == 4);  // source untouched

  auto long_title = convs.Create(ann, {std::string(200, 't')});
  REQUIRE(long_title.ok());
  REQUIRE(convs.AddMessage(ann, Msg(long_title->id, MessageRole::kUser, "x")).ok());
  auto m = convs.Messages(ann, long_title->id, {});
  auto long_fork = convs.Fork(ann, long_title->id, m->messages[0].id);
  REQUIRE(long_fork.ok());
  CHECK(long_fork->title.size() == 200);
  CHECK(long_fork->title.substr(193) == " (fork)");

  CHECK(convs.Fork(bob, c->id, msgs[1].id).status().code() == StatusCode::kNotFound);
  CHECK(convs.Fork(ann, c->id, "no-such-message").status().code() == StatusCode::kNotFound);
}

TEST_CASE("isolation and scopes for conversations") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal bob = f.NewUser("bob@example.com");
  ConversationService& convs = f.core->conversations();
  auto c = convs.Create(ann, {"private"});
  REQUIRE(c.ok());
  auto m = convs.AddMessage(ann, Msg(c->id, MessageRole::kUser, "secret text"));
  REQUIRE(m.ok());

  CHECK(convs.Get(bob, c->id).status().code() == StatusCode::kNotFound);
  CHECK(convs.Messages(bob, c->id, {}).status().code() == StatusCode::kNotFound);
  CHECK(convs.AddMessage(bob, Msg(c->id, MessageRole::kUser, "intrusion")).status().code() ==
        StatusCode::kNotFound);
  ConversationPatch patch;
  patch.title = "mine";
  CHECK(convs.Update(bob, c->id, patch).status().code() == StatusCode::kNotFound);
  CHECK(convs.Delete(bob, c->id).code() == StatusCode::kNotFound);
  CHECK(convs.List(bob, {})->items.empty());
  ConversationListOptions q;
  q.q = "secret";
  CHECK(convs.List(bob, q)->items.empty());
  CHECK(convs.Messages(ann, c->id, {})->messages.size() == 1);

  Principal reader = CoreFixture::WithScopes(ann, {"conversations:read"});
  CHECK(convs.List(reader, {}).ok());
  CHECK(convs.Create(reader, {}).status().reason() == "insufficient_scope");
  CHECK(convs.Delete(reader, c->id).code() == StatusCode::kPermissionDenied);
  Principal agent_only = CoreFixture::WithScopes(ann, {"agent"});
  CHECK(convs.List(agent_only, {}).status().code() == StatusCode::kPermissionDenied);
  CHECK(convs.AddMessage(agent_only, Msg(c->id, MessageRole::kAssistant, "from the agent")).ok());
}

}  // TEST_SUITE
