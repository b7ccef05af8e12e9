// The transport's streamed replies, in process (reference-server/src/http/
// transport.cpp, ChunkWriter): a stream's chunks are sent by its worker when
// the socket takes them and queued for the event loop when it does not. The
// bytes a client reads must be exactly what Beast's own chunk framing makes
// of the chunks, in order, however the reader paces itself; and a client
// that stops reading must end its stream within the write timeout.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "http/transport.hpp"
#include "loopback_socket.hpp"
#include "test_seed.hpp"

namespace {

namespace http = assistant::server::http;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A transport on a free loopback port, run on a thread of its own.
class Running {
 public:
  Running(http::TransportOptions options, http::Transport::Handler handler)
      : transport_(std::move(options), std::move(handler),
                   [](int status, const http::Request&, http::Response& res, const std::string&) {
                     res.status = status;
                   }) {
    REQUIRE(transport_.Bind().ok());
    thread_ = std::thread([this] { transport_.Run(); });
  }
  ~Running() {
    transport_.Stop();
    thread_.join();
  }
  int port() const { return transport_.port(); }

 private:
  http::Transport transport_;
  std::thread thread_;
};

void SendAll(int fd, const std::string& bytes) {
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(bytes.size()));
}

// The chunks a stream of `seed` writes: random sizes (1 byte to past the
// transport's queue), random bytes, CR and LF included; some 6 MB in all,
// more than the server's socket buffer (4 MB at most on Linux) holds.
std::vector<std::string> ChunksFor(unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> chunks(600);
  for (auto& c : chunks) {
    const size_t size = rng() % 8 == 0 ? 1 + rng() % 150000 : 1 + rng() % 2000;
    c.resize(size);
    for (auto& ch : c) ch = static_cast<char>(rng() % 4 == 0 ? "\r\n0"[rng() % 3] : rng());
  }
  return chunks;
}

// The most a TCP send buffer grows to here (net.ipv4.tcp_wmem's maximum).
size_t MaxSendBuffer() {
  std::ifstream in("/proc/sys/net/ipv4/tcp_wmem");
  size_t min = 0, def = 0, max = 0;
  if (in >> min >> def >> max) return max;
  return 4 << 20;  // Linux's default
}

}  // namespace

