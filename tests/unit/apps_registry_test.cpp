#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "assistant/apps.hpp"
#include "core_fixture.hpp"

using namespace assistant;
using assistant::testing::FastOptions;

namespace {

const char kTwoApps[] = R"({"apps": [
  {"id": "notes", "name": "Notes", "upstream": "http://127.0.0.1:9001/base",
   "scopes": ["tasks:read", "agent"], "allowed_origins": ["https://notes.example.com"]},
  {"id": "cal_2", "name": "Calendar", "upstream": "https://cal.internal:8443"}
]})";

std::string TempFile(const std::string& name, const std::string& text) {
  const char* dir = std::getenv("ASSISTANT_TEST_TMP");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

// The field an invalid file is refused for.
std::string RefusedField(const std::string& json) {
  auto r = ParseApps(json);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  return r.status().field();
}

}  // namespace

TEST_SUITE("apps") {

TEST_CASE("ParseApps reads every field of every app, in order") {
  auto apps = ParseApps(kTwoApps);
  REQUIRE(apps.ok());
  REQUIRE(apps->size() == 2);
  CHECK((*apps)[0].id == "notes");
  CHECK((*apps)[0].upstream == "http://127.0.0.1:9001/base");
  CHECK((*apps)[0].scopes == std::vector<std::string>{"tasks:read", "agent"});
  CHECK((*apps)[0].allowed_origins == std::vector<std::string>{"https://notes.example.com"});
  CHECK((*apps)[1].scopes.empty());
  // What a client sees leaves the upstream out.
  Json shown = AppToJson((*apps)[0]);
  CHECK(shown["id"] == "notes");
  CHECK_FALSE(shown.contains("upstream"));
}

TEST_CASE("A bad file is refused naming the entry and field") {
  CHECK(RefusedField("{\"apps\": [") == "file");
  CHECK(RefusedField("[]") == "file");
  CHECK(RefusedField(R"({"apps": [{"name": "x", "upstream": "http://h"}]})") == "apps[0].id");
  CHECK(RefusedField(R"({"apps": [{"id": "Bad Id", "name": "x", "upstream": "http://h"}]})") ==
        "apps[0].id");
  CHECK(RefusedField(R"({"apps": [{"id": "a", "name": "x", "upstream": "ftp://h"}]})") ==
        "apps[0].upstream");
  CHECK(RefusedField(R"({"apps": [{"id": "a", "name": "x", "upstream": "http://u:p@h"}]})") ==
        "apps[0].upstream");
  CHECK(RefusedField(
            R"({"apps": [{"id": "a", "name": "x", "upstream": "http://h", "scopes": ["root"]}]})") ==
        "apps[0].scopes[0]");
  CHECK(RefusedField(R"({"apps": [{"id": "a", "name": "x", "upstream": "http://h",
                         "allowed_origins": ["https://a.example.com/path"]}]})") ==
        "apps[0].allowed_origins[0]");
  CHECK(RefusedField(R"({"apps": [{"id": "a", "name": "x", "upstream": "http://h"},
                                  {"id": "a", "name": "y", "upstream": "http://h"}]})") ==
        "apps[1].id");
  CHECK(RefusedField(R"({"apps": [{"id": "a", "name": "x", "upstream": "http://h", "port": 1}]})") ==
        "apps[0].port");
}

TEST_CASE("Reload replaces the apps; a failed reload keeps the old ones") {
  const std::string path = TempFile("apps_reload.json", kTwoApps);
  AppRegistry registry(path);
  REQUIRE(registry.Reload().ok());
  CHECK(registry.List().size() == 2);
  CHECK(registry.Get("cal_2")->name == "Calendar");
  CHECK(registry.Get("nope").status().code() == StatusCode::kNotFound);

  TempFile("apps_reload.json", R"({"apps": [{"id": "broken"}]})");
  Status bad = registry.Reload();
  CHECK_FALSE(bad.ok());
  CHECK(bad.field() == "apps[0].name");
  CHECK(registry.List().size() == 2);

  TempFile("apps_reload.json", R"({"apps": [{"id": "one", "name": "One", "upstream": "http://h"}]})");
  REQUIRE(registry.Reload().ok());
  REQUIRE(registry.List().size() == 1);
  CHECK(registry.List()[0].id == "one");
}

TEST_CASE("Readers see a whole set while another thread reloads") {
  const std::string path = TempFile("apps_race.json", kTwoApps);
  AppRegistry registry(path);
  REQUIRE(registry.Reload().ok());
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) {
      CHECK(registry.Reload().ok());
    }
  });
  for (int i = 0; i < 2000; ++i) {
    auto apps = registry.List();
    CHECK(apps.size() == 2);
  }
  writer.join();
}

TEST_CASE("Assistant::Open loads the registry and refuses a bad one") {
  Options o = FastOptions(std::make_shared<FakeClock>());
  o.apps_path = TempFile("apps_open.json", kTwoApps);
  auto core = Assistant::Open(o);
  REQUIRE(core.ok());
  CHECK((*core)->apps().List().size() == 2);

  o.apps_path = TempFile("apps_open_bad.json", R"({"apps": [{"id": "x", "name": "X"}]})");
  auto refused = Assistant::Open(o);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().field() == "apps[0].upstream");
  CHECK(refused.status().message().find("apps[0].upstream") != std::string::npos);
}

}  // TEST_SUITE
