// Black-box: a large answer from an upstream passes through assistant-gateway
// and through the server's app proxy as it is read (the process's peak
// memory does not grow by the answer's size), and an upstream that closes in
// the middle of its answer leaves the client with a cut connection, never a
// 200 that looks whole (docs/gateway.md "Answers").
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>

#include "counting_upstream.hpp"
#include "gateway_process.hpp"
#include "harness.hpp"

using namespace http_test;

namespace {

constexpr size_t kBigBytes = size_t{64} << 20;
constexpr size_t kPiece = 64 << 10;

// The byte at offset `i` of the big answer: not all alike, so that a piece
// lost or repeated changes the hash.
char ByteAt(size_t i) { return static_cast<char>('a' + (i / kPiece + i) % 26); }

// An upstream in this process: /big answers kBigBytes with a length, written
// a piece at a time; /cut declares as many but closes after a quarter.
class BigUpstream {
 public:
  BigUpstream() {
    auto provide = [](size_t stop_at) {
      return [stop_at](size_t offset, size_t, httplib::DataSink& sink) {
        if (offset >= stop_at) return false;  // closes the connection
        std::string piece(std::min(kPiece, kBigBytes - offset), '\0');
        for (size_t i = 0; i < piece.size(); ++i) piece[i] = ByteAt(offset + i);
        return sink.write(piece.data(), piece.size());
      };
    };
    server_.Get(".*/big", [provide](const httplib::Request&, httplib::Response& res) {
      res.set_content_provider(kBigBytes, "application/octet-stream", provide(kBigBytes));
    });
    // An upload answered with the big body: the forwarder passes the body
    // on as it reads it, and the answer must stream back as well.
    server_.Put(".*/big", [provide](const httplib::Request&, httplib::Response& res,
                                    const httplib::ContentReader& read) {
      read([](const char*, size_t) { return true; });
      res.set_content_provider(kBigBytes, "application/octet-stream", provide(kBigBytes));
    });
    server_.Get(".*/cut", [provide](const httplib::Request&, httplib::Response& res) {
      res.set_content_provider(kBigBytes, "application/octet-stream", provide(kBigBytes / 4));
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~BigUpstream() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

struct Received {
  bool ok = false;  // the client's read ended cleanly
  int status = 0;
  size_t bytes = 0;
  uint64_t fnv = 14695981039346656037ull;
};

// `method` `path` on `port` with `body`, the answer hashed as it arrives
// and not kept.
Received Fetch(int port, const std::string& method, const std::string& path,
               const std::string& token, std::string body = "") {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(30, 0);
  httplib::Request req;
  req.method = method;
  req.path = path;
  if (!token.empty()) req.headers.emplace("Authorization", "Bearer " + token);
  if (!body.empty()) req.headers.emplace("Content-Type", "application/octet-stream");
  req.body = std::move(body);
  Received got;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    got.fnv = Fnv1a(std::string_view(data, n), got.fnv);
    got.bytes += n;
    return true;
  };
  auto r = cli.send(req);
  got.ok = static_cast<bool>(r);
  if (r) got.status = r->status;
  return got;
}

uint64_t BigFnv() {
  std::string all(kBigBytes, '\0');
  for (size_t i = 0; i < all.size(); ++i) all[i] = ByteAt(i);
  return Fnv1a(all);
}

// The whole answer arrives intact while `pid`'s peak memory grows by far
// less than it, to a GET and to an upload (a body over 64 KiB, passed on as
// it is read); then the cut answer is a failed read, not a clean one.
void CheckPassesThrough(pid_t pid, int port, const std::string& prefix, const std::string& token) {
  const long peak_before = PeakMemoryKiB(pid);
  REQUIRE(peak_before > 0);
  const uint64_t fnv = BigFnv();
  for (const char* method : {"GET", "PUT"}) {
    CAPTURE(method);
    const Received big = Fetch(port, method, prefix + "/big", token,
                               std::string(method) == "PUT" ? std::string(1 << 20, 'u') : "");
    CHECK(big.ok);
    CHECK(big.status == 200);
    CHECK(big.bytes == kBigBytes);
    CHECK(big.fnv == fnv);
  }
  const long grown_kib = PeakMemoryKiB(pid) - peak_before;
  MESSAGE("peak memory grew by ", grown_kib, " KiB for two 64 MiB answers");
  CHECK(grown_kib < 16 * 1024);

  const Received cut = Fetch(port, "GET", prefix + "/cut", token);
  CHECK_FALSE(cut.ok);  // the connection ended without the answer's end
  CHECK(cut.bytes < kBigBytes);
}

}  // namespace

TEST_SUITE("http.gateway") {

TEST_CASE("a 64 MiB answer streams through the gateway in flat memory; one cut short is cut") {
  BigUpstream upstream;
  REQUIRE(upstream.port() > 0);
  TempDir dir;
  GatewayProcess g(dir.path(), {"--backend", "http://127.0.0.1:" + std::to_string(upstream.port()),
                                "--rate-limit", "0", "--token-check", "off"});
  REQUIRE(g.port() > 0);
  CheckPassesThrough(g.pid(), g.port(), "/api/files", "");
  CHECK(g.Call("GET", "/healthz").status == 200);
}

}  // TEST_SUITE

TEST_SUITE("http.app_proxy") {

TEST_CASE("a 64 MiB answer streams through the app proxy in flat memory; one cut short is cut") {
  BigUpstream upstream;
  REQUIRE(upstream.port() > 0);
  TempDir dir;
  ServerProcess server({"--apps", WriteOneAppRegistry(dir.path(), "big",
                                                      "http://127.0.0.1:" +
                                                          std::to_string(upstream.port()))});
  REQUIRE(server.started());
  const User user = Register(server);
  CheckPassesThrough(server.pid(), server.port(), "/api/apps/big/proxy/files",
                     user.access_token);
}

}  // TEST_SUITE
