// The C ABI (assistant.h) over the core: parse, call the method table
// (api/methods.hpp), render. Nothing here decides anything the core or the
// HTTP server would decide differently; what the C boundary adds is memory
// ownership (malloc'ed strings), error codes, and that no C++ exception
// ever crosses it (every entry point catches everything).
// The handle is struct assistant_s here: `assistant` is the core's namespace.
#define ASSISTANT_H_NO_HANDLE_TYPEDEF
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>

#include "api/json_shapes.hpp"
#include "api/methods.hpp"
#include "assistant.h"
#include "assistant/core.hpp"
#include "assistant/json_input.hpp"
#include "assistant/version.hpp"
#include "c_config.hpp"
#include "c_errors.hpp"
#include "common/json_text.hpp"

struct assistant_s {
  std::unique_ptr<assistant::Assistant> core;
  std::unique_ptr<assistant::api::KnownUsers> known_users;
};

namespace {

using assistant::Json;
using assistant::Result;
using assistant::Status;

// Deeper JSON than this is refused before parsing, as the HTTP server does:
// no caller of this API needs it, and nlohmann's tree operations recurse.

char* CopyOut(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) return nullptr;
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

Json ErrorBody(const Status& status) {
  Json err = {{"code", status.reason()}, {"message", status.message()}};
  if (!status.field().empty()) err["field"] = status.field();
  return {{"error", std::move(err)}};
}

// Sets *out (when out is not null) to the error body and returns its code.
int Fail(const Status& status, char** out) {
  if (out != nullptr) *out = CopyOut(assistant::DumpJson(ErrorBody(status)));
  return assistant::capi::ErrorCodeFor(status);
}

// Params and settings are client input: parsed as the server parses a
// request body (duplicate keys, invalid UTF-8 and deep nesting refused).
Result<Json> ParseObject(const char* text, const char* what) {
  if (text == nullptr || *text == '\0') return Json::object();
  Result<Json> j = assistant::ParseJsonInput(text);
  if (!j.ok()) return assistant::MalformedError(std::string(what) + ": " + j.status().message());
  if (!j->is_object()) {
    return assistant::MalformedError(std::string(what) + " must be a JSON object");
  }
  return j;
}

Status NullHandle() {
  return assistant::InvalidArgumentError("the assistant handle is NULL", "assistant");
}

// Runs `body`, turning any exception into ASSISTANT_ERR_INTERNAL.
template <typename Fn>
int Guard(char** out, Fn&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(
        assistant::Status(assistant::StatusCode::kResourceExhausted, "out of memory", "too_large"),
        out);
  } catch (const std::exception& e) {
    return Fail(assistant::InternalError(std::string("unexpected failure: ") + e.what()), out);
  } catch (...) {
    return Fail(assistant::InternalError("unexpected failure"), out);
  }
}

// The library frees what a tool callback returns with free(): the callback
// allocated it with malloc (assistant.h).
struct MallocedString {
  char* p;
  ~MallocedString() { std::free(p); }
};

}  // namespace

