// Several servers over one database behave as one: what one server revokes,
// every other refuses within a second (the promise clients rely on), a
// refresh token sent to two servers at once is rotated once, a signing key
// rotated in the database is trusted and used by every server, and a rate
// limit is not multiplied by adding servers. Two real assistant-server
// processes share one database (and its JWT secret). A run cancelled from
// another server: runs_test.cpp ("a second server on the same database").
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <future>
#include <sstream>
#include <string>
#include <vector>
#include <thread>

#include "assistant/jwt.hpp"
#include "harness.hpp"
#include "crypto/base64url.hpp"

using namespace http_test;

namespace {

using SteadyClock = std::chrono::steady_clock;

// Polls `refused` until it is true or `limit` has passed; the time it took.
std::chrono::milliseconds TimeUntil(const std::function<bool()>& refused,
                                    std::chrono::milliseconds limit) {
  const auto began = SteadyClock::now();
  while (!refused() && SteadyClock::now() - began < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - began);
}

// The kid in a JWT's header.
std::string KidOf(const std::string& token) {
  const auto header = assistant::Base64UrlDecode(token.substr(0, token.find('.')));
  if (!header) return "";
  return Json::parse(*header, nullptr, false).value("kid", "");
}

bool JwksLists(const ServerProcess& s, const std::string& kid) {
  const Response r = s.Call("GET", "/.well-known/jwks.json");
  if (r.status != 200) return false;
  for (const auto& k : r.json["keys"]) {
    if (k.value("kid", "") == kid) return true;
  }
  return false;
}

constexpr std::chrono::milliseconds kPromise{1000};
// The promise plus room for a loaded machine to run the poll itself.
constexpr std::chrono::milliseconds kPatience{3000};

}  // namespace

