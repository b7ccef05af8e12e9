#include <doctest/doctest.h>

#include <set>
#include <string>

#include "core_fixture.hpp"
#include "unit/poll_event_loop.hpp"

using namespace assistant;
using assistant::testing::CoreFixture;

TEST_SUITE("tasks") {

TEST_CASE("create, get, update, delete a task") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  TaskService& tasks = f.core->tasks();

  auto t = tasks.Create(ann, {"  buy milk  ", "2 litres\n\tsemi-skimmed", std::nullopt, 5});
  REQUIRE(t.ok());
  CHECK(t->title == "buy milk");
  CHECK(t->description == "2 litres\n\tsemi-skimmed");
  CHECK(t->priority == 5);
  CHECK_FALSE(t->completed);
  CHECK(t->user_id == ann.user_id);
  CHECK(t->created_at == f.clock->Now());

  auto got = tasks.Get(ann, t->id);
  REQUIRE(got.ok());
  CHECK(got->title == "buy milk");
  CHECK(got->description == t->description);

  f.clock->Advance(std::chrono::seconds(5));
  TaskPatch patch;
  patch.completed = true;
  patch.title = "buy oat milk";
  patch.due_at = std::optional<Timestamp>(f.clock->Now() + std::chrono::hours(24));
  auto up = tasks.Update(ann, t->id, patch);
  REQUIRE(up.ok());
  CHECK(up->completed);
  CHECK(up->title == "buy oat milk");
  CHECK(up->updated_at == f.clock->Now());
  CHECK(up->created_at == t->created_at);
  auto reread = tasks.Get(ann, t->id);
  REQUIRE(reread.ok());
  CHECK(reread->completed);
  REQUIRE(reread->due_at.has_value());
  CHECK(*reread->due_at == f.clock->Now() + std::chrono::hours(24));

  TaskPatch clear_due;
  clear_due.due_at = std::optional<Timestamp>();
  REQUIRE(tasks.Update(ann, t->id, clear_due).ok());
  CHECK_FALSE(tasks.Get(ann, t->id)->due_at.has_value());

  REQUIRE(tasks.Delete(ann, t->id).ok());
  CHECK(tasks.Get(ann, t->id).status().code() == StatusCode::kNotFound);
  CHECK(tasks.Delete(ann, t->id).code() == StatusCode::kNotFound);
}

TEST_CASE("task validation: lengths in characters, control characters, UTF-8, priority") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  TaskService& tasks = f.core->tasks();

  std::string e500;
  for (int i = 0; i < 500; ++i) e500 += "\xC3\xA9";
  auto ok = tasks.Create(ann, {e500});
  REQUIRE(ok.ok());
  CHECK(ok->title == e500);
  auto too_long = tasks.Create(ann, {e500 + "\xC3\xA9"});
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.status().code() == StatusCode::kInvalidArgument);
  CHECK(too_long.status().field() == "title");

  auto empty = tasks.Create(ann, {"   "});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().field() == "title");

  // Single-line title: every control character goes; description keeps tab/newline.
  auto ctl = tasks.Create(ann, {"buy\x07 mi\nlk\xC2\x85", "a\tb\nc\x1B[31m"});
  REQUIRE(ctl.ok());
  CHECK(ctl->title == "buy milk");
  CHECK(ctl->description == "a\tb\nc[31m");

  auto bad_utf8 = tasks.Create(ann, {"bad \xED\xA0\x80"});
  REQUIRE_FALSE(bad_utf8.ok());
  CHECK(bad_utf8.status().reason() == "malformed_request");
  auto bad_desc = tasks.Create(ann, {"fine", "bad \xC0\xAF"});
  REQUIRE_FALSE(bad_desc.ok());
  CHECK(bad_desc.status().reason() == "malformed_request");

  auto long_desc = tasks.Create(ann, {"x", std::string(10001, 'd')});
  REQUIRE_FALSE(long_desc.ok());
  CHECK(long_desc.status().field() == "description");
  CHECK(tasks.Create(ann, {"x", std::string(10000, 'd')}).ok());

  auto prio = tasks.Create(ann, {"x", "", std::nullopt, 1001});
  REQUIRE_FALSE(prio.ok());
  CHECK(prio.status().field() == "priority");
  CHECK(tasks.Create(ann, {"x", "", std::nullopt, -1000}).ok());

  // A failed update changes nothing.
  TaskPatch bad;
  bad.completed = true;
  bad.title = "";
  CHECK_FALSE(tasks.Update(ann, ok->id, bad).ok());
  CHECK_FALSE(tasks.Get(ann, ok->id)->completed);

  TaskListOptions garbage;
  garbage.cursor = "not-a-cursor!";
  auto bad_cursor = tasks.List(ann, garbage);
  REQUIRE_FALSE(bad_cursor.ok());
  CHECK(bad_cursor.status().reason() == "invalid_cursor");
}