TEST_SUITE("http.transport") {
  TEST_CASE("a stream's chunks arrive as Beast frames them, in order, to slow random readers") {
    const unsigned seed = TestSeed();
    MESSAGE("seed " << seed);
    http::TransportOptions options;
    options.workers = 4;
    options.drain_timeout = milliseconds(2000);
    constexpr int kStreams = 4;
    std::atomic<int> completed{0};
    // Per stream, for its reader's first pause: since when its worker has
    // been inside Write (0: not in Write), and whether the stream ended.
    std::vector<std::atomic<int64_t>> in_write_since(kStreams);
    std::vector<std::atomic<bool>> ended(kStreams);
    for (int n = 0; n < kStreams; ++n) {
      in_write_since[n] = 0;
      ended[n] = false;
    }
    Running server(options, [&](const http::Request& req, http::Response& res) {
      const int n = std::stoi(req.Query("n"));
      const unsigned stream_seed = seed + static_cast<unsigned>(n);
      res.SetStream("application/octet-stream", [&, n, stream_seed](http::StreamWriter& w) {
        std::mt19937 pace(stream_seed * 7);
        for (const auto& chunk : ChunksFor(stream_seed)) {
          in_write_since[n] = Clock::now().time_since_epoch().count();
          const bool written = w.Write(chunk);
          in_write_since[n] = 0;
          if (!written) {
            ended[n] = true;
            return false;
          }
          // Sometimes a pause: the queue drains and the next chunk goes
          // straight to the socket; else chunks pile up behind a write.
          if (pace() % 8 == 0) std::this_thread::sleep_for(milliseconds(pace() % 3));
        }
        ++completed;
        ended[n] = true;
        return true;
      });
    });

    // How each read ended, for a failure's report; whether its reader saw
    // its worker wait for room (the path under test).
    std::vector<std::string> endings(kStreams);
    std::vector<bool> saw_wait(kStreams, false);
    std::vector<std::future<std::string>> reads;
    for (int n = 0; n < kStreams; ++n) {
      reads.push_back(std::async(std::launch::async, [&, n] {
        const int fd = ConnectWithFixedReceiveBuffer(server.port());
        SendAll(fd, "GET /s?n=" + std::to_string(n) + " HTTP/1.1\r\nHost: t\r\n\r\n");
        std::mt19937 pace(seed + 1000 + static_cast<unsigned>(n));
        std::string got;
        std::vector<char> buf(1 << 16);
        // First the socket buffers fill and chunks queue behind a write,
        // until the worker has waited for room a while (or the stream
        // ended, when it fits in the buffers).
        const auto pause_end = Clock::now() + std::chrono::seconds(5);
        while (!ended[n] && Clock::now() < pause_end) {
          const int64_t since = in_write_since[n];
          if (since != 0 && Clock::now().time_since_epoch().count() - since >=
                                std::chrono::duration_cast<Clock::duration>(milliseconds(100))
                                    .count()) {
            saw_wait[n] = true;
            break;
          }
          std::this_thread::sleep_for(milliseconds(2));
        }
        const auto start = Clock::now();
        for (;;) {
          const ssize_t r = ::recv(fd, buf.data(), 1 + pace() % buf.size(), 0);
          if (r <= 0) {  // the server closes after the stream
            const int err = r < 0 ? errno : 0;
            endings[n] = "recv " + std::to_string(r) + " errno " + std::to_string(err) + " after " +
                         std::to_string(std::chrono::duration_cast<milliseconds>(Clock::now() - start)
                                            .count()) +
                         " ms of reading";
            break;
          }
          got.append(buf.data(), static_cast<size_t>(r));
          if (pace() % 4 == 0)
            std::this_thread::sleep_for(std::chrono::microseconds(pace() % 3000));
        }
        ::close(fd);
        return got;
      }));
    }
    for (int n = 0; n < kStreams; ++n) {
      const std::string got = reads[n].get();
      const size_t head_end = got.find("\r\n\r\n");
      REQUIRE(head_end != std::string::npos);
      const std::string head = got.substr(0, head_end + 4);
      CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
      CHECK(head.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
      std::string expected;
      for (const auto& chunk : ChunksFor(seed + static_cast<unsigned>(n))) {
        expected += boost::beast::buffers_to_string(
            boost::beast::http::make_chunk(boost::asio::buffer(chunk)));
      }
      expected += boost::beast::buffers_to_string(boost::beast::http::make_chunk_last());
      const std::string body = got.substr(head_end + 4);
      INFO("stream " << n << ": " << body.size() << " bytes of " << expected.size() << "; "
                     << endings[n]);
      CHECK(body.size() == expected.size());
      const auto diff = std::mismatch(body.begin(), body.end(), expected.begin(), expected.end());
      INFO("first difference at byte " << (diff.first - body.begin()));
      const bool same = body == expected;  // not printed: megabytes
      CHECK(same);
      // A stream larger than both socket buffers can hold must have made
      // its worker wait for the reader.
      if (expected.size() > MaxSendBuffer() + 2 * 256 * 1024) CHECK(saw_wait[n]);
    }
    CHECK(completed == kStreams);
  }

  TEST_CASE("a stream whose client stops reading ends within the write timeout") {
    http::TransportOptions options;
    options.write_timeout = milliseconds(1000);
    options.drain_timeout = milliseconds(2000);
    std::promise<Clock::time_point> ended;
    Running server(options, [&](const http::Request&, http::Response& res) {
      res.SetStream("application/octet-stream", [&](http::StreamWriter& w) {
        const std::string piece(1000, 'x');
        // Until the client is dropped; a bound so a failure cannot hang.
        bool ok = true;
        for (int i = 0; ok && i < 1000000; ++i) ok = w.Write(piece);
        ended.set_value(Clock::now());
        return ok;
      });
    });
    const int fd = ConnectWithFixedReceiveBuffer(server.port());
    SendAll(fd, "GET /s HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto start = Clock::now();
    auto when = ended.get_future();
    // The socket buffers fill within milliseconds; then one write timeout.
    REQUIRE(when.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    const auto took = std::chrono::duration_cast<milliseconds>(when.get() - start).count();
    MESSAGE("the stream ended " << took << " ms after its client stopped reading");
    CHECK(took >= 900);
    CHECK(took < 4000);
    ::close(fd);
  }
}
