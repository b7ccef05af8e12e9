#include "fake_upstream/fake_upstream.hpp"

#include <httplib.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace fake_upstream {

namespace {

using std::chrono::milliseconds;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// With FAKE_UPSTREAM_WIRE_LOG set, every request body and every whole 200
// reply body is appended to that file as one JSON line, for
// tests/wire/validate.mjs to check against the providers' SDK schemas.
void LogWire(const std::string& protocol, const char* direction, const std::string& body) {
  const char* path = std::getenv("FAKE_UPSTREAM_WIRE_LOG");
  if (path == nullptr || *path == '\0') return;
  const std::string line =
      nlohmann::json{{"protocol", protocol}, {"direction", direction}, {"body", body}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::ofstream(path, std::ios::app | std::ios::binary) << line;
}

}  // namespace

size_t EventEnd(const std::string& body, size_t pos, bool ndjson) {
  if (pos >= body.size()) return body.size();
  // The first blank line (SSE) or line end (NDJSON) that ends at or after pos.
  size_t best = body.size();
  static const std::vector<std::string> kSse = {"\n\n", "\r\n\r\n", "\r\r"};
  static const std::vector<std::string> kNdjson = {"\n"};
  for (const std::string& sep : ndjson ? kNdjson : kSse) {
    const size_t len = sep.size();
    size_t at = body.find(sep, pos >= len ? pos - len : 0);
    while (at != std::string::npos && at + len < pos) at = body.find(sep, at + 1);
    if (at != std::string::npos) best = std::min(best, at + len);
  }
  return best;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

FakeUpstream::FakeUpstream(std::string protocol) : FakeUpstream(std::move(protocol), 0) {}

static std::unique_ptr<httplib::Server> NewServer(const std::optional<Tls>& tls) {
  if (!tls) return std::make_unique<httplib::Server>();
  auto server = std::make_unique<httplib::SSLServer>(tls->cert_file.c_str(), tls->key_file.c_str());
  if (!server->is_valid()) throw std::runtime_error("fake upstream: cannot load " + tls->cert_file);
  return server;
}

FakeUpstream::FakeUpstream(std::string protocol, size_t threads)
    : FakeUpstream(std::move(protocol), threads, std::nullopt) {}

FakeUpstream::FakeUpstream(std::string protocol, size_t threads, std::optional<Tls> tls)
    : protocol_(std::move(protocol)), tls_(tls.has_value()), server_(NewServer(tls)) {
  if (threads > 0) {
    server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  }
  // Small writes leave as separate segments, so the client sees the cuts.
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(1);
  server_->Post(chat_path(), [this](const httplib::Request& req, httplib::Response& res) {
    RecordedRequest rec{req.method, req.path, {}, req.body};
    for (const auto& [k, v] : req.headers) rec.headers[Lower(k)] = v;
    auto reply = std::make_shared<Reply>();
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::optional<Reply> chosen = responder_ ? responder_(rec) : std::nullopt;
      requests_.push_back(std::move(rec));
      if (chosen) {
        *reply = std::move(*chosen);
      } else if (replies_.empty()) {
        reply->status = 500;
        reply->body = R"({"error":"the fake has no scripted reply"})";
        reply->content_type = "application/json";
      } else {
        *reply = std::move(replies_.front());
        replies_.pop_front();
      }
    }
    cv_.notify_all();
    LogWire(protocol_, "request", req.body);
    // Cut short on purpose, a reply is not a whole message to check.
    if (reply->status == 200 && !reply->break_after && !reply->hold_after) {
      LogWire(protocol_, "response", reply->body);
    }

    const auto stall_until = std::chrono::steady_clock::now() + reply->delay_before_headers;
    while (std::chrono::steady_clock::now() < stall_until && !Stopping()) {
      std::this_thread::sleep_for(milliseconds(5));
    }

    std::string content_type = reply->content_type;
    if (content_type.empty()) {
      content_type = protocol_ == "ollama" ? "application/x-ndjson" : "text/event-stream";
    }
    res.status = reply->status;
    for (const auto& [k, v] : reply->headers) res.set_header(k, v);
    const bool scripted_stream = reply->break_after || reply->hold_after;
    if (reply->status != 200 && !scripted_stream) {
      res.set_content(reply->body, content_type);
      return;
    }
    res.set_chunked_content_provider(
        content_type, [this, reply](size_t, httplib::DataSink& sink) {
          const std::string& body = reply->body;
          size_t limit = std::min(body.size(), reply->break_after.value_or(body.size()));
          if (reply->hold_after) {
            limit = std::min(limit, EventEnd(body, *reply->hold_after, protocol_ == "ollama"));
          }
          size_t sent = 0;
          size_t k = 0;
          while (sent < limit) {
            if (Stopping()) return false;
            size_t n = reply->chunk_pattern.empty()
                           ? limit - sent
                           : reply->chunk_pattern[k % reply->chunk_pattern.size()];
            n = std::max<size_t>(1, std::min(n, limit - sent));
            if (!sink.write(body.data() + sent, n)) {
              NoteClientClosed();
              return false;
            }
            sent += n;
            ++k;
            {
              std::lock_guard<std::mutex> lock(mu_);
              body_bytes_sent_ += n;
            }
            // A pause once per pattern cycle: enough to spread the reply over
            // many reads without making tests slow.
            if (!reply->chunk_pattern.empty() && k % reply->chunk_pattern.size() == 0 &&
                reply->chunk_delay.count() > 0) {
              std::this_thread::sleep_for(reply->chunk_delay);
            }
          }
          if (reply->break_after && sent >= *reply->break_after) {
            return false;  // drops the connection without ending the stream
          }
          if (reply->hold_after) {
            const std::string keep_alive = protocol_ == "ollama" ? "\n" : ": keep-alive\n\n";
            while (!Stopping()) {
              std::this_thread::sleep_for(reply->hold_tick);
              if (reply->hold_silently) continue;
              if (!sink.write(keep_alive.data(), keep_alive.size())) {
                NoteClientClosed();
                return false;
              }
            }
            return false;
          }
          sink.done();
          return true;
        });
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("fake upstream: cannot bind 127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs; wait for it so the
  // destructor cannot miss it.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running()) {
    if (std::chrono::steady_clock::now() > give_up) {
      server_->stop();
      thread_.join();
      throw std::runtime_error("fake upstream: the server did not start");
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
}

FakeUpstream::~FakeUpstream() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string FakeUpstream::base_url() const {
  std::string url = (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_);
  if (protocol_ == "openai") url += "/v1";
  return url;
}

std::string FakeUpstream::chat_path() const {
  if (protocol_ == "openai") return "/v1/chat/completions";
  if (protocol_ == "ollama") return "/api/chat";
  return "/v2/chat";
}

void FakeUpstream::Enqueue(Reply reply) {
  std::lock_guard<std::mutex> lock(mu_);
  replies_.push_back(std::move(reply));
}

void FakeUpstream::SetResponder(Responder responder) {
  std::lock_guard<std::mutex> lock(mu_);
  responder_ = std::move(responder);
}

void FakeUpstream::EnqueueStream(std::string body) {
  Reply r;
  r.body = std::move(body);
  Enqueue(std::move(r));
}

int FakeUpstream::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(requests_.size());
}

std::vector<RecordedRequest> FakeUpstream::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

bool FakeUpstream::WaitForClientClose(milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return client_closed_; });
}

size_t FakeUpstream::body_bytes_sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return body_bytes_sent_;
}

std::chrono::steady_clock::time_point FakeUpstream::client_closed_at() const {
  std::lock_guard<std::mutex> lock(mu_);
  return client_closed_at_;
}

bool FakeUpstream::Stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void FakeUpstream::NoteClientClosed() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!client_closed_) client_closed_at_ = std::chrono::steady_clock::now();
    client_closed_ = true;
  }
  cv_.notify_all();
}

}  // namespace fake_upstream
