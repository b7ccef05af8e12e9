// Black-box, differential: the gateway's two request models (docs/gateway.md
// "Request model") answer alike. The same randomized requests (methods,
// paths and queries, bodies, end-to-end, hop-by-hop and hostile headers, a
// stalled answer, a large and a streamed one, a pipelined pair) go through
// a gateway forwarding on its I/O threads (the default) and one started
// with --forward-on-workers, in front of one recording backend, and a dead
// backend behind each; the statuses, bodies and headers the clients get,
// and what the backend was sent, must be the same.
#include <doctest/doctest.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "gateway_process.hpp"
#include "harness.hpp"
#include "loopback_socket.hpp"
#include "test_seed.hpp"

using namespace http_test;

namespace {

namespace bhttp = boost::beast::http;

// What the backend was sent for one request, as comparable text.
std::string Describe(const httplib::Request& req) {
  std::vector<std::string> fields;
  for (const auto& [name, value] : req.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    // What httplib adds of the connection itself: not sent.
    if (lower.rfind("remote_", 0) == 0 || lower.rfind("local_", 0) == 0) continue;
    // An id the gateway made up (the client's was refused) differs per run.
    if (lower == "x-request-id" && value.rfind("t-", 0) != 0) {
      fields.push_back(lower + ": <made>");
      continue;
    }
    fields.push_back(lower + ": " + value);
  }
  std::sort(fields.begin(), fields.end());
  std::ostringstream out;
  out << req.method << " " << req.target << "\n";
  for (const auto& f : fields) out << f << "\n";
  out << "\n" << req.body;
  return out.str();
}

// One backend that records every forwarded request under its X-Test-Seq
// and answers from the path: /slow stalls past the gateway's --timeout,
// /big is 200 KiB (relayed in pieces), /sse is chunked events, anything
// else echoes the body with a few headers an edge must filter.
class RecordingBackend {
 public:
  RecordingBackend() {
    auto handle = [this](const httplib::Request& req, httplib::Response& res) { Serve(req, res); };
    const std::string any = ".*";
    server_.Get(any, handle);
    server_.Post(any, handle);
    server_.Put(any, handle);
    server_.Patch(any, handle);
    server_.Delete(any, handle);
    server_.Options(any, handle);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~RecordingBackend() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::map<std::string, std::vector<std::string>> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(seen_, {});
  }

