// A fake LLM server for tests: an httplib::Server on 127.0.0.1 (random port)
// that answers the chat route of one protocol (openai: POST
// /v1/chat/completions, ollama: POST /api/chat, cohere: POST /v2/chat) with
// scripted replies, byte for byte, cut into small chunks at awkward
// boundaries with small delays. A reply can instead fail (any status, with
// headers such as Retry-After), stall before its first byte, break the
// connection after some bytes, or hold the stream open until the client goes.
//
// While holding, the fake sends a protocol-neutral keep-alive every 10 ms (an
// SSE comment, or an empty NDJSON line) — a write is how it notices that the
// client closed the connection.
//
// Thread safety: all methods may be called from any thread while requests
// are served.
#ifndef ASSISTANT_TESTS_FAKE_UPSTREAM_FAKE_UPSTREAM_HPP_
#define ASSISTANT_TESTS_FAKE_UPSTREAM_FAKE_UPSTREAM_HPP_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace fake_upstream {

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type;  // default: the protocol's streaming type
  std::map<std::string, std::string> headers;
  // Stall before the status line and headers.
  std::chrono::milliseconds delay_before_headers{0};
  // Body chunk sizes, cycled; small and odd so cuts land mid-line and
  // mid-character.
  std::vector<size_t> chunk_pattern = {1, 2, 3, 5, 8, 13, 7, 4};
  std::chrono::milliseconds chunk_delay{1};
  // Close the connection after this many body bytes (no end of stream).
  std::optional<size_t> break_after;
  // Stop after this many body bytes — moved on to the end of the event (SSE)
  // or line (NDJSON) it falls in, so the keep-alives do not corrupt it — and
  // keep the connection open until the client closes it (or the server
  // stops).
  std::optional<size_t> hold_after;
  // While holding, send nothing at all (a stalled server) instead of
  // keep-alives; a client close then goes unnoticed.
  bool hold_silently = false;
  // How often a holding reply looks for the server stopping (and sends its
  // keep-alive). Longer for tests that hold hundreds of replies at once.
  std::chrono::milliseconds hold_tick{10};
};

// Serve HTTPS with this certificate and key (PEM files).
struct Tls {
  std::string cert_file;
  std::string key_file;
};

struct RecordedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class FakeUpstream {
 public:
  // protocol: "openai" | "ollama" | "cohere".
  explicit FakeUpstream(std::string protocol);
  // With `threads` workers: each reply being sent or held takes one, so a
  // test that holds N streams at once wants more than N (the library's
  // default is 8).
  FakeUpstream(std::string protocol, size_t threads);
  // Over HTTPS (base_url() then starts with https://).
  FakeUpstream(std::string protocol, size_t threads, std::optional<Tls> tls);
  ~FakeUpstream();
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  int port() const { return port_; }
  // The base URL a provider is configured with: "http://127.0.0.1:<port>"
  // (https with Tls), plus "/v1" for openai.
  std::string base_url() const;
  // The protocol's chat path, e.g. "/v2/chat".
  std::string chat_path() const;

  // Replies are used in order, one per request; with none left the fake
  // answers 500.
  void Enqueue(Reply reply);
  // Picks the reply from the request itself, for tests whose requests
  // arrive in no fixed order (concurrent turns); nullopt falls back to the
  // queue. Called under the fake's lock: it must not call the fake.
  using Responder = std::function<std::optional<Reply>(const RecordedRequest&)>;
  void SetResponder(Responder responder);
  // A 200 streaming `body`.
  void EnqueueStream(std::string body);

  int request_count() const;
  std::vector<RecordedRequest> requests() const;
  // Whether a client closed the connection while the fake was still sending
  // or holding a reply, waiting up to `timeout` for it to happen.
  bool WaitForClientClose(std::chrono::milliseconds timeout) const;
  // Reply body bytes written to clients so far (keep-alives not counted):
  // less than the scripted bodies when a client went away early.
  size_t body_bytes_sent() const;
  // When the last client close was seen.
  std::chrono::steady_clock::time_point client_closed_at() const;

 private:
  bool Stopping() const;
  void NoteClientClosed();

  const std::string protocol_;
  const bool tls_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::deque<Reply> replies_;
  Responder responder_;
  std::vector<RecordedRequest> requests_;
  bool stopping_ = false;
  bool client_closed_ = false;
  size_t body_bytes_sent_ = 0;
  std::chrono::steady_clock::time_point client_closed_at_{};
};

// The end of the SSE event (after its blank line) or NDJSON line at or after
// byte `pos` of `body`.
size_t EventEnd(const std::string& body, size_t pos, bool ndjson);

// The bytes of a file (recorded streams in tests/data/llm).
std::string ReadFile(const std::string& path);

}  // namespace fake_upstream

#endif  // ASSISTANT_TESTS_FAKE_UPSTREAM_FAKE_UPSTREAM_HPP_