TEST_CASE("paging walks every task once, in creation order, with status filters") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  TaskService& tasks = f.core->tasks();
  std::vector<std::string> ids;
  for (int i = 0; i < 23; ++i) {
    // Several tasks share a millisecond: the id breaks the tie.
    if (i % 3 == 0) f.clock->Advance(std::chrono::milliseconds(1));
    auto t = tasks.Create(ann, {"task " + std::to_string(i)});
    REQUIRE(t.ok());
    ids.push_back(t->id);
    if (i % 2 == 0) {
      TaskPatch done;
      done.completed = true;
      REQUIRE(tasks.Update(ann, t->id, done).ok());
    }
  }
  for (int limit : {1, 5, 7, 23, 50}) {
    TaskListOptions o;
    o.limit = limit;
    std::vector<std::string> seen;
    int pages = 0;
    do {
      auto page = tasks.List(ann, o);
      REQUIRE(page.ok());
      CHECK(static_cast<int>(page->items.size()) <= limit);
      for (const Task& t : page->items) seen.push_back(t.id);
      o.cursor = page->next_cursor;
      REQUIRE(++pages <= 30);
    } while (!o.cursor.empty());
    INFO("limit " << limit);
    CHECK(seen == ids);  // no duplicates, no gaps, creation order
  }
  TaskListOptions pending;
  pending.status = TaskFilter::kPending;
  pending.limit = 4;
  int pending_count = 0;
  do {
    auto page = tasks.List(ann, pending);
    REQUIRE(page.ok());
    for (const Task& t : page->items) {
      CHECK_FALSE(t.completed);
      ++pending_count;
    }
    pending.cursor = page->next_cursor;
  } while (!pending.cursor.empty());
  CHECK(pending_count == 11);

  TaskListOptions completed;
  completed.status = TaskFilter::kCompleted;
  completed.limit = 200;
  auto done = tasks.List(ann, completed);
  REQUIRE(done.ok());
  CHECK(done->items.size() == 12);
  CHECK(done->next_cursor.empty());

  TaskListOptions q;
  q.q = "TASK 1";  // case-insensitive substring: task 1, 10..19
  auto found = tasks.List(ann, q);
  REQUIRE(found.ok());
  CHECK(found->items.size() == 11);

  auto cleared = tasks.ClearCompleted(ann);
  REQUIRE(cleared.ok());
  CHECK(*cleared == 12);
  TaskListOptions all;
  CHECK(tasks.List(ann, all)->items.size() == 11);
}

TEST_CASE("Find: id, then exact title, then a unique substring") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  TaskService& tasks = f.core->tasks();
  auto milk = tasks.Create(ann, {"Buy milk"});
  auto oat = tasks.Create(ann, {"buy oat milk"});
  auto mom = tasks.Create(ann, {"Call mom"});
  REQUIRE((milk.ok() && oat.ok() && mom.ok()));

  CHECK(tasks.Find(ann, oat->id)->id == oat->id);
  CHECK(tasks.Find(ann, "buy MILK")->id == milk->id);  // exact beats substring
  CHECK(tasks.Find(ann, "mom")->id == mom->id);        // unique substring
  CHECK(tasks.Find(ann, "oat")->id == oat->id);
  auto amb = tasks.Find(ann, "milk");
  REQUIRE_FALSE(amb.ok());
  CHECK(amb.status().code() == StatusCode::kInvalidArgument);
  CHECK(amb.status().reason() == "ambiguous_task");
  CHECK(amb.status().message().find("Buy milk") != std::string::npos);
  auto none = tasks.Find(ann, "walk the dog");
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == StatusCode::kNotFound);
  // LIKE wildcards are plain characters.
  CHECK(tasks.Find(ann, "%").status().code() == StatusCode::kNotFound);
  CHECK(tasks.Find(ann, "_").status().code() == StatusCode::kNotFound);
}