extern "C" {

const char* assistant_version(void) { return ASSISTANT_VERSION_STRING; }

const char* assistant_error_name(int code) { return assistant::capi::ErrorCodeName(code); }

int assistant_open(const char* config_json, assistant_s** out, char** error_json) {
  if (error_json != nullptr) *error_json = nullptr;
  if (out == nullptr) {
    return Fail(assistant::InvalidArgumentError("out is NULL", "out"), error_json);
  }
  *out = nullptr;
  return Guard(error_json, [&]() -> int {
    auto config = ParseObject(config_json, "config_json");
    if (!config.ok()) return Fail(config.status(), error_json);
    auto options = assistant::capi::OptionsFromConfig(*config);
    if (!options.ok()) return Fail(options.status(), error_json);
    auto core = assistant::Assistant::Open(*options);
    if (!core.ok()) return Fail(core.status(), error_json);
    auto handle = std::make_unique<assistant_s>();
    handle->core = std::move(*core);
    handle->known_users = std::make_unique<assistant::api::KnownUsers>(
        handle->core->options().auth.session_cache_ttl);
    *out = handle.release();
    return ASSISTANT_OK;
  });
}

void assistant_close(assistant_s* a) {
  try {
    delete a;
  } catch (...) {
    // Destruction failing leaves nothing to do; the boundary stays clean.
  }
}

int assistant_call(assistant_s* a, const char* method, const char* params_json,
                   char** result_json) {
  if (result_json != nullptr) *result_json = nullptr;
  return Guard(result_json, [&]() -> int {
    if (a == nullptr) return Fail(NullHandle(), result_json);
    if (method == nullptr) {
      return Fail(assistant::InvalidArgumentError("method is NULL", "method"), result_json);
    }
    auto params = ParseObject(params_json, "params_json");
    if (!params.ok()) return Fail(params.status(), result_json);
    auto result = assistant::api::Invoke(*a->core, method, *params, {}, a->known_users.get());
    if (!result.ok()) return Fail(result.status(), result_json);
    if (result_json != nullptr) *result_json = CopyOut(*result);
    return ASSISTANT_OK;
  });
}

int assistant_stream(assistant_s* a, const char* method, const char* params_json,
                     assistant_event_fn on_event, void* user) {
  bool error_delivered = false;
  bool cancelled = false;
  // An error known before the first event reaches the callback as the
  // stream's one "error" event.
  auto deliver_error = [&](const Status& status) {
    if (on_event != nullptr && !error_delivered) {
      error_delivered = true;
      const std::string data = assistant::DumpJson(ErrorBody(status));
      on_event(user, "error", data.c_str());
    }
    return assistant::capi::ErrorCodeFor(status);
  };
  try {
    if (a == nullptr) return deliver_error(NullHandle());
    if (method == nullptr) {
      return deliver_error(assistant::InvalidArgumentError("method is NULL", "method"));
    }
    if (on_event == nullptr) {
      return deliver_error(assistant::InvalidArgumentError("on_event is NULL", "on_event"));
    }
    auto params = ParseObject(params_json, "params_json");
    if (!params.ok()) return deliver_error(params.status());
    std::string data;
    auto result = assistant::api::Stream(
        *a->core, method, *params,
        [&](std::string_view event, const Json& payload) {
          if (cancelled) return false;
          if (event == "error") error_delivered = true;
          data.clear();
          assistant::AppendJson(data, payload);
          const std::string name(event);
          if (on_event(user, name.c_str(), data.c_str()) != 0) cancelled = true;
          return !cancelled;
        },
        {}, a->known_users.get());
    if (cancelled) return ASSISTANT_ERR_CANCELLED;
    if (!result.ok()) return deliver_error(result.status());
    return ASSISTANT_OK;
  } catch (const std::exception& e) {
    return deliver_error(assistant::InternalError(std::string("unexpected failure: ") + e.what()));
  } catch (...) {
    return deliver_error(assistant::InternalError("unexpected failure"));
  }
}

int assistant_register_tool(assistant_s* a, const char* tool_json,
                            char* (*run)(void* user, const char* args_json), void* user) {
  return Guard(nullptr, [&]() -> int {
    if (a == nullptr) return Fail(NullHandle(), nullptr);
    if (run == nullptr) {
      return Fail(assistant::InvalidArgumentError("run is NULL", "run"), nullptr);
    }
    auto spec_json = ParseObject(tool_json, "tool_json");
    if (!spec_json.ok()) return Fail(spec_json.status(), nullptr);
    assistant::Tool tool;
    auto name = assistant::api::RequiredString(*spec_json, "name");
    if (!name.ok()) return Fail(name.status(), nullptr);
    tool.spec.name = *name;
    auto description = assistant::api::OptString(*spec_json, "description");
    if (!description.ok()) return Fail(description.status(), nullptr);
    tool.spec.description = description->value_or("");
    auto parameters = spec_json->find("parameters");
    tool.spec.parameters = parameters == spec_json->end()
                               ? Json{{"type", "object"}, {"properties", Json::object()}}
                               : *parameters;
    tool.run = [run, user, tool_name = tool.spec.name](const assistant::ToolContext&,
                                                       const Json& args) -> Result<Json> {
      const std::string text = assistant::DumpJson(args);
      MallocedString out{run(user, text.c_str())};
      if (out.p == nullptr) {
        return assistant::Status(assistant::StatusCode::kInternal,
                                 "tool " + tool_name + " returned no result", "tool_failed");
      }
      Result<Json> value = assistant::ParseJsonInput(out.p);
      if (!value.ok()) {
        return assistant::Status(assistant::StatusCode::kInternal,
                                 "tool " + tool_name + " returned text that is not JSON: " +
                                     value.status().message(),
                                 "tool_failed");
      }
      return value;
    };
    Status registered = a->core->agent().tools().Register(std::move(tool));
    if (!registered.ok()) return Fail(registered, nullptr);
    return ASSISTANT_OK;
  });
}

void assistant_free(char* p) { std::free(p); }

}  // extern "C"
