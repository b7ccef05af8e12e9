#include "assistant/status.hpp"

#include <cstdio>
#include <cstdlib>

#include "assistant/version.hpp"

namespace assistant {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kCancelled: return "cancelled";
    case StatusCode::kUnknown: return "unknown";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kDeadlineExceeded: return "deadline_exceeded";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kAlreadyExists: return "already_exists";
    case StatusCode::kPermissionDenied: return "permission_denied";
    case StatusCode::kResourceExhausted: return "resource_exhausted";
    case StatusCode::kFailedPrecondition: return "failed_precondition";
    case StatusCode::kAborted: return "aborted";
    case StatusCode::kOutOfRange: return "out_of_range";
    case StatusCode::kUnimplemented: return "unimplemented";
    case StatusCode::kInternal: return "internal";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kDataLoss: return "data_loss";
    case StatusCode::kUnauthenticated: return "unauthenticated";
  }
  return "unknown";
}

Status::Status(StatusCode code, std::string message, std::string reason,
               std::string field)
    : code_(code),
      reason_(std::move(reason)),
      message_(std::move(message)),
      field_(std::move(field)) {
  if (reason_.empty()) reason_ = StatusCodeName(code_);
  if (code_ == StatusCode::kOk) {
    reason_.clear();
    message_.clear();
    field_.clear();
  }
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out = reason_;
  out += ": ";
  out += message_;
  if (!field_.empty()) out += " (field " + field_ + ")";
  return out;
}

bool operator==(const Status& a, const Status& b) {
  return a.code() == b.code() && a.reason() == b.reason() &&
         a.message() == b.message() && a.field() == b.field();
}

Status InvalidArgumentError(std::string message, std::string field, std::string reason) {
  return Status(StatusCode::kInvalidArgument, std::move(message), std::move(reason),
                std::move(field));
}
Status MalformedError(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message), "malformed_request");
}
Status NotFoundError(std::string message, std::string reason) {
  return Status(StatusCode::kNotFound, std::move(message), std::move(reason));
}
Status AlreadyExistsError(std::string message, std::string reason) {
  return Status(StatusCode::kAlreadyExists, std::move(message), std::move(reason));
}
Status UnauthenticatedError(std::string message, std::string reason) {
  return Status(StatusCode::kUnauthenticated, std::move(message), std::move(reason));
}
Status PermissionDeniedError(std::string message, std::string reason) {
  return Status(StatusCode::kPermissionDenied, std::move(message), std::move(reason));
}
Status ResourceExhaustedError(std::string message, std::string reason) {
  return Status(StatusCode::kResourceExhausted, std::move(message), std::move(reason));
}
Status FailedPreconditionError(std::string message, std::string reason) {
  return Status(StatusCode::kFailedPrecondition, std::move(message), std::move(reason));
}
Status InternalError(std::string message) {
  return Status(StatusCode::kInternal, std::move(message), "internal_error");
}
Status UnavailableError(std::string message, std::string reason) {
  return Status(StatusCode::kUnavailable, std::move(message), std::move(reason));
}
Status DeadlineExceededError(std::string message, std::string reason) {
  return Status(StatusCode::kDeadlineExceeded, std::move(message), std::move(reason));
}
Status CancelledError(std::string message) {
  return Status(StatusCode::kCancelled, std::move(message), "cancelled");
}
Status DataLossError(std::string message) {
  return Status(StatusCode::kDataLoss, std::move(message), "data_loss");
}
Status AbortedError(std::string message, std::string reason) {
  return Status(StatusCode::kAborted, std::move(message), std::move(reason));
}

const char* Version() { return ASSISTANT_VERSION_STRING; }
int VersionNumber() { return ASSISTANT_VERSION_NUMBER; }

namespace internal {

void DieOnBadResultAccess(const Status& status) {
  std::fprintf(stderr, "libassistant: the value of a failed Result was used: %s\n",
               status.ToString().c_str());
  std::abort();
}

}  // namespace internal

}  // namespace assistant
