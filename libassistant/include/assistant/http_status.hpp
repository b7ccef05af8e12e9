// File: assistant/http_status.hpp
//
// The one place that turns a Status into an HTTP status code. The reference
// servers, the gateway and the HTTP client's error model all use it, so a
// given failure gets the same status everywhere (docs/server.md "Routes").
//
// A reason with a status of its own in the core's error table keeps it
// (docs/c-api.md "Error codes" lists every reason with its status):
//   payload_too_large 413   upstream_error 502   storage_full 507
// Any other status goes by its kind:
//   InvalidArgument     422 when it names a field, else 400 (malformed input)
//   NotFound            404      AlreadyExists    409
//   Unauthenticated     401      PermissionDenied 403
//   ResourceExhausted   429      FailedPrecondition  400
//   Aborted             409      Unavailable      503
//   DeadlineExceeded    504
//   anything else       500 (Internal, Cancelled, Unknown, ...)
//
// Thread safety: pure functions.
#ifndef ASSISTANT_HTTP_STATUS_HPP_
#define ASSISTANT_HTTP_STATUS_HPP_

#include "assistant/status.hpp"

namespace assistant {

// 200 for an OK status; otherwise the table above.
int HttpStatusFor(const Status& status);

}  // namespace assistant

#endif  // ASSISTANT_HTTP_STATUS_HPP_
