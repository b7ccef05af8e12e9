#include "forwarder.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "header_policy.hpp"

namespace assistant::server {
namespace {

namespace bhttp = boost::beast::http;
using boost::system::error_code;

// An answer at most this large (by its Content-Length) is read whole and
// sent with its length; anything else streams.
constexpr size_t kWholeAnswerBytes = 64 * 1024;
// The most body bytes read from the upstream in one piece.
constexpr size_t kPieceBytes = 64 * 1024;

Status Unusable() {
  return UnavailableError("the upstream's address is not usable", "upstream_error");
}

}  // namespace

bool IsIdempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
         method == "DELETE";
}

void PutRequestHead(const std::string& authority, const OutboundRequest& request,
                    bhttp::request_header<>& out) {
  out.version(11);
  out.method_string(request.method);
  out.target(request.target);
  for (const auto& [name, value] : request.headers) out.insert(name, value);
  if (!request.headers.Has("Host")) out.set(bhttp::field::host, authority);
}

// What an exchange that got no answer is: silent past a timeout, or down.
Status NoAnswerStatus(const error_code& ec) {
  if (UpstreamConnection::IsUnverified(ec)) {
    return UnavailableError("the upstream's TLS certificate did not verify", "upstream_error");
  }
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    return UnavailableError("the TLS handshake with the upstream failed", "upstream_error");
  }
  if (ec == boost::asio::error::timed_out) {
    return DeadlineExceededError("the upstream did not answer in time", "upstream_timeout");
  }
  return UnavailableError("the upstream could not be reached or failed", "upstream_error");
}

struct UpstreamCall::Exchange {
  std::shared_ptr<UpstreamPool> pool;
  std::unique_ptr<UpstreamConnection> connection;
  bool reused = false;
  bhttp::response_parser<bhttp::buffer_body> parser;
  // Reused for every read of the body; no larger than the body when its
  // length is known.
  std::unique_ptr<char[]> piece;
  size_t piece_size = 0;
  bool failed = false;

  Exchange() {
    parser.header_limit(64 * 1024);
    parser.body_limit((std::numeric_limits<std::uint64_t>::max)());
  }

  // An exchange on a connection from `pool`; null with `*ec` set when
  // none could be had.
  static std::unique_ptr<Exchange> Open(const Upstream& upstream,
                                        std::shared_ptr<UpstreamPool> pool, error_code* ec) {
    auto ex = std::make_unique<Exchange>();
    ex->connection = pool->Take(upstream.connect_timeout, &ex->reused, ec);
    if (!ex->connection) return nullptr;
    ex->connection->set_io_timeout(upstream.read_timeout);
    ex->pool = std::move(pool);
    return ex;
  }

  // Reads the answer's head; false with `*ec` set when none came.
  bool ReadHead(const std::string& method, error_code* ec) {
    // A HEAD's answer has a length but no body.
    if (method == "HEAD") parser.skip(true);
    bhttp::read_header(*connection, connection->buffer(), parser, *ec);
    return !*ec;
  }

  // The next bytes of the body in `*n` (0 when it ended); false when the
  // upstream failed, closed or stalled before the end.
  bool Next(size_t* n) {
    *n = 0;
    while (!parser.is_done()) {
      if (!piece) {
        const auto length = parser.content_length();
        piece_size = length && *length < kPieceBytes ? std::max<size_t>(*length, 1) : kPieceBytes;
        piece.reset(new char[piece_size]);  // not zeroed: only read bytes are used
      }
      parser.get().body().data = piece.get();
      parser.get().body().size = piece_size;
      error_code ec;
      bhttp::read_some(*connection, connection->buffer(), parser, ec);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        failed = true;
        return false;
      }
      *n = piece_size - parser.get().body().size;
      if (*n > 0) return true;
    }
    return true;
  }
};

UpstreamCall::UpstreamCall(std::unique_ptr<Exchange> exchange) : exchange_(std::move(exchange)) {}

UpstreamCall::~UpstreamCall() {
  Exchange& ex = *exchange_;
  // Only a connection whose exchange ended cleanly can carry the next one.
  if (ex.connection && !ex.failed && ex.parser.is_done() && ex.parser.get().keep_alive()) {
    ex.pool->Give(std::move(ex.connection));
  }
}

void UpstreamCall::Abort() {
  if (exchange_->connection) exchange_->connection->Cut();
}

Result<std::shared_ptr<UpstreamCall>> UpstreamCall::Answered(std::unique_ptr<Exchange> ex) {
  std::shared_ptr<UpstreamCall> call(new UpstreamCall(std::move(ex)));
  const auto& head = call->exchange_->parser.get();
  call->status_ = head.result_int();
  for (const auto& field : head) {
    call->headers_.Add(std::string(field.name_string()), std::string(field.value()));
  }
  return call;
}

namespace {

// The pool a call takes its connection from: the upstream's, or one that
// keeps nothing.
std::shared_ptr<UpstreamPool> PoolOf(const Upstream& upstream) {
  if (upstream.pool) return upstream.pool;
  return std::make_shared<UpstreamPool>(upstream.origin, std::chrono::milliseconds(0), 0);
}

}  // namespace

