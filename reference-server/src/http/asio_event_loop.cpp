#include "http/asio_event_loop.hpp"

#include <optional>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace assistant::server::http {

namespace net = boost::asio;

// A watch holds a descriptor, a timer a timer; each its function.
struct AsioEventLoop::Pending {
  std::function<void()> fn;
  std::optional<net::posix::stream_descriptor> descriptor;
  std::optional<net::steady_timer> timer;

  ~Pending() {
    if (descriptor) {
      boost::system::error_code ignored;
      descriptor->cancel(ignored);
      descriptor->release();  // the core's descriptor: never closed here
    }
  }
};

AsioEventLoop::AsioEventLoop(net::any_io_executor executor) : executor_(std::move(executor)) {}

AsioEventLoop::~AsioEventLoop() = default;

void AsioEventLoop::Post(std::function<void()> fn) { net::post(executor_, std::move(fn)); }

EventLoop::Handle AsioEventLoop::WatchFd(int fd, Io io, std::function<void()> fn) {
  const Handle h = ++next_;
  auto p = std::make_unique<Pending>();
  p->fn = std::move(fn);
  p->descriptor.emplace(executor_, fd);
  // An error or a hang-up completes the wait too: the core finds it when it
  // reads or writes.
  p->descriptor->async_wait(io == Io::kReadable ? net::posix::stream_descriptor::wait_read
                                                : net::posix::stream_descriptor::wait_write,
                            [this, h](const boost::system::error_code& ec) {
                              if (ec != net::error::operation_aborted) Fire(h);
                            });
  pending_.emplace(h, std::move(p));
  return h;
}

EventLoop::Handle AsioEventLoop::RunAfter(std::chrono::milliseconds delay,
                                          std::function<void()> fn) {
  const Handle h = ++next_;
  auto p = std::make_unique<Pending>();
  p->fn = std::move(fn);
  p->timer.emplace(executor_, delay);
  p->timer->async_wait([this, h](const boost::system::error_code& ec) {
    if (ec != net::error::operation_aborted) Fire(h);
  });
  pending_.emplace(h, std::move(p));
  return h;
}

void AsioEventLoop::Cancel(Handle handle) {
  // The wait's handler may already be queued with success: Fire finds no
  // entry then and does nothing.
  pending_.erase(handle);
}

void AsioEventLoop::Fire(Handle handle) {
  auto it = pending_.find(handle);
  if (it == pending_.end()) return;
  std::function<void()> fn = std::move(it->second->fn);
  pending_.erase(it);  // before fn, which may watch the same descriptor again
  fn();
}

}  // namespace assistant::server::http
