// call_bench: what the C ABI's JSON round trip costs over the C++ API.
//
// The same operation, listing a user's 20 tasks from a SQLite file, done
// three ways in one process: the C++ API (TaskService::List, typed result),
// assistant_call("tasks.list") (params parsed, principal resolved, result
// rendered as JSON text), and the C++ API plus rendering the same JSON, the
// floor any JSON interface pays. The C call is measured with both kinds of
// principal: a trusted user_id and an access token. Each figure is the median of ROUNDS rounds
// of the calling thread's CPU time per call. Target: the C call within 1.5x
// the C++ call (docs/performance.md).
//
// Run: build/bin/capi_call_bench [rounds]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#define ASSISTANT_H_NO_HANDLE_TYPEDEF
#include "api/json_shapes.hpp"
#include "assistant.h"
#include "assistant/assistant.hpp"

namespace {

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

double MedianNsPerOp(int rounds, int ops, const std::function<void()>& op) {
  std::vector<double> per;
  for (int r = 0; r < rounds; ++r) {
    const int64_t start = ThreadCpuNs();
    for (int i = 0; i < ops; ++i) op();
    per.push_back(static_cast<double>(ThreadCpuNs() - start) / ops);
  }
  std::sort(per.begin(), per.end());
  return per[per.size() / 2];
}

void Die(const char* what) {
  std::fprintf(stderr, "%s failed\n", what);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
  const auto dir = std::filesystem::temp_directory_path() / "capi_call_bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db = "sqlite://" + (dir / "bench.db").string();

  // One database, two doors: the C handle and a C++ instance on the same file.
  assistant_s* c = nullptr;
  const std::string config =
      "{\"database\": \"" + db + "\", \"argon2_memory_kib\": 256, \"argon2_iterations\": 1}";
  if (assistant_open(config.c_str(), &c, nullptr) != ASSISTANT_OK) Die("assistant_open");
  char* out = nullptr;
  if (assistant_call(c, "auth.register",
                     "{\"email\": \"b@example.com\", \"password\": \"correct horse battery\"}",
                     &out) != ASSISTANT_OK) {
    Die("auth.register");
  }
  const std::string user_id = assistant::Json::parse(out)["user"]["id"];
  const std::string token = assistant::Json::parse(out)["access_token"];
  assistant_free(out);
  const std::string principal = "{\"principal\": {\"user_id\": \"" + user_id + "\"}";
  for (int i = 0; i < 20; ++i) {
    const std::string p =
        principal + ", \"title\": \"task number " + std::to_string(i) + "\", \"priority\": 1}";
    if (assistant_call(c, "tasks.create", p.c_str(), &out) != ASSISTANT_OK) Die("tasks.create");
    assistant_free(out);
  }

  assistant::Options options;
  options.database_url = db;
  options.auth.jwt_secret = std::string(32, 'k');
  auto core = assistant::Assistant::Open(options);
  if (!core.ok()) Die("Assistant::Open");
  const auto me = assistant::Principal::ForUser(user_id);
  assistant::TaskListOptions list;
  list.limit = 20;

  const std::string list_params = principal + ", \"limit\": 20}";
  size_t sink = 0;
  const double cpp = MedianNsPerOp(rounds, 2000, [&] {
    auto page = (*core)->tasks().List(me, list);
    sink += page->items.size();
  });
  const double cpp_json = MedianNsPerOp(rounds, 2000, [&] {
    auto page = (*core)->tasks().List(me, list);
    sink += assistant::api::TaskListBody(*page).size();
  });
  const double c_call = MedianNsPerOp(rounds, 2000, [&] {
    char* result = nullptr;
    assistant_call(c, "tasks.list", list_params.c_str(), &result);
    sink += std::char_traits<char>::length(result);
    assistant_free(result);
  });
  const std::string token_params = "{\"principal\": {\"token\": \"" + token + "\"}, \"limit\": 20}";
  const double c_token = MedianNsPerOp(rounds, 2000, [&] {
    char* result = nullptr;
    assistant_call(c, "tasks.list", token_params.c_str(), &result);
    sink += std::char_traits<char>::length(result);
    assistant_free(result);
  });
  std::printf("tasks.list of 20 tasks, CPU per call, median of %d rounds\n", rounds);
  std::printf("  C++ API (typed)            %8.1f us\n", cpp / 1000);
  std::printf("  C++ API + JSON text        %8.1f us\n", cpp_json / 1000);
  std::printf("  assistant_call (C ABI)     %8.1f us   %.2fx the C++ API (target <= 1.5x)\n",
              c_call / 1000, c_call / cpp);
  std::printf("  assistant_call, token      %8.1f us   %.2fx\n", c_token / 1000, c_token / cpp);
  assistant_close(c);
  std::filesystem::remove_all(dir);
  return sink == 0 ? 1 : 0;
}
