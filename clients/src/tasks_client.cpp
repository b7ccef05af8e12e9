#include "assistant/client/tasks_client.hpp"

#include "http_call.hpp"
#include "json_read.hpp"

namespace assistant::client {
namespace {

std::string TaskPath(const std::string& id) { return "/api/tasks/" + internal::Escape(id); }

}  // namespace

Result<TaskPage> TasksClient::List(const TaskQuery& query) {
  std::string path = "/api/tasks?status=" + std::string(TaskFilterName(query.status)) +
                     "&limit=" + std::to_string(query.limit);
  if (!query.q.empty()) path += "&q=" + internal::Escape(query.q);
  if (!query.cursor.empty()) path += "&cursor=" + internal::Escape(query.cursor);
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("GET", path));
  TaskPage page;
  ASSISTANT_ASSIGN_OR_RETURN(page.tasks, internal::ReadList(answer, "tasks", internal::ReadTask));
  const Json cursor = answer.value("next_cursor", Json());
  if (cursor.is_string()) page.next_cursor = cursor.get<std::string>();
  return page;
}

Result<Task> TasksClient::Create(const NewTask& task) {
  Json body = {{"title", task.title}, {"priority", task.priority}};
  if (!task.description.empty()) body["description"] = task.description;
  if (task.due_at) body["due_at"] = FormatTime(*task.due_at);
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("POST", "/api/tasks", body));
  return internal::ReadField(answer, "task", internal::ReadTask);
}

Result<Task> TasksClient::Get(const std::string& id) {
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("GET", TaskPath(id)));
  return internal::ReadField(answer, "task", internal::ReadTask);
}

Result<Task> TasksClient::Update(const std::string& id, const TaskChanges& changes) {
  Json body = Json::object();
  if (changes.title) body["title"] = *changes.title;
  if (changes.description) body["description"] = *changes.description;
  if (changes.completed) body["completed"] = *changes.completed;
  if (changes.due_at)
    body["due_at"] = *changes.due_at ? Json(FormatTime(**changes.due_at)) : Json();
  if (changes.priority) body["priority"] = *changes.priority;
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("PATCH", TaskPath(id), body));
  return internal::ReadField(answer, "task", internal::ReadTask);
}

Status TasksClient::Delete(const std::string& id) {
  return auth_.Call("DELETE", TaskPath(id)).status();
}

Result<int> TasksClient::ClearCompleted() {
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("POST", "/api/tasks/clear-completed"));
  return answer.value("deleted", 0);
}

}  // namespace assistant::client
