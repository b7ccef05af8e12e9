// Black-box: the app registry over HTTP (GET /api/apps, /api/apps/{id}),
// its errors at start, and its reload on SIGHUP.
#include <signal.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <fstream>
#include <thread>

#include "harness.hpp"

using namespace http_test;

namespace {

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

const char* kTwoApps = R"({"apps":[
  {"id":"notes","name":"Notes","upstream":"http://127.0.0.1:9/base",
   "scopes":["tasks:read","agent"],"allowed_origins":["https://notes.example.com"]},
  {"id":"cal","name":"Calendar","upstream":"http://127.0.0.1:9",
   "scopes":[],"allowed_origins":[]}]})";

// Polls until `ok` holds or two seconds pass.
template <typename Fn>
bool Eventually(Fn ok) {
  for (int i = 0; i < 100; ++i) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// A server started with `apps` as its registry file, and a user of it.
struct WithApps {
  explicit WithApps(const std::string& apps, std::vector<std::string> args = {})
      : file(dir.path() + "/apps.json") {
    WriteFile(file, apps);
    args.insert(args.begin(), {"--apps", file});
    server = std::make_unique<ServerProcess>(args);
    if (server->started()) user = Register(*server);
  }
  TempDir dir;
  std::string file;
  std::unique_ptr<ServerProcess> server;
  User user;
};

}  // namespace

TEST_SUITE("http.apps") {

TEST_CASE("the registry is served to an authenticated caller, without upstream URLs") {
  WithApps w(kTwoApps);
  REQUIRE(w.server->started());
  ServerProcess& s = *w.server;
  const User& u = w.user;

  CHECK(s.Call("GET", "/api/apps").status == 401);

  auto list = s.Call("GET", "/api/apps", std::nullopt, u.access_token);
  REQUIRE(list.status == 200);
  REQUIRE(list.json["apps"].size() == 2);
  CHECK(list.json["apps"][0]["id"] == "notes");
  CHECK(list.json["apps"][0]["name"] == "Notes");
  CHECK(list.json["apps"][0]["scopes"] == Json::array({"tasks:read", "agent"}));
  CHECK(list.json["apps"][0]["allowed_origins"] == Json::array({"https://notes.example.com"}));
  CHECK(list.json["apps"][1]["id"] == "cal");
  CHECK(list.body.find("127.0.0.1") == std::string::npos);

  auto one = s.Call("GET", "/api/apps/cal", std::nullopt, u.access_token);
  REQUIRE(one.status == 200);
  CHECK(one.json["app"]["name"] == "Calendar");
  CHECK(!one.json["app"].contains("upstream"));

  auto missing = s.Call("GET", "/api/apps/nope", std::nullopt, u.access_token);
  CHECK(missing.status == 404);
  CHECK(missing.ErrorCode() == "not_found");
}

TEST_CASE("without --apps the registry is empty") {
  ServerProcess s;
  REQUIRE(s.started());
  User u = Register(s);
  auto list = s.Call("GET", "/api/apps", std::nullopt, u.access_token);
  REQUIRE(list.status == 200);
  CHECK(list.json["apps"] == Json::array());
}

TEST_CASE("a bad registry file stops the start, naming the entry and field") {
  TempDir dir;
  const std::string file = dir.path() + "/apps.json";
  WriteFile(file, R"({"apps":[{"id":"ok","name":"A","upstream":"http://127.0.0.1:1","scopes":[],
    "allowed_origins":[]},{"id":"b","name":"B","upstream":"ftp://x","scopes":[],
    "allowed_origins":[]}]})");
  auto r = RunServerToExit({"--apps", file, "--database", "sqlite://" + dir.path() + "/t.db"},
                           dir.path());
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("apps[1].upstream") != std::string::npos);
}

TEST_CASE("SIGHUP re-reads the registry; a bad file keeps the old one") {
  WithApps w(kTwoApps);
  REQUIRE(w.server->started());
  ServerProcess& s = *w.server;
  const User& u = w.user;
  const std::string& file = w.file;

  WriteFile(file, R"({"apps":[{"id":"mail","name":"Mail","upstream":"http://127.0.0.1:9",
    "scopes":["agent"],"allowed_origins":[]}]})");
  REQUIRE(kill(s.pid(), SIGHUP) == 0);
  CHECK(Eventually([&] {
    auto l = s.Call("GET", "/api/apps", std::nullopt, u.access_token);
    return l.status == 200 && l.json["apps"].size() == 1 && l.json["apps"][0]["id"] == "mail";
  }));

  WriteFile(file, R"({"apps":[{"id":"mail","name":"Mail","upstream":"http://127.0.0.1:9",
    "scopes":["no-such-scope"],"allowed_origins":[]}]})");
  REQUIRE(kill(s.pid(), SIGHUP) == 0);
  CHECK(Eventually([&] { return s.log().find("apps[0].scopes") != std::string::npos; }));
  auto l = s.Call("GET", "/api/apps", std::nullopt, u.access_token);
  REQUIRE(l.status == 200);
  REQUIRE(l.json["apps"].size() == 1);
  CHECK(l.json["apps"][0]["id"] == "mail");
  // Still serving: the server did not stop on the signal.
  CHECK(s.Call("GET", "/healthz").status == 200);
}

TEST_CASE("requests keep being answered while the registry reloads") {
  WithApps w(kTwoApps);
  REQUIRE(w.server->started());
  ServerProcess& s = *w.server;
  const User& u = w.user;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, answered{0};
  std::thread reader([&] {
    while (!stop) {
      auto l = s.Call("GET", "/api/apps", std::nullopt, u.access_token);
      if (l.status != 200 || l.json["apps"].size() != 2) ++failures;
      ++answered;
    }
  });
  for (int i = 0; i < 20; ++i) {
    kill(s.pid(), SIGHUP);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  reader.join();
  CHECK(answered > 0);
  CHECK(failures == 0);
}

}  // TEST_SUITE
