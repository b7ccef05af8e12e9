// One HTTP/1.1 connection to an upstream (plain TCP, or TLS over it for
// https), driven synchronously
// by the thread that holds it, for Boost.Beast's http::read and http::write:
// it is their SyncReadStream and SyncWriteStream. Every wait is bounded:
// the socket is non-blocking and each read or write that would block polls
// for at most the I/O timeout, so a silent upstream fails the exchange with
// asio::error::timed_out instead of holding a worker.
//
// Thread safety: one thread drives a connection at a time; Cut alone may be
// called from any other thread (it ends a wait in progress).
#ifndef ASSISTANT_SERVER_UPSTREAM_CONNECTION_HPP_
#define ASSISTANT_SERVER_UPSTREAM_CONNECTION_HPP_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/system/error_code.hpp>

namespace assistant::server {

// The TCP socket under a connection: non-blocking, every wait poll-bounded.
// It is the layer TLS reads and writes through, or Beast itself for http://.
class PolledSocket {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;
  // asio::ssl::stream asks its next layer for the lowest one.
  using lowest_layer_type = PolledSocket;

  PolledSocket();
  // Connects to host:port within `timeout` (every address the name resolves
  // to is tried in turn). False with `ec` set when none answered:
  // asio::error::timed_out when the time ran out.
  bool Connect(const std::string& host, const std::string& port,
               std::chrono::milliseconds timeout, boost::system::error_code& ec);

  void set_io_timeout(std::chrono::milliseconds t) { io_timeout_ = t; }
  void Cut();
  bool cut() const { return cut_.load(std::memory_order_relaxed); }
  // Nothing to read and no end of stream.
  bool Idle();

  executor_type get_executor() { return socket_.get_executor(); }
  PolledSocket& lowest_layer() { return *this; }
  template <typename MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    return Transfer(true, [&] { return socket_.read_some(buffers, ec); }, ec);
  }
  // The whole sequence goes in one call (sendmsg with every piece): a
  // message's head is many small buffers, and a send each would be a
  // packet each.
  template <typename ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, boost::system::error_code& ec) {
    return Transfer(false, [&] { return socket_.write_some(buffers, ec); }, ec);
  }

 private:
  // Runs `io` (a read or a write on the non-blocking socket) until it
  // moves bytes, fails, or the upstream has been silent past the timeout.
  template <typename Io>
  size_t Transfer(bool read, Io&& io, boost::system::error_code& ec) {
    for (;;) {
      if (cut()) {
        ec = boost::asio::error::operation_aborted;
        return 0;
      }
      const size_t n = io();
      if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) return n;
      if (!Wait(read, io_timeout_, ec)) return 0;
    }
  }
  // Waits until the socket is readable (or writable) for at most `timeout`.
  bool Wait(bool read, std::chrono::milliseconds timeout, boost::system::error_code& ec);

  boost::asio::ip::tcp::socket socket_;
  std::chrono::milliseconds io_timeout_{30000};
  std::atomic<bool> cut_{false};
};

class UpstreamConnection {
 public:
  using executor_type = PolledSocket::executor_type;

  // Connects to host:port within `timeout`; with `tls`, the TLS handshake
  // (certificate verified against the system's CAs and `host`) is within it
  // too. Null with `*ec` set when none answered or the handshake failed:
  // asio::error::timed_out when the time ran out, an error of
  // asio::error::get_ssl_category() when TLS failed (IsUnverified tells a
  // certificate that did not verify).
  static std::unique_ptr<UpstreamConnection> Open(const std::string& host,
                                                  const std::string& port, bool tls,
                                                  std::chrono::milliseconds timeout,
                                                  boost::system::error_code* ec);
  // Whether `ec` from Open means the upstream's certificate did not verify.
  static bool IsUnverified(const boost::system::error_code& ec);
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;
  ~UpstreamConnection();

  // How long one read or write may wait for the upstream.
  void set_io_timeout(std::chrono::milliseconds t) { socket_.set_io_timeout(t); }
  // Ends the connection from another thread: a wait in progress fails at
  // once, and so does every later read or write.
  void Cut() { socket_.Cut(); }
  bool cut() const { return socket_.cut(); }
  // Whether a kept connection still looks usable: not closed by the
  // upstream while it was idle (nothing to read, no end of stream).
  bool LooksAlive() { return !cut() && buffer_.size() == 0 && socket_.Idle(); }

  // Bytes read past the last parsed message: kept with the connection.
  boost::beast::flat_buffer& buffer() { return buffer_; }

  // The stream concepts Beast's synchronous algorithms take: through TLS
  // when the upstream is https, else straight on the socket.
  executor_type get_executor() { return socket_.get_executor(); }
  template <typename MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    return tls_ ? tls_->read_some(buffers, ec) : socket_.read_some(buffers, ec);
  }
  template <typename MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <typename ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, boost::system::error_code& ec) {
    return tls_ ? tls_->write_some(buffers, ec) : socket_.write_some(buffers, ec);
  }
  template <typename ConstBuffers>
  size_t write_some(const ConstBuffers& buffers) {
    boost::system::error_code ec;
    const size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  UpstreamConnection() = default;

  PolledSocket socket_;
  // Declared after the socket it reads through, so destroyed before it.
  std::unique_ptr<boost::asio::ssl::stream<PolledSocket&>> tls_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_UPSTREAM_CONNECTION_HPP_
