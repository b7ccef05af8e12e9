// The storage conformance suite: what every assistant::Storage implementation
// must do, written against the interface alone.
//
// Usage, from a doctest file:
//   TEST_CASE("my backend conforms") {
//     assistant::conformance::RunStorageConformance([] { return OpenMine(); });
//   }
// Each check is a SUBCASE, so doctest re-enters the test case once per check
// and a failure names the check. `factory` is called once per check and must
// return a fresh, empty storage.
#ifndef ASSISTANT_TESTS_STORAGE_CONFORMANCE_HPP_
#define ASSISTANT_TESTS_STORAGE_CONFORMANCE_HPP_

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "assistant/storage.hpp"
#include "unit/poll_event_loop.hpp"

namespace assistant::conformance {

using StorageFactory = std::function<std::unique_ptr<Storage>()>;

namespace detail {

// A fixed base time, so every run is deterministic; offsets in ms.
inline Timestamp T(int64_t offset_ms = 0) { return FromUnixMillis(1767225600123 + offset_ms); }

inline UserRecord MakeUser(Storage& s, const std::string& email) {
  UserRecord r;
  r.user.id = NewId();
  r.user.email = email;
  r.user.name = "Name of " + email;
  r.user.preferences = Json{{"theme", "dark"}};
  r.user.created_at = T();
  r.user.updated_at = T();
  r.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
  REQUIRE(s.CreateUser(r).ok());
  return r;
}

inline Task MakeTask(Storage& s, const std::string& user_id, const std::string& title,
                     Timestamp created, bool completed = false) {
  Task t;
  t.id = NewId();
  t.user_id = user_id;
  t.title = title;
  t.description = "about " + title;
  t.completed = completed;
  t.priority = 2;
  t.created_at = created;
  t.updated_at = created;
  REQUIRE(s.CreateTask(t).ok());
  return t;
}

inline Conversation MakeConversation(Storage& s, const std::string& user_id,
                                     const std::string& title, Timestamp at) {
  Conversation c;
  c.id = NewId();
  c.user_id = user_id;
  c.title = title;
  c.created_at = at;
  c.updated_at = at;
  REQUIRE(s.CreateConversation(c).ok());
  return c;
}

inline Message AddMessage(Storage& s, const std::string& user_id,
                          const std::string& conversation_id, const std::string& content,
                          Timestamp at, MessageRole role = MessageRole::kUser) {
  Message m;
  m.id = NewId();
  m.conversation_id = conversation_id;
  m.role = role;
  m.content = content;
  m.created_at = at;
  REQUIRE(s.AppendMessage(user_id, m).ok());
  return m;
}

inline Session MakeSession(Storage& s, const std::string& user_id, const std::string& hash,
                           Timestamp created, Timestamp expires) {
  Session session;
  session.id = NewId();
  session.user_id = user_id;
  session.created_at = created;
  session.last_used_at = created;
  session.expires_at = expires;
  session.ip = "192.0.2.1";
  session.user_agent = "conformance";
  RefreshToken token;
  token.token_hash = hash;
  token.session_id = session.id;
  token.user_id = user_id;
  token.created_at = created;
  token.expires_at = expires;
  AuditEvent audit;
  audit.id = NewId();
  audit.user_id = user_id;
  audit.type = "auth.login";
  audit.outcome = AuditOutcome::kOk;
  audit.details = {{"session_id", session.id}};
  audit.created_at = created;
  REQUIRE(s.CreateSession(session, token, audit).ok());
  // Written with the session.
  auto logged = s.ListAudit(user_id, 100, std::nullopt);
  REQUIRE(logged.ok());
  bool found = false;
  for (const AuditEvent& e : *logged) found |= e.id == audit.id && e.details == audit.details;
  CHECK(found);
  return session;
}

inline RefreshToken Successor(const Session& session, const std::string& hash, Timestamp at) {
  RefreshToken t;
  t.token_hash = hash;
  t.session_id = session.id;
  t.user_id = session.user_id;
  t.created_at = at;
  t.expires_at = session.expires_at;
  return t;
}

inline ApiKey MakeApiKey(Storage& s, const std::string& user_id, const std::string& hash,
                         Timestamp created) {
  ApiKey k;
  k.id = NewId();
  k.user_id = user_id;
  k.name = "key " + hash;
  k.prefix = "ak_" + hash.substr(0, 4);
  k.key_hash = hash;
  k.scopes = {"tasks:read", "agent"};
  k.created_at = created;
  REQUIRE(s.CreateApiKey(k).ok());
  return k;
}

inline std::vector<std::string> Ids(const std::vector<Conversation>& v) {
  std::vector<std::string> out;
  for (const auto& c : v) out.push_back(c.id);
  return out;
}

inline std::set<std::string> SearchIds(Storage& s, const std::string& user_id,
                                       const std::vector<std::string>& words) {
  auto r = s.SearchConversations(user_id, words, 50, 0);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  auto ids = Ids(*r);
  return {ids.begin(), ids.end()};
}

inline Result<Json> Increment(const std::optional<Json>& current) {
  Json next = current.value_or(Json{{"count", 0}});
  next["count"] = next["count"].get<int>() + 1;
  return next;
}

// `count` tasks of `a` with random titles (words that LIKE's wildcards and
// case folding test) and states, at few distinct times, some before 1970, so
// ties and negative keys occur; `b` gets one at every fourth. Returns a's,
// sorted by (created_at, id).
inline std::vector<Task> MakeRandomTasks(Storage& s, const std::string& a, const std::string& b,
                                         std::mt19937& rng, int count) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* const words[] = {"milk", "Bread", "call", "MILKY way", "50% off", "a_b"};
  std::vector<Task> out;
  for (int i = 0; i < count; ++i) {
    const Timestamp at = FromUnixMillis((pick(12) - 3) * 1000);
    out.push_back(MakeTask(s, a, words[pick(6)] + std::string(" ") + std::to_string(i), at,
                           pick(3) == 0));
    if (i % 4 == 0) MakeTask(s, b, "milk for b", at, pick(2) == 0);
  }
  std::sort(out.begin(), out.end(), [](const Task& x, const Task& y) {
    return x.created_at != y.created_at ? x.created_at < y.created_at : x.id < y.id;
  });
  return out;
}

// A running run of `owner`, created at T(1), with its message.start stored.
inline Run MakeStartedRun(Storage& s, const std::string& user_id,
                          const std::string& conversation_id, const std::string& owner) {
  Run r;
  r.id = NewId();
  r.user_id = user_id;
  r.conversation_id = conversation_id;
  r.message_id = NewId();
  r.created_at = T(1);
  r.owner = owner;
  REQUIRE(s.StartRun({r, {}, {}}).ok());
  REQUIRE(s.AppendRunEvents({{user_id, r.id, {RunEvent{r.id, 1, "message.start", {}}}}}).ok());
  return r;
}

}  // namespace detail

