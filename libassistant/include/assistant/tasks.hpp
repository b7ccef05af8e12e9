// File: assistant/tasks.hpp
//
// The caller's tasks. Needs scope tasks:read to read, tasks:write to change.
// Another user's task is NotFound. Titles are single-line (control
// characters stripped), 1..500 characters; descriptions keep tab/newline,
// at most 10,000 characters. Invalid UTF-8 is InvalidArgument.
//
// Thread safety: every method is safe to call from many threads at once.
#ifndef ASSISTANT_TASKS_HPP_
#define ASSISTANT_TASKS_HPP_

#include <functional>
#include <optional>
#include <string>

#include "assistant/event_loop.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

struct TaskInput {
  std::string title;
  std::string description;
  std::optional<Timestamp> due_at;
  int priority = 0;
};

// A partial update: only the fields that are set change. `due_at` set to
// a nullopt inner value clears it.
struct TaskPatch {
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<bool> completed;
  std::optional<std::optional<Timestamp>> due_at;
  std::optional<int> priority;
};

struct TaskListOptions {
  TaskFilter status = TaskFilter::kAll;
  std::string q;       // case-insensitive title substring
  int limit = 50;      // clamped to 1..200
  std::string cursor;  // opaque, from a previous page
};

class TaskService {
 public:
  virtual ~TaskService() = default;
  virtual Result<Task> Create(const Principal& p, const TaskInput& input) = 0;
  virtual Result<Task> Get(const Principal& p, const std::string& id) = 0;
  virtual Result<Task> Update(const Principal& p, const std::string& id,
                              const TaskPatch& patch) = 0;
  virtual Status Delete(const Principal& p, const std::string& id) = 0;
  virtual Result<Page<Task>> List(const Principal& p,
                                  const TaskListOptions& options) = 0;
  // List without blocking a thread through the storage's query
  // (Storage::ListTasksAsync): the same checks and page, given to `done`
  // exactly once, on `loop`, never inside this call (a refused scope or a
  // bad cursor too). Any thread may call it; `loop` outlives the service.
  using PageDone = std::function<void(Result<Page<Task>>)>;
  virtual void ListAsync(const Principal& p, const TaskListOptions& options, EventLoop& loop,
                         PageDone done) = 0;
  // Returns how many completed tasks were deleted.
  virtual Result<int> ClearCompleted(const Principal& p) = 0;
  // A task by id, else by title: exact (case-insensitive), then the single
  // task whose title contains it. NotFound / InvalidArgument (reason
  // "ambiguous_task") when none or several match.
  virtual Result<Task> Find(const Principal& p, const std::string& id_or_title) = 0;
};

}  // namespace assistant

#endif  // ASSISTANT_TASKS_HPP_
