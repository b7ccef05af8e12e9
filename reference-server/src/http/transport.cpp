#include "http/transport.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/body_reader.hpp"
#include "http/framing.hpp"
#include "http/target.hpp"
#include "http/worker_pool.hpp"

namespace assistant::server::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Parser = bhttp::request_parser<bhttp::string_body>;
// A streamed body's parser: the same parser, converted after the head, that
// puts each piece into a buffer of the reader's.
using BodyParser = bhttp::request_parser<bhttp::buffer_body>;

constexpr int kListenBacklog = 1024;
constexpr size_t kReadChunk = 64 * 1024;
// An answer sent while the client may still be sending its request (a
// refusal, or a handler that left a streamed body unread) ends the
// connection with a lingering close (RFC 9112 section 9.6): our side is
// shut, and what the client still sends is read and dropped, until it
// closes, for at most this long and this many bytes. Closing at once with
// bytes unread would make the kernel reset the connection, and a client
// still sending would lose the answer. The connection keeps its slot
// (the caps count it) until then.
constexpr auto kLingerTime = std::chrono::seconds(3);
constexpr size_t kLingerBytes = 32 * 1024 * 1024;

// The descriptors a thousand connections need: the soft limit raised to the
// hard one.
void RaiseDescriptorLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// Whether this thread runs a worker job (a handler, a stream): there a
// request read on after the answer is offered to `on_io` only after a hop
// to the I/O thread, as the hook's contract says.
thread_local bool t_on_worker = false;

// The bytes of `msg`'s header (status line and fields) as Beast's
// serializer writes them; false when it could not.
template <typename Message>
bool HeaderBytes(Message& msg, std::string* out) {
  bhttp::serializer<false, typename Message::body_type, typename Message::fields_type> sr(msg);
  sr.split(true);
  beast::error_code ec;
  while (!sr.is_header_done() && !ec) {
    sr.next(ec, [&](beast::error_code&, const auto& buffers) {
      size_t n = 0;
      for (const auto b : beast::buffers_range_ref(buffers)) {
        out->append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      sr.consume(n);
    });
  }
  return !ec;
}

}  // namespace

// The connection counts, shared with the sessions: a session may outlive
// the transport's other parts while the event loop is torn down.
struct ConnectionCounts {
  std::mutex mu;
  std::condition_variable cv;
  int open = 0;
  std::unordered_map<std::string, int> per_ip;

  void Forget(const std::string& ip) {
    std::lock_guard<std::mutex> lock(mu);
    --open;
    auto it = per_ip.find(ip);
    if (it != per_ip.end() && --it->second <= 0) per_ip.erase(it);
    cv.notify_all();
  }
};

class Transport::Impl {
 public:
  Impl(TransportOptions options, Handler handler, Refusal refusal)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        refusal_(std::move(refusal)),
        loops_(MakeLoops(options_)),
        acceptor_(net::make_strand(loops_.front()->ioc)),
        pool_(static_cast<size_t>(options_.workers)) {}
  ~Impl() { pool_.Shutdown(); }

  Status Bind();
  int port() const { return port_; }
  void Run();
  void Stop();

  class Session;
  const TransportOptions& options() const { return options_; }
  WorkerPool& pool() { return pool_; }
  const Handler& handler() const { return handler_; }
  const Refusal& refusal() const { return refusal_; }
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }
  const std::shared_ptr<ConnectionCounts>& counts() const { return counts_; }

 private:
  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket, net::io_context& loop);

  const TransportOptions options_;
  const Handler handler_;
  const Refusal refusal_;
  // With on_io, one event loop per I/O thread (nginx's model): a
  // connection, and what on_io starts for it, stay on one thread, so that
  // thread's state (the gateway's kept backend connections) needs no lock.
  // Without it, as before: one loop that every I/O thread runs, so any
  // idle thread serves any connection.
  struct Loop {
    explicit Loop(int threads) : ioc(threads), threads(threads) {}
    net::io_context ioc;
    const int threads;
    net::executor_work_guard<net::io_context::executor_type> work{net::make_work_guard(ioc)};
  };
  static std::vector<std::unique_ptr<Loop>> MakeLoops(const TransportOptions& o) {
    const int n = std::max(1, o.io_threads);
    std::vector<std::unique_ptr<Loop>> loops;
    if (!o.on_io) {
      loops.push_back(std::make_unique<Loop>(n));
      return loops;
    }
    for (int i = 0; i < n; ++i) loops.push_back(std::make_unique<Loop>(1));
    return loops;
  }
  std::vector<std::unique_ptr<Loop>> loops_;
  size_t next_loop_ = 0;  // on the acceptor's strand
  tcp::acceptor acceptor_;
  WorkerPool pool_;
  int port_ = 0;

  std::atomic<bool> stopping_{false};
  const std::shared_ptr<ConnectionCounts> counts_ = std::make_shared<ConnectionCounts>();
  bool stop_requested_ = false;                 // under counts_->mu
  std::list<std::weak_ptr<Session>> sessions_;  // under counts_->mu
};