 private:
  void Serve(const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/readyz") return res.set_content("{}", "application/json");
    if (req.path == "/api/auth/verify") {
      // The edge's token check (--token-check verify): one good token.
      if (req.get_header_value("Authorization") == "Bearer good-token") {
        return res.set_content(R"({"claims":{"sub":"u1","scope":"tasks"}})", "application/json");
      }
      res.status = 401;
      return res.set_content(R"({"error":{"code":"invalid_token"}})", "application/json");
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_[req.get_header_value("X-Test-Seq")].push_back(Describe(req));
    }
    res.set_header("X-Backend-Header", "kept");
    res.set_header("Access-Control-Allow-Origin", "*");  // the edge's to set
    res.set_header("X-Request-ID", "backend-made");      // the edge's to set
    res.set_header("Set-Cookie", "b=1; Path=/");
    if (req.path == "/slow") {
      std::this_thread::sleep_for(std::chrono::milliseconds(2500));
      return res.set_content("late", "text/plain");
    }
    if (req.path == "/big") {
      return res.set_content(std::string(200 * 1024, 'b'), "application/octet-stream");
    }
    if (req.path == "/sse") {
      auto sent = std::make_shared<int>(0);  // the provider is given byte offsets
      res.set_chunked_content_provider("text/event-stream", [sent](size_t, httplib::DataSink& sink) {
        if (*sent >= 3) {
          sink.done();
          return true;
        }
        const std::string event =
            "id: " + std::to_string(*sent) + "\ndata: e" + std::to_string(*sent) + "\n\n";
        ++*sent;
        return sink.write(event.data(), event.size());
      });
      return;
    }
    if (req.has_param("status")) res.status = std::stoi(req.get_param_value("status"));
    res.set_content(req.method + " " + req.target + " " + req.body,
                    req.get_header_value("Content-Type").empty()
                        ? "text/plain"
                        : req.get_header_value("Content-Type"));
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::string>> seen_;
};

struct Sent {
  std::string method;
  std::string bytes;  // one or more requests, as they go on the wire
};

// The answers in `bytes` to `methods`, in order, as comparable text: the
// status, the fields but Date, the body; a request id the gateway made up
// (the client's was refused) reads as "<made>", in the body too.
std::string Answers(const std::string& bytes, const std::vector<std::string>& methods,
                    const std::vector<std::string>& sent_ids) {
  std::ostringstream out;
  boost::beast::flat_buffer buffer;
  auto mutable_buffer = buffer.prepare(bytes.size());
  std::memcpy(mutable_buffer.data(), bytes.data(), bytes.size());
  buffer.commit(bytes.size());
  for (size_t i = 0; i < methods.size(); ++i) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    if (methods[i] == "HEAD") parser.skip(true);
    boost::system::error_code ec;
    while (!parser.is_done() && buffer.size() > 0) {
      const size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == bhttp::error::need_more) {
        ec = {};
        if (used == 0) break;
        continue;
      }
      if (ec) break;
    }
    if (!parser.is_done()) parser.put_eof(ec);
    if (!parser.is_done()) {
      out << "[answer " << i << " incomplete: " << ec.message() << "]\n";
      break;
    }
    const auto& msg = parser.get();
    std::string id(msg["X-Request-ID"]);
    std::vector<std::string> fields;
    for (const auto& f : msg) {
      if (f.name() == bhttp::field::date) continue;
      std::string value(f.value());
      if (f.name_string() == "X-Request-ID" && value != sent_ids[i]) value = "<made>";
      fields.push_back(std::string(f.name_string()) + ": " + value);
    }
    std::sort(fields.begin(), fields.end());
    std::string body = msg.body();
    if (!id.empty() && id != sent_ids[i]) {
      for (size_t at = body.find(id); at != std::string::npos; at = body.find(id, at)) {
        body.replace(at, id.size(), "<made>");
      }
    }
    out << msg.result_int() << "\n";
    for (const auto& f : fields) out << f << "\n";
    out << "\n" << body << "\n";
  }
  return out.str();
}

std::string RandomToken(std::mt19937& rng, size_t max_len) {
  static const std::string chars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";
  std::string s;
  const size_t n = 1 + rng() % max_len;
  for (size_t i = 0; i < n; ++i) s += chars[rng() % chars.size()];
  return s;
}

struct Case {
  std::vector<std::string> methods;
  std::vector<std::string> ids;  // the X-Request-ID each sends
  std::string bytes;
};

