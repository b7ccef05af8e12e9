#include "forwarder.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>

#include "header_policy.hpp"
#include "http/worker_pool.hpp"

namespace assistant::server {
namespace {

using Clock = std::chrono::steady_clock;

// Body bytes read ahead of the client: past this, the upstream read waits.
constexpr size_t kMaxBuffered = 256 * 1024;
// An answer at most this large (by its Content-Length) is read whole and
// sent with its length; anything else streams.
constexpr size_t kWholeAnswerBytes = 64 * 1024;


template <typename Rep, typename Period>
std::pair<time_t, time_t> SecondsAndMicros(std::chrono::duration<Rep, Period> d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return {static_cast<time_t>(us / 1000000), static_cast<time_t>(us % 1000000)};
}

// A connection to `upstream` (a pooled one when there is a pool), set up
// for forwarding; null when the address is not usable.
std::unique_ptr<httplib::Client> Connect(const Upstream& upstream) {
  std::unique_ptr<httplib::Client> client =
      upstream.pool ? upstream.pool->Take() : std::make_unique<httplib::Client>(upstream.origin);
  if (!client->is_valid()) return nullptr;
  const auto [cs, cus] = SecondsAndMicros(upstream.connect_timeout);
  const auto [rs, rus] = SecondsAndMicros(upstream.read_timeout);
  client->set_connection_timeout(cs, cus);
  client->set_read_timeout(rs, rus);
  client->set_write_timeout(rs, rus);
  // The body passes as the upstream encoded it; its Content-Encoding goes
  // back with it.
  client->set_decompress(false);
  // A request's head and body are separate writes: without this, Nagle's
  // algorithm holds the second until the first is acknowledged.
  client->set_tcp_nodelay(true);
  return client;
}

Status Unusable() {
  return UnavailableError("the upstream's address is not usable", "upstream_error");
}

// What an exchange that got no answer is: silent past a timeout, or down.
Status NoAnswer(httplib::Error error, Clock::time_point last_progress,
                std::chrono::milliseconds read_timeout) {
  const bool timed_out = error == httplib::Error::ConnectionTimeout ||
                         (error == httplib::Error::Read &&
                          Clock::now() - last_progress >=
                              read_timeout - std::chrono::milliseconds(50));
  if (timed_out) {
    return DeadlineExceededError("the upstream did not answer in time", "upstream_timeout");
  }
  return UnavailableError("the upstream could not be reached or failed", "upstream_error");
}

}  // namespace

struct UpstreamCall::Shared {
  std::mutex mu;
  std::condition_variable cv;
  bool headers_ready = false;
  bool finished = false;  // the worker's send() returned
  bool failed = false;
  bool aborted = false;
  bool stopped = false;  // the connection was cut mid-exchange
  int status = 0;
  httplib::Headers headers;
  std::deque<std::string> chunks;
  size_t buffered = 0;
  httplib::Error error = httplib::Error::Success;
  Clock::time_point last_progress = Clock::now();
  std::unique_ptr<httplib::Client> client;
  std::shared_ptr<ConnectionPool> pool;
};

ConnectionPool::ConnectionPool(std::string origin, std::chrono::milliseconds max_idle)
    : origin_(std::move(origin)), max_idle_(max_idle) {}

std::unique_ptr<httplib::Client> ConnectionPool::Take() {
  const auto now = Clock::now();
  std::unique_ptr<httplib::Client> stale;  // closed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!idle_.empty()) {
      Idle last = std::move(idle_.back());
      idle_.pop_back();
      if (now - last.since <= max_idle_) return std::move(last.client);
      stale = std::move(last.client);
    }
  }
  auto client = std::make_unique<httplib::Client>(origin_);
  client->set_keep_alive(true);
  return client;
}

void ConnectionPool::Give(std::unique_ptr<httplib::Client> client) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back({std::move(client), Clock::now()});
}

