// File: assistant/status.hpp
//
// The one error model of libassistant. Every fallible call returns a Status or
// a Result<T>. A Status has a canonical code (what kind of failure, used to
// pick an HTTP status or a C error code), a stable snake_case `reason`
// (`invalid_credentials`, `insufficient_scope`, ... — what clients switch on),
// a human message, and for invalid input the offending field.
//
// The mapping to HTTP statuses and C error codes lives in one place each
// (http_status.hpp / the C ABI's error table); nothing else decides it.
//
// Thread safety: Status and Result are values; distinct objects may be used
// from distinct threads freely, one object is not synchronised.
//
// Example:
//   assistant::Result<Task> r = tasks.Create(principal, input);
//   if (!r.ok()) { log(r.status().ToString()); return; }
//   use(r->id);
#ifndef ASSISTANT_STATUS_HPP_
#define ASSISTANT_STATUS_HPP_

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace assistant {

// Canonical codes, numbered as abseil/gRPC. Stored nowhere, but part of the
// C ABI's error table: never renumber.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,    // a field is invalid (HTTP 422) or the input is malformed (400)
  kDeadlineExceeded = 4,   // upstream timeout (504)
  kNotFound = 5,           // missing, or owned by someone else (404)
  kAlreadyExists = 6,      // conflict (409)
  kPermissionDenied = 7,   // authenticated but lacking scope (403)
  kResourceExhausted = 8,  // rate limited or too large (429/413)
  kFailedPrecondition = 9, // the operation does not apply to this state (400/409)
  kAborted = 10,           // concurrency conflict, retry may succeed (409)
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,          // a bug or a broken invariant (500)
  kUnavailable = 14,       // storage or upstream unreachable (503/502)
  kDataLoss = 15,
  kUnauthenticated = 16,   // no or bad credential (401)
};

// "ok", "invalid_argument", ... — the canonical snake_case name of a code.
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() = default;
  // `reason` defaults to StatusCodeName(code) when empty.
  Status(StatusCode code, std::string message, std::string reason = {},
         std::string field = {});

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // Stable snake_case code clients switch on, e.g. "invalid_credentials".
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  // The request field an InvalidArgument is about ("title"), or empty.
  const std::string& field() const { return field_; }

  // "not_found: task not found".
  std::string ToString() const;

  // Marks a status as deliberately ignored.
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string reason_;
  std::string message_;
  std::string field_;
};

bool operator==(const Status& a, const Status& b);
inline bool operator!=(const Status& a, const Status& b) { return !(a == b); }

// Named constructors. `reason` may refine the canonical name.
Status InvalidArgumentError(std::string message, std::string field = {},
                            std::string reason = "invalid_field");
Status MalformedError(std::string message);  // invalid_argument / "malformed_request"
Status NotFoundError(std::string message, std::string reason = "not_found");
Status AlreadyExistsError(std::string message, std::string reason = "conflict");
Status UnauthenticatedError(std::string message,
                            std::string reason = "unauthenticated");
Status PermissionDeniedError(std::string message,
                             std::string reason = "insufficient_scope");
Status ResourceExhaustedError(std::string message,
                              std::string reason = "resource_exhausted");
Status FailedPreconditionError(std::string message,
                               std::string reason = "failed_precondition");
Status InternalError(std::string message);
Status UnavailableError(std::string message, std::string reason = "unavailable");
Status DeadlineExceededError(std::string message,
                             std::string reason = "deadline_exceeded");
Status CancelledError(std::string message);
Status DataLossError(std::string message);
Status AbortedError(std::string message, std::string reason = "aborted");

inline bool IsNotFound(const Status& s) { return s.code() == StatusCode::kNotFound; }
inline bool IsAlreadyExists(const Status& s) {
  return s.code() == StatusCode::kAlreadyExists;
}
inline bool IsInvalidArgument(const Status& s) {
  return s.code() == StatusCode::kInvalidArgument;
}
inline bool IsUnauthenticated(const Status& s) {
  return s.code() == StatusCode::kUnauthenticated;
}
inline bool IsPermissionDenied(const Status& s) {
  return s.code() == StatusCode::kPermissionDenied;
}

namespace internal {
// Prints `status` to stderr and aborts: what dereferencing a failed Result
// does, so the cause is on the screen rather than a bare SIGABRT.
[[noreturn]] void DieOnBadResultAccess(const Status& status);
}  // namespace internal

// A value or an error; never an OK status without a value.
template <typename T>
class [[nodiscard]] Result {
 public:
  // NOLINTNEXTLINE(google-explicit-constructor): implicit by design
  Result(T value) : v_(std::in_place_index<1>, std::move(value)) {}
  // NOLINTNEXTLINE(google-explicit-constructor): implicit by design
  Result(Status status) : v_(std::in_place_index<0>, std::move(status)) {
    if (std::get<0>(v_).ok()) {
      v_.template emplace<0>(StatusCode::kInternal,
                             "Result constructed from an OK status");
    }
  }
  template <typename U,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                        !std::is_same_v<std::decay_t<U>, T> &&
                                        !std::is_same_v<std::decay_t<U>, Status>>>
  // NOLINTNEXTLINE(google-explicit-constructor): implicit by design
  Result(U&& value) : v_(std::in_place_index<1>, T(std::forward<U>(value))) {}

  bool ok() const { return v_.index() == 1; }
  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<0>(v_); }

  // REQUIRES: ok(). Aborts otherwise (no exceptions escape this type).
  T& value() & { Check(); return std::get<1>(v_); }
  const T& value() const& { Check(); return std::get<1>(v_); }
  T&& value() && { Check(); return std::get<1>(std::move(v_)); }
  T value_or(T def) const& { return ok() ? std::get<1>(v_) : std::move(def); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void Check() const {
    if (!ok()) internal::DieOnBadResultAccess(std::get<0>(v_));
  }
  std::variant<Status, T> v_;
};

}  // namespace assistant

#define ASSISTANT_STATUS_CONCAT_INNER_(a, b) a##b
#define ASSISTANT_STATUS_CONCAT_(a, b) ASSISTANT_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define ASSISTANT_RETURN_IF_ERROR(expr)                  \
  do {                                                   \
    ::assistant::Status assistant_status_ = (expr);      \
    if (!assistant_status_.ok()) return assistant_status_; \
  } while (0)

// `lhs = *expr` or return its status.
#define ASSISTANT_ASSIGN_OR_RETURN(lhs, expr)                              \
  ASSISTANT_ASSIGN_OR_RETURN_IMPL_(                                        \
      ASSISTANT_STATUS_CONCAT_(assistant_result_, __LINE__), lhs, expr)
#define ASSISTANT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                     \
  if (!tmp.ok()) return tmp.status();                    \
  lhs = std::move(tmp).value()

#endif  // ASSISTANT_STATUS_HPP_
