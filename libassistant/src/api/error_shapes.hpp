// The error on each wire, one renderer per shape, all from the core's error
// table (common/error_table.hpp): the JSON envelope of an HTTP error body,
// the data of a stream's `error` event (SSE and stored run events alike),
// and the OpenAI-compatible body of /v1. For a 5xx no shape carries the
// internal message (it may name hosts, files or keys): the client gets the
// table's words for the reason, and an internal error's code is
// "internal_error". The cause belongs in the log.
//
// Pure functions. Thread-safe.
#ifndef ASSISTANT_API_ERROR_SHAPES_HPP_
#define ASSISTANT_API_ERROR_SHAPES_HPP_

#include <string_view>

#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant::api {

// {"code","message"} as a client may see it.
Json ClientError(const Status& status);

// {"error":{"code","message","request_id"[,"field"]}} for an error the
// caller words itself (a transport refusal such as 405 or 415).
Json ErrorEnvelope(std::string_view code, std::string_view message,
                   std::string_view request_id, std::string_view field = {});
// The same for a status, through ClientError.
Json ErrorEnvelope(const Status& status, std::string_view request_id);

// {"error":{"code","message"}}: a stream's `error` event.
Json ErrorEventData(const Status& status);

// OpenAI's shape: {"error":{"message","type","param","code"}}, with type
// server_error for a 5xx `http_status`, else invalid_request_error.
Json OpenAiError(int http_status, std::string_view code, std::string_view message,
                 std::string_view field);

}  // namespace assistant::api

#endif  // ASSISTANT_API_ERROR_SHAPES_HPP_
