#include "forwarder.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "header_policy.hpp"

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
  std::thread worker;
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
  if (shared_->worker.joinable()) shared_->worker.join();
  // Only a connection whose exchange ended cleanly can carry the next one.
  Shared& st = *shared_;
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
  shared->client = upstream.pool ? upstream.pool->Take()
                                 : std::make_unique<httplib::Client>(upstream.origin);
  if (!shared->client->is_valid()) {
    return UnavailableError("the upstream's address is not usable", "upstream_error");
  }
  httplib::Client& cli = *shared->client;
  const auto [cs, cus] = SecondsAndMicros(upstream.connect_timeout);
  const auto [rs, rus] = SecondsAndMicros(upstream.read_timeout);
  cli.set_connection_timeout(cs, cus);
  cli.set_read_timeout(rs, rus);
  cli.set_write_timeout(rs, rus);
  // The body passes as the upstream encoded it; its Content-Encoding goes
  // back with it.
  cli.set_decompress(false);

  std::shared_ptr<UpstreamCall> call(new UpstreamCall(shared));
  Shared* st = shared.get();
  shared->worker = std::thread([st, request = std::move(request)]() mutable {
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
    const bool timed_out =
        shared->error == httplib::Error::ConnectionTimeout ||
        (shared->error == httplib::Error::Read &&
         Clock::now() - shared->last_progress >=
             upstream.read_timeout - std::chrono::milliseconds(50));
    if (timed_out) return DeadlineExceededError("the upstream did not answer in time",
                                                "upstream_timeout");
    return UnavailableError("the upstream could not be reached or failed",
                            "upstream_error");
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

Status RelayAnswer(std::shared_ptr<UpstreamCall> up, const HeaderPolicy& policy,
                   const std::string& method, http::Response& res) {
  for (const auto& [name, value] : EndToEndHeaders(up->headers(), policy)) {
    res.headers.Add(name, value);
  }
  const auto type_it = up->headers().find("Content-Type");
  std::string content_type = type_it != up->headers().end() ? type_it->second : std::string();
  const auto length_it = up->headers().find("Content-Length");
  const std::string length = length_it != up->headers().end() ? length_it->second : std::string();
  const bool small = !length.empty() && length.size() <= 6 &&
                     length.find_first_not_of("0123456789") == std::string::npos &&
                     std::stoul(length) <= kWholeAnswerBytes;
  if (small || method == "HEAD" || up->status() == 204 || up->status() == 304) {
    std::string body;
    if (!up->ReadAll(&body)) {
      return UnavailableError("the upstream's answer was cut short", "upstream_error");
    }
    if (content_type.empty() && !body.empty()) content_type = "application/octet-stream";
    if (content_type.empty()) {
      res.body.clear();
    } else {
      res.SetBody(std::move(body), content_type);
    }
    return Status();
  }
  if (content_type.empty()) content_type = "application/octet-stream";
  // Each piece is sent as it is read: nothing in between may buffer it.
  res.headers.Add("X-Accel-Buffering", "no");
  // The stream holds the call: when the transport drops it, run or not,
  // the call is stopped (~UpstreamCall).
  res.SetStream(content_type, [up](http::StreamWriter& sink) { return up->Pump(sink); });
  return Status();
}

}  // namespace assistant::server