// One request's bytes; `last` asks the gateway to close after it.
std::string RequestBytes(std::mt19937& rng, size_t seq, const std::string& method,
                         const std::string& target, const std::string& id, bool last,
                         bool plain = false) {
  std::string head = method + " " + target + " HTTP/1.1\r\nHost: gateway.test\r\n";
  head += "X-Test-Seq: " + std::to_string(seq) + "\r\n";
  head += "X-Request-ID: " + id + "\r\n";
  // End to end: passes, in order, twice.
  head += "X-Custom: " + RandomToken(rng, 20) + "\r\nX-Custom: second\r\n";
  std::string connection = last ? "close" : "";
  switch (plain ? 7 : rng() % 8) {
    case 0:  // hop-by-hop, named by Connection and standard ones: none may cross
      connection = last ? "X-Private, close" : "X-Private";
      head += "X-Private: secret\r\nKeep-Alive: timeout=5\r\n"
              "Proxy-Connection: keep-alive\r\nTE: trailers\r\n";
      break;
    case 1:  // a client's forwarding chain from an untrusted peer: dropped
      head += "X-Forwarded-For: 6.6.6.6, 7.7.7.7\r\n";
      break;
    case 2:  // the client's coding choice: the gateway asks for identity
      head += "Accept-Encoding: gzip, br\r\n";
      break;
    case 3:
      head += "X-Long: " + std::string(4000, 'L') + "\r\n";
      break;
    case 4:  // a credential: checked at the edge, then forwarded
      head += std::string("Authorization: Bearer ") + (rng() % 2 ? "good-token" : "bad-token") +
              "\r\n";
      break;
    case 5:
      head += "Cookie: access_token=good-token; other=1\r\n";
      break;
    case 6:
      head += "Origin: https://not-listed.example\r\n";
      break;
    default:
      break;
  }
  std::string body;
  // A body on a GET or HEAD is refused at the edge (400), in both models.
  if (method == "POST" || method == "PUT" || method == "PATCH" || (!plain && rng() % 6 == 0)) {
    const size_t n = rng() % 3000;
    for (size_t i = 0; i < n; ++i) body += static_cast<char>(rng() % 256);
    head += "Content-Type: application/octet-stream\r\n";
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  if (!connection.empty()) head += "Connection: " + connection + "\r\n";
  return head + "\r\n" + body;
}

std::vector<Case> MakeCases(unsigned seed) {
  std::mt19937 rng(seed);
  static const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  static const char* kPaths[] = {"/api/tasks", "/api/tasks/abc", "/v1/chat/completions",
                                 "/api/things/x%20y", "/elsewhere/deep/path", "/api/auth/login"};
  std::vector<Case> cases;
  size_t seq = 0;
  auto one = [&](const std::string& method, const std::string& target, std::string id,
                 bool plain) {
    Case c;
    c.methods = {method};
    c.ids = {id};
    c.bytes = RequestBytes(rng, seq++, method, target, id, true, plain);
    cases.push_back(std::move(c));
  };
  for (int i = 0; i < 60; ++i) {
    const std::string method = kMethods[rng() % 7];
    std::string target = kPaths[rng() % 6];
    if (rng() % 2) target += "?q=" + RandomToken(rng, 12) + "&s=%2F%3F%26&s=2";
    if (rng() % 5 == 0) target += std::string(target.find('?') == std::string::npos ? "?" : "&") +
                                  "status=" + (rng() % 2 ? "404" : "503");
    // A hostile request id: the gateway makes its own.
    const std::string id = rng() % 6 == 0 ? "bad id <x>" : "t-" + std::to_string(seq);
    one(method, target, id, false);
  }
  // What each of these is for is checked on its answer: no random header
  // may turn it into a refusal.
  one("GET", "/slow", "t-slow", true);
  one("POST", "/slow", "t-slow-post", true);
  one("GET", "/big", "t-big", true);
  one("HEAD", "/big", "t-big-head", true);
  one("GET", "/sse", "t-sse", true);
  // A pipelined pair in one write: answered in order on one connection.
  Case pair;
  pair.methods = {"GET", "POST"};
  pair.ids = {"t-p1", "t-p2"};
  pair.bytes = RequestBytes(rng, seq++, "GET", "/api/tasks?pipelined=1", "t-p1", false, true) +
               RequestBytes(rng, seq++, "POST", "/api/tasks", "t-p2", true, true);
  cases.push_back(std::move(pair));
  return cases;
}

// Every case through `g`: the answers, one per case.
std::vector<std::string> RunCases(const GatewayProcess& g, const std::vector<Case>& cases) {
  std::vector<std::string> answers;
  for (const Case& c : cases) {
    answers.push_back(Answers(ExchangeUntilClose(g.port(), c.bytes, std::chrono::seconds(10)),
                              c.methods, c.ids));
  }
  return answers;
}

}  // namespace

