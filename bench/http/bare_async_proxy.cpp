// The benchmark's bound for an asynchronous assistant-gateway
// (bench/http/gateway.sh): the forward done in the event-driven model and
// nothing else. Each client connection is served by async_read of a request
// -> async_write of it to a kept-alive backend connection -> async_read of the
// answer -> async_write of the answer to the client, all on one thread's
// io_context, with no worker thread and no blocking call. No edge work: no
// token check, request id, CORS, rate limit or header policy.
//
// One io_context per thread (nginx's model: a loop per core), not one
// shared by all: a connection, its backend exchange and the thread's pool of
// backend connections then stay on one thread, so nothing is locked and no
// completion moves to another core. One acceptor (on thread 0's loop) hands
// each new connection to the threads in turn, which spreads wrk's few
// connections evenly (SO_REUSEPORT's hash would not).
//
// HTTP is Boost.Beast's parser and serializer both ways: Content-Length,
// chunked and read-to-close answers; keep-alive to the client as it asks and
// to the backend whenever its answer allows. A backend that cannot be
// reached, or fails mid-exchange, gets the request a 502; one that does not
// answer within kBackendTimeout a 504. An idle pooled connection the backend
// has closed is retried once on a fresh one, for idempotent methods only.
// Bodies are held whole (Beast's limits: 1 MiB up, 8 MiB down, more is a
// 400 or 502): enough for the benchmark, not a streaming proxy.
//
//   bare-async-proxy --port 18807 --backend http://127.0.0.1:18801 --threads 2
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loop_per_thread.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kBackendTimeout = std::chrono::seconds(30);
constexpr std::size_t kMaxIdlePerThread = 64;

struct Backend {
  tcp::endpoint endpoint;
  std::string host;  // the Host header the backend is sent
};

// One kept-alive connection to the backend; owned by one thread's pool or by
// the exchange using it, never by two.
struct BackendConnection {
  explicit BackendConnection(asio::io_context& ioc) : stream(ioc) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

// One thread's loop and its idle backend connections.
struct Loop {
  asio::io_context ioc{1};
  std::vector<std::unique_ptr<BackendConnection>> idle;
};

bool Idempotent(http::verb v) {
  return v == http::verb::get || v == http::verb::head || v == http::verb::options ||
         v == http::verb::put || v == http::verb::delete_ || v == http::verb::trace;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Loop& loop, const Backend& backend)
      : client_(std::move(socket)), loop_(loop), backend_(backend) {}

  void Start() {
    client_.set_option(tcp::no_delay(true));
    ReadRequest();
  }

