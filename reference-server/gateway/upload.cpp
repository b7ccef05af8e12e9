// Request bodies at the gateway (docs/gateway.md "Uploads"): a small one is
// read whole by the transport and forwarded like any request; a large or
// chunked one is passed to the backend as the transport reads it
// (UpstreamCall::StartUpload, forwarder.hpp), and its answer relayed as any, the body limit counted while reading.
#include "gateway.hpp"

namespace assistant::gateway {

bool Gateway::StreamsBody(const Request& head) { return server::IsLargeUpload(head); }

void Gateway::ForwardUpload(const Request& req, Response& res, const std::string& request_id,
                            const std::string& client_ip, const server::OutboundRequest& out) {
  // The body can be read once: one backend, no retry.
  Backend* b = Order().front();
  const server::Upstream upstream = UpstreamOf(*b);
  server::http::BodyReader& body = *req.body_reader;
  auto answer = server::UpstreamCall::StartUpload(upstream, out, server::DeclaredLength(req), body);
  if (!answer.ok()) {
    switch (body.error()) {
      case server::http::BodyReader::Error::kTooLarge:
        return Fail(res, 413, "payload_too_large", "the request body is too large", request_id);
      case server::http::BodyReader::Error::kMalformed:
      case server::http::BodyReader::Error::kGone:
        return Fail(res, 400, "malformed_request", "the request body could not be read",
                    request_id);
      case server::http::BodyReader::Error::kNone:
        break;
    }
    if (answer.status().code() == StatusCode::kDeadlineExceeded) {
      return Fail(res, 504, "upstream_timeout", "the backend did not answer in time", request_id);
    }
    b->up = false;  // out until its health check passes again
    logger_.Warn("backend failed; taken out", {{"request_id", request_id},
                                                {"method", req.method},
                                                {"ip", client_ip},
                                                {"cause", answer.status().message()}});
    return Fail(res, 502, "upstream_error", "the backend failed during the upload", request_id);
  }
  const int status = (*answer)->status();
  // A relay cut short leaves none of the backend's headers on the 502.
  if (Status s = server::RelayAnswer(*std::move(answer), AnswerPolicy(), req.method, res);
      !s.ok()) {
    return Fail(res, 502, "upstream_error", "the backend's answer was cut short", request_id);
  }
  res.status = status;
}

}  // namespace assistant::gateway