// One connection: reads a request, hands it to a worker, writes the answer,
// and reads the next (keep-alive and pipelining: the next request's bytes
// may already be in the buffer). Every socket operation runs on the
// connection's strand.
class Transport::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& owner, tcp::socket socket, net::io_context& loop, std::string ip, int port)
      : owner_(&owner),
        counts_(owner.counts()),
        loop_(loop.get_executor()),
        stream_(std::move(socket)),
        ip_(std::move(ip)),
        port_(port) {}
  ~Session() { counts_->Forget(ip_); }

  void Start() { net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Next(); }); }
  // Over a connection cap: a 503, then close, without lingering: a flood
  // over the cap must not hold descriptors for the linger time.
  void StartRefused() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->Refuse(503, "too many connections; retry later", /*linger=*/false);
    });
  }
  // Stop(): an idle connection closes now, and one that lingers (its
  // answer is out); a busy one after its answer.
  void CloseIfIdle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      std::lock_guard<std::mutex> lock(self->worker_mu_);
      if (self->waiting_ || self->lingering_) self->Close();
    });
  }

 private:
  class ChunkWriter;
  class SessionBodyReader;
  const TransportOptions& opt() const { return owner_->options(); }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  // On the strand, after the answer went out and no read is pending: see
  // kLingerTime.
  void LingeringClose() {
    if (owner_->stopping()) return Close();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    lingering_ = true;
    buffer_.consume(buffer_.size());
    stream_.expires_after(kLingerTime);  // one bound for all the reads below
    Discard(0);
  }
  void Discard(size_t discarded) {
    if (discarded >= kLingerBytes) return Close();
    // Each read overwrites the last: nothing is kept.
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this(), discarded](beast::error_code ec, size_t n) {
                              // The client closed, reset, or the time is up.
                              if (ec) return self->Close();
                              self->Discard(discarded + n);
                            });
  }

  // Starts reading the next request: from the buffer first.
  void Next() {
    if (owner_->stopping()) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opt().header_limit));
    parser_->body_limit(opt().body_limit);
    waiting_ = true;
    header_started_ = false;
    stream_.expires_after(served_ == 0 ? opt().header_timeout : opt().idle_timeout);
    Feed();
  }

  void ReadMore() {
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->OnRead(ec, n);
                            });
  }

  void OnRead(beast::error_code ec, size_t n) {
    if (ec) return Close();  // timeout, reset, or the client closed: nothing to answer
    buffer_.commit(n);
    Feed();
  }

  // Gives the parser what the buffer holds; reads more when it needs more.
  void Feed() {
    while (buffer_.size() > 0) {
      if (waiting_) {
        // The first bytes of a request: the header block has its own time.
        waiting_ = false;
        header_started_ = true;
        if (served_ > 0) stream_.expires_after(opt().header_timeout);
      }
      const bool header_was_done = parser_->is_header_done();
      beast::error_code ec;
      const size_t used = parser_->put(buffer_.data(), ec);
      if (!header_was_done && parser_->is_header_done()) {
        const auto* p = static_cast<const char*>(buffer_.data().data());
        if (auto refused = CheckLineEnds(std::string_view(p, used))) {
          return Refuse(refused.status, refused.why);
        }
        buffer_.consume(used);
        if (!CheckHeader()) return;
        if (!parser_->is_done()) {
          stream_.expires_after(opt().body_timeout);
          if (opt().stream_body) return DispatchIfStreamed();
        }
      } else {
        buffer_.consume(used);
      }
      if (ec == bhttp::error::need_more) break;
      if (ec) return RefuseParse(ec);
      if (parser_->is_done()) {
        if (auto refused = CheckTrailer(*parser_, parser_->get().base(), header_fields_)) {
          return Refuse(refused.status, refused.why);
        }
        return Dispatch();
      }
      if (used == 0) break;
    }
    if (buffer_.size() >= opt().header_limit + kReadChunk) return Refuse(431, "");
    ReadMore();
  }

  void RefuseParse(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) return Refuse(431, "");
    if (ec == bhttp::error::body_limit) return Refuse(413, "");
    return Refuse(400, "the request is malformed (" + ec.message() + ")");
  }

  // The rules Beast leaves to its user (http/framing.hpp), and the interim
  // 100 Continue. False when the request was refused.
  bool CheckHeader() {
    const auto& req = parser_->get();
    const auto& fields = req.base();
    header_fields_ = FieldCount(fields);
    const FramingLimits limits{opt().max_header_fields, opt().target_limit, opt().body_limit};
    if (auto refused = http::CheckHeader(*parser_, fields, limits)) {
      Refuse(refused.status, refused.why);
      return false;
    }
    const auto expect = fields.find(bhttp::field::expect);
    if (expect != fields.end() && beast::iequals(expect->value(), "100-continue") &&
        !parser_->is_done()) {
      // The client waits for this before it sends the body.
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      beast::error_code ec;
      net::write(stream_.socket(), net::buffer(kContinue), ec);
      if (ec) {
        Close();
        return false;
      }
    }
    return true;
  }

  // What was read of the request so far, for a refusal's log line and id.
  Request Partial() const {
    Request r;
    r.remote_addr = ip_;
    r.remote_port = port_;
    if (parser_ && parser_->is_header_done()) {
      const auto& req = parser_->get();
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      auto id = req.find("X-Request-ID");
      if (id != req.end()) r.headers.Add("X-Request-ID", std::string(id->value()));
    }
    return r;
  }

  // Answers `status` and closes: after a framing error the rest of the
  // bytes cannot be trusted to start a request. The client may still be
  // sending them (a body over the limit): a lingering close, unless not
  // to `linger`.
  void Refuse(int status, const std::string& why, bool linger = true) {
    Response res;
    owner_->refusal()(status, Partial(), res, why);
    keep_alive_ = false;
    linger_ = linger;
    Write(std::move(res), /*head=*/false);
  }

  // The handlers' view of the parsed head; false (refused) when the query
  // cannot be decoded.
  bool MakeHead(Request* req) {
    const auto& msg = parser_->get();
    req->method = std::string(msg.method_string());
    req->target = std::string(msg.target());
    if (!SplitTarget(req->target, &req->path, &req->query)) {
      Refuse(400, "the query string cannot be decoded");
      return false;
    }
    for (const auto& f : msg) req->headers.Add(std::string(f.name_string()), std::string(f.value()));
    req->remote_addr = ip_;
    req->remote_port = port_;
    return true;
  }

  void Dispatch() {
    Request req;
    if (!MakeHead(&req)) return;
    auto& msg = parser_->get();
    req.body = std::move(msg.body());
    keep_alive_ = msg.keep_alive() && !owner_->stopping();
    const bool head = msg.method() == bhttp::verb::head;
    parser_.reset();
    stream_.expires_never();  // the handler may take long; each write has its own time
    if (opt().on_io) return Offer(std::move(req), head);
    Submit(std::move(req), head);
  }

  // Offers a complete request to on_io on the connection's strand; what it
  // declines goes to a worker.
  void Offer(Request req, bool head) {
    if (t_on_worker) {
      // Read on by the worker that wrote the last answer (Answer).
      net::post(stream_.get_executor(), [self = shared_from_this(), req = std::move(req),
                                         head]() mutable { self->Offer(std::move(req), head); });
      return;
    }
    // Always posted, never run inline: the hook may answer before it
    // returns, and the answer's write must not nest in this call.
    TransportOptions::Completion done = [self = shared_from_this(), head](Response res) {
      net::post(self->stream_.get_executor(), [self, head, res = std::move(res)]() mutable {
        self->Complete(std::move(res), head);
      });
    };
    bool taken = false;
    try {
      taken = opt().on_io(req, loop_, std::move(done));
    } catch (...) {
      // Against the contract; the client still gets an answer.
      Response res;
      owner_->refusal()(500, req, res, "");
      return Complete(std::move(res), head);
    }
    if (!taken) Submit(std::move(req), head);
  }

  // On the strand: the answer to a request on_io took.
  void Complete(Response res, bool head) {
    if (res.stream) {
      owner_->pool().Submit([self = shared_from_this(), res = std::move(res), head]() mutable {
        self->RunStream(std::move(res), head);
      });
      return;
    }
    Answer(std::move(res), head);
  }

  // The head was read and a body follows: when stream_body takes it, the
  // handler runs now and pulls the body (BodyPull); else reading goes on.
  void DispatchIfStreamed() {
    Request req;
    if (!MakeHead(&req)) return;
    if (!opt().stream_body(req)) return Feed();
    keep_alive_ = parser_->get().keep_alive() && !owner_->stopping();
    body_parser_.emplace(std::move(*parser_));
    body_parser_->eager(true);
    parser_.reset();
    body_done_ = false;
    // The body timeout set when the head was read goes on for the body;
    // each write of the answer has its own.
    Submit(std::move(req), /*head=*/false);
  }

  // Runs the handler on a worker, with a body reader for a streamed body.
  void Submit(Request req, bool head);

  // On the strand: the next piece of a streamed body into `into`, then
  // done(error, ended). Reads from the socket only when the buffer holds
  // no more of the body.
  void BodyPull(std::string* into, std::function<void(BodyReader::Error, bool)> done) {
    into->clear();
    while (buffer_.size() > 0 && !body_parser_->is_done()) {
      into->resize(kReadChunk);
      auto& body = body_parser_->get().body();
      body.data = into->data();
      body.size = into->size();
      body.more = true;
      beast::error_code ec;
      const size_t used = body_parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      into->resize(into->size() - body.size);
      if (ec == bhttp::error::need_buffer || ec == bhttp::error::need_more) ec = {};
      if (ec) {
        return done(ec == bhttp::error::body_limit ? BodyReader::Error::kTooLarge
                                                   : BodyReader::Error::kMalformed,
                    false);
      }
      if (!into->empty()) break;
      if (used == 0) break;
    }
    if (body_parser_->is_done()) {
      // As in Feed: a trailer could add a field no check saw.
      if (body_parser_->chunked() && TrailerAdded()) {
        return done(BodyReader::Error::kMalformed, false);
      }
      body_done_ = true;
      return done(BodyReader::Error::kNone, into->empty());
    }
    if (!into->empty()) return done(BodyReader::Error::kNone, false);
    pulling_ = true;
    stream_.async_read_some(
        buffer_.prepare(kReadChunk),
        [self = shared_from_this(), into, done = std::move(done)](beast::error_code ec,
                                                                   size_t n) mutable {
          self->pulling_ = false;
          if (ec) return done(BodyReader::Error::kGone, false);
          self->buffer_.commit(n);
          self->BodyPull(into, std::move(done));
        });
  }

  bool TrailerAdded() const {
    const auto& fields = body_parser_->get().base();
    size_t count = 0;
    for (auto it = fields.begin(); it != fields.end(); ++it) ++count;
    return count != header_fields_;
  }

  // The fields of `res` on `msg`, with framing and Connection decided here.
  template <typename Message>
  void PutHeaders(Response& res, Message& msg) {
    msg.version(11);
    msg.result(static_cast<unsigned>(res.status));
    for (const auto& [name, value] : res.headers) {
      if (beast::iequals(name, "Connection")) {
        if (beast::iequals(value, "close")) keep_alive_ = false;
        continue;
      }
      if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding")) {
        continue;
      }
      msg.insert(name, value);
    }
    msg.keep_alive(keep_alive_);
  }

  std::shared_ptr<bhttp::response<bhttp::string_body>> Message(Response& res, bool head) {
    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>();
    PutHeaders(res, *msg);
    const bool bodiless = res.status == 204 || res.status == 304 || res.status < 200;
    if (bodiless) {
      // No Content-Length either (RFC 9110 section 8.6).
    } else if (head) {
      msg->content_length(res.body.size());
    } else {
      msg->body() = std::move(res.body);
      msg->content_length(msg->body().size());
    }
    return msg;
  }

  // On the strand.
  void Write(Response res, bool head) {
    auto msg = Message(res, head);
    stream_.expires_after(opt().write_timeout);
    bhttp::async_write(stream_, *msg,
                       [self = shared_from_this(), msg](beast::error_code ec, size_t) {
                         self->OnWritten(ec);
                       });
  }

  // On the worker that ran the handler (or on the strand, for an answer
  // on_io completed): the answer goes to the socket from
  // here when the socket takes it whole, and the next request's read starts
  // here, saving the hand-off to an I/O thread (a wake-up and two context
  // switches per request). While a handler runs its connection has no
  // operation pending, so nothing else touches the socket; worker_mu_ keeps
  // Stop's CloseIfIdle out. What the socket does not take is written by the
  // strand under the write timeout, as Write does.
  void Answer(Response res, bool head) {
    auto msg = Message(res, head);
    std::lock_guard<std::mutex> lock(worker_mu_);
    std::string bytes;
    if (!HeaderBytes(*msg, &bytes)) return Close();
    const std::string& body = msg->body();
    iovec iov[2] = {{bytes.data(), bytes.size()}, {const_cast<char*>(body.data()), body.size()}};
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = body.empty() ? 1 : 2;
    const ssize_t n = ::sendmsg(stream_.socket().native_handle(), &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return Close();
    const size_t sent = n > 0 ? static_cast<size_t>(n) : 0;
    if (sent == bytes.size() + body.size()) return OnWritten({});
    bytes.append(body);
    auto rest = std::make_shared<std::string>(bytes.substr(sent));
    net::post(stream_.get_executor(), [self = shared_from_this(), rest] {
      self->stream_.expires_after(self->opt().write_timeout);
      net::async_write(self->stream_, net::buffer(*rest),
                       [self, rest](beast::error_code ec, size_t) { self->OnWritten(ec); });
    });
  }

  void OnWritten(beast::error_code ec) {
    ++served_;
    if (ec) return Close();
    EndOrNext();
  }

  // After an answer: the next request, or the connection's end. A
  // streamed body the handler left unread (Unread) is still being sent
  // and what follows it is not the start of a request: it lingers.
  void EndOrNext() {
    const bool unread = Unread();
    body_parser_.reset();
    // A pull the handler gave up on still pending (its client stalled past
    // the body timeout): only a close ends that read.
    if (pulling_) return Close();
    if (unread || linger_) return LingeringClose();
    if (!keep_alive_) return Close();
    Next();
  }
  bool Unread() const { return body_parser_ && !body_done_; }

  // Runs on the worker: the head goes out, then each chunk as the stream
  // writes it; the connection closes after the stream.
  void RunStream(Response res, bool head);

  Impl* const owner_;  // outlives every worker job and every running event loop
  const std::shared_ptr<ConnectionCounts> counts_;
  const net::any_io_executor loop_;  // the event loop (one thread) the connection is on
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::optional<BodyParser> body_parser_;  // a streamed body's, while its handler runs
  bool body_done_ = false;
  const std::string ip_;
  const int port_;
  bool waiting_ = true;  // no byte of the next request yet
  bool header_started_ = false;
  bool keep_alive_ = true;
  bool linger_ = false;     // a refusal made while the request was being read
  bool lingering_ = false;  // LingeringClose has begun
  bool pulling_ = false;    // a streamed body's read is pending (BodyPull)
  size_t served_ = 0;
  size_t header_fields_ = 0;  // the header's field count, before any trailer
  std::mutex worker_mu_;      // held by a worker that answers and reads on (Answer)
};

