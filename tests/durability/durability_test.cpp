// Durability driver: runs durability_writer against a fresh database, lets it
// write for ~1.5 s, SIGKILLs it, then reopens the database and checks that
// every task id the writer acknowledged is there and (SQLite) that
// integrity_check passes. Runs once per Durability setting.
//
// Usage: durability_test <path-to-durability_writer> <scratch-dir> [postgres]
// With `postgres` the database is $ASSISTANT_TEST_PG_URL (each run writes as
// a user of its own); without that variable the test fails when CI=true and
// otherwise exits 77, "not run".
#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "assistant/storage.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int kMinAcknowledged = 100;

bool Fail(const std::string& what) {
  std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  return false;
}

// Splits complete lines off `buf`.
void TakeLines(std::string& buf, std::vector<std::string>& lines) {
  size_t nl;
  while ((nl = buf.find('\n')) != std::string::npos) {
    lines.push_back(buf.substr(0, nl));
    buf.erase(0, nl + 1);
  }
}

// `db` is a SQLite file, or empty to use `pg_url`.
bool RunOnce(const std::string& writer, const fs::path& db, const std::string& pg_url,
             const std::string& mode) {
  const std::string url = db.empty() ? pg_url : "sqlite://" + db.string();
  std::printf("durability (%s): %s\n", mode.c_str(), db.empty() ? "PostgreSQL" : db.c_str());
  int fds[2];
  if (pipe(fds) != 0) return Fail("pipe");
  pid_t pid = fork();
  if (pid < 0) return Fail("fork");
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(writer.c_str(), writer.c_str(), url.c_str(), mode.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);

  // Read acknowledgements for ~1.5 s, then kill without warning.
  std::string buf;
  std::vector<std::string> lines;
  char chunk[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  bool eof = false;
  while (!eof && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 50) > 0) {
      ssize_t n = read(fds[0], chunk, sizeof chunk);
      if (n <= 0) {
        eof = true;
      } else {
        buf.append(chunk, static_cast<size_t>(n));
      }
    }
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  // Lines already in the pipe were acknowledged before the kill.
  ssize_t n;
  while ((n = read(fds[0], chunk, sizeof chunk)) > 0) buf.append(chunk, static_cast<size_t>(n));
  close(fds[0]);
  TakeLines(buf, lines);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    return Fail("writer exited on its own (status " + std::to_string(status) +
                "); see its stderr above");
  }

  std::string user_id;
  std::vector<std::string> acked;
  for (const std::string& line : lines) {
    if (line.rfind("user ", 0) == 0) user_id = line.substr(5);
    if (line.rfind("task ", 0) == 0) acked.push_back(line.substr(5));
  }
  if (user_id.empty()) return Fail("writer never reported its user");
  std::printf("  acknowledged tasks: %zu\n", acked.size());
  if (static_cast<int>(acked.size()) < kMinAcknowledged) {
    return Fail("only " + std::to_string(acked.size()) + " tasks acknowledged, want at least " +
                std::to_string(kMinAcknowledged));
  }

  {
    auto opened = assistant::OpenStorage(url);
    if (!opened.ok()) return Fail("reopen: " + opened.status().ToString());
    assistant::Storage& storage = **opened;
    size_t missing = 0;
    for (const std::string& id : acked) {
      auto task = storage.GetTask(user_id, id);
      if (!task.ok()) {
        if (missing++ < 5) {
          std::fprintf(stderr, "  missing task %s: %s\n", id.c_str(),
                       task.status().ToString().c_str());
        }
      }
    }
    if (missing > 0) return Fail(std::to_string(missing) + " acknowledged tasks lost");
    assistant::TaskQuery all;
    all.limit = 1000000;
    auto stored = storage.ListTasks(user_id, all);
    if (!stored.ok()) return Fail("list: " + stored.status().ToString());
    std::printf("  stored tasks: %zu\n", stored->size());
    if (stored->size() < acked.size()) return Fail("fewer tasks stored than acknowledged");
  }
  if (db.empty()) {
    std::printf("  ok\n");
    return true;  // PostgreSQL checks its own pages
  }
  try {
    SQLite::Database check(db.string(), SQLite::OPEN_READONLY);
    std::string result = check.execAndGet("PRAGMA integrity_check").getString();
    if (result != "ok") return Fail("integrity_check: " + result);
  } catch (const std::exception& e) {
    return Fail(std::string("integrity_check threw: ") + e.what());
  }
  std::printf("  ok\n");
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && !(argc == 4 && std::string(argv[3]) == "postgres")) {
    std::fprintf(stderr, "usage: %s <durability_writer> <scratch-dir> [postgres]\n", argv[0]);
    return 2;
  }
  if (argc == 4) {
    const char* url = std::getenv("ASSISTANT_TEST_PG_URL");
    if (url == nullptr || *url == '\0') {
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") {
        std::fprintf(stderr, "FAIL: ASSISTANT_TEST_PG_URL is not set (run scripts/test.sh)\n");
        return 1;
      }
      std::printf("NOT RUN: ASSISTANT_TEST_PG_URL is not set (scripts/pg-test-server.sh sets it)\n");
      return 77;
    }
    bool ok = RunOnce(argv[1], {}, url, "crash");
    ok = RunOnce(argv[1], {}, url, "power") && ok;
    std::printf(ok ? "PASS\n" : "FAIL\n");
    return ok ? 0 : 1;
  }
  fs::path dir = fs::path(argv[2]) / ("durability-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  bool ok = RunOnce(argv[1], dir / "crash.db", {}, "crash");
  ok = RunOnce(argv[1], dir / "power.db", {}, "power") && ok;
  if (ok) fs::remove_all(dir);
  std::printf(ok ? "PASS\n" : "FAIL\n");
  return ok ? 0 : 1;
}
