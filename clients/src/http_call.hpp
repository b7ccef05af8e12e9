// One HTTP exchange of the client libraries with assistant-server or
// assistant-gateway, over cpp-httplib (HTTP and HTTPS), and the one place
// that turns an answer into the core's error model: a server error keeps
// its code (Status::reason), message and field, and the request id.
#ifndef ASSISTANT_CLIENTS_HTTP_CALL_HPP_
#define ASSISTANT_CLIENTS_HTTP_CALL_HPP_

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "assistant/client/auth_client.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant::client::internal {

struct HttpReply {
  int status = 0;
  std::string body;
  std::string request_id;
};

struct HttpRequest {
  std::string method = "GET";
  std::string path;  // with its query, already encoded
  std::string body;  // JSON, sent when not empty (or for POST/PUT/PATCH)
  std::string bearer;
  std::map<std::string, std::string> headers;
  // Set for a streamed answer: called with each chunk of a 2xx body as it
  // arrives; return false to stop reading.
  std::function<bool(std::string_view)> on_chunk;
};

// Unavailable ("connection_failed") when the server cannot be reached,
// DeadlineExceeded ("timeout") when it stops answering, InvalidArgument for
// a bad base URL. A non-2xx answer is returned as a reply, not an error.
Result<HttpReply> Send(const ClientOptions& options, const HttpRequest& request);

// The Status of a non-2xx reply: the code mapped from the HTTP status, the
// server's error code as the reason, its message (with " (request id X)"),
// and its field.
Status ErrorFromReply(const HttpReply& reply);

// The reply's JSON body, or its error.
Result<Json> JsonResult(const Result<HttpReply>& reply);

// Percent-encodes one path segment or query value.
std::string Escape(std::string_view text);

}  // namespace assistant::client::internal

#endif  // ASSISTANT_CLIENTS_HTTP_CALL_HPP_