// A stream's chunks, written without a hop to the I/O thread when the
// socket takes them: with nothing queued or in flight the worker sends the
// framed chunk itself (a non-blocking send, so it never waits on the
// client). What the socket does not take is queued, and the connection's
// strand writes the queue under the write timeout, taking every chunk
// queued meanwhile into its next write. The queue is bounded: a worker whose
// chunk would not fit waits for room, so a client that reads slowly slows
// its stream instead of filling memory, and one that stops reading fails
// the write in flight after the write timeout and ends the stream.
class Transport::Impl::Session::ChunkWriter final : public StreamWriter {
 public:
  // Per connection: a few hundred deltas; 500 streams hold 32 MiB at most.
  static constexpr size_t kQueueLimit = 64 * 1024;

  explicit ChunkWriter(std::shared_ptr<Session> s)
      : s_(std::move(s)), q_(std::make_shared<Queue>()) {}

  bool Write(std::string_view data) override {
    if (data.empty()) return true;
    frame_.clear();
    for (const auto b :
         beast::buffers_range_ref(bhttp::make_chunk(net::buffer(data.data(), data.size())))) {
      frame_.append(static_cast<const char*>(b.data()), b.size());
    }
    return Send(frame_);
  }
  // The head, Beast's serialization of `msg`'s header.
  bool Head(bhttp::response<bhttp::empty_body>& msg) {
    frame_.clear();
    return HeaderBytes(msg, &frame_) && Send(frame_);
  }
  // The last chunk; Drain then sees it out.
  bool Finish() {
    frame_.clear();
    for (const auto b : beast::buffers_range_ref(bhttp::make_chunk_last())) {
      frame_.append(static_cast<const char*>(b.data()), b.size());
    }
    return Send(frame_);
  }
  // Waits until everything queued was written (or the write failed), so
  // that closing the connection cuts nothing.
  bool Drain() {
    std::unique_lock<std::mutex> lock(q_->mu);
    return WaitFor(lock, [this] { return !q_->in_flight; });
  }