TEST_CASE("ListAsync gives List's pages, cursors and refusals, once, on the loop") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  TaskService& tasks = f.core->tasks();
  for (int i = 0; i < 13; ++i) {
    if (i % 4 == 0) f.clock->Advance(std::chrono::milliseconds(1));
    auto t = tasks.Create(ann, {"task " + std::to_string(i)});
    REQUIRE(t.ok());
    if (i % 3 == 0) {
      TaskPatch done;
      done.completed = true;
      REQUIRE(tasks.Update(ann, t->id, done).ok());
    }
  }
  testing::PollEventLoop loop;
  auto list_async = [&](const Principal& p, const TaskListOptions& o) {
    std::optional<Result<Page<Task>>> got;
    int calls = 0;
    tasks.ListAsync(p, o, loop, [&](Result<Page<Task>> r) {
      ++calls;
      got.emplace(std::move(r));
    });
    CHECK(calls == 0);  // never inside the call
    REQUIRE(loop.RunUntil([&] { return calls > 0; }));
    loop.RunUntil([] { return false; }, std::chrono::milliseconds(5));
    CHECK(calls == 1);
    return std::move(*got);
  };
  for (TaskFilter status : {TaskFilter::kAll, TaskFilter::kPending, TaskFilter::kCompleted}) {
    TaskListOptions o;
    o.status = status;
    o.limit = 3;
    o.q = status == TaskFilter::kAll ? "TASK 1" : "";
    int pages = 0;
    do {
      auto sync = tasks.List(ann, o);
      auto async = list_async(ann, o);
      REQUIRE(sync.ok());
      REQUIRE_MESSAGE(async.ok(), async.status().ToString());
      CHECK(async->next_cursor == sync->next_cursor);
      REQUIRE(async->items.size() == sync->items.size());
      for (size_t i = 0; i < sync->items.size(); ++i) {
        CHECK(async->items[i].id == sync->items[i].id);
      }
      o.cursor = async->next_cursor;
      REQUIRE(++pages <= 10);
    } while (!o.cursor.empty());
    CHECK(pages > 1);
  }
  auto denied = list_async(CoreFixture::WithScopes(ann, {"tasks:write"}), {});
  CHECK(denied.status().code() == StatusCode::kPermissionDenied);
  TaskListOptions bad;
  bad.cursor = "not a cursor";
  CHECK(list_async(ann, bad).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("scopes: tasks:read reads, tasks:write writes, no user is unauthenticated") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  TaskService& tasks = f.core->tasks();
  auto t = tasks.Create(ann, {"buy milk"});
  REQUIRE(t.ok());

  Principal reader = CoreFixture::WithScopes(ann, {"tasks:read"});
  CHECK(tasks.Get(reader, t->id).ok());
  CHECK(tasks.List(reader, {}).ok());
  auto denied = tasks.Create(reader, {"sneaky"});
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.status().code() == StatusCode::kPermissionDenied);
  CHECK(denied.status().reason() == "insufficient_scope");
  CHECK(tasks.Delete(reader, t->id).code() == StatusCode::kPermissionDenied);
  CHECK(tasks.ClearCompleted(reader).status().code() == StatusCode::kPermissionDenied);
  TaskPatch patch;
  patch.completed = true;
  CHECK(tasks.Update(reader, t->id, patch).status().code() == StatusCode::kPermissionDenied);

  Principal writer = CoreFixture::WithScopes(ann, {"tasks:write"});
  CHECK(tasks.Create(writer, {"ok"}).ok());
  CHECK(tasks.List(writer, {}).status().code() == StatusCode::kPermissionDenied);

  Principal nobody;
  nobody.scopes = {"*"};
  CHECK(tasks.List(nobody, {}).status().code() == StatusCode::kUnauthenticated);
  CHECK(tasks.Create(nobody, {"x"}).status().code() == StatusCode::kUnauthenticated);
  TaskListOptions o;
  CHECK(tasks.List(ann, o)->items.size() == 2);
}

TEST_CASE("isolation: another user's task is NotFound and never listed") {
  CoreFixture f;
  Principal ann = f.NewUser("ann@example.com");
  Principal bob = f.NewUser("bob@example.com");
  TaskService& tasks = f.core->tasks();
  auto t = tasks.Create(ann, {"ann's secret"});
  REQUIRE(t.ok());
  TaskPatch done;
  done.completed = true;
  REQUIRE(tasks.Update(ann, t->id, done).ok());

  CHECK(tasks.Get(bob, t->id).status().code() == StatusCode::kNotFound);
  TaskPatch rename;
  rename.title = "mine now";
  CHECK(tasks.Update(bob, t->id, rename).status().code() == StatusCode::kNotFound);
  CHECK(tasks.Delete(bob, t->id).code() == StatusCode::kNotFound);
  CHECK(tasks.Find(bob, t->id).status().code() == StatusCode::kNotFound);
  CHECK(tasks.Find(bob, "secret").status().code() == StatusCode::kNotFound);
  CHECK(tasks.List(bob, {})->items.empty());
  CHECK(*tasks.ClearCompleted(bob) == 0);
  auto still = tasks.Get(ann, t->id);
  REQUIRE(still.ok());
  CHECK(still->title == "ann's secret");
  // A cursor from Ann's listing shows Bob nothing of hers.
  TaskListOptions o;
  o.limit = 1;
  REQUIRE(tasks.Create(ann, {"second"}).ok());
  auto page = tasks.List(ann, o);
  REQUIRE(page.ok());
  REQUIRE_FALSE(page->next_cursor.empty());
  TaskListOptions bobs;
  bobs.cursor = page->next_cursor;
  CHECK(tasks.List(bob, bobs)->items.empty());
}

}  // TEST_SUITE
