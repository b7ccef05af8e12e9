#include "llm/http_provider.hpp"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "llm/request_builders.hpp"
#include "common/text.hpp"

namespace assistant::llm {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How often a running request looks at its CancellationToken; bounds how
// late a cancel closes the upstream connection.
constexpr milliseconds kCancelPoll{20};
// Upstream error bodies kept for the message (and to read its JSON).
constexpr size_t kMaxErrorBody = 16 * 1024;
constexpr size_t kMaxUpstreamMessage = 300;

std::string DurationText(milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

Status UpstreamError(std::string message) {
  return UnavailableError(std::move(message), "upstream_error");
}

Status UpstreamTimeout(std::string message) {
  return DeadlineExceededError(std::move(message), "upstream_timeout");
}

Status Cancelled() { return CancelledError("the LLM request was cancelled"); }

// The human part of an upstream error body: OpenAI {"error":{"message"}},
// Ollama {"error":"..."}, Cohere {"message":"..."}; else nothing (an HTML
// error page says nothing useful).
std::string UpstreamMessage(const std::string& body) {
  Json j = text::ParseJsonBounded(body);
  if (!j.is_object()) return {};
  std::string text;
  if (auto it = j.find("error"); it != j.end()) {
    if (it->is_string()) {
      text = it->get<std::string>();
    } else if (it->is_object()) {
      auto m = it->find("message");
      if (m != it->end() && m->is_string()) text = m->get<std::string>();
    }
  }
  if (text.empty()) {
    auto m = j.find("message");
    if (m != j.end() && m->is_string()) text = m->get<std::string>();
  }
  if (text.size() > kMaxUpstreamMessage) {
    text.resize(kMaxUpstreamMessage);
    // Do not leave half a UTF-8 character at the cut.
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) {
      text.pop_back();
    }
    if (!text.empty() && (static_cast<unsigned char>(text.back()) & 0x80) != 0) text.pop_back();
    text += "...";
  }
  return text;
}

// Writing to a connection the server already closed raises SIGPIPE, whose
// default action ends the process; Debian's cpp-httplib 0.11 sends with
// flags 0 (no MSG_NOSIGNAL) and OpenSSL writes plainly, and a library must
// not change the process's signal dispositions. So SIGPIPE is
// blocked on this thread for the request and a pending one is consumed.
class ScopedSigpipeBlock final {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      const struct timespec zero = {0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

// Cancellation while the server is silent: no callback runs then, so the
// socket is shut down from another thread, which wakes the blocked read at
// once. One thread watches every request in flight (rather than one thread
// per request): with hundreds of open streams, per-request watchers cost a
// thread each and tens of thousands of wake-ups a second. It sleeps while
// nothing is in flight.
class CancelWatcher final {
 public:
  static CancelWatcher& Instance() {
    static CancelWatcher watcher;
    return watcher;
  }

  // Watches `cancel` until Remove(id); when it fires, sets `*cancelled` and
  // stops `cli`.
  uint64_t Add(const CancellationToken* cancel, httplib::Client* cli,
               std::atomic<bool>* cancelled) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    const uint64_t id = ++next_id_;
    watched_.push_back({id, cancel, cli, cancelled});
    cv_.notify_one();
    return id;
  }

  // After this returns the watcher no longer touches the request's client.
  void Remove(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < watched_.size(); ++i) {
      if (watched_[i].id == id) {
        watched_[i] = watched_.back();
        watched_.pop_back();
        return;
      }
    }
  }

  ~CancelWatcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Watched {
    uint64_t id;
    const CancellationToken* cancel;
    httplib::Client* cli;
    std::atomic<bool>* cancelled;
  };