 private:
  struct Queue {
    std::mutex mu;
    std::condition_variable cv;
    std::string queued;   // framed bytes not yet handed to a write
    std::string writing;  // the strand's write in flight
    bool in_flight = false;
    bool failed = false;
    size_t completions = 0;  // writes finished, for the waits' progress
  };

  bool Send(std::string_view bytes) {
    std::unique_lock<std::mutex> lock(q_->mu);
    if (q_->failed) return false;
    if (!q_->in_flight) {
      // Nothing ahead of these bytes: the socket may take them now.
      const ssize_t n = ::send(s_->stream_.socket().native_handle(), bytes.data(), bytes.size(),
                               MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        q_->failed = true;
        return false;
      }
      if (n > 0) bytes.remove_prefix(static_cast<size_t>(n));
      if (bytes.empty()) return true;
      q_->queued.assign(bytes.data(), bytes.size());
      StartWrite();
      return true;
    }
    if (!WaitFor(lock, [&] {
          return q_->queued.size() + bytes.size() <= kQueueLimit || q_->queued.empty();
        })) {
      return false;
    }
    if (!q_->in_flight) {
      q_->queued.assign(bytes.data(), bytes.size());
      StartWrite();
    } else {
      q_->queued.append(bytes.data(), bytes.size());
    }
    return true;
  }

