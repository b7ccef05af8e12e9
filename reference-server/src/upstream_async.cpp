#include "upstream_async.hpp"

#include <poll.h>

#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace assistant::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

// As UpstreamPool's defaults, per thread.
constexpr size_t kMaxIdle = 64;
constexpr auto kMaxAge = std::chrono::seconds(2);
// The most body bytes read in one piece, as the synchronous client.
constexpr size_t kPieceBytes = 64 * 1024;

struct Connection {
  explicit Connection(const net::any_io_executor& io) : stream(io) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;  // bytes read past the last parsed message

  // Not closed by the upstream while idle (nothing to read, no end of
  // stream), as UpstreamConnection::LooksAlive.
  bool LooksAlive() {
    if (buffer.size() != 0) return false;
    pollfd p{stream.socket().native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
};

struct Idle {
  std::unique_ptr<Connection> connection;
  SteadyClock::time_point since;
};

// This thread's idle connections, per origin: only this thread touches them.
std::vector<Idle>& LocalIdle(const std::string& origin) {
  thread_local std::unordered_map<std::string, std::vector<Idle>> idle;
  return idle[origin];
}

std::unique_ptr<Connection> TakeIdle(const std::string& origin) {
  auto& idle = LocalIdle(origin);
  const auto now = SteadyClock::now();
  while (!idle.empty()) {
    Idle last = std::move(idle.back());
    idle.pop_back();
    if (now - last.since <= kMaxAge && last.connection->LooksAlive()) {
      return std::move(last.connection);
    }
  }
  return nullptr;
}

// A timeout reads as the synchronous socket's. Beast's stream reports its
// expiry as error::timeout, or (through http::async_read_header, Boost
// 1.74) as the cancellation it is made of; nothing else cancels an
// exchange's operations while it waits for the answer.
error_code AsSocketError(error_code ec) {
  if (ec == beast::error::timeout || ec == net::error::operation_aborted) {
    return net::error::timed_out;
  }
  return ec;
}

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(const net::any_io_executor& io, const Upstream& upstream, OutboundRequest request,
           AsyncUpstreamCall::Done done)
      : io_(io),
        pool_(upstream.pool),
        connect_timeout_(upstream.connect_timeout),
        read_timeout_(upstream.read_timeout),
        method_(request.method),
        done_(std::move(done)) {
    PutRequestHead(pool_->authority(), request, msg_);
    msg_.body() = std::move(request.body);
    msg_.prepare_payload();
  }

  void Attempt(bool fresh) {
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->body_limit((std::numeric_limits<std::uint64_t>::max)());
    // A HEAD's answer has a length but no body.
    if (method_ == "HEAD") parser_->skip(true);
    conn_ = fresh ? nullptr : TakeIdle(pool_->origin());
    reused_ = conn_ != nullptr;
    if (reused_) return Send();
    conn_ = std::make_unique<Connection>(io_);
    resolver_ = std::make_unique<tcp::resolver>(io_);
    const auto deadline = SteadyClock::now() + connect_timeout_;
    resolver_->async_resolve(
        pool_->host(), pool_->port(),
        [self = shared_from_this(), deadline](error_code ec, tcp::resolver::results_type r) {
          if (ec) return self->Failed(ec);
          self->conn_->stream.expires_at(deadline);
          self->conn_->stream.async_connect(r, [self](error_code ec, const tcp::endpoint&) {
            if (ec) return self->Failed(ec);
            // The request's head and body go in one write, but the next
            // request on this connection must not wait on Nagle either.
            self->conn_->stream.socket().set_option(tcp::no_delay(true), ec);
            self->Send();
          });
        });
  }

 private:
  void Send() {
    conn_->stream.expires_after(read_timeout_);
    bhttp::async_write(conn_->stream, msg_, [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->Failed(ec);
      self->ReadHead();
    });
  }

  void ReadHead() {
    conn_->stream.expires_after(read_timeout_);
    bhttp::async_read_header(conn_->stream, conn_->buffer, *parser_,
                             [self = shared_from_this()](error_code ec, size_t) {
                               if (ec) return self->Failed(ec);
                               self->OnHead();
                             });
  }

  void OnHead() {
    const auto& head = parser_->get();
    answer_.outcome = AsyncAnswer::Outcome::kAnswered;
    answer_.status = head.result_int();
    for (const auto& field : head) {
      answer_.headers.Add(std::string(field.name_string()), std::string(field.value()));
    }
    if (AnswerComesWhole(answer_.headers, answer_.status, method_)) return ReadWhole();
    // The rest is relayed by the client's stream; the pump holds this
    // exchange, and with it the connection.
    answer_.pump = [self = shared_from_this()](http::StreamWriter& sink) {
      return self->Pump(sink);
    };
    Finish(std::move(answer_));
  }

  void ReadWhole() {
    Piece([self = shared_from_this()](bool ok, size_t n) {
      if (!ok) {
        AsyncAnswer cut;
        cut.outcome = AsyncAnswer::Outcome::kCut;
        return self->Finish(std::move(cut));
      }
      if (n == 0) return self->Finish(std::move(self->answer_));
      self->answer_.body.append(self->piece_.get(), n);
      self->ReadWhole();
    });
  }

  // On the loop: the next bytes of the body into piece_, then
  // `then(ok, n)`: n == 0 when the body ended; !ok when the upstream
  // failed, closed or was silent past the read timeout before its end.
  void Piece(std::function<void(bool, size_t)> then) {
    if (parser_->is_done()) {
      Release();
      return then(true, 0);
    }
    if (!conn_) return then(false, 0);
    if (!piece_) {
      const auto length = parser_->content_length();
      piece_size_ = length && *length < kPieceBytes ? std::max<size_t>(*length, 1) : kPieceBytes;
      piece_.reset(new char[piece_size_]);  // not zeroed: only read bytes are used
    }
    parser_->get().body().data = piece_.get();
    parser_->get().body().size = piece_size_;
    conn_->stream.expires_after(read_timeout_);
    bhttp::async_read_some(
        conn_->stream, conn_->buffer, *parser_,
        [self = shared_from_this(), then = std::move(then)](error_code ec, size_t) mutable {
          if (ec == bhttp::error::need_buffer) ec = {};
          if (ec) {
            self->conn_.reset();  // the rest of the answer is lost with it
            return then(false, 0);
          }
          const size_t n = self->piece_size_ - self->parser_->get().body().size;
          if (n == 0) return self->Piece(std::move(then));
          then(true, n);
        });
  }

  // On the loop, after an answer that ended cleanly: its connection may
  // carry the next exchange from this thread.
  void Release() {
    if (!conn_ || !parser_->get().keep_alive()) return conn_.reset();
    auto& idle = LocalIdle(pool_->origin());
    if (idle.size() < kMaxIdle) {
      conn_->stream.expires_never();
      idle.push_back({std::move(conn_), SteadyClock::now()});
    }
    conn_.reset();
  }

  // On a worker: relays the rest of the body, each piece read on the loop.
  bool Pump(http::StreamWriter& sink) {
    for (;;) {
      struct Wait {
        std::mutex mu;
        std::condition_variable cv;
        bool done = false;
        bool ok = false;
        size_t n = 0;
      };
      auto w = std::make_shared<Wait>();
      net::post(io_, [self = shared_from_this(), w] {
        self->Piece([w](bool ok, size_t n) {
          std::lock_guard<std::mutex> lock(w->mu);
          w->done = true;
          w->ok = ok;
          w->n = n;
          w->cv.notify_all();
        });
      });
      std::unique_lock<std::mutex> lock(w->mu);
      // The read timeout ends a silent upstream's read first; the extra
      // second covers an event loop that stopped.
      if (!w->cv.wait_for(lock, read_timeout_ + std::chrono::seconds(1),
                          [&] { return w->done; })) {
        return false;
      }
      if (!w->ok) return false;
      if (w->n == 0) return true;
      // No read is pending until the next post: the piece is this thread's.
      if (!sink.Write(std::string_view(piece_.get(), w->n))) {
        // The client went away; the rest of the answer is still on the
        // connection, which closes with this exchange.
        net::post(io_, [self = shared_from_this()] { self->conn_.reset(); });
        return false;
      }
    }
  }

  // Before any answer: a kept connection the upstream closed meanwhile
  // fails before an answer, so the request never reached it and may go
  // again on a new one (UpstreamCall::Start's rule).
  void Failed(error_code ec) {
    ec = AsSocketError(ec);
    const bool stale = reused_ && !parser_->got_some() && ec != net::error::timed_out;
    conn_.reset();
    if (stale && !retried_ && IsIdempotent(method_)) {
      retried_ = true;
      return Attempt(/*fresh=*/true);
    }
    AsyncAnswer none;
    none.outcome = AsyncAnswer::Outcome::kNoAnswer;
    none.failure = NoAnswerStatus(ec);
    Finish(std::move(none));
  }

  void Finish(AsyncAnswer answer) {
    // Moved out first: what `done` holds must not live as long as the pump.
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(answer));
  }

  const net::any_io_executor io_;
  const std::shared_ptr<UpstreamPool> pool_;  // names the origin; its connections are not used
  const std::chrono::milliseconds connect_timeout_;
  const std::chrono::milliseconds read_timeout_;
  const std::string method_;
  bhttp::request<bhttp::string_body> msg_;
  AsyncUpstreamCall::Done done_;
  std::unique_ptr<tcp::resolver> resolver_;
  std::unique_ptr<Connection> conn_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  bool reused_ = false;
  bool retried_ = false;
  std::unique_ptr<char[]> piece_;
  size_t piece_size_ = 0;
  AsyncAnswer answer_;
};

}  // namespace

void AsyncUpstreamCall::Start(const net::any_io_executor& io, const Upstream& upstream,
                              OutboundRequest request, Done done) {
  if (!upstream.pool || !upstream.pool->usable() || upstream.pool->tls()) {
    AsyncAnswer none;
    none.failure = UnavailableError("the upstream's address is not usable", "upstream_error");
    return done(std::move(none));
  }
  auto ex = std::make_shared<Exchange>(io, upstream, std::move(request), std::move(done));
  ex->Attempt(/*fresh=*/false);
}

}  // namespace assistant::server