inline void RunStorageConformance(const StorageFactory& factory) {
  using namespace detail;
  testing::PollEventLoop loop;  // outlives the storage, as ListTasksAsync asks
  std::unique_ptr<Storage> storage = factory();
  REQUIRE(storage != nullptr);
  Storage& s = *storage;

  SUBCASE("ping and backend name") {
    CHECK(s.Ping().ok());
    CHECK_FALSE(s.Backend().empty());
  }

  SUBCASE("users: create, read back every field, update, delete") {
    UserRecord a = MakeUser(s, "Alice@Example.com");
    auto got = s.GetUserById(a.user.id);
    REQUIRE(got.ok());
    CHECK(got->user.email == "Alice@Example.com");  // kept as registered
    CHECK(got->user.name == a.user.name);
    CHECK(got->user.email_verified == false);
    CHECK(got->user.preferences == Json{{"theme", "dark"}});
    CHECK(got->user.created_at == a.user.created_at);  // millisecond precision
    CHECK(got->user.updated_at == a.user.updated_at);
    CHECK(got->password_hash == a.password_hash);

    auto by_email = s.GetUserByEmail("aLiCe@eXample.COM");
    REQUIRE(by_email.ok());
    CHECK(by_email->user.id == a.user.id);
    CHECK(IsNotFound(s.GetUserByEmail("bob@example.com").status()));
    CHECK(IsNotFound(s.GetUserById(NewId()).status()));

    UserRecord changed = a;
    changed.user.name = "Alice B.";
    changed.user.email = "alice.b@example.com";
    changed.user.email_verified = true;
    changed.user.preferences = Json{{"theme", "light"}, {"lang", "pt"}};
    changed.password_hash = "$argon2id$new";
    changed.user.updated_at = T(5001);
    REQUIRE(s.UpdateUser(changed).ok());
    got = s.GetUserById(a.user.id);
    REQUIRE(got.ok());
    CHECK(got->user.name == "Alice B.");
    CHECK(got->user.email == "alice.b@example.com");
    CHECK(got->user.email_verified);
    CHECK(got->user.preferences == changed.user.preferences);
    CHECK(got->password_hash == "$argon2id$new");
    CHECK(got->user.updated_at == T(5001));
    CHECK(got->user.created_at == a.user.created_at);
    CHECK(IsNotFound(s.GetUserByEmail("alice@example.com").status()));
    CHECK(s.GetUserByEmail("ALICE.B@example.com").ok());

    UserRecord ghost = a;
    ghost.user.id = NewId();
    ghost.user.email = "ghost@example.com";
    CHECK(IsNotFound(s.UpdateUser(ghost)));

    REQUIRE(s.DeleteUser(a.user.id).ok());
    CHECK(IsNotFound(s.GetUserById(a.user.id).status()));
    CHECK(IsNotFound(s.DeleteUser(a.user.id)));
  }

  SUBCASE("users: email is unique case-insensitively") {
    UserRecord a = MakeUser(s, "Carol@Example.com");
    UserRecord dup = a;
    dup.user.id = NewId();
    dup.user.email = "carol@EXAMPLE.com";
    Status st = s.CreateUser(dup);
    CHECK(IsAlreadyExists(st));
    CHECK(st.reason() == "email_taken");
    UserRecord b = MakeUser(s, "dave@example.com");
    b.user.email = "CAROL@example.com";
    st = s.UpdateUser(b);
    CHECK(IsAlreadyExists(st));
    CHECK(st.reason() == "email_taken");
    CHECK(s.GetUserById(b.user.id)->user.email == "dave@example.com");
    // The same id twice is a conflict too, not a crash.
    UserRecord same_id = a;
    same_id.user.email = "other@example.com";
    CHECK(IsAlreadyExists(s.CreateUser(same_id)));
  }

  SUBCASE("sessions: list, touch, revoke, revoke all") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    Session s1 = MakeSession(s, a.user.id, "h1", T(0), T(100000));
    Session s2 = MakeSession(s, a.user.id, "h2", T(10), T(100000));
    Session expired = MakeSession(s, a.user.id, "h3", T(20), T(50));
    Session other = MakeSession(s, b.user.id, "h4", T(0), T(100000));

    auto got = s.GetSession(s1.id);
    REQUIRE(got.ok());
    CHECK(got->user_id == a.user.id);
    CHECK(got->ip == "192.0.2.1");
    CHECK(got->user_agent == "conformance");
    CHECK(got->expires_at == T(100000));
    CHECK_FALSE(got->revoked_at.has_value());
    CHECK(IsNotFound(s.GetSession(NewId()).status()));

    auto list = s.ListSessions(a.user.id, T(1000));
    REQUIRE(list.ok());
    std::set<std::string> ids;
    for (const auto& x : *list) ids.insert(x.id);
    CHECK(ids == std::set<std::string>{s1.id, s2.id});  // expired one left out

    REQUIRE(s.TouchSession(s1.id, T(2000)).ok());
    CHECK(s.GetSession(s1.id)->last_used_at == T(2000));
    CHECK(IsNotFound(s.TouchSession(NewId(), T(2000))));

    // B cannot revoke A's session, and it stays live.
    CHECK(IsNotFound(s.RevokeSession(b.user.id, s1.id, T(3000))));
    CHECK_FALSE(s.GetSession(s1.id)->revoked_at.has_value());
    REQUIRE(s.RevokeSession(a.user.id, s1.id, T(3000)).ok());
    CHECK(s.RevokeSession(a.user.id, s1.id, T(4000)).ok());  // twice is fine
    CHECK(s.GetSession(s1.id)->revoked_at == T(3000));
    list = s.ListSessions(a.user.id, T(5000));
    REQUIRE(list.ok());
    REQUIRE(list->size() == 1);
    CHECK((*list)[0].id == s2.id);

    auto n = s.RevokeAllSessions(a.user.id, T(6000));
    REQUIRE(n.ok());
    CHECK(*n == 2);  // s2 and the expired one; s1 was already revoked
    CHECK(s.ListSessions(a.user.id, T(6000))->empty());
    CHECK(s.ListSessions(b.user.id, T(6000))->size() == 1);
    CHECK_FALSE(s.GetSession(other.id)->revoked_at.has_value());
    (void)expired;
  }

  SUBCASE("refresh tokens: first use rotates, later uses report used_at") {
    UserRecord a = MakeUser(s, "a@example.com");
    Session session = MakeSession(s, a.user.id, "first", T(0), T(100000));
    auto r1 = s.RotateRefreshToken("first", Successor(session, "second", T(100)), T(100));
    REQUIRE(r1.ok());
    CHECK(r1->rotated);
    CHECK(r1->presented.token_hash == "first");
    CHECK(r1->presented.session_id == session.id);
    CHECK(r1->presented.user_id == a.user.id);
    CHECK_FALSE(r1->presented.used_at.has_value());

    auto r2 = s.RotateRefreshToken("first", Successor(session, "other", T(200)), T(200));
    REQUIRE(r2.ok());
    CHECK_FALSE(r2->rotated);
    REQUIRE(r2->presented.used_at.has_value());
    CHECK(*r2->presented.used_at == T(100));
    // The refused call stored nothing.
    CHECK(IsNotFound(
        s.RotateRefreshToken("other", Successor(session, "x", T(300)), T(300)).status()));

    auto r3 = s.RotateRefreshToken("second", Successor(session, "third", T(400)), T(400));
    REQUIRE(r3.ok());
    CHECK(r3->rotated);
    CHECK(
        IsNotFound(s.RotateRefreshToken("nope", Successor(session, "y", T(500)), T(500)).status()));
  }

  SUBCASE("refresh tokens: concurrent rotation rotates exactly once") {
    UserRecord a = MakeUser(s, "a@example.com");
    Session session = MakeSession(s, a.user.id, "root", T(0), T(100000));
    constexpr int kThreads = 8;
    std::atomic<int> rotated{0}, refused{0}, failed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        auto r = s.RotateRefreshToken("root", Successor(session, "succ" + std::to_string(i), T(10)),
                                      T(10));
        if (!r.ok()) {
          ++failed;
        } else if (r->rotated) {
          ++rotated;
        } else {
          ++refused;
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(failed == 0);
    CHECK(rotated == 1);
    CHECK(refused == kThreads - 1);
    int stored = 0;
    for (int i = 0; i < kThreads; ++i) {
      auto r = s.RotateRefreshToken("succ" + std::to_string(i),
                                    Successor(session, "next" + std::to_string(i), T(20)), T(20));
      if (r.ok()) ++stored;
    }
    CHECK(stored == 1);  // only the winner's successor exists
  }

  SUBCASE("api keys: create, look up by hash, list, revoke, touch") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    ApiKey k1 = MakeApiKey(s, a.user.id, "hash0001", T(0));
    ApiKey k2 = MakeApiKey(s, a.user.id, "hash0002", T(10));
    k2.expires_at = T(99999);
    MakeApiKey(s, b.user.id, "hash0003", T(0));

    auto got = s.GetApiKeyByHash("hash0001");
    REQUIRE(got.ok());
    CHECK(got->id == k1.id);
    CHECK(got->user_id == a.user.id);
    CHECK(got->name == k1.name);
    CHECK(got->prefix == k1.prefix);
    CHECK(got->scopes == std::vector<std::string>{"tasks:read", "agent"});
    CHECK(got->created_at == T(0));
    CHECK_FALSE(got->expires_at.has_value());
    CHECK_FALSE(got->last_used_at.has_value());
    CHECK_FALSE(got->revoked_at.has_value());
    CHECK(IsNotFound(s.GetApiKeyByHash("missing").status()));

    ApiKey dup = k1;
    dup.id = NewId();
    CHECK(IsAlreadyExists(s.CreateApiKey(dup)));

    auto list = s.ListApiKeys(a.user.id);
    REQUIRE(list.ok());
    REQUIRE(list->size() == 2);
    CHECK((*list)[0].id == k2.id);  // newest first
    CHECK((*list)[1].id == k1.id);

    CHECK(IsNotFound(s.RevokeApiKey(b.user.id, k1.id, T(50))));
    CHECK(s.ListApiKeys(a.user.id)->size() == 2);
    REQUIRE(s.RevokeApiKey(a.user.id, k1.id, T(50)).ok());
    CHECK(s.RevokeApiKey(a.user.id, k1.id, T(60)).ok());
    CHECK(s.GetApiKeyByHash("hash0001")->revoked_at == T(50));
    list = s.ListApiKeys(a.user.id);
    REQUIRE(list->size() == 1);
    CHECK((*list)[0].id == k2.id);

    REQUIRE(s.TouchApiKey(k2.id, T(70)).ok());
    CHECK(s.GetApiKeyByHash("hash0002")->last_used_at == T(70));
    CHECK(IsNotFound(s.TouchApiKey(NewId(), T(70))));
    CHECK(s.ListApiKeys(b.user.id)->size() == 1);
  }

  SUBCASE("one-time tokens: single use, purpose bound, expire") {
    UserRecord a = MakeUser(s, "a@example.com");
    OneTimeToken t{"ott1", a.user.id, TokenPurpose::kPasswordReset, T(0), T(1000)};
    REQUIRE(s.CreateOneTimeToken(t).ok());
    CHECK(IsAlreadyExists(s.CreateOneTimeToken(t)));

    // Wrong purpose: NotFound, and the token survives.
    CHECK(IsNotFound(s.ConsumeOneTimeToken("ott1", TokenPurpose::kEmailVerification, T(10)).status()));
    auto got = s.ConsumeOneTimeToken("ott1", TokenPurpose::kPasswordReset, T(10));
    REQUIRE(got.ok());
    CHECK(got->user_id == a.user.id);
    CHECK(got->purpose == TokenPurpose::kPasswordReset);
    CHECK(got->expires_at == T(1000));
    CHECK(IsNotFound(s.ConsumeOneTimeToken("ott1", TokenPurpose::kPasswordReset, T(11)).status()));

    OneTimeToken old{"ott2", a.user.id, TokenPurpose::kEmailVerification, T(0), T(1000)};
    REQUIRE(s.CreateOneTimeToken(old).ok());
    CHECK(IsNotFound(s.ConsumeOneTimeToken("ott2", TokenPurpose::kEmailVerification, T(1000)).status()));
    // The expired token was removed: even an earlier clock cannot use it now.
    CHECK(IsNotFound(s.ConsumeOneTimeToken("ott2", TokenPurpose::kEmailVerification, T(5)).status()));
    CHECK(IsNotFound(s.ConsumeOneTimeToken("never", TokenPurpose::kPasswordReset, T(5)).status()));
  }

  SUBCASE("tasks: create, read back, update, delete") {
    UserRecord a = MakeUser(s, "a@example.com");
    Task t = MakeTask(s, a.user.id, "Write report", T(0));
    auto got = s.GetTask(a.user.id, t.id);
    REQUIRE(got.ok());
    CHECK(got->title == "Write report");
    CHECK(got->description == "about Write report");
    CHECK_FALSE(got->completed);
    CHECK_FALSE(got->due_at.has_value());
    CHECK(got->priority == 2);
    CHECK(got->created_at == T(0));
    CHECK(got->updated_at == T(0));

    t.title = "Write the report";
    t.description = "";
    t.completed = true;
    t.due_at = T(86400000);
    t.priority = -1;
    t.updated_at = T(77);
    REQUIRE(s.UpdateTask(t).ok());
    got = s.GetTask(a.user.id, t.id);
    REQUIRE(got.ok());
    CHECK(got->title == "Write the report");
    CHECK(got->description.empty());
    CHECK(got->completed);
    CHECK(got->due_at == T(86400000));
    CHECK(got->priority == -1);
    CHECK(got->updated_at == T(77));
    CHECK(got->created_at == T(0));

    t.due_at.reset();
    REQUIRE(s.UpdateTask(t).ok());
    CHECK_FALSE(s.GetTask(a.user.id, t.id)->due_at.has_value());

    CHECK(IsAlreadyExists(s.CreateTask(t)));
    REQUIRE(s.DeleteTask(a.user.id, t.id).ok());
    CHECK(IsNotFound(s.GetTask(a.user.id, t.id).status()));
    CHECK(IsNotFound(s.DeleteTask(a.user.id, t.id)));
    Task missing = t;
    missing.id = NewId();
    CHECK(IsNotFound(s.UpdateTask(missing)));
  }

  SUBCASE("tasks: filters, title search and keyset paging") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    std::vector<Task> all;
    for (int i = 0; i < 23; ++i) {
      // Pairs share a created_at, so paging must break ties by id.
      std::string title =
          (i % 5 == 0) ? "Buy MILK no. " + std::to_string(i) : "Task " + std::to_string(i);
      all.push_back(MakeTask(s, a.user.id, title, T((i / 2) * 1000), i % 3 == 0));
    }
    MakeTask(s, a.user.id, "100% done", T(999999));
    MakeTask(s, b.user.id, "Buy milk for B", T(0), true);
    std::sort(all.begin(), all.end(), [](const Task& x, const Task& y) {
      return x.created_at != y.created_at ? x.created_at < y.created_at : x.id < y.id;
    });

    TaskQuery q;
    q.limit = 4;
    std::vector<std::string> seen;
    for (int pages = 0; pages < 20; ++pages) {
      auto page = s.ListTasks(a.user.id, q);
      REQUIRE(page.ok());
      CHECK(static_cast<int>(page->size()) <= 4);
      for (const auto& t : *page) seen.push_back(t.id);
      if (static_cast<int>(page->size()) < q.limit) break;
      q.after = PagePosition{page->back().created_at, page->back().id};
    }
    REQUIRE(seen.size() == 24);  // 23 + "100% done"; no duplicates, no gaps
    for (size_t i = 0; i < all.size(); ++i) CHECK(seen[i] == all[i].id);
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == seen.size());

    TaskQuery pending;
    pending.status = TaskFilter::kPending;
    pending.limit = 100;
    TaskQuery done = pending;
    done.status = TaskFilter::kCompleted;
    auto p = s.ListTasks(a.user.id, pending);
    auto d = s.ListTasks(a.user.id, done);
    REQUIRE(p.ok());
    REQUIRE(d.ok());
    CHECK(d->size() == 8);   // i = 0, 3, ..., 21
    CHECK(p->size() == 16);  // the other 15 and "100% done"
    for (const auto& t : *d) CHECK(t.completed);
    for (const auto& t : *p) CHECK_FALSE(t.completed);

    TaskQuery milk;
    milk.title_contains = "milk";
    milk.limit = 100;
    auto m = s.ListTasks(a.user.id, milk);
    REQUIRE(m.ok());
    CHECK(m->size() == 5);  // case-insensitive; B's task not included
    for (const auto& t : *m) CHECK(t.user_id == a.user.id);
    milk.status = TaskFilter::kCompleted;
    CHECK(s.ListTasks(a.user.id, milk)->size() == 2);  // i = 0, 15

    TaskQuery percent;
    percent.title_contains = "0%";
    percent.limit = 100;
    auto pc = s.ListTasks(a.user.id, percent);
    REQUIRE(pc.ok());
    REQUIRE(pc->size() == 1);  // '%' is literal, not a wildcard
    CHECK(pc->front().title == "100% done");
    percent.title_contains = "_";
    CHECK(s.ListTasks(a.user.id, percent)->empty());

    auto deleted = s.DeleteCompletedTasks(a.user.id);
    REQUIRE(deleted.ok());
    CHECK(*deleted == 8);
    CHECK(s.ListTasks(a.user.id, done)->empty());
    CHECK(s.ListTasks(b.user.id, done)->size() == 1);
  }

  SUBCASE("tasks: random filters and pages agree with a plain filter of every task") {
    // The backends page with different SQL (PostgreSQL: one statement, a row
    // comparison for the cursor). Whatever the form, every page must be what
    // filtering and sorting all of the user's tasks gives.
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    std::mt19937 rng(20261207);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    const std::vector<Task> model = MakeRandomTasks(s, a.user.id, b.user.id, rng, 60);
    auto lower = [](std::string v) {
      for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return v;
    };
    for (int round = 0; round < 40; ++round) {
      TaskQuery q;
      q.status = static_cast<TaskFilter>(pick(3));
      const char* const needles[] = {"", "milk", "MILK", "%", "_", "read", "zzz"};
      q.title_contains = needles[pick(7)];
      q.limit = 1 + pick(9);
      std::vector<std::string> expected;
      for (const Task& t : model) {
        if (q.status == TaskFilter::kPending && t.completed) continue;
        if (q.status == TaskFilter::kCompleted && !t.completed) continue;
        if (lower(t.title).find(lower(q.title_contains)) == std::string::npos) continue;
        expected.push_back(t.id);
      }
      // Start from the top or from a random point (a task's own key, or a
      // key between tasks).
      const bool from_cursor = pick(2) == 0;
      if (from_cursor) {
        const Task& at = model[pick(static_cast<int>(model.size()))];
        q.after = PagePosition{at.created_at, pick(2) == 0 ? at.id : at.id.substr(0, 4)};
        auto after = [&](const Task& t) {
          return t.created_at != q.after->time ? t.created_at > q.after->time
                                               : t.id > q.after->id;
        };
        std::vector<std::string> rest;
        for (const Task& t : model) {
          if (after(t) && std::find(expected.begin(), expected.end(), t.id) != expected.end()) {
            rest.push_back(t.id);
          }
        }
        expected = rest;
      }
      std::vector<std::string> seen;
      for (int pages = 0; pages < 100; ++pages) {
        auto page = s.ListTasks(a.user.id, q);
        REQUIRE(page.ok());
        REQUIRE(static_cast<int>(page->size()) <= q.limit);
        for (const auto& t : *page) seen.push_back(t.id);
        if (static_cast<int>(page->size()) < q.limit) break;
        q.after = PagePosition{page->back().created_at, page->back().id};
      }
      INFO("round " << round << " status " << static_cast<int>(q.status) << " title '"
                    << q.title_contains << "' limit " << q.limit << " from a cursor " << from_cursor);
      CHECK(seen == expected);
    }
  }

  SUBCASE("tasks: ListTasksAsync answers as ListTasks, once, on the loop, many at a time") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    std::mt19937 rng(20261208);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    const std::vector<Task> all = MakeRandomTasks(s, a.user.id, b.user.id, rng, 40);
    // Random queries; a cursor at a task's key or between keys.
    std::vector<TaskQuery> queries;
    for (int i = 0; i < 60; ++i) {
      TaskQuery q;
      q.status = static_cast<TaskFilter>(pick(3));
      const char* const needles[] = {"", "milk", "MILK", "%", "_", "read", "zzz"};
      q.title_contains = needles[pick(7)];
      q.limit = pick(12);
      if (pick(2) == 0) {
        const Task& at = all[pick(static_cast<int>(all.size()))];
        q.after = PagePosition{at.created_at, pick(2) == 0 ? at.id : at.id.substr(0, 4)};
      }
      queries.push_back(q);
    }
    auto same = [](const std::vector<Task>& x, const std::vector<Task>& y) {
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        const Task &p = x[i], &q = y[i];
        if (p.id != q.id || p.user_id != q.user_id || p.title != q.title ||
            p.description != q.description || p.completed != q.completed ||
            p.due_at != q.due_at || p.priority != q.priority || p.created_at != q.created_at ||
            p.updated_at != q.updated_at) {
          return false;
        }
      }
      return true;
    };
    // All at once on one loop (more than any backend's connections), then
    // the loop runs: every answer comes once, on the loop's thread.
    std::vector<int> calls(queries.size(), 0);
    std::vector<std::optional<Result<std::vector<Task>>>> got(queries.size());
    bool off_loop = false;
    for (size_t i = 0; i < queries.size(); ++i) {
      s.ListTasksAsync(a.user.id, queries[i], loop, [&, i](Result<std::vector<Task>> r) {
        if (std::this_thread::get_id() != loop.thread()) off_loop = true;
        ++calls[i];
        got[i].emplace(std::move(r));
      });
    }
    CHECK(std::count(calls.begin(), calls.end(), 0) == static_cast<long>(calls.size()));
    auto answered = [&] { return std::count(calls.begin(), calls.end(), 0) == 0; };
    REQUIRE(loop.RunUntil(answered));
    loop.RunUntil([] { return false; }, std::chrono::milliseconds(50));  // no second answer
    CHECK_FALSE(off_loop);
    for (size_t i = 0; i < queries.size(); ++i) {
      INFO("query " << i << " status " << static_cast<int>(queries[i].status) << " title '"
                    << queries[i].title_contains << "' limit " << queries[i].limit);
      CHECK(calls[i] == 1);
      auto expected = s.ListTasks(a.user.id, queries[i]);
      REQUIRE(expected.ok());
      REQUIRE_MESSAGE(got[i]->ok(), got[i]->status().ToString());
      CHECK(same(**got[i], *expected));
    }
    // Another user's tasks are not the caller's.
    std::optional<Result<std::vector<Task>>> of_b;
    s.ListTasksAsync(b.user.id, TaskQuery{}, loop,
                     [&](Result<std::vector<Task>> r) { of_b.emplace(std::move(r)); });
    REQUIRE(loop.RunUntil([&] { return of_b.has_value(); }));
    REQUIRE(of_b->ok());
    CHECK((*of_b)->size() == 10);
    for (const Task& t : **of_b) CHECK(t.user_id == b.user.id);
  }

  SUBCASE("conversations: newest first, keyset paging, update, delete") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    std::vector<Conversation> all;
    for (int i = 0; i < 11; ++i) {
      all.push_back(MakeConversation(s, a.user.id, "Chat " + std::to_string(i), T((i / 3) * 10)));
    }
    MakeConversation(s, b.user.id, "B's chat", T(5));
    auto newest_first = [](const Conversation& x, const Conversation& y) {
      return x.updated_at != y.updated_at ? x.updated_at > y.updated_at : x.id > y.id;
    };
    std::sort(all.begin(), all.end(), newest_first);

    ConversationQuery q;
    q.limit = 4;
    std::vector<std::string> seen;
    for (int pages = 0; pages < 10; ++pages) {
      auto page = s.ListConversations(a.user.id, q);
      REQUIRE(page.ok());
      for (const auto& c : *page) seen.push_back(c.id);
      if (static_cast<int>(page->size()) < q.limit) break;
      q.after = PagePosition{page->back().updated_at, page->back().id};
    }
    REQUIRE(seen.size() == all.size());
    for (size_t i = 0; i < all.size(); ++i) CHECK(seen[i] == all[i].id);

    // A new message moves its conversation to the top.
    Conversation oldest = all.back();
    AddMessage(s, a.user.id, oldest.id, "hello", T(100000));
    ConversationQuery first;
    first.limit = 1;
    auto top = s.ListConversations(a.user.id, first);
    REQUIRE(top.ok());
    REQUIRE(top->size() == 1);
    CHECK(top->front().id == oldest.id);
    CHECK(top->front().updated_at == T(100000));

    Conversation c = all.front();
    c.title = "Renamed";
    c.app_id = "notes";
    c.updated_at = T(200000);
    REQUIRE(s.UpdateConversation(c).ok());
    auto got = s.GetConversation(a.user.id, c.id);
    REQUIRE(got.ok());
    CHECK(got->title == "Renamed");
    CHECK(got->app_id == std::optional<std::string>("notes"));
    CHECK(got->updated_at == T(200000));
    CHECK(got->created_at == all.front().created_at);
    c.app_id.reset();
    REQUIRE(s.UpdateConversation(c).ok());
    CHECK_FALSE(s.GetConversation(a.user.id, c.id)->app_id.has_value());

    Conversation stolen = c;
    stolen.user_id = b.user.id;
    stolen.title = "mine now";
    CHECK(IsNotFound(s.UpdateConversation(stolen)));
    CHECK(s.GetConversation(a.user.id, c.id)->title == "Renamed");
    CHECK(IsNotFound(s.DeleteConversation(b.user.id, c.id)));
    CHECK(IsNotFound(s.GetConversation(b.user.id, c.id).status()));
    CHECK(IsAlreadyExists(s.CreateConversation(c)));

    Message m = AddMessage(s, a.user.id, c.id, "to be deleted", T(300000));
    REQUIRE(s.DeleteConversation(a.user.id, c.id).ok());
    CHECK(IsNotFound(s.GetConversation(a.user.id, c.id).status()));
    CHECK(IsNotFound(s.GetMessage(a.user.id, c.id, m.id).status()));
    CHECK(IsNotFound(s.DeleteConversation(a.user.id, c.id)));
    CHECK(s.ListConversations(b.user.id, ConversationQuery{})->size() == 1);
  }

  SUBCASE("messages: append, read back, update, page backwards") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    Conversation c = MakeConversation(s, a.user.id, "Paging", T(0));
    std::vector<Message> msgs;
    for (int i = 0; i < 10; ++i) {
      msgs.push_back(AddMessage(s, a.user.id, c.id, "message " + std::to_string(i), T(i + 1),
                                i % 2 ? MessageRole::kAssistant : MessageRole::kUser));
    }
    Message tool;
    tool.id = NewId();
    tool.conversation_id = c.id;
    tool.role = MessageRole::kTool;
    tool.content = "{\"ok\":true}";
    tool.tool_call_id = "call_1";
    tool.tool_calls = Json::array(
        {Json{{"id", "call_1"}, {"name", "add_task"}, {"arguments", Json{{"title", "x"}}}}});
    tool.status = MessageStatus::kFailed;
    tool.created_at = T(11);
    REQUIRE(s.AppendMessage(a.user.id, tool).ok());
    msgs.push_back(tool);

    auto got = s.GetMessage(a.user.id, c.id, tool.id);
    REQUIRE(got.ok());
    CHECK(got->role == MessageRole::kTool);
    CHECK(got->content == tool.content);
    CHECK(got->tool_call_id == std::optional<std::string>("call_1"));
    REQUIRE(got->tool_calls.has_value());
    CHECK(*got->tool_calls == *tool.tool_calls);
    CHECK(got->status == MessageStatus::kFailed);
    CHECK(got->created_at == T(11));
    CHECK(got->conversation_id == c.id);
    auto plain = s.GetMessage(a.user.id, c.id, msgs[0].id);
    REQUIRE(plain.ok());
    CHECK_FALSE(plain->tool_calls.has_value());
    CHECK_FALSE(plain->tool_call_id.has_value());
    CHECK(plain->status == MessageStatus::kCompleted);

    // Pages of 4 from the newest, each oldest first.
    auto p1 = s.ListMessages(a.user.id, c.id, "", 4);
    REQUIRE(p1.ok());
    REQUIRE(p1->messages.size() == 4);
    CHECK(p1->has_more);
    for (int i = 0; i < 4; ++i) CHECK(p1->messages[i].id == msgs[7 + i].id);
    auto p2 = s.ListMessages(a.user.id, c.id, p1->messages.front().id, 4);
    REQUIRE(p2.ok());
    REQUIRE(p2->messages.size() == 4);
    CHECK(p2->has_more);
    for (int i = 0; i < 4; ++i) CHECK(p2->messages[i].id == msgs[3 + i].id);
    auto p3 = s.ListMessages(a.user.id, c.id, p2->messages.front().id, 4);
    REQUIRE(p3.ok());
    REQUIRE(p3->messages.size() == 3);
    CHECK_FALSE(p3->has_more);
    for (int i = 0; i < 3; ++i) CHECK(p3->messages[i].id == msgs[i].id);
    auto exact = s.ListMessages(a.user.id, c.id, msgs[4].id, 4);
    REQUIRE(exact.ok());
    CHECK(exact->messages.size() == 4);
    CHECK_FALSE(exact->has_more);  // exactly the 4 oldest remain

    Message edit = msgs[2];
    edit.content = "edited";
    edit.status = MessageStatus::kCancelled;
    edit.tool_calls = Json::array();
    REQUIRE(s.UpdateMessage(a.user.id, edit).ok());
    got = s.GetMessage(a.user.id, c.id, edit.id);
    REQUIRE(got.ok());
    CHECK(got->content == "edited");
    CHECK(got->status == MessageStatus::kCancelled);
    CHECK(got->tool_calls == std::optional<Json>(Json::array()));
    CHECK(got->role == msgs[2].role);
    CHECK(got->created_at == msgs[2].created_at);

    // B can neither read, page, write nor append in A's conversation.
    CHECK(IsNotFound(s.GetMessage(b.user.id, c.id, edit.id).status()));
    CHECK(IsNotFound(s.ListMessages(b.user.id, c.id, "", 10).status()));
    Message theirs = edit;
    theirs.content = "hijacked";
    CHECK(IsNotFound(s.UpdateMessage(b.user.id, theirs)));
    CHECK(s.GetMessage(a.user.id, c.id, edit.id)->content == "edited");
    Message intruder = msgs[0];
    intruder.id = NewId();
    CHECK(IsNotFound(s.AppendMessage(b.user.id, intruder)));
    CHECK(s.ListMessages(a.user.id, c.id, "", 100)->messages.size() == 11);
    Message orphan = msgs[0];
    orphan.id = NewId();
    orphan.conversation_id = NewId();
    CHECK(IsNotFound(s.AppendMessage(a.user.id, orphan)));
    CHECK(IsNotFound(s.ListMessages(a.user.id, NewId(), "", 10).status()));
    auto empty = s.ListMessages(a.user.id, MakeConversation(s, a.user.id, "e", T(0)).id, "", 10);
    REQUIRE(empty.ok());
    CHECK(empty->messages.empty());
    CHECK_FALSE(empty->has_more);
  }

  SUBCASE("fork: copies messages up to and including one, with new ids") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    Conversation src = MakeConversation(s, a.user.id, "Source", T(0));
    std::vector<Message> msgs;
    for (int i = 0; i < 5; ++i) {
      msgs.push_back(AddMessage(s, a.user.id, src.id, "line " + std::to_string(i), T(10 + i),
                                i % 2 ? MessageRole::kAssistant : MessageRole::kUser));
    }
    Conversation fork;
    fork.id = NewId();
    fork.user_id = a.user.id;
    fork.title = "Source (fork)";
    fork.created_at = T(1000);
    fork.updated_at = T(1000);

    Conversation b_fork = fork;
    b_fork.id = NewId();
    b_fork.user_id = b.user.id;
    CHECK(IsNotFound(s.ForkConversation(b.user.id, src.id, msgs[2].id, b_fork).status()));
    Conversation other = MakeConversation(s, a.user.id, "Other", T(0));
    Message foreign = AddMessage(s, a.user.id, other.id, "elsewhere", T(5));
    CHECK(IsNotFound(s.ForkConversation(a.user.id, src.id, foreign.id, fork).status()));
    CHECK(IsNotFound(s.GetConversation(a.user.id, fork.id).status()));  // nothing half-made

    auto made = s.ForkConversation(a.user.id, src.id, msgs[2].id, fork);
    REQUIRE(made.ok());
    CHECK(made->id == fork.id);
    CHECK(made->title == "Source (fork)");
    auto stored = s.GetConversation(a.user.id, fork.id);
    REQUIRE(stored.ok());
    CHECK(stored->title == "Source (fork)");
    auto copied = s.ListMessages(a.user.id, fork.id, "", 100);
    REQUIRE(copied.ok());
    REQUIRE(copied->messages.size() == 3);
    for (int i = 0; i < 3; ++i) {
      const Message& m = copied->messages[i];
      CHECK(m.id != msgs[i].id);
      CHECK(m.conversation_id == fork.id);
      CHECK(m.content == msgs[i].content);
      CHECK(m.role == msgs[i].role);
      CHECK(m.created_at == msgs[i].created_at);
    }
    CHECK(s.ListMessages(a.user.id, src.id, "", 100)->messages.size() == 5);
    // The copies are independent: deleting the source keeps them.
    REQUIRE(s.DeleteConversation(a.user.id, src.id).ok());
    CHECK(s.ListMessages(a.user.id, fork.id, "", 100)->messages.size() == 3);
  }

  SUBCASE("search: every word in one title or message, prefixes, whole words") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    Conversation trip = MakeConversation(s, a.user.id, "Trip planning", T(0));
    AddMessage(s, a.user.id, trip.id, "Book the flights to Lisbon", T(1));
    Conversation food = MakeConversation(s, a.user.id, "Lisbon restaurants", T(2));
    AddMessage(s, a.user.id, food.id, "try the pastel de nata", T(3));
    Conversation groceries = MakeConversation(s, a.user.id, "Groceries", T(4));
    AddMessage(s, a.user.id, groceries.id, "buy apples and bananas", T(5));
    AddMessage(s, a.user.id, groceries.id, "and oranges, too", T(6));
    Conversation theirs = MakeConversation(s, b.user.id, "Lisbon for B", T(7));
    AddMessage(s, b.user.id, theirs.id, "secret flights", T(8));
    using Set = std::set<std::string>;

    CHECK(SearchIds(s, a.user.id, {"lisbon"}) == Set{trip.id, food.id});
    CHECK(SearchIds(s, a.user.id, {"LISBON"}) == Set{trip.id, food.id});
    CHECK(SearchIds(s, a.user.id, {"Lisbon", "flights"}) == Set{trip.id});
    CHECK(SearchIds(s, a.user.id, {"lisbon", "restaurants"}) == Set{food.id});
    // Words split across the title and a message, or across two messages,
    // do not match.
    CHECK(SearchIds(s, a.user.id, {"planning", "flights"}).empty());
    CHECK(SearchIds(s, a.user.id, {"apples", "oranges"}).empty());
    CHECK(SearchIds(s, a.user.id, {"apples", "bananas"}) == Set{groceries.id});
    // Whole words unless `*`.
    CHECK(SearchIds(s, a.user.id, {"lisb"}).empty());
    CHECK(SearchIds(s, a.user.id, {"lisb*"}) == Set{trip.id, food.id});
    CHECK(SearchIds(s, a.user.id, {"BAN*"}) == Set{groceries.id});
    CHECK(SearchIds(s, a.user.id, {"flight"}).empty());
    // Owner isolation both ways.
    CHECK(SearchIds(s, a.user.id, {"secret"}).empty());
    CHECK(SearchIds(s, b.user.id, {"lisbon"}) == Set{theirs.id});
    CHECK(SearchIds(s, b.user.id, {"apples"}).empty());
    CHECK(SearchIds(s, a.user.id, {}).empty());
  }

  SUBCASE("search: input cannot inject query syntax") {
    UserRecord a = MakeUser(s, "a@example.com");
    Conversation c1 = MakeConversation(s, a.user.id, "Alpha notes", T(0));
    AddMessage(s, a.user.id, c1.id, "alpha beta gamma", T(1));
    Conversation c2 = MakeConversation(s, a.user.id, "Delta notes", T(2));
    AddMessage(s, a.user.id, c2.id, "delta epsilon", T(3));
    using Set = std::set<std::string>;
    const std::vector<std::vector<std::string>> nothing = {{"\""},
                                                           {"OR"},
                                                           {"NEAR("},
                                                           {"*"},
                                                           {"-x"},
                                                           {"NOT"},
                                                           {"alpha", "OR", "delta"},
                                                           {"(", ")"},
                                                           {"^alpha delta"},
                                                           {"\"alpha\" OR \"delta\""},
                                                           {"title:delta", "alpha"},
                                                           {"NEAR(alpha", "delta)"},
                                                           {"a*", "OR"},
                                                           {"alpha*", "-delta"},
                                                           {"{content}", ":", "x"}};
    for (const auto& words : nothing) {
      auto r = s.SearchConversations(a.user.id, words, 50, 0);
      CAPTURE(words.front());
      REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      CHECK(r->empty());
    }
    // Punctuation around a word is a separator, not syntax.
    CHECK(SearchIds(s, a.user.id, {"\"alpha\""}) == Set{c1.id});
    CHECK(SearchIds(s, a.user.id, {"(delta)"}) == Set{c2.id});
    CHECK(SearchIds(s, a.user.id, {"alpha;", "-beta"}) == Set{c1.id});
    CHECK(SearchIds(s, a.user.id, {"notes"}) == Set{c1.id, c2.id});
  }

  SUBCASE("search: relevance first, then recency, with offset paging") {
    UserRecord a = MakeUser(s, "a@example.com");
    Conversation weak = MakeConversation(s, a.user.id, "Misc", T(100));
    AddMessage(s, a.user.id, weak.id,
               "a long message that mentions kiwi once among very many other words which "
               "dilute it considerably more than anything else here",
               T(100));
    Conversation strong = MakeConversation(s, a.user.id, "Kiwi", T(0));
    AddMessage(s, a.user.id, strong.id, "kiwi kiwi kiwi", T(1));
    auto r = s.SearchConversations(a.user.id, {"kiwi"}, 10, 0);
    REQUIRE(r.ok());
    REQUIRE(r->size() == 2);
    CHECK((*r)[0].id == strong.id);
    CHECK((*r)[1].id == weak.id);

    // Equal relevance: the most recently updated first.
    Conversation older = MakeConversation(s, a.user.id, "Papaya", T(10));
    Conversation newer = MakeConversation(s, a.user.id, "Papaya", T(20));
    Conversation middle = MakeConversation(s, a.user.id, "Papaya", T(15));
    std::vector<std::string> pages;
    for (int offset = 0; offset < 4; ++offset) {
      auto page = s.SearchConversations(a.user.id, {"papaya"}, 1, offset);
      REQUIRE(page.ok());
      if (offset < 3) {
        REQUIRE(page->size() == 1);
        pages.push_back(page->front().id);
      } else {
        CHECK(page->empty());
      }
    }
    CHECK(pages == std::vector<std::string>{newer.id, middle.id, older.id});
    auto two = s.SearchConversations(a.user.id, {"papaya"}, 2, 0);
    REQUIRE(two.ok());
    CHECK(two->size() == 2);
    auto c = s.SearchConversations(a.user.id, {"kiwi"}, 10, 0);
    REQUIRE(c.ok());
    CHECK(c->front().title == "Kiwi");
  }

  SUBCASE("search: follows renames, edits and deletes") {
    UserRecord a = MakeUser(s, "a@example.com");
    Conversation c = MakeConversation(s, a.user.id, "Quokka facts", T(0));
    Message m = AddMessage(s, a.user.id, c.id, "the wombat burrows", T(1));
    using Set = std::set<std::string>;
    CHECK(SearchIds(s, a.user.id, {"quokka"}) == Set{c.id});
    c.title = "Marsupial facts";
    REQUIRE(s.UpdateConversation(c).ok());
    CHECK(SearchIds(s, a.user.id, {"quokka"}).empty());
    CHECK(SearchIds(s, a.user.id, {"marsupial"}) == Set{c.id});
    m.content = "the numbat digs";
    REQUIRE(s.UpdateMessage(a.user.id, m).ok());
    CHECK(SearchIds(s, a.user.id, {"wombat"}).empty());
    CHECK(SearchIds(s, a.user.id, {"numbat"}) == Set{c.id});
    REQUIRE(s.DeleteConversation(a.user.id, c.id).ok());
    CHECK(SearchIds(s, a.user.id, {"numbat"}).empty());
    CHECK(SearchIds(s, a.user.id, {"marsupial"}).empty());
    CHECK(s.Checkpoint().ok());
  }

  SUBCASE("search: every message is found as soon as it is written, however many there are") {
    // An implementation may index in batches (SQLite does); a search still
    // sees every committed message, edit and delete.
    UserRecord a = MakeUser(s, "a@example.com");
    std::vector<Conversation> convs;
    std::vector<Message> msgs;
    for (int i = 0; i < 150; ++i) {
      if (i % 10 == 0) convs.push_back(MakeConversation(s, a.user.id, "chat", T(i)));
      msgs.push_back(
          AddMessage(s, a.user.id, convs.back().id, "note word" + std::to_string(i), T(i)));
    }
    using Set = std::set<std::string>;
    for (int i : {0, 63, 64, 100, 127, 128, 149}) {
      CHECK(SearchIds(s, a.user.id, {"word" + std::to_string(i)}) == Set{convs[i / 10].id});
    }
    CHECK(SearchIds(s, a.user.id, {"note"}).size() == convs.size());
    // Written after that search, then edited or deleted before the next one.
    Conversation late = MakeConversation(s, a.user.id, "late", T(200));
    Message edited = AddMessage(s, a.user.id, late.id, "the aardvark sleeps", T(201));
    AddMessage(s, a.user.id, late.id, "the pangolin rolls", T(202));
    edited.content = "the okapi hides";
    REQUIRE(s.UpdateMessage(a.user.id, edited).ok());
    CHECK(SearchIds(s, a.user.id, {"aardvark"}).empty());
    CHECK(SearchIds(s, a.user.id, {"okapi"}) == Set{late.id});
    CHECK(SearchIds(s, a.user.id, {"pangolin"}) == Set{late.id});
    Conversation gone = MakeConversation(s, a.user.id, "gone", T(300));
    AddMessage(s, a.user.id, gone.id, "the tapir wades", T(301));
    REQUIRE(s.DeleteConversation(a.user.id, gone.id).ok());
    CHECK(SearchIds(s, a.user.id, {"tapir"}).empty());
    // Another user's messages stay theirs.
    UserRecord b = MakeUser(s, "b@example.com");
    CHECK(SearchIds(s, b.user.id, {"note"}).empty());
  }

  SUBCASE("agent state: read-modify-write, aborts, per app") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    CHECK(IsNotFound(s.GetAgentState(a.user.id, "").status()));
    bool saw_none = false;
    auto first = s.UpdateAgentState(
        a.user.id, "",
        [&](const std::optional<Json>& cur) -> Result<Json> {
          saw_none = !cur.has_value();
          return Json{{"mood", "curious"}};
        },
        T(10));
    REQUIRE(first.ok());
    CHECK(saw_none);
    CHECK(first->state == Json{{"mood", "curious"}});
    auto got = s.GetAgentState(a.user.id, "");
    REQUIRE(got.ok());
    CHECK(got->state == Json{{"mood", "curious"}});
    CHECK(got->updated_at == T(10));
    CHECK(got->user_id == a.user.id);
    CHECK(got->app_id.empty());

    auto aborted = s.UpdateAgentState(
        a.user.id, "",
        [](const std::optional<Json>&) -> Result<Json> { return AbortedError("changed my mind"); },
        T(20));
    CHECK(aborted.status().code() == StatusCode::kAborted);
    CHECK(s.GetAgentState(a.user.id, "")->state == Json{{"mood", "curious"}});
    CHECK(s.GetAgentState(a.user.id, "")->updated_at == T(10));

    REQUIRE(s.UpdateAgentState(a.user.id, "notes", Increment, T(30)).ok());
    CHECK(s.GetAgentState(a.user.id, "notes")->state == Json{{"count", 1}});
    CHECK(s.GetAgentState(a.user.id, "")->state == Json{{"mood", "curious"}});
    CHECK(IsNotFound(s.GetAgentState(b.user.id, "").status()));
    CHECK(IsNotFound(s.GetAgentState(b.user.id, "notes").status()));
  }

  SUBCASE("agent state: concurrent updates never lose an increment") {
    UserRecord a = MakeUser(s, "a@example.com");
    constexpr int kThreads = 16;
    constexpr int kEach = 10;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] {
        for (int j = 0; j < kEach; ++j) {
          if (!s.UpdateAgentState(a.user.id, "counter", Increment, T(j)).ok()) ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
    auto got = s.GetAgentState(a.user.id, "counter");
    REQUIRE(got.ok());
    CHECK(got->state["count"] == kThreads * kEach);
  }

  SUBCASE("memories: newest first, limit, owner-only delete") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    std::vector<Memory> mems;
    for (int i = 0; i < 4; ++i) {
      Memory m{NewId(), a.user.id, "fact " + std::to_string(i), T(i * 10)};
      REQUIRE(s.AddMemory(m).ok());
      mems.push_back(m);
    }
    Memory bm{NewId(), b.user.id, "b fact", T(0)};
    REQUIRE(s.AddMemory(bm).ok());
    CHECK(IsAlreadyExists(s.AddMemory(bm)));
    auto list = s.ListMemories(a.user.id, 3);
    REQUIRE(list.ok());
    REQUIRE(list->size() == 3);
    CHECK((*list)[0].id == mems[3].id);
    CHECK((*list)[0].content == "fact 3");
    CHECK((*list)[0].created_at == T(30));
    CHECK((*list)[2].id == mems[1].id);
    CHECK(IsNotFound(s.DeleteMemory(b.user.id, mems[0].id)));
    REQUIRE(s.DeleteMemory(a.user.id, mems[0].id).ok());
    CHECK(IsNotFound(s.DeleteMemory(a.user.id, mems[0].id)));
    CHECK(s.ListMemories(a.user.id, 50)->size() == 3);
    CHECK(s.ListMemories(b.user.id, 50)->size() == 1);
  }

  SUBCASE("user data: put, overwrite, list by key, delete") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    REQUIRE(s.PutUserData({a.user.id, "prefs", "b-key", Json{{"x", 1}}, T(1)}).ok());
    REQUIRE(s.PutUserData({a.user.id, "prefs", "a-key", Json::array({1, 2}), T(2)}).ok());
    REQUIRE(s.PutUserData({a.user.id, "other", "a-key", "text", T(3)}).ok());
    REQUIRE(s.PutUserData({b.user.id, "prefs", "a-key", nullptr, T(4)}).ok());
    auto got = s.GetUserData(a.user.id, "prefs", "b-key");
    REQUIRE(got.ok());
    CHECK(got->value == Json{{"x", 1}});
    CHECK(got->updated_at == T(1));
    CHECK(got->ns == "prefs");
    CHECK(got->key == "b-key");
    REQUIRE(s.PutUserData({a.user.id, "prefs", "b-key", Json{{"x", 2}}, T(9)}).ok());
    got = s.GetUserData(a.user.id, "prefs", "b-key");
    CHECK(got->value == Json{{"x", 2}});
    CHECK(got->updated_at == T(9));
    auto list = s.ListUserData(a.user.id, "prefs");
    REQUIRE(list.ok());
    REQUIRE(list->size() == 2);
    CHECK((*list)[0].key == "a-key");
    CHECK((*list)[1].key == "b-key");
    CHECK(s.GetUserData(b.user.id, "prefs", "a-key")->value.is_null());
    CHECK(IsNotFound(s.GetUserData(b.user.id, "prefs", "b-key").status()));
    CHECK(IsNotFound(s.DeleteUserData(b.user.id, "other", "a-key")));
    REQUIRE(s.DeleteUserData(a.user.id, "other", "a-key").ok());
    CHECK(IsNotFound(s.GetUserData(a.user.id, "other", "a-key").status()));
    CHECK(IsNotFound(s.DeleteUserData(a.user.id, "other", "a-key")));
    CHECK(s.ListUserData(a.user.id, "other")->empty());
  }

  SUBCASE("audit: newest first with keyset paging") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    std::vector<AuditEvent> events;
    for (int i = 0; i < 13; ++i) {
      AuditEvent e;
      e.id = NewId();
      e.user_id = a.user.id;
      e.type = "auth.login";
      e.outcome = i % 4 ? AuditOutcome::kOk : AuditOutcome::kFailed;
      e.ip = "198.51.100.7";
      if (i % 2) e.user_agent = "curl/8";
      e.request_id = "req-" + std::to_string(i);
      e.details = Json{{"n", i}};
      e.created_at = T((i / 3) * 100);  // ties broken by id
      REQUIRE(s.AppendAudit(e).ok());
      events.push_back(e);
    }
    AuditEvent be = events[0];
    be.id = NewId();
    be.user_id = b.user.id;
    REQUIRE(s.AppendAudit(be).ok());
    AuditEvent anonymous = events[0];
    anonymous.id = NewId();
    anonymous.user_id = "";
    REQUIRE(s.AppendAudit(anonymous).ok());

    std::sort(events.begin(), events.end(), [](const AuditEvent& x, const AuditEvent& y) {
      return x.created_at != y.created_at ? x.created_at > y.created_at : x.id > y.id;
    });
    std::vector<AuditEvent> seen;
    std::optional<PagePosition> after;
    for (int pages = 0; pages < 10; ++pages) {
      auto page = s.ListAudit(a.user.id, 5, after);
      REQUIRE(page.ok());
      seen.insert(seen.end(), page->begin(), page->end());
      if (page->size() < 5) break;
      after = PagePosition{page->back().created_at, page->back().id};
    }
    REQUIRE(seen.size() == events.size());
    for (size_t i = 0; i < seen.size(); ++i) {
      CHECK(seen[i].id == events[i].id);
      CHECK(seen[i].type == events[i].type);
      CHECK(seen[i].outcome == events[i].outcome);
      CHECK(seen[i].ip == events[i].ip);
      CHECK(seen[i].user_agent == events[i].user_agent);
      CHECK(seen[i].request_id == events[i].request_id);
      CHECK(seen[i].details == events[i].details);
      CHECK(seen[i].created_at == events[i].created_at);
    }
    auto bl = s.ListAudit(b.user.id, 50, std::nullopt);
    REQUIRE(bl.ok());
    REQUIRE(bl->size() == 1);
    CHECK(bl->front().id == be.id);
  }

  SUBCASE("transactions: an action and its audit row commit together or not at all") {
    UserRecord a = MakeUser(s, "a@example.com");
    Session session = MakeSession(s, a.user.id, "h1", T(0), T(100000));
    auto audit = [&](const std::string& type) {
      AuditEvent e;
      e.id = NewId();
      e.user_id = a.user.id;
      e.type = type;
      e.outcome = AuditOutcome::kOk;
      e.created_at = T(500);
      return e;
    };
    auto logged = [&](const std::string& id) {
      auto rows = s.ListAudit(a.user.id, 100, std::nullopt);
      REQUIRE(rows.ok());
      return std::any_of(rows->begin(), rows->end(),
                         [&](const AuditEvent& e) { return e.id == id; });
    };

    // Committed: the write and its row.
    const AuditEvent logout = audit("auth.logout");
    REQUIRE(s.InTransaction([&]() -> Status {
                ASSISTANT_RETURN_IF_ERROR(s.RevokeSession(a.user.id, session.id, T(400)));
                return s.AppendAudit(logout);
              }).ok());
    CHECK(s.GetSession(session.id)->revoked_at == T(400));
    CHECK(logged(logout.id));

    // The body fails after both writes (as when the audit row cannot be
    // written): neither is kept, and the body's error is the answer.
    ApiKey key;
    key.id = NewId();
    key.user_id = a.user.id;
    key.name = "never";
    key.prefix = "ak_never";
    key.key_hash = "hash-never";
    key.scopes = {"tasks:read"};
    key.created_at = T(600);
    const AuditEvent created = audit("apikey.created");
    Status failed = s.InTransaction([&]() -> Status {
      ASSISTANT_RETURN_IF_ERROR(s.CreateApiKey(key));
      ASSISTANT_RETURN_IF_ERROR(s.AppendAudit(created));
      return UnavailableError("injected", "injected");
    });
    CHECK(failed.reason() == "injected");
    CHECK(IsNotFound(s.GetApiKeyByHash("hash-never").status()));
    CHECK_FALSE(logged(created.id));

    // Reads inside see the transaction's writes; a write that fails inside
    // is undone alone and the body may go on.
    Task task;
    task.id = NewId();
    task.user_id = a.user.id;
    task.title = "inside";
    task.created_at = T(700);
    task.updated_at = T(700);
    UserRecord duplicate = a;
    duplicate.user.id = NewId();
    const AuditEvent kept = audit("apikey.revoked");
    Status inside = s.InTransaction([&]() -> Status {
      ASSISTANT_RETURN_IF_ERROR(s.CreateTask(task));
      auto seen = s.GetTask(a.user.id, task.id);
      if (!seen.ok() || seen->title != "inside") return InternalError("not seen");
      Status refused = s.CreateUser(duplicate);
      if (!IsAlreadyExists(refused)) return InternalError("no refusal: " + refused.ToString());
      Status missing = s.RevokeApiKey(a.user.id, NewId(), T(700));
      if (!IsNotFound(missing)) return InternalError("revoked a missing key: " + missing.ToString());
      return s.AppendAudit(kept);
    });
    REQUIRE_MESSAGE(inside.ok(), inside.ToString());
    CHECK(s.GetTask(a.user.id, task.id).ok());
    CHECK(logged(kept.id));
    CHECK(IsNotFound(s.GetUserById(duplicate.user.id).status()));

    // A nested transaction joins the outer one: the outer failure undoes it.
    const AuditEvent inner = audit("session.revoked");
    Status outer = s.InTransaction([&]() -> Status {
      ASSISTANT_RETURN_IF_ERROR(s.InTransaction([&] { return s.AppendAudit(inner); }));
      return UnavailableError("outer fails");
    });
    CHECK_FALSE(outer.ok());
    CHECK_FALSE(logged(inner.id));
  }

  SUBCASE("transactions: many threads at once each commit their own action and row") {
    UserRecord a = MakeUser(s, "a@example.com");
    constexpr int kThreads = 8;
    constexpr int kEach = 10;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          const std::string n = std::to_string(t) + "-" + std::to_string(i);
          ApiKey key;
          key.id = NewId();
          key.user_id = a.user.id;
          key.name = "key " + n;
          key.prefix = "ak_" + n;
          key.key_hash = "hash-" + n;
          key.scopes = {"agent"};
          key.created_at = T(i);
          AuditEvent e;
          e.id = NewId();
          e.user_id = a.user.id;
          e.type = "apikey.created";
          e.outcome = AuditOutcome::kOk;
          e.details = {{"api_key_id", key.id}};
          e.created_at = T(i);
          // Every other one fails after its writes, and must leave nothing.
          const bool fail = i % 2 == 1;
          Status st = s.InTransaction([&]() -> Status {
            ASSISTANT_RETURN_IF_ERROR(s.CreateApiKey(key));
            ASSISTANT_RETURN_IF_ERROR(s.AppendAudit(e));
            return fail ? AbortedError("injected") : Status();
          });
          if (st.ok() == fail) failures++;
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(failures == 0);
    auto keys = s.ListApiKeys(a.user.id);
    REQUIRE(keys.ok());
    CHECK(keys->size() == kThreads * kEach / 2);
    auto rows = s.ListAudit(a.user.id, 1000, std::nullopt);
    REQUIRE(rows.ok());
    std::set<std::string> with_row;
    for (const AuditEvent& e : *rows) {
      if (e.type == "apikey.created") with_row.insert(e.details.value("api_key_id", ""));
    }
    CHECK(with_row.size() == keys->size());
    for (const ApiKey& k : *keys) CHECK(with_row.count(k.id) == 1);
  }

  SUBCASE("owner isolation: another user's records are NotFound") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    const std::string& A = a.user.id;
    const std::string& B = b.user.id;
    Task t = MakeTask(s, A, "a's task", T(0));
    Conversation c = MakeConversation(s, A, "a's chat", T(0));
    Message m = AddMessage(s, A, c.id, "a's words", T(1));
    Memory mem{NewId(), A, "a's memory", T(0)};
    REQUIRE(s.AddMemory(mem).ok());
    REQUIRE(s.PutUserData({A, "ns", "k", 1, T(0)}).ok());
    REQUIRE(s.UpdateAgentState(A, "", Increment, T(0)).ok());
    Session sess = MakeSession(s, A, "a-refresh", T(0), T(100000));
    ApiKey key = MakeApiKey(s, A, "a-key-hash", T(0));
    AuditEvent e;
    e.id = NewId();
    e.user_id = A;
    e.type = "auth.login";
    e.outcome = AuditOutcome::kOk;
    e.created_at = T(0);
    REQUIRE(s.AppendAudit(e).ok());

    CHECK(IsNotFound(s.GetTask(B, t.id).status()));
    Task tb = t;
    tb.user_id = B;
    tb.title = "stolen";
    CHECK(IsNotFound(s.UpdateTask(tb)));
    CHECK(IsNotFound(s.DeleteTask(B, t.id)));
    CHECK(s.ListTasks(B, TaskQuery{})->empty());
    CHECK(*s.DeleteCompletedTasks(B) == 0);
    CHECK(IsNotFound(s.GetConversation(B, c.id).status()));
    CHECK(IsNotFound(s.DeleteConversation(B, c.id)));
    CHECK(s.ListConversations(B, ConversationQuery{})->empty());
    CHECK(IsNotFound(s.GetMessage(B, c.id, m.id).status()));
    Conversation fork{NewId(), B, std::nullopt, "f", T(0), T(0)};
    CHECK(IsNotFound(s.ForkConversation(B, c.id, m.id, fork).status()));
    CHECK(IsNotFound(s.DeleteMemory(B, mem.id)));
    CHECK(s.ListMemories(B, 50)->empty());
    CHECK(IsNotFound(s.GetUserData(B, "ns", "k").status()));
    CHECK(IsNotFound(s.DeleteUserData(B, "ns", "k")));
    CHECK(s.ListUserData(B, "ns")->empty());
    CHECK(IsNotFound(s.GetAgentState(B, "").status()));
    CHECK(IsNotFound(s.RevokeSession(B, sess.id, T(1))));
    CHECK(s.ListSessions(B, T(1))->empty());
    CHECK(*s.RevokeAllSessions(B, T(1)) == 0);
    CHECK(IsNotFound(s.RevokeApiKey(B, key.id, T(1))));
    CHECK(s.ListApiKeys(B)->empty());
    CHECK(s.ListAudit(B, 50, std::nullopt)->empty());
    CHECK(s.SearchConversations(B, {"words"}, 50, 0)->empty());

    // And A still has all of it, untouched.
    CHECK(s.GetTask(A, t.id)->title == "a's task");
    CHECK(s.GetMessage(A, c.id, m.id)->content == "a's words");
    CHECK(s.ListMemories(A, 50)->size() == 1);
    CHECK(s.GetUserData(A, "ns", "k").ok());
    CHECK(s.GetAgentState(A, "")->state == Json{{"count", 1}});
    CHECK_FALSE(s.GetSession(sess.id)->revoked_at.has_value());
    CHECK(s.ListApiKeys(A)->size() == 1);
    // The row appended above and the one written with the session.
    CHECK(s.ListAudit(A, 50, std::nullopt)->size() == 2);
    CHECK(s.SearchConversations(A, {"words"}, 50, 0)->size() == 1);
  }

  SUBCASE("deleting a user deletes everything they own") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    for (const std::string& u : {a.user.id, b.user.id}) {
      MakeTask(s, u, "task", T(0));
      Conversation c = MakeConversation(s, u, "Zanzibar trip", T(0));
      AddMessage(s, u, c.id, "ferry to zanzibar", T(1));
      REQUIRE(s.AddMemory({NewId(), u, "memory", T(0)}).ok());
      REQUIRE(s.PutUserData({u, "ns", "k", 1, T(0)}).ok());
      REQUIRE(s.UpdateAgentState(u, "", Increment, T(0)).ok());
      AuditEvent e;
      e.id = NewId();
      e.user_id = u;
      e.type = "user.registered";
      e.outcome = AuditOutcome::kOk;
      e.created_at = T(0);
      REQUIRE(s.AppendAudit(e).ok());
    }
    Session sess = MakeSession(s, a.user.id, "a-refresh", T(0), T(100000));
    MakeApiKey(s, a.user.id, "a-key-hash", T(0));
    REQUIRE(s.CreateOneTimeToken({"a-ott", a.user.id, TokenPurpose::kPasswordReset, T(0), T(100000)}).ok());

    REQUIRE(s.DeleteUser(a.user.id).ok());
    const std::string& A = a.user.id;
    CHECK(IsNotFound(s.GetUserById(A).status()));
    CHECK(IsNotFound(s.GetUserByEmail("a@example.com").status()));
    TaskQuery all;
    all.limit = 100;
    CHECK(s.ListTasks(A, all)->empty());
    CHECK(s.ListConversations(A, ConversationQuery{})->empty());
    CHECK(s.SearchConversations(A, {"zanzibar"}, 50, 0)->empty());
    CHECK(s.ListMemories(A, 50)->empty());
    CHECK(s.ListUserData(A, "ns")->empty());
    CHECK(IsNotFound(s.GetAgentState(A, "").status()));
    CHECK(s.ListAudit(A, 50, std::nullopt)->empty());
    CHECK(IsNotFound(s.GetSession(sess.id).status()));
    CHECK(IsNotFound(s.GetApiKeyByHash("a-key-hash").status()));
    CHECK(IsNotFound(s.ConsumeOneTimeToken("a-ott", TokenPurpose::kPasswordReset, T(1)).status()));
    CHECK(IsNotFound(s.RotateRefreshToken("a-refresh", Successor(sess, "n", T(1)), T(1)).status()));
    // The email is free again.
    MakeUser(s, "A@example.com");

    // B is untouched.
    const std::string& B = b.user.id;
    CHECK(s.ListTasks(B, all)->size() == 1);
    CHECK(s.SearchConversations(B, {"zanzibar"}, 50, 0)->size() == 1);
    CHECK(s.ListMemories(B, 50)->size() == 1);
    CHECK(s.ListUserData(B, "ns")->size() == 1);
    CHECK(s.GetAgentState(B, "").ok());
    CHECK(s.ListAudit(B, 50, std::nullopt)->size() == 1);
    CHECK(s.Checkpoint().ok());
  }

  SUBCASE("records for a missing user are refused") {
    const std::string ghost = NewId();
    Task t;
    t.id = NewId();
    t.user_id = ghost;
    t.title = "orphan";
    t.created_at = t.updated_at = T(0);
    Status st = s.CreateTask(t);
    CHECK_FALSE(st.ok());
    CHECK(IsNotFound(s.GetTask(ghost, t.id).status()));
  }

  SUBCASE("many threads reading and writing at once") {
    UserRecord a = MakeUser(s, "a@example.com");
    constexpr int kThreads = 8;
    constexpr int kEach = 15;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        for (int j = 0; j < kEach; ++j) {
          Task t;
          t.id = NewId();
          t.user_id = a.user.id;
          t.title = "t" + std::to_string(i) + "-" + std::to_string(j);
          t.created_at = t.updated_at = T(i * 1000 + j);
          if (!s.CreateTask(t).ok()) ++failures;
          if (!s.GetTask(a.user.id, t.id).ok()) ++failures;  // reads see own writes
          TaskQuery q;
          q.limit = 5;
          if (!s.ListTasks(a.user.id, q).ok()) ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
    TaskQuery q;
    q.limit = 1000;
    CHECK(s.ListTasks(a.user.id, q)->size() == kThreads * kEach);
  }

  SUBCASE("runs: create, events in order, finish with the reply, owner only") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    Conversation c = MakeConversation(s, a.user.id, "chat", T(0));
    Run r;
    r.id = NewId();
    r.user_id = a.user.id;
    r.conversation_id = c.id;
    r.message_id = NewId();
    r.created_at = T(1);
    r.owner = "process-1";
    REQUIRE(s.StartRun({r, {}, {}}).ok());
    CHECK(s.StartRun({r, {}, {}}).code() == StatusCode::kAlreadyExists);
    Run other_conv = r;
    other_conv.id = NewId();
    other_conv.user_id = b.user.id;  // c is not b's
    CHECK(IsNotFound(s.StartRun({other_conv, {}, {}})));

    Result<Run> got = s.GetRun(a.user.id, r.id);
    REQUIRE(got.ok());
    CHECK(got->status == RunStatus::kRunning);
    CHECK(got->conversation_id == c.id);
    CHECK(got->message_id == r.message_id);
    CHECK(got->created_at == T(1));
    CHECK_FALSE(got->finished_at.has_value());
    CHECK_FALSE(got->cancel_requested);
    CHECK(got->owner == "process-1");
    CHECK(IsNotFound(s.GetRun(b.user.id, r.id).status()));

    auto ev = [&](int64_t id, const std::string& text) {
      return RunEvent{r.id, id, "message.delta", Json{{"content", text}}};
    };
    REQUIRE(s.AppendRunEvents({{a.user.id, r.id, {ev(1, "a"), ev(2, "b")}}}).ok());
    // A repeated batch keeps the first content; another user's batch is dropped.
    REQUIRE(s.AppendRunEvents({{a.user.id, r.id, {ev(2, "changed"), ev(3, "c")}},
                               {b.user.id, r.id, {ev(4, "intruder")}}})
                .ok());
    Result<std::vector<RunEvent>> all = s.ListRunEvents(a.user.id, r.id, 0, 100);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 3);
    CHECK((*all)[1].id == 2);
    CHECK((*all)[1].data["content"] == "b");
    CHECK((*all)[2].type == "message.delta");
    Result<std::vector<RunEvent>> after = s.ListRunEvents(a.user.id, r.id, 1, 1);
    REQUIRE(after.ok());
    REQUIRE(after->size() == 1);
    CHECK(after->front().id == 2);
    CHECK(IsNotFound(s.ListRunEvents(b.user.id, r.id, 0, 100).status()));

    Message reply;
    reply.id = r.message_id;
    reply.conversation_id = c.id;
    reply.role = MessageRole::kAssistant;
    reply.content = "abc";
    reply.status = MessageStatus::kCompleted;
    reply.created_at = T(5);
    Run done = r;
    done.status = RunStatus::kCompleted;
    done.finished_at = T(5);
    Run not_theirs = done;
    not_theirs.user_id = b.user.id;
    CHECK(IsNotFound(s.FinishRun({not_theirs, {ev(4, "x")}, reply, {}})));
    REQUIRE(s.FinishRun({done, {ev(4, "d")}, reply, {}}).ok());
    got = s.GetRun(a.user.id, r.id);
    REQUIRE(got.ok());
    CHECK(got->status == RunStatus::kCompleted);
    CHECK(got->finished_at == T(5));
    CHECK(s.ListRunEvents(a.user.id, r.id, 0, 100)->size() == 4);
    Result<Message> stored = s.GetMessage(a.user.id, c.id, r.message_id);
    REQUIRE(stored.ok());
    CHECK(stored->content == "abc");
    CHECK(s.GetConversation(a.user.id, c.id)->updated_at == T(5));
  }

  SUBCASE("runs: events from batches that overlap and arrive out of order page in id order") {
    UserRecord a = MakeUser(s, "a@example.com");
    Conversation c = MakeConversation(s, a.user.id, "chat", T(0));
    Run r = MakeStartedRun(s, a.user.id, c.id, "process-1");  // holds event 1
    auto batch = [&](int64_t from, int64_t to, const std::string& tag) {
      std::vector<RunEvent> events;
      for (int64_t id = from; id <= to; ++id) {
        events.push_back(RunEvent{r.id, id, "message.delta",
                                  Json{{"content", tag + std::to_string(id)}}});
      }
      return RunEventBatch{a.user.id, r.id, std::move(events)};
    };
    // 2..40 in order, then a late batch 30..60 whose first half is stored,
    // then 70..80 before 61..69 (a gap filled later), then a repeat.
    REQUIRE(s.AppendRunEvents({batch(2, 40, "first")}).ok());
    REQUIRE(s.AppendRunEvents({batch(30, 60, "late")}).ok());
    REQUIRE(s.AppendRunEvents({batch(70, 80, "first")}).ok());
    REQUIRE(s.AppendRunEvents({batch(61, 69, "first")}).ok());
    REQUIRE(s.AppendRunEvents({batch(2, 80, "repeat")}).ok());

    std::vector<RunEvent> paged;
    for (int64_t after = 0;;) {
      Result<std::vector<RunEvent>> page = s.ListRunEvents(a.user.id, r.id, after, 7);
      REQUIRE(page.ok());
      for (const RunEvent& e : *page) paged.push_back(e);
      if (page->size() < 7) break;
      after = page->back().id;
    }
    REQUIRE(paged.size() == 80);
    for (size_t i = 0; i < paged.size(); ++i) CHECK(paged[i].id == static_cast<int64_t>(i) + 1);
    CHECK(paged[1].data["content"] == "first2");
    CHECK(paged[39].data["content"] == "first40");
    CHECK(paged[40].data["content"] == "late41");  // only the part not stored before
    CHECK(paged[65].data["content"] == "first66");
    CHECK(s.ListRunEvents(a.user.id, r.id, 80, 7)->empty());
    CHECK(s.ListRunEvents(a.user.id, r.id, 0, 0)->empty());

    // Events left after an abandoned run continue the numbering.
    const RunEvent error{"", 0, "error", {{"error", {{"code", "run_abandoned"}}}}};
    REQUIRE(s.FailAbandonedRun(a.user.id, r.id, T(100), T(101), error).ok());
    Result<std::vector<RunEvent>> tail = s.ListRunEvents(a.user.id, r.id, 79, 10);
    REQUIRE(tail.ok());
    REQUIRE(tail->size() == 2);
    CHECK(tail->back().id == 81);
    CHECK(tail->back().type == "error");
  }

  SUBCASE("runs: a start opens the conversation and keeps the user's message, all or nothing") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    auto make_start = [&](const std::string& user_id, const std::string& conversation_id) {
      RunStart start;
      start.run.id = NewId();
      start.run.user_id = user_id;
      start.run.conversation_id = conversation_id;
      start.run.message_id = NewId();
      start.run.created_at = T(3);
      start.run.owner = "p";
      Conversation conv;
      conv.id = conversation_id;
      conv.user_id = user_id;
      conv.title = "opened by a turn";
      conv.created_at = conv.updated_at = T(3);
      start.new_conversation = conv;
      Message m;
      m.id = NewId();
      m.conversation_id = conversation_id;
      m.role = MessageRole::kUser;
      m.content = "hello there";
      m.status = MessageStatus::kCompleted;
      m.created_at = T(3);
      start.user_message = m;
      return start;
    };

    RunStart started = make_start(a.user.id, NewId());
    REQUIRE(s.StartRun(started).ok());
    CHECK(s.GetConversation(a.user.id, started.run.conversation_id)->title == "opened by a turn");
    CHECK(s.GetMessage(a.user.id, started.run.conversation_id, started.user_message->id)->content ==
          "hello there");
    CHECK(s.GetRun(a.user.id, started.run.id)->status == RunStatus::kRunning);

    // A run id that is taken undoes the conversation and message before it.
    RunStart clash = make_start(a.user.id, NewId());
    clash.run.id = started.run.id;
    CHECK(s.StartRun(clash).code() == StatusCode::kAlreadyExists);
    CHECK(IsNotFound(s.GetConversation(a.user.id, clash.run.conversation_id).status()));

    // A message into b's conversation is refused and nothing is kept.
    RunStart foreign = make_start(a.user.id, started.run.conversation_id);
    foreign.new_conversation.reset();
    foreign.run.user_id = b.user.id;
    CHECK(IsNotFound(s.StartRun(foreign)));
    CHECK(IsNotFound(s.GetRun(b.user.id, foreign.run.id).status()));
    // A message into a's own conversation does not vouch for a run in b's.
    Conversation bs;
    bs.id = NewId();
    bs.user_id = b.user.id;
    bs.title = "b's";
    bs.created_at = bs.updated_at = T(3);
    REQUIRE(s.CreateConversation(bs).ok());
    RunStart elsewhere = make_start(a.user.id, started.run.conversation_id);
    elsewhere.new_conversation.reset();
    elsewhere.run.conversation_id = bs.id;
    CHECK(IsNotFound(s.StartRun(elsewhere)));
    CHECK(IsNotFound(s.GetRun(a.user.id, elsewhere.run.id).status()));
    CHECK(IsNotFound(
        s.GetMessage(a.user.id, started.run.conversation_id, elsewhere.user_message->id).status()));

    // Start and finish in one call: everything, or (with a bad reply) nothing.
    RunStart whole = make_start(a.user.id, NewId());
    Message reply;
    reply.id = whole.run.message_id;
    reply.conversation_id = whole.run.conversation_id;
    reply.role = MessageRole::kAssistant;
    reply.content = "hi";
    reply.status = MessageStatus::kCompleted;
    reply.created_at = T(4);
    Run done = whole.run;
    done.status = RunStatus::kCompleted;
    done.finished_at = T(4);
    Message bad_reply = reply;
    bad_reply.conversation_id = started.run.conversation_id + "-missing";
    CHECK(IsNotFound(s.FinishRun({done, {RunEvent{done.id, 1, "message.done", {}}}, bad_reply,
                                  whole})));
    CHECK(IsNotFound(s.GetConversation(a.user.id, whole.run.conversation_id).status()));
    CHECK(IsNotFound(s.GetRun(a.user.id, whole.run.id).status()));
    REQUIRE(s.FinishRun({done, {RunEvent{done.id, 1, "message.done", {}}}, reply, whole}).ok());
    Result<Run> whole_run = s.GetRun(a.user.id, whole.run.id);
    REQUIRE(whole_run.ok());
    CHECK(whole_run->status == RunStatus::kCompleted);
    CHECK(whole_run->finished_at == T(4));
    CHECK(whole_run->created_at == whole.run.created_at);
    CHECK(whole_run->message_id == whole.run.message_id);
    Result<MessagePage> messages = s.ListMessages(a.user.id, whole.run.conversation_id, "", 10);
    REQUIRE(messages.ok());
    REQUIRE(messages->messages.size() == 2);
    CHECK(messages->messages[0].role == MessageRole::kUser);
    CHECK(messages->messages[1].content == "hi");
    CHECK(s.GetConversation(a.user.id, whole.run.conversation_id)->updated_at == T(4));
    CHECK(s.ListRunEvents(a.user.id, whole.run.id, 0, 10)->size() == 1);
  }

  SUBCASE("runs: a failed finish writes nothing") {
    UserRecord a = MakeUser(s, "a@example.com");
    Conversation c = MakeConversation(s, a.user.id, "chat", T(0));
    Run r;
    r.id = NewId();
    r.user_id = a.user.id;
    r.conversation_id = c.id;
    r.message_id = NewId();
    r.created_at = T(1);
    r.owner = "p";
    REQUIRE(s.StartRun({r, {}, {}}).ok());
    Message reply;
    reply.id = r.message_id;
    reply.conversation_id = NewId();  // not a conversation of a's
    reply.role = MessageRole::kAssistant;
    reply.status = MessageStatus::kCompleted;
    reply.created_at = T(2);
    Run done = r;
    done.status = RunStatus::kCompleted;
    done.finished_at = T(2);
    CHECK(IsNotFound(s.FinishRun({done, {RunEvent{r.id, 1, "error", Json::object()}}, reply, {}})));
    CHECK(s.GetRun(a.user.id, r.id)->status == RunStatus::kRunning);
    CHECK(s.ListRunEvents(a.user.id, r.id, 0, 10)->empty());
  }

  SUBCASE("runs: concurrent turns in one conversation keep seq in commit order and lose nothing") {
    // A reader polling for new messages by seq must never miss one: every
    // read of the conversation is a prefix of every later read, however the
    // writers' transactions interleave.
    UserRecord a = MakeUser(s, "a@example.com");
    Conversation c = MakeConversation(s, a.user.id, "busy", T(0));
    constexpr int kWriters = 6;
    constexpr int kTurns = 15;
    std::atomic<int> failures{0};
    std::atomic<int> writers_left{kWriters};
    auto content = [](int w, int i, const char* part) {
      return "w" + std::to_string(w) + "-" + std::to_string(i) + "-" + part;
    };
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        for (int i = 0; i < kTurns; ++i) {
          Message q;
          q.id = NewId();
          q.conversation_id = c.id;
          q.role = MessageRole::kUser;
          q.created_at = T(1 + i);
          if (i % 3 == 2) {  // a plain append between turns
            q.content = content(w, i, "note");
            if (!s.AppendMessage(a.user.id, q).ok()) failures++;
            continue;
          }
          q.content = content(w, i, "q");
          RunStart start;
          start.run.id = NewId();
          start.run.user_id = a.user.id;
          start.run.conversation_id = c.id;
          start.run.message_id = NewId();
          start.run.created_at = T(1 + i);
          start.run.owner = "p";
          start.user_message = q;
          Message reply = q;
          reply.id = start.run.message_id;
          reply.role = MessageRole::kAssistant;
          reply.content = content(w, i, "a");
          Run done = start.run;
          done.status = RunStatus::kCompleted;
          done.finished_at = T(1 + i);
          AuditEvent e;
          e.id = NewId();
          e.user_id = a.user.id;
          e.type = "tool.called";
          e.outcome = AuditOutcome::kOk;
          e.details = {{"run_id", done.id}};
          e.created_at = T(1 + i);
          if (!s.FinishRun({done, {RunEvent{done.id, 1, "message.done", {}}}, reply, start, {e}})
                   .ok()) {
            failures++;
          }
        }
        writers_left--;
      });
    }
    int reads = 0;
    int not_prefix = 0;
    std::vector<std::string> seen;
    auto read_all = [&] {
      Result<MessagePage> page = s.ListMessages(a.user.id, c.id, "", 100000);
      REQUIRE(page.ok());
      std::vector<std::string> now;
      for (const Message& m : page->messages) now.push_back(m.content);
      if (now.size() < seen.size() || !std::equal(seen.begin(), seen.end(), now.begin())) {
        not_prefix++;
      }
      seen = std::move(now);
      reads++;
    };
    while (writers_left > 0) read_all();
    for (auto& t : threads) t.join();
    read_all();
    CHECK(failures == 0);
    CHECK(not_prefix == 0);
    MESSAGE(reads << " reads while writing");
    // Everything arrived: each writer's messages, in the writer's order.
    constexpr int kPerWriter = kTurns / 3 * 5;  // two turns (2 messages each) and a note per 3
    REQUIRE(seen.size() == static_cast<size_t>(kWriters * kPerWriter));
    for (int w = 0; w < kWriters; ++w) {
      std::vector<std::string> expected;
      for (int i = 0; i < kTurns; ++i) {
        if (i % 3 == 2) {
          expected.push_back(content(w, i, "note"));
        } else {
          expected.push_back(content(w, i, "q"));
          expected.push_back(content(w, i, "a"));
        }
      }
      std::vector<std::string> mine;
      const std::string prefix = "w" + std::to_string(w) + "-";
      for (const std::string& text : seen) {
        if (text.compare(0, prefix.size(), prefix) == 0) mine.push_back(text);
      }
      CHECK(mine == expected);
    }
    auto audit = s.ListAudit(a.user.id, 1000, std::nullopt);
    REQUIRE(audit.ok());
    CHECK(audit->size() == static_cast<size_t>(kWriters * (kTurns - kTurns / 3)));
  }

  SUBCASE("runs: a turn in a missing or another user's conversation fails and writes nothing") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    Conversation bs = MakeConversation(s, b.user.id, "b's", T(0));
    Message original = AddMessage(s, b.user.id, bs.id, "b's own", T(0));
    Conversation as = MakeConversation(s, a.user.id, "a's", T(0));
    // A whole turn of a's (start and finish in one write), with or without
    // its messages: then only the run's own check guards the conversation.
    auto turn = [&](const std::string& conversation_id, bool with_messages) {
      RunFinish f;
      RunStart start;
      start.run.id = NewId();
      start.run.user_id = a.user.id;
      start.run.conversation_id = conversation_id;
      start.run.message_id = NewId();
      start.run.created_at = T(7);
      start.run.owner = "p";
      Message q;
      q.id = NewId();
      q.conversation_id = conversation_id;
      q.role = MessageRole::kUser;
      q.content = "smuggled";
      q.created_at = T(7);
      Message reply = q;
      reply.id = start.run.message_id;
      reply.role = MessageRole::kAssistant;
      if (with_messages) {
        start.user_message = q;
        f.reply = reply;
      }
      f.run = start.run;
      f.run.status = RunStatus::kCompleted;
      f.run.finished_at = T(7);
      f.start = start;
      f.events = {RunEvent{f.run.id, 1, "message.done", {}}};
      AuditEvent e;
      e.id = NewId();
      e.user_id = a.user.id;
      e.type = "tool.called";
      e.outcome = AuditOutcome::kOk;
      e.details = Json::object();
      e.created_at = T(7);
      f.audit = {e};
      return f;
    };
    for (const std::string& conversation_id : {bs.id, NewId()}) {
      for (bool with_messages : {true, false}) {
        CAPTURE(with_messages);
        RunFinish f = turn(conversation_id, with_messages);
        CHECK(IsNotFound(s.FinishRun(f)));
        CHECK(IsNotFound(s.GetRun(a.user.id, f.run.id).status()));
        CHECK(IsNotFound(s.GetRun(b.user.id, f.run.id).status()));
        CHECK(IsNotFound(s.StartRun(*f.start)));
        CHECK(IsNotFound(s.GetRun(a.user.id, f.run.id).status()));
      }
      // The run in a's own conversation, the messages elsewhere: the run,
      // its events and the audit written before the messages are undone.
      RunFinish split = turn(as.id, true);
      split.reply->conversation_id = conversation_id;
      CHECK(IsNotFound(s.FinishRun(split)));
      CHECK(IsNotFound(s.GetRun(a.user.id, split.run.id).status()));
      split.start->user_message->conversation_id = conversation_id;
      split.reply->conversation_id = as.id;
      CHECK(IsNotFound(s.FinishRun(split)));
      CHECK(IsNotFound(s.GetRun(a.user.id, split.run.id).status()));
      CHECK(IsNotFound(s.StartRun(*split.start)));
      CHECK(IsNotFound(s.GetRun(a.user.id, split.run.id).status()));
    }
    CHECK(s.ListMessages(a.user.id, as.id, "", 100)->messages.empty());
    CHECK(s.GetConversation(a.user.id, as.id)->updated_at == T(0));
    CHECK(s.ListAudit(a.user.id, 100, std::nullopt)->empty());
    Result<MessagePage> left = s.ListMessages(b.user.id, bs.id, "", 100);
    REQUIRE(left.ok());
    REQUIRE(left->messages.size() == 1);
    CHECK(left->messages[0].id == original.id);
    CHECK(s.GetConversation(b.user.id, bs.id)->updated_at == T(0));
  }

  SUBCASE("runs: heartbeats, and failing a run whose process died") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    Conversation c = MakeConversation(s, a.user.id, "chat", T(0));
    Run alive = MakeStartedRun(s, a.user.id, c.id, "p-alive");
    Run dead = MakeStartedRun(s, a.user.id, c.id, "p-dead");
    REQUIRE(s.AppendRunEvents({{a.user.id, dead.id,
                                {RunEvent{dead.id, 2, "message.delta", {{"content", "hi"}}}}}})
                .ok());
    CHECK_FALSE(s.GetRun(a.user.id, alive.id)->heartbeat_at.has_value());
    REQUIRE(s.TouchRuns("p-alive", T(100)).ok());
    CHECK(s.GetRun(a.user.id, alive.id)->heartbeat_at == T(100));
    CHECK_FALSE(s.GetRun(a.user.id, dead.id)->heartbeat_at.has_value());

    const RunEvent error{"", 0, "error", {{"error", {{"code", "run_abandoned"}}}}};
    // Alive since T(50): the heartbeat at T(100) keeps it running.
    CHECK(s.FailAbandonedRun(a.user.id, alive.id, T(50), T(120), error).value() == false);
    CHECK(s.GetRun(a.user.id, alive.id)->status == RunStatus::kRunning);
    // Not the caller's: nothing happens.
    CHECK(s.FailAbandonedRun(b.user.id, dead.id, T(50), T(120), error).value() == false);
    // Silent since its creation at T(1): failed, the error is the next event.
    CHECK(s.FailAbandonedRun(a.user.id, dead.id, T(50), T(120), error).value() == true);
    Result<Run> failed = s.GetRun(a.user.id, dead.id);
    CHECK(failed->status == RunStatus::kFailed);
    CHECK(failed->finished_at == T(120));
    Result<std::vector<RunEvent>> events = s.ListRunEvents(a.user.id, dead.id, 0, 10);
    REQUIRE(events->size() == 3);
    CHECK(events->back().id == 3);
    CHECK(events->back().type == "error");
    CHECK(events->back().data["error"]["code"] == "run_abandoned");
    // Only once; and a finished run is never touched again.
    CHECK(s.FailAbandonedRun(a.user.id, dead.id, T(500), T(520), error).value() == false);
    REQUIRE(s.TouchRuns("p-dead", T(600)).ok());
    CHECK_FALSE(s.GetRun(a.user.id, dead.id)->heartbeat_at.has_value());
  }

  SUBCASE("runs: cancel requests, pruning, and deletes that take runs along") {
    UserRecord a = MakeUser(s, "a@example.com");
    UserRecord b = MakeUser(s, "b@example.com");
    Conversation c = MakeConversation(s, a.user.id, "chat", T(0));
    Run mine = MakeStartedRun(s, a.user.id, c.id, "p1");
    Run theirs = MakeStartedRun(s, a.user.id, c.id, "p2");
    CHECK(s.ListCancelRequestedRuns("p1")->empty());
    CHECK(IsNotFound(s.RequestRunCancel(b.user.id, mine.id).status()));
    Result<Run> asked = s.RequestRunCancel(a.user.id, mine.id);
    REQUIRE(asked.ok());
    CHECK(asked->cancel_requested);
    CHECK(s.ListCancelRequestedRuns("p1").value() == std::vector<std::string>{mine.id});
    CHECK(s.ListCancelRequestedRuns("p2")->empty());

    // A finished run no longer asks to be cancelled, and is pruned by age.
    Run done = mine;
    done.status = RunStatus::kCancelled;
    done.finished_at = T(10);
    REQUIRE(s.FinishRun({done, {}, std::nullopt, {}}).ok());
    CHECK(s.ListCancelRequestedRuns("p1")->empty());
    CHECK(s.DeleteRunsFinishedBefore(T(10)).value() == 0);
    CHECK(s.DeleteRunsFinishedBefore(T(11)).value() == 1);
    CHECK(IsNotFound(s.GetRun(a.user.id, mine.id).status()));
    CHECK(IsNotFound(s.ListRunEvents(a.user.id, mine.id, 0, 10).status()));
    // A running run is never pruned; deleting its conversation deletes it.
    CHECK(s.DeleteRunsFinishedBefore(T(1000000)).value() == 0);
    REQUIRE(s.DeleteConversation(a.user.id, c.id).ok());
    CHECK(IsNotFound(s.GetRun(a.user.id, theirs.id).status()));
    // Events for a run that is gone are dropped, not an error.
    CHECK(s.AppendRunEvents({{a.user.id, theirs.id, {RunEvent{theirs.id, 2, "x", {}}}}}).ok());

    Conversation c2 = MakeConversation(s, a.user.id, "again", T(0));
    Run last = MakeStartedRun(s, a.user.id, c2.id, "p3");
    REQUIRE(s.DeleteUser(a.user.id).ok());
    CHECK(IsNotFound(s.GetRun(a.user.id, last.id).status()));
  }

  SUBCASE("rate limits: a window counts up to its limit, then begins again once it has passed") {
    const std::chrono::milliseconds minute(60000);
    for (int i = 1; i <= 3; ++i) {
      auto w = s.HitRateLimit("ip:a", 3, minute, T(i * 10));
      REQUIRE(w.ok());
      CHECK(w->counted);
      CHECK(w->hits == i);
      CHECK(w->window_start == T(10));
    }
    // Full: not counted, and the window is unchanged.
    auto full = s.HitRateLimit("ip:a", 3, minute, T(59000));
    REQUIRE(full.ok());
    CHECK_FALSE(full->counted);
    CHECK(full->hits == 3);
    CHECK(full->window_start == T(10));
    // Keys are counted apart.
    CHECK(s.HitRateLimit("ip:b", 3, minute, T(59000))->hits == 1);
    // The window began at T(10): from T(60010) on, a new one begins.
    CHECK_FALSE(s.HitRateLimit("ip:a", 3, minute, T(60009))->counted);
    auto next = s.HitRateLimit("ip:a", 3, minute, T(60010));
    REQUIRE(next.ok());
    CHECK(next->counted);
    CHECK(next->hits == 1);
    CHECK(next->window_start == T(60010));

    CHECK(s.DeleteRateLimitsBefore(T(59000)).value() == 0);
    CHECK(s.DeleteRateLimitsBefore(T(60000)).value() == 1);  // ip:b
    CHECK(s.HitRateLimit("ip:b", 3, minute, T(60100))->hits == 1);
  }

  SUBCASE("rate limits: hits from many threads at once are counted exactly") {
    constexpr int kThreads = 8, kEach = 10, kLimit = 50;
    std::atomic<int> counted{0}, refused{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kEach; ++i) {
          auto w = s.HitRateLimit("user:u", kLimit, std::chrono::minutes(1), T(5));
          if (!w.ok()) {
            ++failed;
          } else {
            ++(w->counted ? counted : refused);
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(failed.load() == 0);
    CHECK(counted.load() == kLimit);
    CHECK(refused.load() == kThreads * kEach - kLimit);
  }

  SUBCASE("signing keys: the newest signs, older ones retire, pruning by retirement") {
    auto key = [](const std::string& kid, KeyPurpose purpose, int64_t at) {
      SigningKey k;
      k.kid = kid;
      k.purpose = purpose;
      k.alg = "EdDSA";
      k.sealed_key = "sealed-" + kid;
      k.created_at = T(at);
      return k;
    };
    CHECK(s.ListSigningKeys(KeyPurpose::kAccess)->empty());
    REQUIRE(s.AddSigningKey(key("k1", KeyPurpose::kAccess, 0)).ok());
    REQUIRE(s.AddSigningKey(key("i1", KeyPurpose::kIdentity, 5)).ok());
    // The same kid again changes nothing: a repeated import is harmless.
    SigningKey again = key("k1", KeyPurpose::kAccess, 50);
    again.sealed_key = "other";
    CHECK(s.AddSigningKey(again).code() == StatusCode::kAlreadyExists);
    auto one = s.ListSigningKeys(KeyPurpose::kAccess).value();
    REQUIRE(one.size() == 1);
    CHECK(one[0].kid == "k1");
    CHECK(one[0].purpose == KeyPurpose::kAccess);
    CHECK(one[0].alg == "EdDSA");
    CHECK(one[0].sealed_key == "sealed-k1");
    CHECK(one[0].created_at == T(0));
    CHECK(!one[0].retired_at);

    // A rotation retires the older key at the new key's creation, and only
    // keys of the same purpose.
    REQUIRE(s.AddSigningKey(key("k2", KeyPurpose::kAccess, 10)).ok());
    auto two = s.ListSigningKeys(KeyPurpose::kAccess).value();
    REQUIRE(two.size() == 2);
    CHECK(two[0].kid == "k1");
    CHECK(two[0].retired_at == T(10));
    CHECK(two[1].kid == "k2");
    CHECK(!two[1].retired_at);
    REQUIRE(s.ListSigningKeys(KeyPurpose::kIdentity)->size() == 1);
    CHECK(!s.ListSigningKeys(KeyPurpose::kIdentity).value()[0].retired_at);
    // A retired key keeps its first retirement time through later rotations.
    REQUIRE(s.AddSigningKey(key("k3", KeyPurpose::kAccess, 20)).ok());
    auto three = s.ListSigningKeys(KeyPurpose::kAccess).value();
    REQUIRE(three.size() == 3);
    CHECK(three[0].retired_at == T(10));
    CHECK(three[1].retired_at == T(20));

    CHECK(s.DeleteSigningKeysRetiredBefore(KeyPurpose::kAccess, T(10)).value() == 0);
    CHECK(s.DeleteSigningKeysRetiredBefore(KeyPurpose::kIdentity, T(11)).value() == 0);
    CHECK(s.DeleteSigningKeysRetiredBefore(KeyPurpose::kAccess, T(11)).value() == 1);
    CHECK(s.ListSigningKeys(KeyPurpose::kAccess)->size() == 2);
    CHECK(s.DeleteSigningKey(KeyPurpose::kAccess, "k2").ok());
    CHECK(IsNotFound(s.DeleteSigningKey(KeyPurpose::kAccess, "k2")));
    CHECK(IsNotFound(s.DeleteSigningKey(KeyPurpose::kIdentity, "k3")));
    auto left = s.ListSigningKeys(KeyPurpose::kAccess).value();
    REQUIRE(left.size() == 1);
    CHECK(left[0].kid == "k3");
    // The signing key is never pruned, however old.
    CHECK(s.DeleteSigningKeysRetiredBefore(KeyPurpose::kAccess, T(1000000)).value() == 0);
  }
}

}  // namespace assistant::conformance

#endif  // ASSISTANT_TESTS_STORAGE_CONFORMANCE_HPP_