UpstreamCall::UpstreamCall(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

UpstreamCall::~UpstreamCall() {
  Abort();
  Shared& st = *shared_;
  {
    std::unique_lock<std::mutex> lock(st.mu);
    st.cv.wait(lock, [&st] { return st.finished; });
  }
  // Only a connection whose exchange ended cleanly can carry the next one.
  if (st.pool && st.finished && !st.failed && st.chunks.empty() && !st.stopped) {
    st.pool->Give(std::move(st.client));
  }
}

void UpstreamCall::Abort() {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    if (shared_->aborted || shared_->finished) {
      shared_->aborted = true;
      return;
    }
    shared_->aborted = true;
    shared_->stopped = true;
  }
  shared_->cv.notify_all();
  // Unblocks a read waiting on a silent upstream (the client allows stop()
  // from another thread).
  shared_->client->stop();
}

Result<std::shared_ptr<UpstreamCall>> UpstreamCall::Start(const Upstream& upstream,
                                                          OutboundRequest request) {
  auto shared = std::make_shared<Shared>();
  shared->pool = upstream.pool;
  shared->client = Connect(upstream);
  if (!shared->client) return Unusable();

  std::shared_ptr<UpstreamCall> call(new UpstreamCall(shared));
  Shared* st = shared.get();
  // On a thread of the pool running this handler (http/worker_pool.hpp);
  // `shared` lives as long as the job.
  http::WorkerPool::Current().Run([shared, request = std::move(request)]() mutable {
    Shared* st = shared.get();
    httplib::Request req;
    req.method = std::move(request.method);
    req.path = std::move(request.target);
    req.headers = std::move(request.headers);
    req.body = std::move(request.body);
    req.response_handler = [st](const httplib::Response& res) {
      std::lock_guard<std::mutex> lock(st->mu);
      st->status = res.status;
      st->headers = res.headers;
      st->headers_ready = true;
      st->last_progress = Clock::now();
      st->cv.notify_all();
      return !st->aborted;
    };
    req.content_receiver = [st](const char* data, size_t n, uint64_t, uint64_t) {
      std::unique_lock<std::mutex> lock(st->mu);
      st->cv.wait(lock, [st] { return st->aborted || st->buffered < kMaxBuffered; });
      if (st->aborted) return false;
      st->chunks.emplace_back(data, n);
      st->buffered += n;
      st->last_progress = Clock::now();
      st->cv.notify_all();
      return true;
    };
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    const bool ok = st->client->send(req, res, error);
    std::lock_guard<std::mutex> lock(st->mu);
    if (ok && !st->headers_ready) {
      // cpp-httplib 0.11 skips the response handler on a HEAD: the
      // answer's head is only in `res`.
      st->status = res.status;
      st->headers = res.headers;
      st->headers_ready = true;
    }
    st->finished = true;
    st->failed = !ok;
    st->error = error;
    st->cv.notify_all();
  });

  std::unique_lock<std::mutex> lock(shared->mu);
  shared->cv.wait(lock, [st] { return st->headers_ready || st->finished; });
  if (!shared->headers_ready) {
    return NoAnswer(shared->error, shared->last_progress, upstream.read_timeout);
  }
  call->status_ = shared->status;
  call->headers_ = shared->headers;
  return call;
}

template <typename Fn>
bool UpstreamCall::Drain(Fn&& take) {
  Shared& st = *shared_;
  for (;;) {
    std::string chunk;
    {
      std::unique_lock<std::mutex> lock(st.mu);
      st.cv.wait(lock, [&] { return !st.chunks.empty() || st.finished || st.aborted; });
      if (st.chunks.empty()) return st.finished && !st.failed && !st.aborted;
      chunk = std::move(st.chunks.front());
      st.chunks.pop_front();
      st.buffered -= chunk.size();
    }
    st.cv.notify_all();  // room again for the upstream read
    if (!take(chunk)) {
      Abort();
      return false;
    }
  }
}

bool UpstreamCall::Pump(http::StreamWriter& sink) {
  return Drain([&sink](const std::string& chunk) { return sink.Write(chunk); });
}

bool UpstreamCall::ReadAll(std::string* body) {
  return Drain([body](const std::string& chunk) {
    body->append(chunk);
    return true;
  });
}

