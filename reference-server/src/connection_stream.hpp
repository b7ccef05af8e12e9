// One client connection as cpp-httplib's request parser and response writer
// see it, for the whole life of the connection (the library's own stream
// lives for one request).
//
// Why: with the library's stream every response costs a poll and a send for
// its header block and another poll and send for its body, and every request
// a getpeername, a getsockname and a poll before its recv: nine system
// calls, and two TCP segments (each a trip through the loopback stack) per
// response. Here a response is one sendmsg (header block and body together),
// a request one recv, and the peer's address is read once per connection.
//
// Buffering rule: a write that fits kCoalesceBytes is held while nothing
// else is pending; the next write goes out together with it, and
// FinishResponse() sends whatever is left. A streamed (chunked) response
// must not be held: when a response's header block (the library's first
// write of a response) has no Content-Length, every write of that response
// goes out at once; so does everything pending before a read, and when
// is_writable() is asked.
//
// Thread safety: one connection, one thread (cpp-httplib's worker).
#ifndef ASSISTANT_SERVER_CONNECTION_STREAM_HPP_
#define ASSISTANT_SERVER_CONNECTION_STREAM_HPP_

#include <sys/types.h>

#include <atomic>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include <httplib.h>

namespace assistant::server {

class ConnectionStream final : public httplib::Stream {
 public:
  // Writes up to this size are held for the next one (a header block is
  // ~300 bytes; an SSE frame goes out at once, see above).
  static constexpr size_t kCoalesceBytes = 16 * 1024;

  // `sock` stays owned by the caller. Timeouts bound each blocking read and
  // write (SO_RCVTIMEO / SO_SNDTIMEO), as the library's own stream does.
  ConnectionStream(socket_t sock, time_t read_timeout_sec, time_t write_timeout_sec);
  ~ConnectionStream() override;
  ConnectionStream(const ConnectionStream&) = delete;
  ConnectionStream& operator=(const ConnectionStream&) = delete;

  // Waits until the next request's first bytes are here (and reads them):
  // true at once when they are already buffered (a pipelined request). False
  // when the peer closed, the connection idled for `idle_timeout_ms`, or
  // `listening` became INVALID_SOCKET (the server is stopping; checked every
  // kStopCheckMs).
  bool WaitForRequest(int idle_timeout_ms, const std::atomic<socket_t>& listening);
  // Sends what is pending and ends the response's streaming mode. False when
  // the send failed (the connection is then unusable).
  bool FinishResponse();

  // The bytes read ahead and not yet consumed (the fast path, fast_request.hpp,
  // parses a request in place and consumes it only once it serves it).
  std::string_view Buffered() const {
    return std::string_view(read_buf_.get() + read_off_, read_len_ - read_off_);
  }
  void Consume(size_t n) { read_off_ += n; }

  // httplib::Stream
  bool is_readable() const override;
  // Sends what is pending (a streamed response is about to write) and, like
  // the library's stream, waits for room and checks the peer has not closed.
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return sock_; }

  static constexpr int kStopCheckMs = 50;

 private:
  // recv into `buf`, waiting up to `timeout_ms` (in kStopCheckMs slices,
  // giving up early when `listening`, if given, becomes INVALID_SOCKET).
  // recv's result: bytes, 0 at the peer's end, -1 on error or timeout.
  ssize_t Recv(char* buf, size_t len, int timeout_ms, const std::atomic<socket_t>* listening);
  // Sends `pending_` then `size` bytes at `ptr` (may be 0) with as few
  // sendmsg calls as the kernel allows; false on error, or when it all did
  // not go out within the write timeout (a peer that reads a trickle makes
  // each sendmsg return some bytes, so SO_SNDTIMEO alone never fires). After
  // one failure the connection is `broken_`: later writes fail at once
  // instead of each waiting out the timeout again.
  bool SendAll(const char* ptr, size_t size) const;

  static constexpr size_t kReadBufferBytes = 4096;

  const socket_t sock_;
  const time_t read_timeout_sec_;
  const time_t write_timeout_sec_;
  // Read-ahead: bytes received and not yet consumed, kept across requests.
  std::unique_ptr<char[]> read_buf_;
  size_t read_off_ = 0;
  size_t read_len_ = 0;
  // Written and not yet sent. Mutable: is_writable() is const in the
  // library's interface but must send it.
  mutable std::string pending_;
  // This response's writes go out at once (see above).
  mutable bool streaming_ = false;
  mutable bool broken_ = false;
  // The next write is a response's header block.
  bool at_response_start_ = true;
  // Addresses, read once per connection.
  mutable std::string remote_ip_;
  mutable int remote_port_ = -1;
  mutable std::string local_ip_;
  mutable int local_port_ = -1;
};

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_CONNECTION_STREAM_HPP_