  // Waits for `ready` (or a failure). A wait in which no write finished for
  // longer than the write timeout (plus a second for an event loop that
  // stopped) counts as a failure; the write timeout itself closes the socket
  // and completes the write.
  template <typename Ready>
  bool WaitFor(std::unique_lock<std::mutex>& lock, Ready ready) {
    const auto bound = s_->opt().write_timeout + std::chrono::seconds(1);
    while (!q_->failed && !ready()) {
      const size_t seen = q_->completions;
      if (!q_->cv.wait_for(lock, bound,
                           [&] { return q_->failed || ready() || q_->completions != seen; })) {
        q_->failed = true;
      }
    }
    return !q_->failed;
  }

  // Under q_->mu, with bytes queued and no write in flight.
  void StartWrite() {
    q_->in_flight = true;
    net::post(s_->stream_.get_executor(), [s = s_, q = q_] {
      {
        std::lock_guard<std::mutex> lock(q->mu);
        q->writing.swap(q->queued);
        q->queued.clear();
      }
      WriteQueued(s, q);
    });
  }
  // On the strand: writes q->writing, then what was queued meanwhile.
  static void WriteQueued(const std::shared_ptr<Session>& s, const std::shared_ptr<Queue>& q) {
    s->stream_.expires_after(s->opt().write_timeout);
    net::async_write(s->stream_, net::buffer(q->writing), [s, q](beast::error_code ec, size_t) {
      bool more = false;
      {
        std::lock_guard<std::mutex> lock(q->mu);
        ++q->completions;
        more = !ec && !q->queued.empty();
        if (more) {
          q->writing.swap(q->queued);
          q->queued.clear();
        } else {
          q->failed = q->failed || ec;
          q->in_flight = false;
        }
        q->cv.notify_all();
      }
      if (more) WriteQueued(s, q);
    });
  }

