#include "agent/builtin_tools.hpp"

#include <string>
#include <vector>

namespace assistant {
namespace {

// list_tasks walks pages up to this many tasks: enough for a chat answer.
constexpr int kListMaxTasks = 200;

Json TaskArgSchema() {
  return {{"type", "string"},
          {"minLength", 1},
          {"maxLength", 500},
          {"description", "The task's id or its title"}};
}

Json TitleSchema() {
  return {{"type", "string"}, {"minLength", 1}, {"maxLength", 500}};
}

Json ObjectSchema(Json properties, std::vector<std::string> required) {
  Json schema = {{"type", "object"},
                 {"properties", std::move(properties)},
                 {"additionalProperties", false}};
  if (!required.empty()) schema["required"] = required;
  return schema;
}

ToolFunction SetCompleted(TaskService& tasks, bool completed) {
  return [&tasks, completed](const ToolContext& ctx, const Json& args) -> Result<Json> {
    ASSISTANT_ASSIGN_OR_RETURN(Task t, tasks.Find(ctx.principal, args["task"].get<std::string>()));
    TaskPatch patch;
    patch.completed = completed;
    ASSISTANT_ASSIGN_OR_RETURN(t, tasks.Update(ctx.principal, t.id, patch));
    return Json{{"task", TaskToToolJson(t)}};
  };
}

}  // namespace

Json TaskToToolJson(const Task& t) {
  // Filled in place: an initializer list builds and copies each pair first,
  // and list_tasks renders up to 200 of these per call.
  Json j(Json::value_t::object);
  auto& o = j.get_ref<Json::object_t&>();
  o.emplace("id", t.id);
  o.emplace("title", t.title);
  o.emplace("description", t.description);
  o.emplace("completed", t.completed);
  o.emplace("due_at", t.due_at ? Json(FormatTime(*t.due_at)) : Json());
  o.emplace("priority", t.priority);
  o.emplace("created_at", FormatTime(t.created_at));
  o.emplace("updated_at", FormatTime(t.updated_at));
  return j;
}

Status RegisterBuiltinTools(ToolRegistry& registry, TaskService& tasks) {
  std::vector<Tool> tools;
  tools.push_back(
      {{"add_task", "Add a task to the user's list.",
        ObjectSchema({{"title", TitleSchema()}}, {"title"})},
       [&tasks](const ToolContext& ctx, const Json& args) -> Result<Json> {
         TaskInput input;
         input.title = args["title"].get<std::string>();
         ASSISTANT_ASSIGN_OR_RETURN(Task t, tasks.Create(ctx.principal, input));
         return Json{{"task", TaskToToolJson(t)}};
       }});
  tools.push_back(
      {{"list_tasks", "List the user's tasks, optionally only pending or completed ones.",
        ObjectSchema({{"status",
                       {{"type", "string"}, {"enum", {"all", "pending", "completed"}}}}},
                     {})},
       [&tasks](const ToolContext& ctx, const Json& args) -> Result<Json> {
         TaskListOptions options;
         ASSISTANT_ASSIGN_OR_RETURN(options.status,
                                    ParseTaskFilter(args.value("status", "all")));
         options.limit = kListMaxTasks;
         Json list = Json::array();
         do {
           ASSISTANT_ASSIGN_OR_RETURN(Page<Task> page, tasks.List(ctx.principal, options));
           for (const Task& t : page.items) list.push_back(TaskToToolJson(t));
           options.cursor = page.next_cursor;
         } while (!options.cursor.empty() && list.size() < kListMaxTasks);
         return Json{{"tasks", std::move(list)}};
       }});
  tools.push_back({{"complete_task", "Mark a task as done.",
                    ObjectSchema({{"task", TaskArgSchema()}}, {"task"})},
                   SetCompleted(tasks, true)});
  tools.push_back({{"uncomplete_task", "Mark a done task as not done.",
                    ObjectSchema({{"task", TaskArgSchema()}}, {"task"})},
                   SetCompleted(tasks, false)});
  tools.push_back(
      {{"delete_task", "Delete a task.", ObjectSchema({{"task", TaskArgSchema()}}, {"task"})},
       [&tasks](const ToolContext& ctx, const Json& args) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(Task t,
                                    tasks.Find(ctx.principal, args["task"].get<std::string>()));
         ASSISTANT_RETURN_IF_ERROR(tasks.Delete(ctx.principal, t.id));
         return Json{{"deleted", 1}, {"task", TaskToToolJson(t)}};
       }});
  tools.push_back(
      {{"update_task", "Change a task's title.",
        ObjectSchema({{"task", TaskArgSchema()}, {"title", TitleSchema()}}, {"task", "title"})},
       [&tasks](const ToolContext& ctx, const Json& args) -> Result<Json> {
         ASSISTANT_ASSIGN_OR_RETURN(Task t,
                                    tasks.Find(ctx.principal, args["task"].get<std::string>()));
         TaskPatch patch;
         patch.title = args["title"].get<std::string>();
         const std::string previous = t.title;
         ASSISTANT_ASSIGN_OR_RETURN(t, tasks.Update(ctx.principal, t.id, patch));
         return Json{{"task", TaskToToolJson(t)}, {"previous_title", previous}};
       }});
  tools.push_back({{"clear_completed", "Delete every completed task.", ObjectSchema(Json::object(), {})},
                   [&tasks](const ToolContext& ctx, const Json&) -> Result<Json> {
                     ASSISTANT_ASSIGN_OR_RETURN(int n, tasks.ClearCompleted(ctx.principal));
                     return Json{{"deleted", n}};
                   }});
  for (Tool& t : tools) ASSISTANT_RETURN_IF_ERROR(registry.Register(std::move(t)));
  return Status();
}

}  // namespace assistant
