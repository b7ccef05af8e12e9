// Storage::ListTasksAsync for every backend that has no asynchronous query:
// the synchronous read on the calling thread, its result handed to the loop.
#include <memory>
#include <utility>

#include "assistant/storage.hpp"

namespace assistant {

void Storage::ListTasksAsync(const std::string& user_id, const TaskQuery& query,
                             EventLoop& loop, TaskListDone done) {
  // Shared, not copied into the posted function: std::function must be
  // copyable, and a page of tasks is worth not copying.
  auto result = std::make_shared<Result<std::vector<Task>>>(ListTasks(user_id, query));
  loop.Post([result, done = std::move(done)] { done(std::move(*result)); });
}

}  // namespace assistant