TEST_SUITE("http.gateway") {

TEST_CASE("both request models answer alike and send the backend the same") {
  const unsigned seed = TestSeed();
  INFO("seed " << seed << " (ASSISTANT_TEST_SEED replays it)");
  const std::vector<Case> cases = MakeCases(seed);
  RecordingBackend backend;
  TempDir dir;
  const std::vector<std::string> common = {
      "--backend", "http://127.0.0.1:" + std::to_string(backend.port()), "--rate-limit", "0",
      "--timeout", "1", "--token-check", "verify"};
  std::vector<std::string> workers_args = common;
  workers_args.push_back("--forward-on-workers");

  std::vector<std::string> answers[2];
  std::map<std::string, std::vector<std::string>> seen[2];
  {
    GatewayProcess g(dir.path(), common);
    REQUIRE(g.port() > 0);
    answers[0] = RunCases(g, cases);
  }
  seen[0] = backend.Take();
  {
    GatewayProcess g(dir.path(), workers_args);
    REQUIRE(g.port() > 0);
    answers[1] = RunCases(g, cases);
  }
  seen[1] = backend.Take();

  REQUIRE(answers[0].size() == cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i << ":\n" << cases[i].bytes.substr(0, 600));
    CHECK(answers[0][i] == answers[1][i]);
    CHECK(answers[0][i].find("incomplete") == std::string::npos);
  }
  for (const auto& [seq, list] : seen[0]) {
    INFO("request " << seq << " as the backend saw it:\n" << (list.empty() ? "" : list[0]));
    CHECK(seen[1][seq] == list);
  }
  CHECK(seen[0].size() == seen[1].size());
  // The cases did what they are for, in both models alike.
  const size_t slow = cases.size() - 6;
  CHECK(answers[0][slow].rfind("504\n", 0) == 0);
  CHECK(answers[0][slow + 2].find(std::string(200 * 1024, 'b')) != std::string::npos);
  INFO("the SSE answer: " << answers[0][slow + 4]);
  CHECK(answers[0][slow + 4].find("data: e2") != std::string::npos);
  CHECK(answers[0].back().find("pipelined=1") != std::string::npos);
  size_t forwarded = 0;
  for (const auto& [seq, list] : seen[0]) forwarded += list.size();
  CHECK(forwarded > 40);
  for (const auto& [seq, list] : seen[0]) {
    for (const auto& request : list) {
      CHECK(request.find("x-private") == std::string::npos);
      CHECK(request.find("6.6.6.6") == std::string::npos);
      CHECK(request.find("accept-encoding: identity") != std::string::npos);
    }
  }
}

TEST_CASE("both request models: a dead backend is 502 for every method") {
  // A port nothing listens on: bound, then closed.
  int dead_port = 0;
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    dead_port = ntohs(addr.sin_port);
    ::close(fd);
  }
  TempDir dir;
  const std::vector<std::string> common = {
      "--backend", "http://127.0.0.1:" + std::to_string(dead_port), "--rate-limit", "0",
      "--timeout", "1"};
  std::vector<std::string> workers_args = common;
  workers_args.push_back("--forward-on-workers");
  std::mt19937 rng(TestSeed());
  std::vector<Case> cases;
  for (const char* method : {"GET", "POST", "DELETE", "HEAD"}) {
    Case c;
    c.methods = {method};
    c.ids = {std::string("t-") + method};
    c.bytes = RequestBytes(rng, 0, method, "/api/tasks", c.ids[0], true, true);
    cases.push_back(std::move(c));
  }
  std::vector<std::string> answers[2];
  for (int mode = 0; mode < 2; ++mode) {
    GatewayProcess g(dir.path(), mode == 0 ? common : workers_args);
    REQUIRE(g.port() > 0);
    answers[mode] = RunCases(g, cases);
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO(answers[0][i]);
    CHECK(answers[0][i] == answers[1][i]);
    CHECK(answers[0][i].rfind("502\n", 0) == 0);
  }
}

TEST_CASE("a stalled /api/auth/verify holds a request for the token check's bound, not --timeout") {
  // A backend that answers everything at once but the verify, which it
  // holds past the check's 5 s bound.
  httplib::Server backend;
  backend.Get(".*", [](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/api/auth/verify") std::this_thread::sleep_for(std::chrono::seconds(8));
    res.set_content("{}", "application/json");
  });
  const int port = backend.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { backend.listen_after_bind(); });
  {
    TempDir dir;
    GatewayProcess g(dir.path(), {"--backend", "http://127.0.0.1:" + std::to_string(port),
                                  "--rate-limit", "0", "--timeout", "60", "--token-check",
                                  "verify"});
    REQUIRE(g.port() > 0);
    const auto start = std::chrono::steady_clock::now();
    auto r = g.Call("GET", "/api/tasks", std::nullopt, "ak_unknown");
    const auto took = std::chrono::steady_clock::now() - start;
    // No verdict: the request goes on and the backend decides.
    CHECK(r.status == 200);
    CHECK(took >= std::chrono::seconds(4));
    CHECK(took < std::chrono::seconds(7));
  }
  backend.stop();
  serving.join();
}

}  // TEST_SUITE
