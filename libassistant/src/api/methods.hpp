// The core's operations by name, JSON in and JSON out: one table that maps
// a method name ("tasks.create") to its handler and its documentation. The
// C ABI's assistant_call and assistant_stream dispatch through it, and
// docs/c-api.md is generated from it (tests fail when the two differ).
//
// Handlers only read their parameters, call a service and render the result
// with api/json_shapes.hpp; every rule (validation, scopes, ownership) stays
// in the services, so a method behaves exactly as its HTTP route does.
//
// Who calls is a field of the parameters (docs/c-api.md "Principal"):
//   {"principal": {"token": "<access token or API key>"}}  a user, with the
//       credential's scopes, as over HTTP;
//   {"principal": {"user_id": "..."}}  the embedding program acting for a
//       user, trusted with every scope (Principal::ForUser).
//
// Thread safety: the table is immutable; Invoke and Stream may run on many
// threads at once (the services are thread-safe).
#ifndef ASSISTANT_API_METHODS_HPP_
#define ASSISTANT_API_METHODS_HPP_

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "assistant/core.hpp"

namespace assistant::api {

// One call as a handler sees it.
struct MethodCall {
  const Json& params;                  // always an object
  std::optional<Principal> principal;  // set when the method needs one
  std::string credential;              // the token as presented, if any
  RequestContext ctx;
};

// One streamed event: the SSE event's name and its `data` payload.
using MethodEventSink = std::function<bool(std::string_view event, const Json& data)>;

struct MethodParam {
  const char* name;
  const char* type;  // as JSON Schema names it: string, integer, boolean, object, any
  bool required;
  const char* description;
};

struct Method {
  const char* name;
  const char* summary;
  bool needs_principal;
  // The API key scope the services check (documentation only; "" = none).
  const char* scope;
  std::vector<MethodParam> params;
  const char* result;  // the result's shape, in words
  // Calls the core; null for methods that only stream.
  std::function<Result<Json>(Assistant&, const MethodCall&)> run;
  // Streams events to the sink and returns the final result; null when the
  // method does not stream. The sink returning false cancels the call.
  std::function<Result<Json>(Assistant&, const MethodCall&, const MethodEventSink&)> stream =
      nullptr;
  // Set instead of `run` where the result is rendered straight to JSON text
  // (the task methods, whose renderer writes text: the hot path).
  std::function<Result<std::string>(Assistant&, const MethodCall&)> run_text = nullptr;
};

// Every method, in documentation order.
const std::vector<Method>& Methods();
// nullptr for an unknown name.
const Method* FindMethod(std::string_view name);

// Users whose existence was checked lately, so that a program calling many
// times for the same user does not read the user's row on every call. An
// entry holds for `ttl` (the core's session cache TTL: other processes'
// deletions are seen as late as revocations are); a user deleted through
// the method table is forgotten at once. A write for a user deleted
// meanwhile still fails: storage's foreign keys refuse it. One per core
// instance. Thread-safe.
class KnownUsers {
 public:
  explicit KnownUsers(std::chrono::milliseconds ttl) : ttl_(ttl) {}
  bool Contains(const std::string& user_id);
  void Add(const std::string& user_id);
  void Forget(const std::string& user_id);

 private:
  static constexpr size_t kMaxEntries = 4096;
  std::chrono::milliseconds ttl_;
  std::mutex mu_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> checked_;
};

// Turns params["principal"] into a Principal. Unauthenticated
// ("missing_principal") when absent or malformed, the credential's error
// for a bad token, NotFound ("unknown_user") for a user_id with no user.
// `credential` receives the presented token, if any.
Result<Principal> ResolvePrincipal(Assistant& core, const Json& params, std::string* credential,
                                   KnownUsers* known = nullptr);

// Runs method `name` and returns its result as JSON text. NotFound
// ("unknown_method") for an unknown name, InvalidArgument
// ("malformed_request") when params is not an object. A streaming-only
// method run this way delivers no events and returns its final result.
Result<std::string> Invoke(Assistant& core, std::string_view name, const Json& params,
                           const RequestContext& ctx = {}, KnownUsers* known = nullptr);
// Runs method `name`, delivering its events. FailedPrecondition
// ("not_streamable") for a method without events.
Result<Json> Stream(Assistant& core, std::string_view name, const Json& params,
                    const MethodEventSink& sink, const RequestContext& ctx = {},
                    KnownUsers* known = nullptr);

// docs/c-api.md's method reference, rendered from the table (Markdown).
std::string MethodsMarkdown();

}  // namespace assistant::api

#endif  // ASSISTANT_API_METHODS_HPP_
