#include "http_call.hpp"

#include <httplib.h>

#include "llm/http_provider.hpp"

namespace assistant::client::internal {
namespace {

StatusCode CodeForHttpStatus(int status) {
  switch (status) {
    case 400:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kAlreadyExists;
    case 413:
    case 429:
      return StatusCode::kResourceExhausted;
    case 415:
    case 422:
      return StatusCode::kInvalidArgument;
    case 502:
    case 503:
      return StatusCode::kUnavailable;
    case 504:
      return StatusCode::kDeadlineExceeded;
    default:
      return status >= 500 ? StatusCode::kInternal : StatusCode::kUnknown;
  }
}

}  // namespace

std::string Escape(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<HttpReply> Send(const ClientOptions& options, const HttpRequest& request) {
  ASSISTANT_ASSIGN_OR_RETURN(auto url, llm::ParseBaseUrl(options.base_url));
  // A client per exchange: no state shared between threads, and a stream
  // holds its own connection.
  httplib::Client cli(url.origin);
  const auto connect = options.connect_timeout.count();
  const auto read = options.read_timeout.count();
  cli.set_connection_timeout(connect / 1000, (connect % 1000) * 1000);
  cli.set_read_timeout(read / 1000, (read % 1000) * 1000);
  cli.set_write_timeout(read / 1000, (read % 1000) * 1000);
  cli.set_keep_alive(false);

  httplib::Request req;
  req.method = request.method;
  req.path = url.path_prefix + request.path;
  req.headers.emplace("Accept", request.on_chunk ? "text/event-stream" : "application/json");
  if (!request.bearer.empty()) req.headers.emplace("Authorization", "Bearer " + request.bearer);
  for (const auto& [k, v] : request.headers) req.headers.emplace(k, v);
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    req.body = request.body;
    req.headers.emplace("Content-Type", "application/json");
  }
  HttpReply reply;
  bool streaming = false;
  if (request.on_chunk) {
    req.response_handler = [&](const httplib::Response& res) {
      reply.status = res.status;
      reply.request_id = res.get_header_value("X-Request-ID");
      streaming = res.status >= 200 && res.status < 300;
      return true;
    };
    req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
      if (!streaming) {
        reply.body.append(data, size);  // an error body: read it whole
        return true;
      }
      return request.on_chunk(std::string_view(data, size));
    };
  }
  httplib::Result res = cli.send(req);
  if (!res) {
    const httplib::Error err = res.error();
    if (err == httplib::Error::Canceled && streaming) return reply;  // the caller stopped
    if (err == httplib::Error::Read && streaming) {
      return UnavailableError("the connection was lost mid-stream", "connection_lost");
    }
    if (err == httplib::Error::Read || err == httplib::Error::Write) {
      return DeadlineExceededError("the server did not answer in time", "timeout");
    }
    return UnavailableError(
        "cannot reach the server at " + url.origin + ": " + httplib::to_string(err),
        "connection_failed");
  }
  if (!request.on_chunk) {
    reply.status = res->status;
    reply.body = std::move(res->body);
    reply.request_id = res->get_header_value("X-Request-ID");
  }
  return reply;
}

Status ErrorFromReply(const HttpReply& reply) {
  Json body = Json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  std::string reason = "http_" + std::to_string(reply.status);
  std::string message = "the server answered " + std::to_string(reply.status);
  std::string field;
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    const Json& e = body["error"];
    if (e.value("code", Json()).is_string()) reason = e["code"].get<std::string>();
    if (e.value("message", Json()).is_string()) message = e["message"].get<std::string>();
    if (e.value("field", Json()).is_string()) field = e["field"].get<std::string>();
  }
  if (!reply.request_id.empty()) message += " (request id " + reply.request_id + ")";
  return Status(CodeForHttpStatus(reply.status), message, reason, field);
}

Result<Json> JsonResult(const Result<HttpReply>& reply) {
  if (!reply.ok()) return reply.status();
  if (reply->status < 200 || reply->status >= 300) return ErrorFromReply(*reply);
  if (reply->status == 204 || reply->body.empty()) return Json::object();
  Json body = Json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return UnavailableError("the server's answer is not JSON", "bad_response");
  }
  return body;
}

}  // namespace assistant::client::internal
