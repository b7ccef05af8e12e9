// Forwards one request to one upstream over HTTP/1.1 and hands back the
// upstream's status and headers as soon as they arrive, then its body piece
// by piece as it is read, so a Server-Sent Events answer passes event by
// event and a large answer is never held whole. Used by the app proxy and
// assistant-gateway, and meant for any forward of one request to one
// upstream (what crosses is the caller's header policy, header_policy.hpp).
//
// The exchange is synchronous, with Boost.Beast on a pooled keep-alive
// connection (upstream_pool.hpp): Start runs on the calling thread, and the
// body is read by whichever thread pumps it, so a slow client slows the
// upstream read instead of filling memory. Every wait is bounded by the
// upstream's timeouts. Upstreams are http:// or https:// (verified,
// upstream_connection.hpp).
//
// Thread safety: one UpstreamCall belongs to one request; Pump may run on
// another thread than Start (not at the same time), and Abort from any
// thread.
#ifndef ASSISTANT_SERVER_FORWARDER_HPP_
#define ASSISTANT_SERVER_FORWARDER_HPP_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/system/error_code.hpp>

#include "assistant/status.hpp"
#include "http/body_reader.hpp"
#include "http/headers.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "http/stream_writer.hpp"
#include "upstream_pool.hpp"

namespace assistant::server {

struct Upstream {
  std::string origin;  // http://host[:port]
  // Optional, for origin's connections; without one each call connects anew.
  std::shared_ptr<UpstreamPool> pool;
  std::chrono::milliseconds connect_timeout{5000};
  // Without a byte from (or room towards) the upstream for this long, the
  // call fails.
  std::chrono::milliseconds read_timeout{30000};
};

struct OutboundRequest {
  std::string method;
  std::string target;     // path and query as sent upstream
  http::Headers headers;  // as sent (the caller applied its policy); Host is
                          // the origin's unless set here
  std::string body;
};

class UpstreamCall {
 public:
  // Sends `request` and waits for the upstream's status and headers.
  // Unavailable ("upstream_error") when it cannot be reached or fails before
  // answering, DeadlineExceeded ("upstream_timeout") when it is silent past
  // a timeout. Neither message names the upstream's address. A kept
  // connection the upstream closed while idle is tried once more on a new
  // one, for an idempotent method only.
  static Result<std::shared_ptr<UpstreamCall>> Start(const Upstream& upstream,
                                                     OutboundRequest request);
  // As Start for a POST, PUT or PATCH whose body is passed on as `body`
  // reads it (a streamed request's, http/body_reader.hpp): one piece held
  // at a time, sent with `length` as its Content-Length, or chunked when
  // nullopt. Also Unavailable ("body_unread") when the body could not be
  // read (body.error() says why). Never retried: the body is read once.
  static Result<std::shared_ptr<UpstreamCall>> StartUpload(const Upstream& upstream,
                                                           const OutboundRequest& head,
                                                           std::optional<size_t> length,
                                                           http::BodyReader& body);
  ~UpstreamCall();
  UpstreamCall(const UpstreamCall&) = delete;
  UpstreamCall& operator=(const UpstreamCall&) = delete;

  int status() const { return status_; }
  const http::Headers& headers() const { return headers_; }

  // Writes the body to `sink` as it arrives. True when the whole body went
  // through; false when the client went away or the upstream failed,
  // closed or stalled mid-body (the answer is then cut short).
  bool Pump(http::StreamWriter& sink);
  // The whole body, for an answer known to be small; false as Pump, and
  // when it is longer than `limit` bytes (the rest is then not read).
  bool ReadAll(std::string* body, size_t limit = SIZE_MAX);
  // Stops the call (the client went away); safe to call more than once.
  void Abort();

 private:
  struct Exchange;
  explicit UpstreamCall(std::unique_ptr<Exchange> exchange);
  static Result<std::shared_ptr<UpstreamCall>> Answered(std::unique_ptr<Exchange> exchange);
  template <typename Fn>
  bool Drain(Fn&& take);

  std::unique_ptr<Exchange> exchange_;
  int status_ = 0;
  http::Headers headers_;
};

struct HeaderPolicy;

// Whether a request's body is better passed on as it is read (an upload)
// than read whole, decided on its head (TransportOptions::stream_body): a
// POST, PUT or PATCH whose body is chunked or over 64 KiB. A smaller body
// is read whole, so that its request can be retried.
bool IsLargeUpload(const http::Request& head);
// A request's declared Content-Length; nullopt for a chunked body (the
// transport refused a malformed length before any handler ran).
std::optional<size_t> DeclaredLength(const http::Request& head);

// Puts `up`'s answer into `res`: the status's headers as `policy` lets them
// through (it must drop Content-Length and Content-Type, which are set
// here), then the body: whole when the upstream said it is at most 64 KiB
// (and for HEAD, 204 and 304), else streamed as it is read. Unavailable
// when a whole body is cut short, `res` then untouched; a streamed one cut
// short ends the
// client's connection without a proper end (http::Response::stream).
Status RelayAnswer(std::shared_ptr<UpstreamCall> up, const HeaderPolicy& policy,
                   const std::string& method, http::Response& res);

// The pieces of the above, for a client that does the exchange itself
// (assistant-gateway's asynchronous forward), so that what is sent and
// what comes back are decided here alone:
// Whether a request may be sent twice with the effect of once (RFC 9110
// section 9.2.2): GET, HEAD, OPTIONS, PUT, DELETE.
bool IsIdempotent(const std::string& method);
// The request line and fields `request` goes upstream with (Host is
// `authority`, host[:port], unless set).
void PutRequestHead(const std::string& authority, const OutboundRequest& request,
                    boost::beast::http::request_header<>& out);
// What an exchange that got no answer fails with, as Start says; `ec` as
// the socket reported it (asio::error::timed_out for a timeout).
Status NoAnswerStatus(const boost::system::error_code& ec);
// Whether an answer with this head is read whole: a Content-Length of at
// most 64 KiB, or no body at all (HEAD, 204, 304).
bool AnswerComesWhole(const http::Headers& headers, int status, const std::string& method);
// `res` as RelayAnswer puts a whole answer (`status` is the caller's to set).
void PutWholeAnswer(const http::Headers& upstream_headers, const HeaderPolicy& policy,
                    std::string body, http::Response& res);
// `res` as RelayAnswer puts a streamed one: `pump` writes the body.
void PutStreamedAnswer(const http::Headers& upstream_headers, const HeaderPolicy& policy,
                       std::function<bool(http::StreamWriter&)> pump, http::Response& res);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_FORWARDER_HPP_
