// File: assistant/client/tasks_client.hpp
//
// TasksClient: the signed-in user's tasks over HTTP (docs/clients.md).
// Credentials come from an AuthClient. Thread-safe.
#ifndef ASSISTANT_CLIENT_TASKS_CLIENT_HPP_
#define ASSISTANT_CLIENT_TASKS_CLIENT_HPP_

#include <optional>
#include <string>
#include <vector>

#include "assistant/client/auth_client.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant::client {

struct NewTask {
  std::string title;
  std::string description;
  std::optional<Timestamp> due_at;
  int priority = 0;
};

struct TaskChanges {
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<bool> completed;
  std::optional<std::optional<Timestamp>> due_at;  // set to nullopt inside to clear
  std::optional<int> priority;
};

struct TaskQuery {
  // Sent as TaskFilterName's text (assistant/types.hpp), as the server reads it.
  TaskFilter status = TaskFilter::kAll;
  std::string q;
  int limit = 50;
  std::string cursor;
};

struct TaskPage {
  std::vector<Task> tasks;
  std::string next_cursor;  // empty on the last page
};

class TasksClient {
 public:
  // `auth` must outlive the client.
  explicit TasksClient(AuthClient& auth) : auth_(auth) {}

  Result<TaskPage> List(const TaskQuery& query = {});
  Result<Task> Create(const NewTask& task);
  Result<Task> Get(const std::string& id);
  Result<Task> Update(const std::string& id, const TaskChanges& changes);
  Status Delete(const std::string& id);
  // Returns how many were deleted.
  Result<int> ClearCompleted();

 private:
  AuthClient& auth_;
};

}  // namespace assistant::client

#endif  // ASSISTANT_CLIENT_TASKS_CLIENT_HPP_