  std::shared_ptr<Session> s_;
  std::shared_ptr<Queue> q_;
  std::string frame_;  // reused: one allocation per stream, not per chunk
};

// A streamed body's reads, each posted to the connection's strand and
// waited for, as the chunk writes are: one piece in flight at most.
class Transport::Impl::Session::SessionBodyReader final : public BodyReader {
 public:
  explicit SessionBodyReader(std::shared_ptr<Session> s) : s_(std::move(s)) {}

  bool Read(std::string* piece) override {
    piece->clear();
    if (error_ != Error::kNone) return false;
    if (ended_) return true;
    struct Wait {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      Error error = Error::kNone;
      bool ended = false;
      std::string piece;
    };
    auto w = std::make_shared<Wait>();
    auto s = s_;
    net::post(s->stream_.get_executor(), [s, w] {
      s->BodyPull(&w->piece, [w](Error e, bool ended) {
        std::lock_guard<std::mutex> lock(w->mu);
        w->done = true;
        w->error = e;
        w->ended = ended;
        w->cv.notify_all();
      });
    });
    std::unique_lock<std::mutex> lock(w->mu);
    // The body timeout closes a stalled read; the extra second covers an
    // event loop that stopped.
    if (!w->cv.wait_for(lock, s->opt().body_timeout + std::chrono::seconds(1),
                        [&] { return w->done; })) {
      error_ = Error::kGone;  // the pull still owns w->piece, which w keeps alive
      return false;
    }
    error_ = w->error;
    ended_ = w->ended;
    piece->swap(w->piece);
    return error_ == Error::kNone;
  }
  Error error() const override { return error_; }

