// The server's HTTP/1.1 transport, on Boost.Beast and Asio: a few I/O
// threads accept connections and read requests (Beast's parser frames
// them), complete requests run on a worker pool (handlers block), and the
// answers are written back by the I/O threads. One parser and one writer
// serve every request; docs/server.md "Connections and limits" lists what is
// refused and why.
//
// Framing is strict (RFC 9112): what Beast accepts leniently is checked on
// the fields it parsed, and every framing error is a 400 that closes the
// connection. Limits apply while reading: header bytes and lines (431),
// request-target length (414), the body limit for a Content-Length or a
// chunked body (413, before the body is held), a compressed body (415).
// Each phase has a timeout: the whole header block, the body, the idle time
// between keep-alive requests, and each write (a client that stops reading
// is dropped). Connections are capped per client address and in total
// (503, then close). A request whose head `stream_body` accepts goes to its
// handler as soon as the head is read, and the handler pulls the body
// (body_reader.hpp) under the same limit and timeout. An answer sent while
// the request is still arriving (a refusal, a streamed body left unread)
// ends the connection with a lingering close, bounded in time and bytes,
// so the client reads the answer instead of a reset (RFC 9112 section 9.6).
//
// A program whose work is itself asynchronous (assistant-gateway's forward)
// may take complete requests on the I/O thread instead (`on_io`): no worker
// and no hand-off for them; the ones it declines go to the workers as usual.
// With `on_io` each I/O thread runs an event loop of its own and a
// connection stays on one; without it every I/O thread serves every
// connection from one loop.
//
// Thread safety: Bind, then Run on one thread; Stop from any thread.
#ifndef ASSISTANT_SERVER_HTTP_TRANSPORT_HPP_
#define ASSISTANT_SERVER_HTTP_TRANSPORT_HPP_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "assistant/status.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

namespace assistant::server::http {

struct TransportOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  int io_threads = 2;
  int workers = 8;  // threads that run handlers (and streams, for their life)
  size_t body_limit = 1 << 20;
  size_t header_limit = 32 * 1024;  // the whole header block, request line included
  size_t max_header_fields = 100;
  size_t target_limit = 8192;
  std::chrono::milliseconds header_timeout{10000};  // the whole header block
  std::chrono::milliseconds body_timeout{30000};    // the whole body
  std::chrono::milliseconds idle_timeout{5000};     // between keep-alive requests
  std::chrono::milliseconds write_timeout{10000};   // each write
  // After Stop, how long Run waits for the requests and streams in flight.
  std::chrono::milliseconds drain_timeout{30000};
  int max_connections = 4096;
  int max_connections_per_ip = 1024;
  // Decides on a request's head (no body yet) whether its handler reads the
  // body as it arrives (Request::body_reader) rather than whole. Runs on an
  // I/O thread: it must be quick and must not block. Unset: never.
  std::function<bool(const Request& head)> stream_body;

  // Completes a request taken by `on_io` with its answer: call it exactly
  // once, from any thread (the answer is written from the connection's own
  // executor). An answer with `stream` set has its stream run on a worker,
  // as a handler's would.
  using Completion = std::function<void(Response res)>;
  // Offered each complete request (its whole body read; never one that
  // `stream_body` took) on the I/O thread that read it, before any worker.
  // Returns false to decline, leaving `req` as it was: the request then
  // goes to the handler on a worker. Returns true to take it: it then owns
  // `req` (it may move from it) and must call `done` once. `io` is the
  // event loop of the connection, which one thread runs (the caller's),
  // for the asynchronous work that answers it: what runs there runs on
  // this thread, so per-thread state needs no lock.
  // Runs on an I/O thread that serves many connections: nothing in it may
  // block (no blocking socket, no lock held for long, no disk) and it must
  // not throw. Keep-alive, pipelining, the timeouts, Stop's drain and the
  // lingering close are as for a handler's answer. Unset: every request
  // goes to a worker.
  std::function<bool(Request& req, const boost::asio::any_io_executor& io, Completion done)>
      on_io;
};

class Transport {
 public:
  // Runs a complete request on a worker; a streamed reply's stream runs
  // there too, after its headers went out.
  using Handler = std::function<void(const Request& req, Response& res)>;
  // Renders a refusal made before any handler ran (400, 413, 414, 415, 431,
  // 503). `req` holds what was read of the request (maybe nothing).
  using Refusal =
      std::function<void(int status, const Request& req, Response& res, const std::string& why)>;

  Transport(TransportOptions options, Handler handler, Refusal refusal);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Binds and listens (backlog 1024). Unavailable, with the system's
  // reason, when it cannot.
  Status Bind();
  int port() const;
  // Serves until Stop(); then stops accepting, closes idle connections and
  // returns once the requests in flight were answered.
  void Run();
  // Safe from any thread, more than once.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace assistant::server::http

#endif  // ASSISTANT_SERVER_HTTP_TRANSPORT_HPP_