  void Loop() {
    // Stopping a TLS client may write a close_notify to a closed socket.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      if (watched_.empty()) {
        cv_.wait(lock, [this] { return stopping_ || !watched_.empty(); });
        continue;
      }
      cv_.wait_for(lock, kCancelPoll);
      for (Watched& w : watched_) {
        if (w.cli != nullptr && w.cancel->cancelled()) {
          *w.cancelled = true;
          // Under the lock, so Remove() cannot return (and the client go
          // away) while it is being stopped.
          w.cli->stop();
          w.cli = nullptr;  // once is enough
        }
      }
      const struct timespec zero = {0, 0};
      while (sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) {
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Watched> watched_;
  uint64_t next_id_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

struct Attempt {
  Status status;
  ChatResponse response;
  bool retryable = false;
  milliseconds retry_after{-1};
};

class HttpProvider final : public LlmProvider {
 public:
  HttpProvider(WireFormat format, ProviderConfig config, BaseUrl url)
      : format_(std::move(format)), config_(std::move(config)), url_(std::move(url)) {}

  std::string name() const override { return format_.provider_name; }
  // Every wire format sends the sampling settings (request_builders.hpp).
  bool honours_sampling() const override { return true; }

  Result<ChatResponse> Chat(const ChatRequest& request, const DeltaSink& on_delta,
                            const CancellationToken& cancel) override {
    Result<Json> body = format_.build(request, config_.model);
    if (!body.ok()) return body.status();
    const std::string text = DumpBody(*body);
    bool delivered = false;
    for (int attempt = 0;; ++attempt) {
      if (cancel.cancelled()) return Cancelled();
      Attempt a = Once(text, on_delta, cancel, &delivered);
      if (a.status.ok()) return std::move(a.response);
      // Never retry once the caller has seen text: the reply would repeat.
      if (!a.retryable || delivered || attempt >= config_.max_retries) {
        return Scrub(a.status);
      }
      milliseconds delay =
          a.retry_after.count() >= 0
              ? std::min(a.retry_after, config_.max_retry_after)
              : BackoffDelay(attempt, config_.retry_base_delay, config_.retry_max_delay);
      if (!SleepUnlessCancelled(delay, cancel)) return Cancelled();
    }
  }

 private:
  Status Scrub(const Status& s) const {
    return Status(s.code(), Redact(s.message(), config_.api_key, url_), s.reason(),
                  s.field());
  }

  static bool SleepUnlessCancelled(milliseconds delay, const CancellationToken& cancel) {
    const auto until = Clock::now() + delay;
    while (Clock::now() < until) {
      if (cancel.cancelled()) return false;
      std::this_thread::sleep_for(
          std::min<Clock::duration>(kCancelPoll, until - Clock::now()));
    }
    return !cancel.cancelled();
  }

  Attempt Once(const std::string& body, const DeltaSink& on_delta,
               const CancellationToken& cancel, bool* delivered) const {
    // First, so it outlives the client (whose teardown may write a TLS
    // close_notify).
    ScopedSigpipeBlock no_sigpipe;
    Attempt out;
    std::unique_ptr<ChatStreamParser> parser = format_.new_parser();

    httplib::Client cli(url_.origin);
    cli.set_connection_timeout(config_.connect_timeout);
    cli.set_read_timeout(config_.read_timeout);
    cli.set_write_timeout(config_.read_timeout);
    cli.set_keep_alive(false);
    cli.set_follow_location(false);

    httplib::Request req;
    req.method = "POST";
    req.path = url_.path_prefix + format_.path;
    req.headers = {{"Content-Type", "application/json"},
                   {"Accept", format_.accept},
                   // Compression would hold back a streamed reply.
                   {"Accept-Encoding", "identity"},
                   {"User-Agent", "libassistant"}};
    if (!config_.api_key.empty()) {
      req.headers.emplace("Authorization", "Bearer " + config_.api_key);
    }
    req.body = body;

    // Shared with the cancel watcher and the callbacks, all on this stack.
    std::atomic<bool> cancelled{false};
    std::atomic<Clock::rep> last_activity{Clock::now().time_since_epoch().count()};
    int http_status = 0;
    int64_t retry_after = -1;
    std::string error_body;
    Status stream_status;
    std::vector<std::string> deltas;

    auto deliver = [&](std::vector<std::string>& ds) -> bool {
      for (const std::string& d : ds) {
        *delivered = true;
        if (on_delta && !on_delta(d)) {
          cancelled = true;
          return false;
        }
      }
      ds.clear();
      return true;
    };

    req.response_handler = [&](const httplib::Response& res) {
      last_activity = Clock::now().time_since_epoch().count();
      http_status = res.status;
      if (res.has_header("Retry-After")) {
        retry_after = ParseRetryAfter(res.get_header_value("Retry-After"));
      }
      return !cancel.cancelled();
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      last_activity = Clock::now().time_since_epoch().count();
      if (cancel.cancelled()) {
        cancelled = true;
        return false;
      }
      if (http_status < 200 || http_status > 299) {
        error_body.append(data, std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, error_body.size())));
        return true;
      }
      stream_status = parser->Feed(std::string_view(data, n), &deltas);
      // Text parsed before an error still reaches the caller.
      if (!deliver(deltas)) return false;
      return stream_status.ok();
    };

    // Cancellation while the server is silent (CancelWatcher).
    const uint64_t watch_id = CancelWatcher::Instance().Add(&cancel, &cli, &cancelled);
    httplib::Result res = cli.send(req);
    CancelWatcher::Instance().Remove(watch_id);

    const bool ok_http = res && http_status >= 200 && http_status <= 299;
    if (!ok_http && (cancelled || cancel.cancelled())) {
      out.status = Cancelled();
      return out;
    }
    if (!stream_status.ok()) {
      // An error object in the stream, or bytes that are not the protocol.
      out.status = stream_status;
      return out;
    }
    if (!res) {
      const auto idle = Clock::now() - Clock::time_point(Clock::duration(last_activity.load()));
      const httplib::Error err = res.error();
      if (err == httplib::Error::Read && idle + milliseconds(10) >= config_.read_timeout) {
        out.status = UpstreamTimeout("the LLM upstream sent nothing for " +
                                     DurationText(config_.read_timeout));
        return out;
      }
      if (err == httplib::Error::ConnectionTimeout) {
        out.status = UpstreamTimeout("could not connect to the LLM upstream within " +
                                     DurationText(config_.connect_timeout));
        out.retryable = true;
        return out;
      }
      if (err == httplib::Error::SSLServerVerification ||
          err == httplib::Error::SSLLoadingCerts) {
        out.status = UpstreamError("the LLM upstream's TLS certificate was not accepted");
        return out;
      }
      out.retryable = true;
      if (http_status != 0) {
        out.status = UpstreamError(
            "the LLM upstream closed the connection before the reply finished");
      } else {
        out.status = UpstreamError("could not reach the LLM upstream (" +
                                   httplib::to_string(err) + ")");
      }
      return out;
    }
    if (http_status < 200 || http_status > 299) {
      std::string message = "the LLM upstream answered HTTP " + std::to_string(http_status);
      // Auth failures may quote part of the key back; say nothing more.
      if (http_status != 401 && http_status != 403 && http_status != 407) {
        std::string said = UpstreamMessage(error_body);
        if (!said.empty()) message += ": " + said;
      }
      out.status = UpstreamError(std::move(message));
      out.retryable = http_status == 408 || http_status == 429 || http_status >= 500;
      if (retry_after >= 0) out.retry_after = std::chrono::seconds(retry_after);
      return out;
    }
    Status finish = parser->Finish(&deltas);
    if (!deliver(deltas)) {
      out.status = Cancelled();
      return out;
    }
    if (!finish.ok()) {
      // A 200 whose stream ended early: safe to retry while nothing was shown.
      out.status = finish;
      out.retryable = true;
      return out;
    }
    out.response = parser->response();
    return out;
  }

