// Forwards one request to one upstream with cpp-httplib's client and hands
// back the upstream's status and headers as soon as they arrive, then its
// body piece by piece as it is read, so a Server-Sent Events answer passes
// event by event. Used by the app proxy and meant for any forward of one
// request to one upstream (what crosses is the caller's header policy,
// header_policy.hpp).
//
// The call runs on a thread of its own; the body waits in a bounded buffer,
// so a slow client slows the upstream read instead of filling memory.
//
// Thread safety: one UpstreamCall belongs to one request; Pump may run on
// another thread than Start, and Abort from any thread.
#ifndef ASSISTANT_SERVER_FORWARDER_HPP_
#define ASSISTANT_SERVER_FORWARDER_HPP_

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <httplib.h>

#include "assistant/status.hpp"
#include "http/body_reader.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "http/stream_writer.hpp"

namespace assistant::server {

// Idle keep-alive connections to one upstream, so that a busy forwarder
// does not pay a TCP handshake per request. A connection idle longer than
// `max_idle` is dropped rather than reused: the upstream may have closed it.
class ConnectionPool {
 public:
  explicit ConnectionPool(std::string origin,
                          std::chrono::milliseconds max_idle = std::chrono::seconds(2));
  // An idle connection, or a new one (not yet connected).
  std::unique_ptr<httplib::Client> Take();
  // Back after a complete exchange.
  void Give(std::unique_ptr<httplib::Client> client);
  const std::string& origin() const { return origin_; }

 private:
  struct Idle {
    std::unique_ptr<httplib::Client> client;
    std::chrono::steady_clock::time_point since;
  };
  const std::string origin_;
  const std::chrono::milliseconds max_idle_;
  std::mutex mu_;
  std::vector<Idle> idle_;
};

struct Upstream {
  std::string origin;  // scheme://host[:port], as httplib::Client takes it
  // Optional, for origin's connections; without one each call connects anew.
  std::shared_ptr<ConnectionPool> pool;
  std::chrono::milliseconds connect_timeout{5000};
  // Without a byte from the upstream for this long, the call fails.
  std::chrono::milliseconds read_timeout{30000};
};

struct OutboundRequest {
  std::string method;
  std::string target;         // path and query as sent upstream
  httplib::Headers headers;   // as sent (the caller applied its policy)
  std::string body;
};

class UpstreamCall {
 public:
  // Sends `request` and waits for the upstream's status and headers.
  // Unavailable ("upstream_error") when it cannot be reached or fails before
  // answering, DeadlineExceeded ("upstream_timeout") when it is silent past
  // a timeout. Neither message names the upstream's address.
  static Result<std::shared_ptr<UpstreamCall>> Start(const Upstream& upstream,
                                                     OutboundRequest request);
  ~UpstreamCall();
  UpstreamCall(const UpstreamCall&) = delete;
  UpstreamCall& operator=(const UpstreamCall&) = delete;

  int status() const { return status_; }
  const httplib::Headers& headers() const { return headers_; }

  // Writes the body to `sink` as it arrives. True when the whole body went
  // through; false when the client went away or the upstream failed or
  // stalled mid-body (the answer is then cut short).
  bool Pump(http::StreamWriter& sink);
  // The whole body, for an answer known to be small; false as Pump.
  bool ReadAll(std::string* body);
  // Stops the call (the client went away); safe to call more than once.
  void Abort();

 private:
  struct Shared;
  explicit UpstreamCall(std::shared_ptr<Shared> shared);
  template <typename Fn>
  bool Drain(Fn&& take);

  std::shared_ptr<Shared> shared_;
  int status_ = 0;
  httplib::Headers headers_;
};

struct HeaderPolicy;

// An answer read whole.
struct WholeAnswer {
  int status = 0;
  httplib::Headers headers;
  std::string body;
};

// For a GET or HEAD: the exchange on the calling thread, with no thread
// hand-off, when the answer comes whole (a Content-Length of at most
// 64 KiB; HEAD, 204, 304). When its head says it streams, the exchange is
// dropped and the answer is nullopt: the caller forwards the request again
// with UpstreamCall, so the upstream sees it twice (only for a method that
// is safe to repeat). Errors as UpstreamCall::Start.
Result<std::optional<WholeAnswer>> ExchangeWhole(const Upstream& upstream,
                                                 const OutboundRequest& request);
// Whether a request's body is better passed on as it is read (an upload)
// than read whole, decided on its head (TransportOptions::stream_body): a
// POST, PUT or PATCH whose body is chunked or over 64 KiB. A smaller body
// is read whole, so that its request can be retried and its answer stream.
bool IsLargeUpload(const http::Request& head);
// A request's declared Content-Length; nullopt for a chunked body (the
// transport refused a malformed length before any handler ran).
std::optional<size_t> DeclaredLength(const http::Request& head);

// A POST, PUT or PATCH whose body is passed on as `body` reads it (a
// streamed request's, http/body_reader.hpp), on a kept thread, through a
// bounded buffer (an upload is never held whole);
// the answer is read whole, since cpp-httplib 0.11's client cannot stream
// both at once. `length` is the body's declared length, or nullopt
// (chunked). Errors as UpstreamCall::Start; also Unavailable when the body
// could not be read (body.error() says why).
Result<WholeAnswer> ExchangeUpload(const Upstream& upstream, const OutboundRequest& head,
                                   std::optional<size_t> length, http::BodyReader& body);

// Puts a whole answer into `res` as RelayAnswer would.
void RelayWhole(WholeAnswer answer, const HeaderPolicy& policy, http::Response& res);

// Puts `up`'s answer into `res`: the status's headers as `policy` lets them
// through (it must drop Content-Length and Content-Type, which are set
// here), then the body: whole when the upstream said it is at most 64 KiB
// (and for HEAD, 204 and 304), else streamed as it is read through a
// stream. Unavailable when a whole body is cut short.
Status RelayAnswer(std::shared_ptr<UpstreamCall> up, const HeaderPolicy& policy,
                   const std::string& method, http::Response& res);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_FORWARDER_HPP_
