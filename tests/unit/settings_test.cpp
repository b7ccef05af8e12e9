// The settings layer (assistant/settings.hpp): the policy every embedding
// gets from Assistant::Open, tested through public headers only.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "assistant/core.hpp"
#include "assistant/settings.hpp"
#include "assistant/storage_wrapper.hpp"
#include "test_temp_dir.hpp"

using namespace assistant;

namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

int Mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<int>(st.st_mode & 0777);
}

Options Cheap(const std::string& url) {
  Options o;
  o.database_url = url;
  o.auth.password_hash.memory_kib = 8;
  o.auth.password_hash.iterations = 1;
  return o;
}

}  // namespace

TEST_SUITE("settings") {

TEST_CASE("production refuses a missing or short secret, cheap Argon2, EdDSA without keys") {
  const std::string dir = MakeTestTempDir("settings-prod-");
  Options o;
  o.database_url = "sqlite://" + dir + "/a.db";
  o.production = true;
  CHECK(CheckOptions(o).reason() == "weak_secret");
  CHECK(CheckOptions(o).field() == "jwt_secret_file");

  const std::string weak = dir + "/weak";
  { std::ofstream(weak) << "short-secret\n"; }
  o.auth.jwt_secret_file = weak;
  CHECK(CheckOptions(o).reason() == "weak_secret");
  CHECK(CheckOptions(o).message().find("32 bytes") != std::string::npos);

  const std::string strong = dir + "/strong";
  { std::ofstream(strong) << std::string(40, 'k') << "\n\n"; }
  o.auth.jwt_secret_file = strong;
  auto ok = ResolveOptions(o);
  REQUIRE(ok.ok());
  CHECK(ok->options.auth.jwt_secret == std::string(40, 'k'));  // trailing whitespace gone

  Options cheap = o;
  cheap.auth.password_hash.memory_kib = kMinArgon2MemoryKib - 1;
  CHECK(CheckOptions(cheap).reason() == "weak_secret");
  cheap = o;
  cheap.auth.password_hash.iterations = kMinArgon2Iterations - 1;
  CHECK(CheckOptions(cheap).reason() == "weak_secret");

  Options eddsa = o;
  eddsa.auth.jwt_algorithm = JwtAlgorithm::kEdDSA;
  CHECK(CheckOptions(eddsa).reason() == "weak_secret");
  eddsa.state_dir = dir + "/state";
  CHECK(CheckOptions(eddsa).ok());

  // Development takes what production refuses.
  cheap.production = false;
  cheap.auth.jwt_secret_file = weak;
  CHECK(CheckOptions(cheap).ok());
  // Nothing was written by any refusal or check.
  CHECK_FALSE(Exists(dir + "/a.db.jwt-secret"));
  CHECK_FALSE(Exists(dir + "/state"));
}

TEST_CASE("an embedder's Open makes the development secret beside the database, 0600, once") {
  const std::string dir = MakeTestTempDir("settings-dev-");
  Options o = Cheap("sqlite://" + dir + "/a.db");
  o.checkpoint_interval = std::chrono::milliseconds(0);
  std::string first;
  {
    auto core = Assistant::Open(o);
    REQUIRE(core.ok());
    first = (*core)->options().auth.jwt_secret;
    CHECK(first.size() == 64);
    CHECK((*core)->options().outbox_path == dir + "/a.db.outbox.jsonl");
    CHECK((*core)->options().auth.identity_key_dir == dir + "/a.db.identity-keys");
  }
  CHECK(Mode(dir + "/a.db.jwt-secret") == 0600);
  auto again = Assistant::Open(o);
  REQUIRE(again.ok());
  CHECK((*again)->options().auth.jwt_secret == first);  // persisted, tokens survive restarts
}

TEST_CASE("a failed Open leaves no secret behind") {
  const std::string dir = MakeTestTempDir("settings-fail-");
  Options o = Cheap("sqlite://" + dir + "/a.db");
  o.agent.provider = ProviderKind::kOpenAi;  // no model: refused at Open
  CHECK_FALSE(Assistant::Open(o).ok());
  CHECK_FALSE(Exists(dir + "/a.db.jwt-secret"));
}

TEST_CASE("an in-memory database names no file after its URL") {
  for (const char* url : {"sqlite::memory:", "sqlite://:memory:"}) {
    Options o = Cheap(url);
    auto paths = StatePathsFor(o);
    REQUIRE(paths.ok());
    CHECK(paths->jwt_secret.empty());
    CHECK(paths->jwt_key_dir.empty());
    CHECK(paths->identity_key_dir.empty());
    CHECK(paths->outbox.find("memory") == std::string::npos);
    o.auth.jwt_algorithm = JwtAlgorithm::kEdDSA;
    auto resolved = ResolveOptions(o);
    REQUIRE(resolved.ok());
    CHECK(resolved->options.auth.jwt_secret.size() == 32);
    CHECK(resolved->options.auth.jwt_key_dir.empty());  // keys in memory
  }
  CHECK_FALSE(Exists(":memory:.jwt-secret"));
}

TEST_CASE("a state directory holds the secret, keys and outbox") {
  const std::string dir = MakeTestTempDir("settings-state-");
  Options o = Cheap("sqlite://" + dir + "/a.db");
  o.state_dir = dir + "/state/inner";
  o.auth.jwt_algorithm = JwtAlgorithm::kEdDSA;
  auto resolved = ResolveOptions(o);
  REQUIRE(resolved.ok());
  const Options& r = resolved->options;
  CHECK(r.auth.jwt_key_dir == o.state_dir + "/jwt-keys");
  CHECK(r.auth.identity_key_dir == o.state_dir + "/identity-keys");
  CHECK(r.outbox_path == o.state_dir + "/outbox.jsonl");
  CHECK(Mode(o.state_dir) == 0700);
  CHECK(Mode(o.state_dir + "/jwt-secret") == 0600);
  CHECK_FALSE(Exists(dir + "/a.db.jwt-secret"));
  for (const auto& note : resolved->notes) {
    CHECK(note.find(r.auth.jwt_secret) == std::string::npos);  // never a secret
  }
  // Resolving what was resolved changes nothing.
  auto twice = ResolveOptions(r);
  REQUIRE(twice.ok());
  CHECK(twice->options.auth.jwt_secret == r.auth.jwt_secret);
  CHECK(twice->notes.empty());
}

TEST_CASE("LoadOrCreateSecretFile: concurrent creators all get the one secret") {
  const std::string dir = MakeTestTempDir("settings-race-");
  for (int round = 0; round < 20; ++round) {
    const std::string path = dir + "/secret-" + std::to_string(round);
    std::atomic<bool> go{false};
    std::atomic<int> created{0};
    std::vector<std::string> got(8);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < got.size(); ++i) {
      threads.emplace_back([&, i] {
        while (!go) {
        }
        bool made = false;
        auto s = LoadOrCreateSecretFile(path, &made);
        got[i] = s.ok() ? *s : "failed: " + s.status().ToString();
        if (made) ++created;
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    CHECK(created == 1);
    CHECK(std::set<std::string>(got.begin(), got.end()).size() == 1);
    CHECK(got[0].size() == 64);
    CHECK(Mode(path) == 0600);
  }
}

TEST_CASE("LoadOrCreateSecretFile keeps a raw 32-byte key as written") {
  const std::string dir = MakeTestTempDir("settings-raw-");
  const std::string path = dir + "/raw";
  std::string raw(31, 'x');
  raw += ' ';  // a trailing byte that happens to be whitespace is key material
  { std::ofstream(path, std::ios::binary) << raw; }
  ::chmod(path.c_str(), 0644);
  auto got = LoadOrCreateSecretFile(path);
  REQUIRE(got.ok());
  CHECK(*got == raw);
  CHECK(Mode(path) == 0600);  // tightened
}

TEST_CASE("provider and algorithm names are stated once") {
  CHECK(ParseProviderKind("").value() == ProviderKind::kRules);
  CHECK(ParseProviderKind("cohere").value() == ProviderKind::kCohere);
  CHECK(ParseProviderKind("OpenAI").status().field() == "provider");
  for (ProviderKind k : {ProviderKind::kRules, ProviderKind::kOpenAi, ProviderKind::kOllama,
                         ProviderKind::kCohere}) {
    CHECK(ParseProviderKind(ProviderKindName(k)).value() == k);
  }
  CHECK(ProviderKindNames("|") == "rules|openai|ollama|cohere");
  CHECK(JwtAlgorithmNames("|") == "HS256|EdDSA");
}

namespace {

class CountingStorage : public StorageWrapper {
 public:
  using StorageWrapper::StorageWrapper;
  Status Checkpoint() override {
    ++checkpoints;
    return StorageWrapper::Checkpoint();
  }
  std::atomic<int> checkpoints{0};
};

}  // namespace

TEST_CASE("Open checkpoints periodically and once more when the instance closes") {
  auto opened = OpenStorage("sqlite::memory:");
  REQUIRE(opened.ok());
  auto storage = std::make_shared<CountingStorage>(std::shared_ptr<Storage>(std::move(*opened)));
  Options o = Cheap("sqlite::memory:");
  o.checkpoint_interval = std::chrono::milliseconds(10);
  auto core = Assistant::Open(o, storage);
  REQUIRE(core.ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (storage->checkpoints < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(storage->checkpoints >= 2);
  const int before_close = storage->checkpoints;
  core->reset();
  CHECK(storage->checkpoints >= before_close + 1);

  o.checkpoint_interval = std::chrono::milliseconds(0);  // off: only the last one
  auto quiet = Assistant::Open(o, storage);
  REQUIRE(quiet.ok());
  const int at_open = storage->checkpoints;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(storage->checkpoints == at_open);
  quiet->reset();
  CHECK(storage->checkpoints == at_open + 1);
}

}  // TEST_SUITE