  const WireFormat format_;
  const ProviderConfig config_;
  const BaseUrl url_;
};

}  // namespace

std::string Redact(std::string text, const std::string& api_key, const BaseUrl& url) {
  auto replace_all = [&text](const std::string& secret) {
    if (secret.size() < 3) return;  // too short to be anything but noise
    for (size_t pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos)) {
      text.replace(pos, secret.size(), "[redacted]");
      pos += 10;
    }
  };
  replace_all(api_key);
  // Longest first, so "host:port" goes whole rather than leaving the port.
  replace_all(url.origin);
  replace_all(url.authority);
  replace_all(url.host);
  return text;
}

int64_t ParseRetryAfter(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 9) return -1;
  int64_t n = 0;
  for (char c : value) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

milliseconds BackoffDelay(int attempt, milliseconds base, milliseconds cap) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t ceiling = base.count();
  for (int i = 0; i < attempt && ceiling < cap.count(); ++i) ceiling *= 2;
  ceiling = std::min<int64_t>(ceiling, cap.count());
  if (ceiling <= 0) return milliseconds(0);
  std::uniform_int_distribution<int64_t> dist(0, ceiling);
  return milliseconds(dist(rng));
}

std::unique_ptr<LlmProvider> NewHttpProvider(WireFormat format, ProviderConfig config,
                                             BaseUrl url) {
  return std::make_unique<HttpProvider>(std::move(format), std::move(config), std::move(url));
}

}  // namespace assistant::llm
