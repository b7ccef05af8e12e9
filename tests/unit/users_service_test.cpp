#include <doctest/doctest.h>

#include <string>

#include "core_fixture.hpp"
#include "services/audit_log.hpp"

using namespace assistant;
using assistant::testing::CoreFixture;

TEST_SUITE("users") {

TEST_CASE("profile: read, rename, preferences") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  UserService& users = f.core->users();
  auto me = users.Me(ann);
  REQUIRE(me.ok());
  CHECK(me->email == "ann@example.com");

  f.clock->Advance(std::chrono::seconds(3));
  UserPatch patch;
  patch.name = "  Ann\x07 Smith\n";
  patch.preferences = Json{{"theme", "dark"}};
  auto up = users.UpdateMe(ann, patch);
  REQUIRE(up.ok());
  CHECK(up->name == "Ann Smith");
  CHECK(up->preferences == Json{{"theme", "dark"}});
  CHECK(up->updated_at == f.clock->Now());
  auto again = users.Me(ann);
  CHECK(again->name == "Ann Smith");
  CHECK(again->preferences["theme"] == "dark");

  UserPatch bad_prefs;
  bad_prefs.preferences = Json::array({1, 2});
  CHECK(users.UpdateMe(ann, bad_prefs).status().field() == "preferences");
  UserPatch long_name;
  long_name.name = std::string(201, 'n');
  CHECK(users.UpdateMe(ann, long_name).status().field() == "name");
  UserPatch empty_name;
  empty_name.name = "";
  CHECK(users.UpdateMe(ann, empty_name).ok());  // a name may be empty

  Principal reader = CoreFixture::WithScopes(ann, {"user:read"});
  CHECK(users.Me(reader).ok());
  CHECK(users.UpdateMe(reader, patch).status().reason() == "insufficient_scope");
  CHECK(users.DeleteMe(reader, f.ctx).code() == StatusCode::kPermissionDenied);
  Principal tasks_only = CoreFixture::WithScopes(ann, {"tasks:read"});
  CHECK(users.Me(tasks_only).status().code() == StatusCode::kPermissionDenied);
  CHECK(users.Me(Principal{}).status().code() == StatusCode::kUnauthenticated);
}

TEST_CASE("user data: put, get, list by namespace, delete, validation, isolation") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal bob = f.NewUser("bob@example.com");
  UserService& users = f.core->users();
  auto put = users.PutData(ann, "app1.shared", "handoff:1", Json{{"step", 2}, {"items", {1, 2}}});
  REQUIRE(put.ok());
  REQUIRE(users.PutData(ann, "app1.shared", "a-key", "plain string").ok());
  REQUIRE(users.PutData(ann, "other", "k", 42).ok());
  auto got = users.GetData(ann, "app1.shared", "handoff:1");
  REQUIRE(got.ok());
  CHECK(got->value == Json{{"step", 2}, {"items", {1, 2}}});
  auto list = users.ListData(ann, "app1.shared");
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].key == "a-key");  // ordered by key
  CHECK((*list)[1].key == "handoff:1");

  REQUIRE(users.PutData(ann, "app1.shared", "a-key", Json::array()).ok());  // overwrite
  CHECK(users.GetData(ann, "app1.shared", "a-key")->value == Json::array());

  CHECK(users.GetData(bob, "app1.shared", "handoff:1").status().code() == StatusCode::kNotFound);
  CHECK(users.ListData(bob, "app1.shared")->empty());
  CHECK(users.DeleteData(bob, "app1.shared", "handoff:1").code() == StatusCode::kNotFound);

  CHECK(users.PutData(ann, "bad ns", "k", 1).status().field() == "namespace");
  CHECK(users.PutData(ann, "", "k", 1).status().field() == "namespace");
  CHECK(users.PutData(ann, "ns", std::string(129, 'k'), 1).status().field() == "key");
  CHECK(users.PutData(ann, "ns", "k/../x", 1).status().field() == "key");
  CHECK(users.PutData(ann, "ns", std::string(128, 'k'), 1).ok());
  Json big = std::string(256 * 1024, 'x');  // 256 KiB plus the quotes
  CHECK_FALSE(users.PutData(ann, "ns", "big", big).ok());
  Json fits = std::string(256 * 1024 - 2, 'x');
  CHECK(users.PutData(ann, "ns", "fits", fits).ok());
  CHECK_FALSE(users.PutData(ann, "ns", "utf", Json("bad \xC0\xAF")).ok());

  REQUIRE(users.DeleteData(ann, "app1.shared", "handoff:1").ok());
  CHECK(users.GetData(ann, "app1.shared", "handoff:1").status().code() == StatusCode::kNotFound);

  Principal reader = CoreFixture::WithScopes(ann, {"user:read"});
  CHECK(users.GetData(reader, "other", "k").ok());
  CHECK(users.PutData(reader, "other", "k", 1).status().code() == StatusCode::kPermissionDenied);
}

