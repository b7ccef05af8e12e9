// TaskService over Storage: scopes, text hygiene and keyset paging. Owner
// isolation is in the storage queries; this layer always passes the
// principal's user id.
#include <string>
#include <utility>
#include <vector>

#include "common/cursor.hpp"
#include "common/text.hpp"
#include "services/service_util.hpp"
#include "services/services.hpp"

namespace assistant {
namespace {

constexpr const char* kRead = "tasks:read";
constexpr const char* kWrite = "tasks:write";
// Find scans the caller's matching titles in pages of this size, up to
// kFindMaxScan rows: enough to tell "one" from "several".
constexpr int kFindPage = 200;
constexpr int kFindMaxScan = 2000;

Result<std::string> CleanTitle(const std::string& title) {
  return text::CleanText(title, "title", 1, kTaskTitleMaxChars, false);
}

Result<std::string> CleanDescription(const std::string& description) {
  return text::CleanText(description, "description", 0, kTaskDescriptionMaxChars, true);
}

Status CheckPriority(int priority) {
  if (priority < kTaskPriorityMin || priority > kTaskPriorityMax) {
    return InvalidArgumentError("priority must be between " +
                                    std::to_string(kTaskPriorityMin) + " and " +
                                    std::to_string(kTaskPriorityMax),
                                "priority");
  }
  return Status();
}

// The storage query for a page of List: the scope check, the options
// cleaned, the cursor decoded, and one row more than the page (it tells
// whether another page exists).
Result<TaskQuery> PageQuery(const Principal& p, const TaskListOptions& options) {
  ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kRead));
  TaskQuery q;
  q.status = options.status;
  ASSISTANT_ASSIGN_OR_RETURN(q.title_contains,
                             text::CleanText(options.q, "q", 0, kTaskTitleMaxChars, false));
  if (!options.cursor.empty()) {
    ASSISTANT_ASSIGN_OR_RETURN(q.after, cursor::Decode(options.cursor));
  }
  q.limit = cursor::ClampLimit(options.limit) + 1;
  return q;
}

// The page from PageQuery's rows: at most `limit`, and a cursor when there
// was one more.
Page<Task> ToPage(std::vector<Task> rows, int limit) {
  Page<Task> page;
  if (static_cast<int>(rows.size()) > limit) {
    rows.resize(limit);
    page.next_cursor = cursor::Encode({rows.back().created_at, rows.back().id});
  }
  page.items = std::move(rows);
  return page;
}

class TaskServiceImpl final : public TaskService {
 public:
  TaskServiceImpl(Storage& storage, Clock& clock) : storage_(storage), clock_(clock) {}

