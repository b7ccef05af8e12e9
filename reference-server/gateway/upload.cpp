// Request bodies at the gateway (docs/gateway.md "Uploads"): a small one is
// read whole and forwarded like any request; a large or chunked one is
// passed to the backend as it is read (ExchangeUpload, forwarder.hpp), with
// --body-limit counted while reading.
#include <optional>

#include "gateway.hpp"
#include "http/httplib_adapter.hpp"
#include "request_id.hpp"

namespace assistant::gateway {
namespace {

// A body up to this size is read whole: it may be retried on another
// backend, and its answer may stream.
constexpr size_t kWholeBody = 64 * 1024;

// The declared Content-Length; nullopt for a chunked body (or a bad length,
// which cpp-httplib refused before this).
std::optional<size_t> DeclaredLength(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) {
    if (req.has_header("Transfer-Encoding")) return std::nullopt;
    return 0;
  }
  const std::string v = req.get_header_value("Content-Length");
  if (v.empty() || v.size() > 15 || v.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return static_cast<size_t>(std::stoull(v));
}

}  // namespace

void Gateway::HandleBody(const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader& reader) {
  const auto length = DeclaredLength(req);
  const bool streams = (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") &&
                       !req.is_multipart_form_data() && !GatewayApps::Owns(req.path) &&
                       (!length || *length > kWholeBody);
  if (streams) return Handle(req, res, &reader);

  httplib::Request whole = req;
  // A multipart body is refused in Handle, unread (cpp-httplib would parse it).
  if (!req.is_multipart_form_data()) {
    bool too_large = false;
    const bool read = reader([&](const char* data, size_t n) {
      if (whole.body.size() + n > config_.body_limit) {
        too_large = true;
        return false;
      }
      whole.body.append(data, n);
      return true;
    });
    if (!read) {
      return too_large || res.status == 413
                 ? Refuse(req, res, 413, "payload_too_large", "the request body is too large")
                 : Refuse(req, res, 400, "malformed_request", "the request body could not be read");
    }
  }
  Handle(whole, res);
}

void Gateway::ForwardUpload(const httplib::Request& req, httplib::Response& res,
                            const std::string& request_id, const server::OutboundRequest& out,
                            const httplib::ContentReader& body) {
  // The body can be read once: one backend, no retry.
  Backend* b = Order().front();
  const server::Upstream upstream = UpstreamOf(*b);

  size_t seen = 0;
  bool too_large = false;
  auto read = [&](const std::function<bool(const char*, size_t)>& piece) {
    return body([&](const char* data, size_t n) {
      seen += n;
      if (seen > config_.body_limit) {
        too_large = true;
        return false;
      }
      return piece(data, n);
    });
  };
  auto answer = server::ExchangeUpload(upstream, out, DeclaredLength(req), read);
  if (!answer.ok()) {
    if (too_large || res.status == 413) {
      return Fail(res, 413, "payload_too_large", "the request body is too large", request_id);
    }
    if (answer.status().reason() == "body_unread") {
      return Fail(res, 400, "malformed_request", "the request body could not be read",
                  request_id);
    }
    if (answer.status().code() == StatusCode::kDeadlineExceeded) {
      return Fail(res, 504, "upstream_timeout", "the backend did not answer in time", request_id);
    }
    b->up = false;  // out until its health check passes again
    logger_.Warn("backend failed; taken out", {{"request_id", request_id}, {"method", req.method}});
    return Fail(res, 502, "upstream_error", "the backend failed during the upload", request_id);
  }
  server::http::Response relayed;
  server::RelayWhole(*std::move(answer), AnswerPolicy(), relayed);
  server::http::ToLibrary(std::move(relayed), res);
}

}  // namespace assistant::gateway
