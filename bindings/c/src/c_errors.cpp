#include "c_errors.hpp"

#include <string_view>

// The handle is struct assistant_s here: `assistant` is the core's namespace.
#define ASSISTANT_H_NO_HANDLE_TYPEDEF
#include "assistant.h"

namespace assistant::capi {
namespace {

struct Entry {
  int code;
  const char* reason;
};

// Frozen: append only (assistant.h says so too). Where two reasons mean the
// same thing to a caller they share a code; the first spelling is the name.
constexpr Entry kTable[] = {
    {ASSISTANT_ERR_INTERNAL, "internal_error"},
    {ASSISTANT_ERR_MALFORMED_REQUEST, "malformed_request"},
    {ASSISTANT_ERR_INVALID_ARGUMENT, "invalid_field"},
    {ASSISTANT_ERR_INVALID_ARGUMENT, "invalid_argument"},
    {ASSISTANT_ERR_MISSING_FIELD, "missing_field"},
    {ASSISTANT_ERR_NOT_FOUND, "not_found"},
    {ASSISTANT_ERR_UNKNOWN_METHOD, "unknown_method"},
    {ASSISTANT_ERR_UNKNOWN_USER, "unknown_user"},
    {ASSISTANT_ERR_UNAUTHENTICATED, "unauthenticated"},
    {ASSISTANT_ERR_MISSING_PRINCIPAL, "missing_principal"},
    {ASSISTANT_ERR_INVALID_TOKEN, "invalid_token"},
    {ASSISTANT_ERR_INVALID_CREDENTIALS, "invalid_credentials"},
    {ASSISTANT_ERR_REFRESH_TOKEN_REUSED, "refresh_token_reused"},
    {ASSISTANT_ERR_INSUFFICIENT_SCOPE, "insufficient_scope"},
    {ASSISTANT_ERR_PERMISSION_DENIED, "permission_denied"},
    {ASSISTANT_ERR_EMAIL_TAKEN, "email_taken"},
    {ASSISTANT_ERR_CONFLICT, "conflict"},
    {ASSISTANT_ERR_CONFLICT, "already_exists"},
    {ASSISTANT_ERR_NOT_A_SESSION, "not_a_session"},
    {ASSISTANT_ERR_FAILED_PRECONDITION, "failed_precondition"},
    {ASSISTANT_ERR_RATE_LIMITED, "rate_limited"},
    {ASSISTANT_ERR_BUSY, "busy"},
    {ASSISTANT_ERR_TOO_LARGE, "too_large"},
    {ASSISTANT_ERR_TOO_LARGE, "payload_too_large"},
    {ASSISTANT_ERR_UNAVAILABLE, "unavailable"},
    {ASSISTANT_ERR_STORAGE_FULL, "storage_full"},
    {ASSISTANT_ERR_UPSTREAM_ERROR, "upstream_error"},
    {ASSISTANT_ERR_UPSTREAM_TIMEOUT, "upstream_timeout"},
    {ASSISTANT_ERR_CANCELLED, "cancelled"},
    {ASSISTANT_ERR_TURN_TIMEOUT, "turn_timeout"},
    {ASSISTANT_ERR_INVALID_CONFIG, "invalid_config"},
    {ASSISTANT_ERR_NOT_STREAMABLE, "not_streamable"},
    {ASSISTANT_ERR_INVALID_CURSOR, "invalid_cursor"},
    {ASSISTANT_ERR_AMBIGUOUS_TASK, "ambiguous_task"},
    {ASSISTANT_ERR_ALREADY_VERIFIED, "already_verified"},
    {ASSISTANT_ERR_SCHEMA_TOO_NEW, "schema_too_new"},
    {ASSISTANT_ERR_WEAK_SECRET, "weak_secret"},
    {ASSISTANT_ERR_TOOL_EXISTS, "tool_exists"},
    {ASSISTANT_ERR_UNKNOWN_TOOL, "unknown_tool"},
    {ASSISTANT_ERR_RUN_ABANDONED, "run_abandoned"},
    {ASSISTANT_ERR_BACKEND_UNAVAILABLE, "backend_unavailable"},
    {ASSISTANT_ERR_INVALID_DATABASE_URL, "invalid_database_url"},
    {ASSISTANT_ERR_DEADLINE_EXCEEDED, "deadline_exceeded"},
    {ASSISTANT_ERR_DATA_LOSS, "data_loss"},
    {ASSISTANT_ERR_UNIMPLEMENTED, "unimplemented"},
    {ASSISTANT_ERR_OUT_OF_RANGE, "out_of_range"},
};

int CodeOfKind(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return ASSISTANT_OK;
    case StatusCode::kCancelled:
      return ASSISTANT_ERR_CANCELLED;
    case StatusCode::kInvalidArgument:
      return ASSISTANT_ERR_INVALID_ARGUMENT;
    case StatusCode::kDeadlineExceeded:
      return ASSISTANT_ERR_DEADLINE_EXCEEDED;
    case StatusCode::kNotFound:
      return ASSISTANT_ERR_NOT_FOUND;
    case StatusCode::kAlreadyExists:
      return ASSISTANT_ERR_CONFLICT;
    case StatusCode::kPermissionDenied:
      return ASSISTANT_ERR_PERMISSION_DENIED;
    case StatusCode::kResourceExhausted:
      return ASSISTANT_ERR_BUSY;
    case StatusCode::kFailedPrecondition:
      return ASSISTANT_ERR_FAILED_PRECONDITION;
    case StatusCode::kAborted:
      return ASSISTANT_ERR_CONFLICT;
    case StatusCode::kOutOfRange:
      return ASSISTANT_ERR_OUT_OF_RANGE;
    case StatusCode::kUnimplemented:
      return ASSISTANT_ERR_UNIMPLEMENTED;
    case StatusCode::kUnavailable:
      return ASSISTANT_ERR_UNAVAILABLE;
    case StatusCode::kDataLoss:
      return ASSISTANT_ERR_DATA_LOSS;
    case StatusCode::kUnauthenticated:
      return ASSISTANT_ERR_UNAUTHENTICATED;
    default:
      return ASSISTANT_ERR_INTERNAL;
  }
}

}  // namespace

int ErrorCodeFor(const Status& status) {
  if (status.ok()) return ASSISTANT_OK;
  for (const auto& e : kTable) {
    if (status.reason() == e.reason) return e.code;
  }
  return CodeOfKind(status.code());
}

const char* ErrorCodeName(int code) {
  if (code == ASSISTANT_OK) return "ok";
  for (const auto& e : kTable) {
    if (e.code == code) return e.reason;
  }
  return "unknown";
}

int LastErrorCode() {
  int last = 0;
  for (const auto& e : kTable) last = e.code > last ? e.code : last;
  return last;
}

}  // namespace assistant::capi
