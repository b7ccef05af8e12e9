// One request to one http:// upstream, exchanged asynchronously on an event
// loop (the transport's I/O threads, http/transport.hpp `on_io`), so no
// thread waits for the upstream: the request is written, the answer's head
// read, and a small answer (forwarder.hpp AnswerComesWhole) read whole, all
// by completions on the loop. A larger or unframed answer (chunked, SSE) is
// handed back with a pump that relays the rest from the same connection on
// the worker that runs the client's stream, one piece at a time, so a
// stream passes unbuffered and a slow client slows the upstream read.
//
// What is sent is decided by the forwarder (PutRequestHead), and failures
// read as UpstreamCall::Start's (NoAnswerStatus), so a caller answers them
// as it answers the synchronous client's. Kept-alive connections are pooled
// per event-loop thread and origin (at most 64 idle, none older than 2 s,
// as UpstreamPool): a thread takes and gives back only its own, so the pool
// has no lock. A kept connection the upstream closed while idle is tried
// once more on a new one, for an idempotent method only, when nothing of
// the answer was read. Timeouts: connecting, and each wait for the
// upstream (its silence, as Upstream::read_timeout says). https upstreams
// are not served here: the synchronous client verifies TLS.
//
// Thread safety: Start is called on a thread of the loop `io` runs on (the
// pool is that thread's); `done` runs on the loop. The pump runs on one
// other thread at a time.
#ifndef ASSISTANT_SERVER_UPSTREAM_ASYNC_HPP_
#define ASSISTANT_SERVER_UPSTREAM_ASYNC_HPP_

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "assistant/status.hpp"
#include "forwarder.hpp"
#include "http/headers.hpp"
#include "http/stream_writer.hpp"
#include "upstream_pool.hpp"

namespace assistant::server {

struct AsyncAnswer {
  enum class Outcome {
    kAnswered,  // status and headers below; body or pump
    kNoAnswer,  // nothing came back: `failure` as UpstreamCall::Start's
    kCut,       // a whole answer was cut short: nothing of it is usable
  };
  Outcome outcome = Outcome::kNoAnswer;
  Status failure;
  int status = 0;
  http::Headers headers;
  // A whole answer's body; for any other, the rest of the answer, relayed
  // by `pump` on a worker (true when all of it went through).
  std::string body;
  std::function<bool(http::StreamWriter&)> pump;
};

class AsyncUpstreamCall {
 public:
  using Done = std::function<void(AsyncAnswer)>;
  // Sends `request` to `upstream` (its pool names the origin, which must
  // be http://; the pool's own connections are not used) on `io`, then
  // `done` with what came back, once.
  static void Start(const boost::asio::any_io_executor& io, const Upstream& upstream,
                    OutboundRequest request, Done done);
};

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_UPSTREAM_ASYNC_HPP_
