// File: assistant/tools.hpp
//
// Tools the agent can call: the built-in task tools (add_task, list_tasks,
// complete_task, uncomplete_task, delete_task, update_task, clear_completed)
// and any an app registers. Arguments are validated against the tool's JSON
// Schema (type, required, properties, enum, minLength/maxLength, minimum/
// maximum, additionalProperties:false) before the tool runs; a tool's error
// goes back to the model as its result, never thrown.
//
// Thread safety: Register, Specs and Run may be called concurrently.
#ifndef ASSISTANT_TOOLS_HPP_
#define ASSISTANT_TOOLS_HPP_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "assistant/llm.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

struct ToolContext {
  const Principal& principal;  // the caller; tools act with its scopes
  const RequestContext& request;
};

using ToolFunction = std::function<Result<Json>(const ToolContext&, const Json& args)>;

struct Tool {
  ToolSpec spec;
  ToolFunction run;
};

// Validates `value` against the supported subset of JSON Schema.
// InvalidArgument naming the path ("title") when it does not conform.
Status ValidateJsonSchema(const Json& schema, const Json& value);

class ToolRegistry {
 public:
  // AlreadyExists when the name is taken; InvalidArgument for a bad name
  // ([A-Za-z0-9_-]{1,64}) or a schema that is not an object schema.
  Status Register(Tool tool);
  std::vector<ToolSpec> Specs() const;
  bool Has(const std::string& name) const;
  // NotFound for an unknown tool; the schema's error for bad arguments;
  // otherwise what the tool returns.
  Result<Json> Run(const std::string& name, const ToolContext& ctx,
                   const Json& args) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const Tool>> tools_;
};

}  // namespace assistant

#endif  // ASSISTANT_TOOLS_HPP_