 private:
  std::shared_ptr<Session> s_;
  Error error_ = Error::kNone;
  bool ended_ = false;
};

void Transport::Impl::Session::Submit(Request req, bool head) {
  owner_->pool().Submit([self = shared_from_this(), req = std::move(req), head]() mutable {
    t_on_worker = true;
    struct Off {
      ~Off() { t_on_worker = false; }
    } off;
    Response res;
    std::optional<SessionBodyReader> reader;
    if (self->body_parser_) {
      reader.emplace(self);
      req.body_reader = &*reader;
    }
    try {
      self->owner_->handler()(req, res);
    } catch (...) {
      res = Response();
      self->owner_->refusal()(500, req, res, "");
    }
    const bool streamed_body = reader.has_value();
    req.body_reader = nullptr;
    reader.reset();
    if (res.stream) return self->RunStream(std::move(res), head);
    // Most answers go out from this worker (Answer). After a streamed body a
    // read the handler gave up on may still be pending on the strand, so
    // that answer is written there, where the socket is only touched.
    if (!streamed_body) return self->Answer(std::move(res), head);
    net::post(self->stream_.get_executor(), [self, res = std::move(res), head]() mutable {
      // A body left unread ends the connection (EndOrNext): the answer
      // says so.
      if (self->Unread()) self->keep_alive_ = false;
      self->Write(std::move(res), head);
    });
  });
}

