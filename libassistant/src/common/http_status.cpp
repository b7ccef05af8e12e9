#include "assistant/http_status.hpp"

namespace assistant {

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      // A named field is a well-formed request with a bad value; without
      // one the request itself could not be read (bad JSON, invalid UTF-8).
      return status.field().empty() ? 400 : 422;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
      return 409;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kResourceExhausted:
      return status.reason() == "payload_too_large" ? 413 : 429;
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kUnavailable:
      return status.reason() == "upstream_error" ? 502 : 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

int OpenAiHttpStatusFor(const Status& status) {
  const int code = HttpStatusFor(status);
  return code == 422 ? 400 : code;
}

}  // namespace assistant