TEST_CASE("audit: the caller's events, newest first, paged by cursor") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal bob = f.NewUser("bob@example.com");
  AuditLog log(f.core->storage(), f.core->clock());
  for (int i = 0; i < 5; ++i) {
    f.clock->Advance(std::chrono::seconds(1));
    log.Record(ann.user_id, "auth.login", i != 2, f.ctx, {{"n", i}});
  }
  log.Record(bob.user_id, "auth.login", true, f.ctx);
  UserService& users = f.core->users();
  std::vector<int> order;
  std::string cursor;
  do {
    auto page = users.Audit(ann, 2, cursor);
    REQUIRE(page.ok());
    for (const AuditEvent& e : page->items) {
      CHECK(e.user_id == ann.user_id);
      order.push_back(e.details["n"].get<int>());
    }
    cursor = page->next_cursor;
  } while (!cursor.empty());
  CHECK(order == std::vector<int>{4, 3, 2, 1, 0});
  auto bobs = users.Audit(bob, 50, "");
  REQUIRE(bobs.ok());
  CHECK(bobs->items.size() == 1);
  CHECK(users.Audit(ann, 10, "junk").status().reason() == "invalid_cursor");
  Principal no_read = CoreFixture::WithScopes(ann, {"user:write"});
  CHECK(users.Audit(no_read, 10, "").status().code() == StatusCode::kPermissionDenied);
}

TEST_CASE("DeleteMe removes the account and what it owns") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal bob = f.NewUser("bob@example.com");
  auto task = f.core->tasks().Create(ann, {"gone soon"});
  auto bob_task = f.core->tasks().Create(bob, {"stays"});
  REQUIRE((task.ok() && bob_task.ok()));
  REQUIRE(f.core->users().PutData(ann, "ns", "k", 1).ok());
  REQUIRE(f.core->users().DeleteMe(ann, f.ctx).ok());
  // The principal outlived its account: its credential is dead, a 401.
  CHECK(f.core->users().Me(ann).status().code() == StatusCode::kUnauthenticated);
  CHECK(f.core->storage().GetTask(ann.user_id, task->id).status().code() ==
        StatusCode::kNotFound);
  CHECK(f.core->tasks().Get(bob, bob_task->id).ok());
}

TEST_CASE("a deleted account's access token stops working at once") {
  CoreFixture f;
  auto reg = f.core->auth().Register({"gone@example.com", "correct horse battery", "G"}, f.ctx);
  REQUIRE(reg.ok());
  // Authenticate first, so the session's liveness is cached: the deletion
  // must drop that answer, not wait for it to age out.
  auto who = f.core->auth().Authenticate(reg->tokens.access_token);
  REQUIRE(who.ok());
  REQUIRE(f.core->users().DeleteMe(*who, f.ctx).ok());
  auto after = f.core->auth().Authenticate(reg->tokens.access_token);
  CHECK(after.status().code() == StatusCode::kUnauthenticated);
  CHECK(f.core->auth().Refresh(reg->tokens.refresh_token, f.ctx).status().code() ==
        StatusCode::kUnauthenticated);
}

}  // TEST_SUITE