void Transport::Impl::Session::RunStream(Response res, bool head) {
  keep_alive_ = false;
  bhttp::response<bhttp::empty_body> msg;
  PutHeaders(res, msg);
  msg.chunked(!head);
  ChunkWriter writer(shared_from_this());
  if (writer.Head(msg)) {
    if (!head && res.stream(writer)) writer.Finish();
    writer.Drain();
  }
  res.stream = nullptr;  // what the stream holds (a stream slot) goes now
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    ++self->served_;
    self->EndOrNext();  // keep_alive_ is false: a close, lingering if the body is unread
  });
}

Status Transport::Impl::Bind() {
  RaiseDescriptorLimit();
  beast::error_code ec;
  tcp::resolver resolver(loops_.front()->ioc);
  auto results = resolver.resolve(options_.host, std::to_string(options_.port),
                                  tcp::resolver::passive, ec);
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  if (ec || results.empty()) {
    return UnavailableError("cannot bind " + where + ": " +
                            (ec ? ec.message() : std::string("the host has no address")));
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(kListenBacklog, ec);
  if (ec) return UnavailableError("cannot bind " + where + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  return Status();
}

void Transport::Impl::Accept() {
  // Each new connection on the next loop in turn (with on_io): a few busy
  // connections spread evenly.
  net::io_context& loop = loops_[next_loop_++ % loops_.size()]->ioc;
  acceptor_.async_accept(net::make_strand(loop),
                         [this, &loop](beast::error_code ec, tcp::socket socket) {
                           OnAccept(ec, std::move(socket), loop);
                         });
}

void Transport::Impl::OnAccept(beast::error_code ec, tcp::socket socket, net::io_context& loop) {
  if (ec) {
    if (!acceptor_.is_open() || stopping()) return;
    // Out of descriptors and the like: the listener goes on.
    return Accept();
  }
  beast::error_code opt_ec;
  socket.set_option(tcp::no_delay(true), opt_ec);
  const auto remote = socket.remote_endpoint(opt_ec);
  std::string ip = opt_ec ? std::string() : remote.address().to_string();
  const int port = opt_ec ? 0 : remote.port();
  bool over = false;
  std::shared_ptr<Session> session;
  {
    std::lock_guard<std::mutex> lock(counts_->mu);
    int& mine = counts_->per_ip[ip];
    over = counts_->open >= options_.max_connections || mine >= options_.max_connections_per_ip;
    ++counts_->open;
    ++mine;
    session = std::make_shared<Session>(*this, std::move(socket), loop, ip, port);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      it = it->expired() ? sessions_.erase(it) : std::next(it);
    }
    sessions_.push_back(session);
  }
  if (over) {
    session->StartRefused();
  } else {
    session->Start();
  }
  Accept();
}

void Transport::Impl::Run() {
  Accept();
  std::vector<std::thread> threads;
  for (auto& loop : loops_) {
    for (int i = 0; i < loop->threads; ++i) {
      threads.emplace_back([&ioc = loop->ioc] { ioc.run(); });
    }
  }
  std::vector<std::shared_ptr<Session>> live;
  {
    std::unique_lock<std::mutex> lock(counts_->mu);
    counts_->cv.wait(lock, [this] { return stop_requested_; });
    for (auto& w : sessions_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  for (auto& s : live) s->CloseIfIdle();
  live.clear();
  {
    // In-flight requests are answered; a stream that outlasts this bound is
    // cut (its connection closes with the event loop).
    std::unique_lock<std::mutex> lock(counts_->mu);
    counts_->cv.wait_for(lock, options_.drain_timeout, [this] { return counts_->open == 0; });
  }
  for (auto& loop : loops_) {
    loop->work.reset();
    loop->ioc.stop();
  }
  for (auto& t : threads) t.join();
  pool_.Shutdown();
}

void Transport::Impl::Stop() {
  stopping_ = true;
  std::lock_guard<std::mutex> lock(counts_->mu);
  stop_requested_ = true;
  counts_->cv.notify_all();
}

Transport::Transport(TransportOptions options, Handler handler, Refusal refusal)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(refusal))) {}

Transport::~Transport() = default;
Status Transport::Bind() { return impl_->Bind(); }
int Transport::port() const { return impl_->port(); }
void Transport::Run() { impl_->Run(); }
void Transport::Stop() { impl_->Stop(); }

}  // namespace assistant::server::http
