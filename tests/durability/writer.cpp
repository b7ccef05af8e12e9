// Durability writer: opens the database URL given on the command line,
// creates a user, then creates tasks from 4 threads forever. It prints
// "user <id>" first and then "task <id>" for each task only after CreateTask
// returned OK, flushing each line: a printed id is an acknowledged write.
//
// Usage: durability_writer <database-url> [crash|power]
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "assistant/storage.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <database-url> [crash|power]\n", argv[0]);
    return 2;
  }
  assistant::StorageOptions options;
  if (argc > 2 && std::string(argv[2]) == "power") {
    options.durability = assistant::Durability::kPowerLossSafe;
  }
  auto opened = assistant::OpenStorage(argv[1], options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open failed: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  assistant::Storage& storage = **opened;

  assistant::UserRecord user;
  user.user.id = assistant::NewId();
  user.user.email = "durability-" + user.user.id + "@example.com";
  user.user.name = "durability";
  user.password_hash = "x";
  user.user.created_at = user.user.updated_at = std::chrono::system_clock::now();
  if (auto st = storage.CreateUser(user); !st.ok()) {
    std::fprintf(stderr, "create user failed: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("user %s\n", user.user.id.c_str());
  std::fflush(stdout);

  std::mutex out_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        assistant::Task task;
        task.id = assistant::NewId();
        task.user_id = user.user.id;
        task.title = "writer " + std::to_string(t) + " task " + std::to_string(i);
        task.created_at = task.updated_at = std::chrono::system_clock::now();
        assistant::Status st = storage.CreateTask(task);
        if (!st.ok()) {
          std::fprintf(stderr, "create task failed: %s\n", st.ToString().c_str());
          continue;
        }
        std::lock_guard<std::mutex> lock(out_mu);
        std::printf("task %s\n", task.id.c_str());
        std::fflush(stdout);
      }
    });
  }
  for (auto& th : threads) th.join();  // never returns: the driver kills us
  return 0;
}