  Result<Task> Create(const Principal& p, const TaskInput& input) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kWrite));
    Task t;
    ASSISTANT_ASSIGN_OR_RETURN(t.title, CleanTitle(input.title));
    ASSISTANT_ASSIGN_OR_RETURN(t.description, CleanDescription(input.description));
    ASSISTANT_RETURN_IF_ERROR(CheckPriority(input.priority));
    t.id = NewId();
    t.user_id = p.user_id;
    t.due_at = input.due_at;
    if (t.due_at) t.due_at = FromUnixMillis(ToUnixMillis(*t.due_at));
    t.priority = input.priority;
    t.created_at = t.updated_at = services::NowMillis(clock_);
    ASSISTANT_RETURN_IF_ERROR(storage_.CreateTask(t));
    return t;
  }

  Result<Task> Get(const Principal& p, const std::string& id) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kRead));
    return storage_.GetTask(p.user_id, id);
  }

  Result<Task> Update(const Principal& p, const std::string& id,
                      const TaskPatch& patch) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kWrite));
    ASSISTANT_ASSIGN_OR_RETURN(Task t, storage_.GetTask(p.user_id, id));
    // Validate everything before changing anything.
    if (patch.title) {
      ASSISTANT_ASSIGN_OR_RETURN(t.title, CleanTitle(*patch.title));
    }
    if (patch.description) {
      ASSISTANT_ASSIGN_OR_RETURN(t.description, CleanDescription(*patch.description));
    }
    if (patch.priority) {
      ASSISTANT_RETURN_IF_ERROR(CheckPriority(*patch.priority));
      t.priority = *patch.priority;
    }
    if (patch.completed) t.completed = *patch.completed;
    if (patch.due_at) {
      t.due_at = *patch.due_at;
      if (t.due_at) t.due_at = FromUnixMillis(ToUnixMillis(*t.due_at));
    }
    t.updated_at = services::NowMillis(clock_);
    ASSISTANT_RETURN_IF_ERROR(storage_.UpdateTask(t));
    return t;
  }

  Status Delete(const Principal& p, const std::string& id) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kWrite));
    return storage_.DeleteTask(p.user_id, id);
  }

  Result<Page<Task>> List(const Principal& p, const TaskListOptions& options) override {
    ASSISTANT_ASSIGN_OR_RETURN(TaskQuery q, PageQuery(p, options));
    ASSISTANT_ASSIGN_OR_RETURN(std::vector<Task> rows, storage_.ListTasks(p.user_id, q));
    return ToPage(std::move(rows), q.limit - 1);
  }

  void ListAsync(const Principal& p, const TaskListOptions& options, EventLoop& loop,
                 PageDone done) override {
    Result<TaskQuery> q = PageQuery(p, options);
    if (!q.ok()) {
      return loop.Post([status = q.status(), done = std::move(done)] { done(status); });
    }
    const int limit = q->limit - 1;
    storage_.ListTasksAsync(p.user_id, *q, loop,
                            [limit, done = std::move(done)](Result<std::vector<Task>> rows) {
                              if (!rows.ok()) return done(rows.status());
                              done(ToPage(std::move(*rows), limit));
                            });
  }
  Result<int> ClearCompleted(const Principal& p) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kWrite));
    return storage_.DeleteCompletedTasks(p.user_id);
  }

  Result<Task> Find(const Principal& p, const std::string& id_or_title) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kRead));
    ASSISTANT_ASSIGN_OR_RETURN(
        std::string needle, text::CleanText(id_or_title, "task", 1, kTaskTitleMaxChars, false));
    Result<Task> by_id = storage_.GetTask(p.user_id, needle);
    if (by_id.ok()) return by_id;
    if (!IsNotFound(by_id.status())) return by_id.status();

    std::vector<Task> matches;
    TaskQuery q;
    q.title_contains = needle;
    q.limit = kFindPage;
    while (static_cast<int>(matches.size()) < kFindMaxScan) {
      ASSISTANT_ASSIGN_OR_RETURN(std::vector<Task> rows, storage_.ListTasks(p.user_id, q));
      for (Task& t : rows) matches.push_back(std::move(t));
      if (static_cast<int>(rows.size()) < kFindPage) break;
      q.after = PagePosition{matches.back().created_at, matches.back().id};
    }
    const std::string folded = services::FoldCase(needle);
    std::vector<const Task*> exact;
    for (const Task& t : matches) {
      if (services::FoldCase(t.title) == folded) exact.push_back(&t);
    }
    if (exact.size() == 1) return *exact.front();
    if (exact.empty() && matches.size() == 1) return matches.front();
    if (exact.empty() && matches.empty()) {
      return NotFoundError("no task matches \"" + needle + "\"");
    }
    std::vector<const Task*> several = exact;
    if (several.empty()) {
      for (const Task& t : matches) several.push_back(&t);
    }
    std::string msg = "several tasks match \"" + needle + "\": ";
    for (size_t i = 0; i < several.size() && i < 5; ++i) {
      if (i > 0) msg += ", ";
      msg += "\"" + several[i]->title + "\"";
    }
    if (several.size() > 5) msg += ", ...";
    return InvalidArgumentError(std::move(msg), "task", "ambiguous_task");
  }

 private:
  Storage& storage_;
  Clock& clock_;
};

}  // namespace

std::unique_ptr<TaskService> NewTaskService(Storage& storage, Clock& clock) {
  return std::make_unique<TaskServiceImpl>(storage, clock);
}

}  // namespace assistant