Result<std::shared_ptr<UpstreamCall>> UpstreamCall::Start(const Upstream& upstream,
                                                          OutboundRequest request) {
  auto pool = PoolOf(upstream);
  if (!pool->usable()) return Unusable();
  bhttp::request<bhttp::string_body> out;
  PutRequestHead(pool->authority(), request, out);
  out.body() = std::move(request.body);
  out.prepare_payload();

  for (int attempt = 0;; ++attempt) {
    error_code ec;
    auto ex = Exchange::Open(upstream, pool, &ec);
    if (!ex) return NoAnswerStatus(ec);
    bhttp::request_serializer<bhttp::string_body> sr(out);
    bhttp::write(*ex->connection, sr, ec);
    if (!ec && ex->ReadHead(request.method, &ec)) return Answered(std::move(ex));
    // A kept connection the upstream closed meanwhile fails before any
    // answer: the request never reached it, so it may go again.
    const bool stale = ex->reused && !ex->parser.got_some() &&
                       ec != boost::asio::error::timed_out;
    if (!stale || attempt > 0 || !IsIdempotent(request.method)) return NoAnswerStatus(ec);
  }
}

Result<std::shared_ptr<UpstreamCall>> UpstreamCall::StartUpload(const Upstream& upstream,
                                                                const OutboundRequest& head,
                                                                std::optional<size_t> length,
                                                                http::BodyReader& body) {
  auto pool = PoolOf(upstream);
  if (!pool->usable()) return Unusable();
  bhttp::request<bhttp::buffer_body> out;
  PutRequestHead(pool->authority(), head, out);
  if (length) {
    out.content_length(*length);
  } else {
    out.chunked(true);
  }

  error_code ec;
  auto ex = Exchange::Open(upstream, pool, &ec);
  if (!ex) return NoAnswerStatus(ec);
  bhttp::request_serializer<bhttp::buffer_body> sr(out);
  bhttp::write_header(*ex->connection, sr, ec);
  // One piece at a time: read from the client, written to the upstream.
  std::string piece;
  while (!ec) {
    if (!body.Read(&piece)) {
      return UnavailableError("the request body could not be read", "body_unread");
    }
    out.body().data = piece.empty() ? nullptr : piece.data();
    out.body().size = piece.size();
    out.body().more = !piece.empty();
    bhttp::write(*ex->connection, sr, ec);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (piece.empty()) break;
  }
  if (!ec && ex->ReadHead(head.method, &ec)) return Answered(std::move(ex));
  return NoAnswerStatus(ec);
}

template <typename Fn>
bool UpstreamCall::Drain(Fn&& take) {
  Exchange& ex = *exchange_;
  for (;;) {
    size_t n = 0;
    if (!ex.Next(&n)) return false;
    if (n == 0) return true;
    if (!take(std::string_view(ex.piece.get(), n))) {
      ex.failed = true;  // the rest of the body is still on the connection
      Abort();
      return false;
    }
  }
}

bool UpstreamCall::Pump(http::StreamWriter& sink) {
  return Drain([&sink](std::string_view piece) { return sink.Write(piece); });
}

bool UpstreamCall::ReadAll(std::string* body, size_t limit) {
  return Drain([body, limit](std::string_view piece) {
    if (piece.size() > limit - std::min(limit, body->size())) return false;
    body->append(piece);
    return true;
  });
}

bool AnswerComesWhole(const http::Headers& headers, int status, const std::string& method) {
  if (method == "HEAD" || status == 204 || status == 304) return true;
  if (!headers.Has("Content-Length")) return false;
  const std::string& length = headers.Get("Content-Length");
  return !length.empty() && length.size() <= 6 &&
         length.find_first_not_of("0123456789") == std::string::npos &&
         std::stoul(length) <= kWholeAnswerBytes;
}

bool IsLargeUpload(const http::Request& head) {
  if (head.method != "POST" && head.method != "PUT" && head.method != "PATCH") return false;
  const auto length = DeclaredLength(head);
  return !length || *length > kWholeAnswerBytes;
}

std::optional<size_t> DeclaredLength(const http::Request& head) {
  if (!head.headers.Has("Content-Length")) return std::nullopt;
  return static_cast<size_t>(std::stoull(head.headers.Get("Content-Length")));
}

void PutWholeAnswer(const http::Headers& upstream_headers, const HeaderPolicy& policy,
                    std::string body, http::Response& res) {
  for (const auto& [name, value] : EndToEndHeaders(upstream_headers, policy)) {
    res.headers.Add(name, value);
  }
  std::string content_type = upstream_headers.Get("Content-Type");
  if (content_type.empty() && !body.empty()) content_type = "application/octet-stream";
  if (content_type.empty()) {
    res.body.clear();
  } else {
    res.SetBody(std::move(body), std::move(content_type));
  }
}

void PutStreamedAnswer(const http::Headers& upstream_headers, const HeaderPolicy& policy,
                       std::function<bool(http::StreamWriter&)> pump, http::Response& res) {
  for (const auto& [name, value] : EndToEndHeaders(upstream_headers, policy)) {
    res.headers.Add(name, value);
  }
  std::string content_type = upstream_headers.Get("Content-Type");
  if (content_type.empty()) content_type = "application/octet-stream";
  // Each piece is sent as it is read: nothing in between may buffer it.
  res.headers.Add("X-Accel-Buffering", "no");
  res.SetStream(content_type, std::move(pump));
}

Status RelayAnswer(std::shared_ptr<UpstreamCall> up, const HeaderPolicy& policy,
                   const std::string& method, http::Response& res) {
  if (AnswerComesWhole(up->headers(), up->status(), method)) {
    // The body first: an answer cut short leaves `res` as it was.
    std::string body;
    if (!up->ReadAll(&body)) {
      return UnavailableError("the upstream's answer was cut short", "upstream_error");
    }
    PutWholeAnswer(up->headers(), policy, std::move(body), res);
    return Status();
  }
  // The stream holds the call: when the transport drops it, run or not,
  // the call is stopped (~UpstreamCall).
  PutStreamedAnswer(up->headers(), policy,
                    [up](http::StreamWriter& sink) { return up->Pump(sink); }, res);
  return Status();
}

}  // namespace assistant::server
