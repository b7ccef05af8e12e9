#include "common/error_table.hpp"

#include "assistant/http_status.hpp"

namespace assistant::errors {

int HttpStatusOfKind(StatusCode code, bool names_field) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return names_field ? 422 : 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted: return 409;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kFailedPrecondition: return 400;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    default: return 500;  // Internal, Cancelled, Unknown, DataLoss, ...
  }
}

int CErrorCodeOfKind(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 0;
    case StatusCode::kCancelled: return FindReason("cancelled")->c_code;
    case StatusCode::kInvalidArgument: return FindReason("invalid_argument")->c_code;
    case StatusCode::kDeadlineExceeded: return FindReason("deadline_exceeded")->c_code;
    case StatusCode::kNotFound: return FindReason("not_found")->c_code;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted: return FindReason("conflict")->c_code;
    case StatusCode::kPermissionDenied: return FindReason("permission_denied")->c_code;
    case StatusCode::kResourceExhausted: return FindReason("busy")->c_code;
    case StatusCode::kFailedPrecondition: return FindReason("failed_precondition")->c_code;
    case StatusCode::kOutOfRange: return FindReason("out_of_range")->c_code;
    case StatusCode::kUnimplemented: return FindReason("unimplemented")->c_code;
    case StatusCode::kUnavailable: return FindReason("unavailable")->c_code;
    case StatusCode::kDataLoss: return FindReason("data_loss")->c_code;
    case StatusCode::kUnauthenticated: return FindReason("unauthenticated")->c_code;
    default: return FindReason("internal_error")->c_code;
  }
}

int CErrorCodeFor(const Status& status) {
  if (status.ok()) return 0;
  const ErrorReason* e = FindReason(status.reason());
  return e != nullptr ? e->c_code : CErrorCodeOfKind(status.code());
}

const char* CErrorCodeName(int code) {
  if (code == 0) return "ok";
  for (const ErrorReason& e : kReasons) {
    // Every reason in the table is a literal, so its view is terminated.
    if (e.c_code == code) return e.reason.data();
  }
  return "unknown";
}

int LastCErrorCode() {
  int last = 0;
  for (const ErrorReason& e : kReasons) last = e.c_code > last ? e.c_code : last;
  return last;
}

const char* ClientMessageOfStatus(const Status& status, int http_status) {
  const ErrorReason* e = FindReason(status.reason());
  if (e != nullptr && e->client_message != nullptr) return e->client_message;
  switch (http_status) {
    case 502: return "the upstream service failed";
    case 503: return "the service is unavailable; retry shortly";
    case 504: return "the upstream service timed out";
    default: return "internal error";
  }
}

}  // namespace assistant::errors
