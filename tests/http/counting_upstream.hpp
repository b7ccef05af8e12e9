// An upstream in the test process on the server's own transport
// (http/transport.hpp), for uploads: every POST, PUT or PATCH body is read
// as it arrives (stream_body), counted and hashed, never held, and the
// answer says what came: {"bytes", "fnv", "content_type", "complete"}. A
// GET answers 200 "{}" (a health check). It notes when the first piece of
// a body arrived and how many bodies are being read right now.
#ifndef ASSISTANT_TESTS_HTTP_COUNTING_UPSTREAM_HPP_
#define ASSISTANT_TESTS_HTTP_COUNTING_UPSTREAM_HPP_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <sys/types.h>

#include "http/transport.hpp"

namespace http_test {

// 64-bit FNV-1a over `data`, continuing from `h`.
uint64_t Fnv1a(std::string_view data, uint64_t h = 14695981039346656037ull);

// The peak resident memory of process `pid` (VmHWM), in KiB; -1 unknown.
long PeakMemoryKiB(pid_t pid);

// Sends `head` (a request head, CRLF CRLF included) and `body_bytes` bytes
// of its body over a loopback connection to `port`, then waits; Abandon()
// closes the connection mid-body, as a client that vanishes.
class PartialUpload {
 public:
  PartialUpload(int port, const std::string& head, size_t body_bytes);
  ~PartialUpload() { Abandon(); }
  bool sent() const { return sent_; }
  void Abandon();

 private:
  int fd_ = -1;
  bool sent_ = false;
};

class CountingUpstream {
 public:
  CountingUpstream();
  ~CountingUpstream();
  int port() const { return port_; }

  std::atomic<int> reading{0};        // bodies being read now
  std::atomic<int> bodies_ended{0};   // bodies read to their end
  std::atomic<int> bodies_failed{0};  // bodies cut short
  std::atomic<int64_t> first_piece_ms{-1};  // since construction, of the last body

 private:
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::unique_ptr<assistant::server::http::Transport> transport_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace http_test

#endif  // ASSISTANT_TESTS_HTTP_COUNTING_UPSTREAM_HPP_
