// The built-in task tools (docs/http-api.md "The agent's built-in tools"):
// add_task, list_tasks, complete_task, uncomplete_task, delete_task,
// update_task, clear_completed.
// They act through TaskService with the calling principal, so its scopes
// apply: a key without tasks:write gets a tool error, never a silent write.
#ifndef ASSISTANT_SRC_AGENT_BUILTIN_TOOLS_HPP_
#define ASSISTANT_SRC_AGENT_BUILTIN_TOOLS_HPP_

#include "assistant/tasks.hpp"
#include "assistant/tools.hpp"
#include "assistant/types.hpp"

namespace assistant {

// Registers the task tools; `tasks` must outlive the registry.
Status RegisterBuiltinTools(ToolRegistry& registry, TaskService& tasks);

// {"id","title","description","completed","due_at","priority",
//  "created_at","updated_at"}: how tools show a task to the model.
Json TaskToToolJson(const Task& t);

}  // namespace assistant

#endif  // ASSISTANT_SRC_AGENT_BUILTIN_TOOLS_HPP_
