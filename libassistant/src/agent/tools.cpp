// The tool registry and the JSON Schema subset tool arguments are checked
// against before a tool runs.
#include "assistant/tools.hpp"

#include <exception>
#include <string>

#include "common/text.hpp"

namespace assistant {
namespace {

constexpr size_t kMaxToolNameLength = 64;

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string FieldName(const std::string& path) { return path.empty() ? "arguments" : path; }

bool HasType(const Json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  if (type == "number") return value.is_number();
  if (type == "integer") {
    if (value.is_number_integer()) return true;
    // 3.0 is an integer in JSON Schema.
    if (value.is_number_float()) {
      const double d = value.get<double>();
      return d == static_cast<double>(static_cast<int64_t>(d));
    }
    return false;
  }
  return false;
}

Status Fail(const std::string& path, const std::string& what) {
  return InvalidArgumentError(FieldName(path) + " " + what, FieldName(path));
}

Status Validate(const Json& schema, const Json& value, const std::string& path) {
  if (!schema.is_object()) return Status();  // `true`-like schema: anything goes
  if (auto it = schema.find("type"); it != schema.end()) {
    bool ok = false;
    std::string names;
    if (it->is_string()) {
      ok = HasType(value, it->get<std::string>());
      names = it->get<std::string>();
    } else if (it->is_array()) {
      for (const Json& t : *it) {
        if (!t.is_string()) continue;
        if (!names.empty()) names += " or ";
        names += t.get<std::string>();
        ok = ok || HasType(value, t.get<std::string>());
      }
    } else {
      ok = true;
    }
    if (!ok) return Fail(path, "must be of type " + names);
  }
  if (auto it = schema.find("enum"); it != schema.end() && it->is_array()) {
    bool found = false;
    std::string options;
    for (const Json& v : *it) {
      if (v == value) found = true;
      if (!options.empty()) options += ", ";
      options += v.dump();
    }
    if (!found) return Fail(path, "must be one of " + options);
  }
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (!text::IsValidUtf8(s)) return Fail(path, "is not valid UTF-8");
    const size_t n = text::CharCount(s);
    if (auto it = schema.find("minLength"); it != schema.end() && it->is_number() &&
                                            static_cast<double>(n) < it->get<double>()) {
      return Fail(path, "must be at least " + it->dump() + " characters");
    }
    if (auto it = schema.find("maxLength"); it != schema.end() && it->is_number() &&
                                            static_cast<double>(n) > it->get<double>()) {
      return Fail(path, "must be at most " + it->dump() + " characters");
    }
  }
  if (value.is_number()) {
    const double d = value.get<double>();
    if (auto it = schema.find("minimum"); it != schema.end() && it->is_number() &&
                                          d < it->get<double>()) {
      return Fail(path, "must be at least " + it->dump());
    }
    if (auto it = schema.find("maximum"); it != schema.end() && it->is_number() &&
                                          d > it->get<double>()) {
      return Fail(path, "must be at most " + it->dump());
    }
  }
  if (value.is_object()) {
    const Json* props = nullptr;
    if (auto it = schema.find("properties"); it != schema.end() && it->is_object()) {
      props = &*it;
    }
    if (auto it = schema.find("required"); it != schema.end() && it->is_array()) {
      for (const Json& name : *it) {
        if (name.is_string() && !value.contains(name.get<std::string>())) {
          return Fail(Join(path, name.get<std::string>()), "is required");
        }
      }
    }
    const auto extra = schema.find("additionalProperties");
    const bool closed = extra != schema.end() && extra->is_boolean() && !extra->get<bool>();
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string child = Join(path, it.key());
      if (props && props->contains(it.key())) {
        ASSISTANT_RETURN_IF_ERROR(Validate((*props)[it.key()], it.value(), child));
      } else if (closed) {
        return Fail(child, "is not an allowed property");
      } else if (extra != schema.end() && extra->is_object()) {
        ASSISTANT_RETURN_IF_ERROR(Validate(*extra, it.value(), child));
      }
    }
  }
  if (value.is_array()) {
    if (auto it = schema.find("items"); it != schema.end() && it->is_object()) {
      for (size_t i = 0; i < value.size(); ++i) {
        ASSISTANT_RETURN_IF_ERROR(
            Validate(*it, value[i], FieldName(path) + "[" + std::to_string(i) + "]"));
      }
    }
  }
  return Status();
}

bool ValidToolName(const std::string& name) {
  if (name.empty() || name.size() > kMaxToolNameLength) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Status ValidateJsonSchema(const Json& schema, const Json& value) {
  return Validate(schema, value, "");
}

Status ToolRegistry::Register(Tool tool) {
  if (!ValidToolName(tool.spec.name)) {
    return InvalidArgumentError("tool name must be 1-64 characters of [A-Za-z0-9_-]", "name");
  }
  const Json& params = tool.spec.parameters;
  if (!params.is_object() || params.value("type", "") != "object") {
    return InvalidArgumentError("tool parameters must be a JSON Schema of type object",
                                "parameters");
  }
  if (!tool.run) return InvalidArgumentError("tool has no function", "run");
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& t : tools_) {
    if (t->spec.name == tool.spec.name) {
      return AlreadyExistsError("a tool named " + tool.spec.name + " is registered",
                                "tool_exists");
    }
  }
  tools_.push_back(std::make_shared<const Tool>(std::move(tool)));
  return Status();
}

std::vector<ToolSpec> ToolRegistry::Specs() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ToolSpec> out;
  out.reserve(tools_.size());
  for (const auto& t : tools_) out.push_back(t->spec);
  return out;
}

bool ToolRegistry::Has(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& t : tools_) {
    if (t->spec.name == name) return true;
  }
  return false;
}

Result<Json> ToolRegistry::Run(const std::string& name, const ToolContext& ctx,
                               const Json& args) const {
  std::shared_ptr<const Tool> tool;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& t : tools_) {
      if (t->spec.name == name) tool = t;
    }
  }
  if (!tool) return NotFoundError("no tool named " + name, "unknown_tool");
  ASSISTANT_RETURN_IF_ERROR(ValidateJsonSchema(tool->spec.parameters, args));
  // Run outside the lock: tools may be slow. An app's tool may throw; that
  // must not escape the library.
  try {
    return tool->run(ctx, args);
  } catch (const std::exception&) {
    return InternalError("tool " + name + " failed");
  } catch (...) {
    return InternalError("tool " + name + " failed");
  }
}

}  // namespace assistant