TEST_SUITE("http.multi_server") {

TEST_CASE("a logout or an account deleted on one server is refused by the other within a second") {
  for (const std::string ends : {"logout", "account delete"}) {
    CAPTURE(ends);
    ServerProcess a;
    REQUIRE(a.started());
    ServerProcess b({}, a.dir());
    REQUIRE(b.started());
    const User u = Register(a);
    // B knows the session: it has served this token.
    REQUIRE(b.Call("GET", "/api/user/me", std::nullopt, u.access_token).status == 200);

    if (ends == "logout") {
      REQUIRE(a.Call("POST", "/api/auth/logout", std::nullopt, u.access_token).status == 204);
    } else {
      REQUIRE(a.Call("DELETE", "/api/user/me", std::nullopt, u.access_token).status == 204);
    }
    // Until B sees the revocation it may still serve the token; it never
    // answers anything but 200 or 401 (a deleted account is not a 404).
    int other = 0;
    const auto took = TimeUntil(
        [&] {
          const int status = b.Call("GET", "/api/user/me", std::nullopt, u.access_token).status;
          if (status != 200 && status != 401) other = status;
          return status == 401;
        },
        kPatience);
    CHECK(other == 0);
    MESSAGE("after " << ends << " on one server the other refused the token in " << took.count()
                     << " ms");
    CHECK(b.Call("GET", "/api/user/me", std::nullopt, u.access_token).status == 401);
    CHECK(took <= kPromise + std::chrono::milliseconds(250));
    CHECK(b.Call("POST", "/api/auth/refresh", Json{{"refresh_token", u.refresh_token}}).status ==
          401);
  }
}

TEST_CASE("an API key revoked on one server is refused by the other within a second") {
  ServerProcess a;
  REQUIRE(a.started());
  ServerProcess b({}, a.dir());
  REQUIRE(b.started());
  const User u = Register(a);
  auto created = a.Call("POST", "/api/auth/api-keys",
                        Json{{"name", "reader"}, {"scopes", {"tasks:read"}}}, u.access_token);
  REQUIRE(created.status == 201);
  const std::string key = created.json["key"];
  const std::string key_id = created.json["api_key"]["id"];
  REQUIRE(b.Call("GET", "/api/tasks", std::nullopt, key).status == 200);

  REQUIRE(a.Call("DELETE", "/api/auth/api-keys/" + key_id, std::nullopt, u.access_token).status ==
          204);
  const auto took = TimeUntil(
      [&] { return b.Call("GET", "/api/tasks", std::nullopt, key).status == 401; }, kPatience);
  MESSAGE("the other server refused the revoked key after " << took.count() << " ms");
  CHECK(b.Call("GET", "/api/tasks", std::nullopt, key).status == 401);
  CHECK(took <= kPromise + std::chrono::milliseconds(250));
}

TEST_CASE("one refresh token sent to two servers at once is rotated once") {
  ServerProcess a;
  REQUIRE(a.started());
  ServerProcess b({}, a.dir());
  REQUIRE(b.started());
  const User u = Register(a);
  const Json body{{"refresh_token", u.refresh_token}};
  auto on_a = std::async(std::launch::async, [&] { return a.Call("POST", "/api/auth/refresh", body); });
  auto on_b = std::async(std::launch::async, [&] { return b.Call("POST", "/api/auth/refresh", body); });
  const Response ra = on_a.get();
  const Response rb = on_b.get();
  REQUIRE(ra.status == 200);
  REQUIRE(rb.status == 200);
  // Within the grace window both answer the one successor pair: the token
  // was rotated once, not forked into two live sessions.
  CHECK(ra.json["refresh_token"] == rb.json["refresh_token"]);
  auto sessions = a.Call("GET", "/api/auth/sessions", std::nullopt,
                         ra.json["access_token"].get<std::string>());
  REQUIRE(sessions.status == 200);
  CHECK(sessions.json["sessions"].size() == 1);
  // The successor works on either server; the used token is spent after
  // the grace window.
  CHECK(b.Call("POST", "/api/auth/refresh", Json{{"refresh_token", ra.json["refresh_token"]}})
            .status == 200);
}

TEST_CASE("a key rotated in the database is trusted at once and used within --key-reload by every server") {
  const std::vector<std::string> args{"--jwt-alg", "EdDSA", "--key-reload", "2"};
  constexpr std::chrono::milliseconds kReload{2000};
  ServerProcess a(args);
  REQUIRE(a.started());
  ServerProcess b(args, a.dir());
  REQUIRE(b.started());
  const User u = Register(a);
  REQUIRE(!u.access_token.empty());
  const std::string old_kid = KidOf(u.access_token);
  REQUIRE(!old_kid.empty());
  // Both servers sign with the one stored key.
  const User v = Register(b);
  CHECK(KidOf(v.access_token) == old_kid);

  // The operator's command, against the database, while both serve.
  const auto rotated_at = SteadyClock::now();
  const RunResult rotate = RunServerToExit({"--database", a.database(), "--jwt-alg", "EdDSA",
                                            "--rotate-keys"},
                                           a.dir());
  REQUIRE(rotate.exit_code == 0);
  std::string new_kid;
  {
    // The kids it made, one a line: the identity key's, then the access key's.
    std::istringstream lines(rotate.output);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line.find(' ') == std::string::npos) new_kid = line;
    }
  }
  REQUIRE(!new_kid.empty());
  CHECK(new_kid != old_kid);

  // Within the bound, A signs with the new key.
  std::string fresh;
  const auto a_took = TimeUntil(
      [&] {
        auto r = a.Call("POST", "/api/auth/login", Json{{"email", u.email}, {"password", u.password}});
        if (r.status == 200 && KidOf(r.json["access_token"]) == new_kid) fresh = r.json["access_token"];
        return !fresh.empty();
      },
      kReload + kPatience);
  MESSAGE("A signed with the rotated key after " << a_took.count() << " ms");
  REQUIRE(!fresh.empty());
  CHECK(a_took <= kReload + std::chrono::milliseconds(500));
  // B verifies it: an unknown kid makes it read the keys at once (at most
  // once a second), so within a second whatever B last read.
  const auto b_verified = TimeUntil(
      [&] { return b.Call("GET", "/api/user/me", std::nullopt, fresh).status == 200; }, kPatience);
  MESSAGE("B trusted a token of the rotated key after " << b_verified.count() << " ms");
  CHECK(b.Call("GET", "/api/user/me", std::nullopt, fresh).status == 200);
  CHECK(b_verified <= kPromise + std::chrono::milliseconds(250));
  // B signs with it too, within the bound of the rotation.
  auto b_login = b.Call("POST", "/api/auth/login", Json{{"email", v.email}, {"password", v.password}});
  while (b_login.status == 200 && KidOf(b_login.json["access_token"]) != new_kid &&
         SteadyClock::now() - rotated_at < kReload + kPatience) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    b_login = b.Call("POST", "/api/auth/login", Json{{"email", v.email}, {"password", v.password}});
  }
  REQUIRE(b_login.status == 200);
  CHECK(KidOf(b_login.json["access_token"]) == new_kid);
  CHECK(SteadyClock::now() - rotated_at <= kReload + std::chrono::milliseconds(1500));
  // Both publish the new key and still the old one, whose tokens still work.
  CHECK(JwksLists(a, new_kid));
  CHECK(JwksLists(b, new_kid));
  CHECK(JwksLists(a, old_kid));
  CHECK(JwksLists(b, old_kid));
  CHECK(a.Call("GET", "/api/user/me", std::nullopt, u.access_token).status == 200);
  CHECK(b.Call("GET", "/api/user/me", std::nullopt, u.access_token).status == 200);
}

TEST_CASE("a rate limit of N over two servers refuses exactly the requests past N") {
  constexpr int kLimit = 10, kOver = 5;
  // "database" on SQLite too: "auto" counts per process there.
  ServerProcess a({"--rate-limit-api", std::to_string(kLimit), "--rate-limit-store", "database"});
  REQUIRE(a.started());
  ServerProcess b({"--rate-limit-api", std::to_string(kLimit), "--rate-limit-store", "database"},
                  a.dir());
  REQUIRE(b.started());
  const User u = Register(a);
  int ok = 0, limited = 0, other = 0;
  for (int i = 0; i < kLimit + kOver; ++i) {
    const ServerProcess& s = i % 2 == 0 ? a : b;
    const Response r = s.Call("GET", "/api/tasks", std::nullopt, u.access_token);
    if (r.status == 200) {
      ++ok;
      // One count for both servers: what is left goes down on either.
      CHECK(r.Header("RateLimit-Remaining") == std::to_string(kLimit - ok));
    } else if (r.status == 429) {
      ++limited;
      CHECK(!r.Header("Retry-After").empty());
    } else {
      ++other;
    }
  }
  CHECK(ok == kLimit);
  CHECK(limited == kOver);
  CHECK(other == 0);
}

}  // TEST_SUITE