namespace {

// Whether an answer with these headers comes whole: a Content-Length of at
// most kWholeAnswerBytes, or no body at all.
bool ComesWhole(const httplib::Headers& headers, int status, const std::string& method) {
  if (method == "HEAD" || status == 204 || status == 304) return true;
  const auto length_it = headers.find("Content-Length");
  if (length_it == headers.end()) return false;
  const std::string& length = length_it->second;
  return !length.empty() && length.size() <= 6 &&
         length.find_first_not_of("0123456789") == std::string::npos &&
         std::stoul(length) <= kWholeAnswerBytes;
}

std::string ContentTypeOf(const httplib::Headers& headers) {
  const auto it = headers.find("Content-Type");
  return it != headers.end() ? it->second : std::string();
}

void PutWhole(const httplib::Headers& headers, std::string body, http::Response& res) {
  std::string content_type = ContentTypeOf(headers);
  if (content_type.empty() && !body.empty()) content_type = "application/octet-stream";
  if (content_type.empty()) {
    res.body.clear();
  } else {
    res.SetBody(std::move(body), content_type);
  }
}

}  // namespace

Result<std::optional<WholeAnswer>> ExchangeWhole(const Upstream& upstream,
                                                 const OutboundRequest& request) {
  std::unique_ptr<httplib::Client> client = Connect(upstream);
  if (!client) return Unusable();

  httplib::Request req;
  req.method = request.method;
  req.path = request.target;
  req.headers = request.headers;
  req.body = request.body;
  bool streams = false;
  WholeAnswer answer;
  req.response_handler = [&](const httplib::Response& res) {
    streams = !ComesWhole(res.headers, res.status, request.method);
    return !streams;  // a stream is dropped here and forwarded by UpstreamCall
  };
  req.content_receiver = [&answer](const char* data, size_t n, uint64_t, uint64_t) {
    answer.body.append(data, n);
    return true;
  };
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  const auto started = Clock::now();
  const bool ok = client->send(req, res, error);
  if (streams) return std::optional<WholeAnswer>();
  if (!ok) return NoAnswer(error, started, upstream.read_timeout);
  if (upstream.pool) upstream.pool->Give(std::move(client));
  answer.status = res.status;
  answer.headers = std::move(res.headers);
  return std::optional<WholeAnswer>(std::move(answer));
}

namespace {

// An upload's pieces between the thread reading them and the one sending.
struct Pipe {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> chunks;
  size_t buffered = 0;
  bool closed = false;         // every piece is in
  bool reader_failed = false;  // the body could not be read
  bool sender_done = false;    // the exchange ended (the answer is below)
  httplib::Error error = httplib::Error::Success;
  std::unique_ptr<httplib::Response> response;
};

// The next piece for the sending thread: false when there is none to
// come, `*piece` empty when the body ended.
bool NextPiece(Pipe& p, std::string* piece) {
  std::unique_lock<std::mutex> lock(p.mu);
  p.cv.wait(lock, [&p] { return !p.chunks.empty() || p.closed || p.reader_failed; });
  if (p.reader_failed) return false;
  piece->clear();
  if (!p.chunks.empty()) {
    *piece = std::move(p.chunks.front());
    p.chunks.pop_front();
    p.buffered -= piece->size();
  }
  lock.unlock();
  p.cv.notify_all();  // room again for the reader
  return true;
}

}  // namespace

