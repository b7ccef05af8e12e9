// The forward of a request TakeOnIo took, on the transport's I/O thread:
// Forward's rules (round robin over the backends that are up, a failed
// backend taken out, only an idempotent request tried on the next, a
// timeout not retried, 502/504) with the asynchronous client
// (upstream_async.hpp) instead of the synchronous one, so no worker waits
// for the backend. A streamed answer's rest is relayed by the transport's
// worker (Response::stream).
#include <memory>
#include <utility>

#include "gateway.hpp"
#include "upstream_async.hpp"

namespace assistant::gateway {

// One request's tries, each started from the completion of the last.
struct Gateway::AsyncForward : std::enable_shared_from_this<AsyncForward> {
  Gateway* gateway;
  Request req;
  Response res;  // the edge's headers already on it
  std::string request_id;
  std::string client_ip;
  boost::asio::any_io_executor io;
  server::http::TransportOptions::Completion done;
  server::OutboundRequest out;
  std::vector<Backend*> order;
  size_t next = 0;
  Status last = UnavailableError("no backend", "upstream_error");

  void Try() {
    if (next >= order.size() || (next > 0 && !server::IsIdempotent(req.method))) {
      // None left, or a request that may have been done once already.
      gateway->NoBackendAnswered(res, last, request_id);
      return done(std::move(res));
    }
    if (next > 0) gateway->retries_.fetch_add(1, std::memory_order_relaxed);
    Backend* b = order[next++];
    // The body goes with every try: a retry needs it again.
    server::AsyncUpstreamCall::Start(io, gateway->UpstreamOf(*b), out,
                                     [self = shared_from_this(), b](server::AsyncAnswer a) {
                                       self->Answered(*b, std::move(a));
                                     });
  }

  void Answered(Backend& b, server::AsyncAnswer a) {
    using Outcome = server::AsyncAnswer::Outcome;
    if (a.outcome == Outcome::kNoAnswer) {
      last = a.failure;
      if (gateway->BackendFailed(b, last, req, request_id, client_ip)) return Try();
      gateway->NoBackendAnswered(res, last, request_id);
      return done(std::move(res));
    }
    if (a.outcome == Outcome::kCut) {
      // As Forward: none of the backend's headers on the 502.
      gateway->Fail(res, 502, "upstream_error", "the backend's answer was cut short", request_id);
      return done(std::move(res));
    }
    if (a.pump) {
      server::PutStreamedAnswer(a.headers, AnswerPolicy(), std::move(a.pump), res);
    } else {
      server::PutWholeAnswer(a.headers, AnswerPolicy(), std::move(a.body), res);
    }
    res.status = a.status;
    done(std::move(res));
  }
};

void Gateway::ForwardAsync(Request req, Response res, std::string request_id,
                           std::string client_ip, const boost::asio::any_io_executor& io,
                           server::http::TransportOptions::Completion done) {
  auto f = std::make_shared<AsyncForward>();
  f->gateway = this;
  f->out = Outbound(req, request_id);
  f->out.body = std::move(req.body);
  f->req = std::move(req);
  f->res = std::move(res);
  f->request_id = std::move(request_id);
  f->client_ip = std::move(client_ip);
  f->io = io;
  f->done = std::move(done);
  f->order = Order();
  f->Try();
}

}  // namespace assistant::gateway
