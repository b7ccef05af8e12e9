// Several servers over one database behave as one: what one server revokes,
// every other refuses within a second (the promise clients rely on), and a
// refresh token sent to two servers at once is rotated once. Two real
// assistant-server processes share one SQLite file (and its JWT secret).
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include "harness.hpp"

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

}  // TEST_SUITE