Result<WholeAnswer> ExchangeUpload(const Upstream& upstream, const OutboundRequest& head,
                                   std::optional<size_t> length, http::BodyReader& body) {
  std::shared_ptr<httplib::Client> client = Connect(upstream);
  if (!client) return Unusable();

  // The content type goes as the client methods take it, once.
  httplib::Headers headers = head.headers;
  std::string content_type = "application/octet-stream";
  if (auto it = headers.find("Content-Type"); it != headers.end()) {
    content_type = it->second;
    headers.erase(it);
  }
  auto pipe = std::make_shared<Pipe>();
  const auto started = Clock::now();
  http::WorkerPool::Current().Run([pipe, client, headers, content_type, length,
                             method = head.method, target = head.target]() {
    httplib::Result r(nullptr, httplib::Error::Unknown);
    if (length) {
      httplib::ContentProvider provider = [pipe](size_t, size_t, httplib::DataSink& sink) {
        std::string piece;
        // A body shorter than it said it was fails the exchange.
        if (!NextPiece(*pipe, &piece) || piece.empty()) return false;
        return sink.write(piece.data(), piece.size());
      };
      if (method == "POST") r = client->Post(target, headers, *length, provider, content_type);
      if (method == "PUT") r = client->Put(target, headers, *length, provider, content_type);
      if (method == "PATCH") r = client->Patch(target, headers, *length, provider, content_type);
    } else {
      httplib::ContentProviderWithoutLength provider = [pipe](size_t, httplib::DataSink& sink) {
        std::string piece;
        if (!NextPiece(*pipe, &piece)) return false;
        if (piece.empty()) {
          sink.done();
          return true;
        }
        return sink.write(piece.data(), piece.size());
      };
      if (method == "POST") r = client->Post(target, headers, provider, content_type);
      if (method == "PUT") r = client->Put(target, headers, provider, content_type);
      if (method == "PATCH") r = client->Patch(target, headers, provider, content_type);
    }
    std::lock_guard<std::mutex> lock(pipe->mu);
    pipe->error = r.error();
    if (r) pipe->response = std::make_unique<httplib::Response>(std::move(*r));
    pipe->sender_done = true;
    pipe->cv.notify_all();
  });

  bool read = false;
  for (std::string piece; body.Read(&piece);) {
    if (piece.empty()) {
      read = true;
      break;
    }
    std::unique_lock<std::mutex> lock(pipe->mu);
    pipe->cv.wait(lock, [&pipe] { return pipe->buffered < kMaxBuffered || pipe->sender_done; });
    if (pipe->sender_done) break;  // nobody left to send it to
    pipe->buffered += piece.size();
    pipe->chunks.push_back(std::move(piece));
    pipe->cv.notify_all();
  }
  std::unique_lock<std::mutex> lock(pipe->mu);
  if (read) {
    pipe->closed = true;
  } else if (!pipe->sender_done) {
    pipe->reader_failed = true;
  }
  pipe->cv.notify_all();
  pipe->cv.wait(lock, [&pipe] { return pipe->sender_done; });
  if (pipe->reader_failed) {
    return UnavailableError("the request body could not be read", "body_unread");
  }
  if (!pipe->response || !read) return NoAnswer(pipe->error, started, upstream.read_timeout);
  // The connection is not pooled again: the sending thread may still hold
  // it, and uploads are few.
  WholeAnswer answer;
  answer.status = pipe->response->status;
  answer.headers = std::move(pipe->response->headers);
  answer.body = std::move(pipe->response->body);
  return answer;
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

void RelayWhole(WholeAnswer answer, const HeaderPolicy& policy, http::Response& res) {
  res.status = answer.status;
  for (const auto& [name, value] : EndToEndHeaders(answer.headers, policy)) {
    res.headers.Add(name, value);
  }
  PutWhole(answer.headers, std::move(answer.body), res);
}

Status RelayAnswer(std::shared_ptr<UpstreamCall> up, const HeaderPolicy& policy,
                   const std::string& method, http::Response& res) {
  for (const auto& [name, value] : EndToEndHeaders(up->headers(), policy)) {
    res.headers.Add(name, value);
  }
  if (ComesWhole(up->headers(), up->status(), method)) {
    std::string body;
    if (!up->ReadAll(&body)) {
      return UnavailableError("the upstream's answer was cut short", "upstream_error");
    }
    PutWhole(up->headers(), std::move(body), res);
    return Status();
  }
  std::string content_type = ContentTypeOf(up->headers());
  if (content_type.empty()) content_type = "application/octet-stream";
  // Each piece is sent as it is read: nothing in between may buffer it.
  res.headers.Add("X-Accel-Buffering", "no");
  // The stream holds the call: when the transport drops it, run or not,
  // the call is stopped (~UpstreamCall).
  res.SetStream(content_type, [up](http::StreamWriter& sink) { return up->Pump(sink); });
  return Status();
}

}  // namespace assistant::server
