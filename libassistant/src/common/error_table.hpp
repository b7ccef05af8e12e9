// The one error table: for each reason a client switches on, its C error
// code (assistant.h ASSISTANT_ERR_*, frozen) and its HTTP status; for any
// other reason, its kind's (StatusCode) code and status. HttpStatusFor
// (assistant/http_status.hpp), the C ABI and the generated tables of
// docs/c-api.md all read it, so no adapter decides a status by itself.
//
// Thread safety: constant data and pure functions.
#ifndef ASSISTANT_SRC_COMMON_ERROR_TABLE_HPP_
#define ASSISTANT_SRC_COMMON_ERROR_TABLE_HPP_

#include <cstddef>
#include <string_view>

#include "assistant/status.hpp"

namespace assistant::errors {

struct ErrorReason {
  std::string_view reason;
  // The kind it comes with (documentation: the status of an error is
  // decided by its own kind, this only shows it in the tables).
  StatusCode kind;
  // Frozen: a reason keeps its number forever; new ones are appended.
  // Reasons that mean the same to a caller share a code; the first
  // spelling names it.
  int c_code;
  // 0: the status of the error's kind (HttpStatusOfKind).
  int http_status;
  // What a client is told for a 5xx in place of the internal message;
  // nullptr: the kind's words (ClientMessageOfStatus).
  const char* client_message;
};

// In C-code order.
inline constexpr ErrorReason kReasons[] = {
    {"internal_error", StatusCode::kInternal, 1, 0, nullptr},
    {"malformed_request", StatusCode::kInvalidArgument, 2, 0, nullptr},
    {"invalid_field", StatusCode::kInvalidArgument, 3, 0, nullptr},
    {"invalid_argument", StatusCode::kInvalidArgument, 3, 0, nullptr},
    {"missing_field", StatusCode::kInvalidArgument, 4, 0, nullptr},
    {"not_found", StatusCode::kNotFound, 5, 0, nullptr},
    {"unknown_method", StatusCode::kNotFound, 6, 0, nullptr},
    {"unknown_user", StatusCode::kNotFound, 7, 0, nullptr},
    {"unauthenticated", StatusCode::kUnauthenticated, 8, 0, nullptr},
    {"missing_principal", StatusCode::kUnauthenticated, 9, 0, nullptr},
    {"invalid_token", StatusCode::kUnauthenticated, 10, 0, nullptr},
    {"invalid_credentials", StatusCode::kUnauthenticated, 11, 0, nullptr},
    {"refresh_token_reused", StatusCode::kUnauthenticated, 12, 0, nullptr},
    {"insufficient_scope", StatusCode::kPermissionDenied, 13, 0, nullptr},
    {"permission_denied", StatusCode::kPermissionDenied, 14, 0, nullptr},
    {"email_taken", StatusCode::kAlreadyExists, 15, 0, nullptr},
    {"conflict", StatusCode::kAlreadyExists, 16, 0, nullptr},
    {"already_exists", StatusCode::kAlreadyExists, 16, 0, nullptr},
    {"not_a_session", StatusCode::kFailedPrecondition, 17, 0, nullptr},
    {"failed_precondition", StatusCode::kFailedPrecondition, 18, 0, nullptr},
    {"rate_limited", StatusCode::kResourceExhausted, 19, 0, nullptr},
    {"busy", StatusCode::kResourceExhausted, 20, 0, nullptr},
    // Agent::Start with AgentOptions::max_turns_in_flight turns running.
    {"agent_busy", StatusCode::kResourceExhausted, 20, 0, nullptr},
    {"too_large", StatusCode::kResourceExhausted, 21, 0, nullptr},
    {"payload_too_large", StatusCode::kResourceExhausted, 21, 413, nullptr},
    {"unavailable", StatusCode::kUnavailable, 22, 0, nullptr},
    // Not 429: clients retry a 429 as rate limiting, and a full disk does
    // not clear by waiting.
    {"storage_full", StatusCode::kResourceExhausted, 23, 507, "the server's storage is full"},
    {"upstream_error", StatusCode::kUnavailable, 24, 502, "the upstream service failed"},
    {"upstream_timeout", StatusCode::kDeadlineExceeded, 25, 0, "the upstream service timed out"},
    {"cancelled", StatusCode::kCancelled, 26, 0, nullptr},
    {"turn_timeout", StatusCode::kDeadlineExceeded, 27, 0, "the turn ran longer than its time limit"},
    {"invalid_config", StatusCode::kInvalidArgument, 28, 0, nullptr},
    {"not_streamable", StatusCode::kFailedPrecondition, 29, 0, nullptr},
    {"invalid_cursor", StatusCode::kInvalidArgument, 30, 0, nullptr},
    {"ambiguous_task", StatusCode::kInvalidArgument, 31, 0, nullptr},
    {"already_verified", StatusCode::kFailedPrecondition, 32, 0, nullptr},
    {"schema_too_new", StatusCode::kFailedPrecondition, 33, 0, nullptr},
    {"weak_secret", StatusCode::kFailedPrecondition, 34, 0, nullptr},
    {"tool_exists", StatusCode::kAlreadyExists, 35, 0, nullptr},
    {"unknown_tool", StatusCode::kNotFound, 36, 0, nullptr},
    {"run_abandoned", StatusCode::kAborted, 37, 0, nullptr},
    {"backend_unavailable", StatusCode::kUnimplemented, 38, 0, nullptr},
    {"invalid_database_url", StatusCode::kInvalidArgument, 39, 0, nullptr},
    {"deadline_exceeded", StatusCode::kDeadlineExceeded, 40, 0, nullptr},
    {"data_loss", StatusCode::kDataLoss, 41, 0, nullptr},
    {"unimplemented", StatusCode::kUnimplemented, 42, 0, nullptr},
    {"out_of_range", StatusCode::kOutOfRange, 43, 0, nullptr},
};

// The entry of `reason`, or nullptr.
constexpr const ErrorReason* FindReason(std::string_view reason) {
  for (const ErrorReason& e : kReasons) {
    if (e.reason == reason) return &e;
  }
  return nullptr;
}

// A kind's HTTP status. InvalidArgument is 422 when it names a field (a
// readable request with a bad value) and 400 when not (the request itself
// could not be read).
int HttpStatusOfKind(StatusCode code, bool names_field);
// A kind's C error code.
int CErrorCodeOfKind(StatusCode code);

// The C error code of a status: its reason's, else its kind's; 0 for OK.
int CErrorCodeFor(const Status& status);
// The reason a C code stands for; "ok" for 0, "unknown" for other codes.
const char* CErrorCodeName(int code);
// The highest C code (codes run 1..LastCErrorCode()).
int LastCErrorCode();

// The words a client gets for a 5xx `http_status` of `status` (never the
// internal message).
const char* ClientMessageOfStatus(const Status& status, int http_status);

}  // namespace assistant::errors

#endif  // ASSISTANT_SRC_COMMON_ERROR_TABLE_HPP_