 private:
  void ReadRequest() {
    request_parser_.emplace();
    http::async_read(client_, client_buffer_, *request_parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->OnRequest(ec);
                     });
  }

  void OnRequest(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return Close();
    if (ec) {  // a malformed request: answer 400 and close
      client_keep_alive_ = false;
      request_ = {};
      return Reply(Error(http::status::bad_request, 11));
    }
    request_ = request_parser_->release();
    client_keep_alive_ = request_.keep_alive();
    client_version_ = request_.version();
    // The backend gets the request as sent, on HTTP/1.1 kept alive.
    request_.version(11);
    request_.set(http::field::host, backend_.host);
    request_.keep_alive(true);
    retried_ = false;
    Exchange();
  }

  // Sends request_ on a pooled connection, or on a new one when none is idle
  // or `fresh` (a retry: the other idle ones may be as stale as the first).
  void Exchange(bool fresh = false) {
    reused_ = !fresh && !loop_.idle.empty();
    if (reused_) {
      conn_ = std::move(loop_.idle.back());
      loop_.idle.pop_back();
      return Send();
    }
    conn_ = std::make_unique<BackendConnection>(loop_.ioc);
    conn_->stream.expires_after(kBackendTimeout);
    conn_->stream.async_connect(backend_.endpoint,
                                [self = shared_from_this()](beast::error_code ec) {
                                  if (ec) return self->BackendFailed(ec);
                                  self->conn_->stream.socket().set_option(tcp::no_delay(true));
                                  self->Send();
                                });
  }

  void Send() {
    conn_->stream.expires_after(kBackendTimeout);
    http::async_write(conn_->stream, request_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->BackendFailed(ec);
                        self->ReadAnswer();
                      });
  }

  void ReadAnswer() {
    answer_parser_.emplace();
    // No body may follow an answer to HEAD, whatever its Content-Length says.
    if (request_.method() == http::verb::head) answer_parser_->skip(true);
    http::async_read(conn_->stream, conn_->buffer, *answer_parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->OnAnswer(ec);
                     });
  }

  void OnAnswer(beast::error_code ec) {
    if (ec) return BackendFailed(ec);
    const bool framed = !answer_parser_->need_eof();
    http::response<http::string_body> answer = answer_parser_->release();
    // Back to the pool only if the backend keeps it open and the answer's end
    // was framed (not read to close).
    if (answer.keep_alive() && framed &&
        loop_.idle.size() < kMaxIdlePerThread) {
      conn_->stream.expires_never();
      loop_.idle.push_back(std::move(conn_));
    }
    conn_.reset();
    // An answer read to close has no framing of its own any more, and an
    // HTTP/1.0 client cannot take chunks: give it a Content-Length. Other
    // chunked answers are written chunked again.
    if (request_.method() != http::verb::head &&
        ((!answer.chunked() && !answer.has_content_length()) ||
         (answer.chunked() && client_version_ < 11))) {
      answer.chunked(false);
      answer.prepare_payload();
    }
    Reply(std::move(answer));
  }

  // A stale pooled connection (closed by the backend while idle) is tried
  // once more on a new one; anything else is the client's 502 or 504.
  void BackendFailed(beast::error_code ec) {
    conn_.reset();
    const bool nothing_back = !answer_parser_ || !answer_parser_->got_some();
    if (reused_ && nothing_back && ec != beast::error::timeout && !retried_ &&
        Idempotent(request_.method())) {
      retried_ = true;
      answer_parser_.reset();
      return Exchange(/*fresh=*/true);
    }
    Reply(Error(ec == beast::error::timeout ? http::status::gateway_timeout
                                            : http::status::bad_gateway,
                client_version_));
  }

  http::response<http::string_body> Error(http::status status, unsigned version) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::content_type, "text/plain");
    res.body() = std::string(http::obsolete_reason(status)) + "\n";
    res.prepare_payload();
    return res;
  }

  void Reply(http::response<http::string_body> answer) {
    answer_parser_.reset();
    answer.version(client_version_);
    answer.keep_alive(client_keep_alive_);
    response_ = std::move(answer);
    serializer_.emplace(response_);
    auto next = [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec || !self->client_keep_alive_) return self->Close();
      self->ReadRequest();
    };
    // An answer to HEAD is its head alone, even when it says chunked.
    if (request_.method() == http::verb::head) {
      return http::async_write_header(client_, *serializer_, std::move(next));
    }
    http::async_write(client_, *serializer_, std::move(next));
  }

  void Close() {
    beast::error_code ignored;
    client_.shutdown(tcp::socket::shutdown_send, ignored);
    client_.close(ignored);
  }

  tcp::socket client_;
  Loop& loop_;
  const Backend& backend_;
  beast::flat_buffer client_buffer_;
  std::optional<http::request_parser<http::string_body>> request_parser_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  std::optional<http::response_serializer<http::string_body>> serializer_;
  std::optional<http::response_parser<http::string_body>> answer_parser_;
  std::unique_ptr<BackendConnection> conn_;
  unsigned client_version_ = 11;
  bool client_keep_alive_ = true;
  bool reused_ = false;
  bool retried_ = false;
};

// "http://host:port" -> the backend's address, resolved once at start.
std::optional<Backend> ParseBackend(const std::string& url) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) return std::nullopt;
  std::string authority = url.substr(scheme.size());
  if (auto slash = authority.find('/'); slash != std::string::npos) authority.resize(slash);
  const auto colon = authority.rfind(':');
  const std::string host = colon == std::string::npos ? authority : authority.substr(0, colon);
  const std::string port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto results = resolver.resolve(host, port, ec);
  if (ec || results.empty()) return std::nullopt;
  return Backend{results.begin()->endpoint(), authority};
}

}  // namespace

int main(int argc, char** argv) {
  int port = 18807;
  int threads = 2;
  std::string backend_url = "http://127.0.0.1:18801";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--backend") == 0) backend_url = argv[i + 1];
  }
  if (threads < 1) threads = 1;
  const auto backend = ParseBackend(backend_url);
  if (!backend) {
    std::cerr << "bare-async-proxy: cannot use backend " << backend_url << "\n";
    return 1;
  }
  std::vector<std::unique_ptr<Loop>> loops;
  for (int i = 0; i < threads; ++i) loops.push_back(std::make_unique<Loop>());
  return bench::ServeOnLoops("bare-async-proxy", loops, port,
                             [&backend](tcp::socket s, Loop& loop) {
                               std::make_shared<Session>(std::move(s), loop, *backend)->Start();
                             });
}
