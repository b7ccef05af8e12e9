// assistant::EventLoop (the core's view of a caller's loop) over one of the
// transport's per-thread Asio loops, so the core's asynchronous calls
// (Storage::ListTasksAsync) run on the I/O thread that took the request.
//
// A watch registers the descriptor with the loop's reactor for that one
// wait and releases it (never closes it: the core owns it) when the wait
// ends or is cancelled. Registering per wait costs two epoll_ctl calls, but
// a descriptor the core closed and a new one that got its number can never
// be confused, which a registration kept between waits would allow.
//
// Thread safety: Post from any thread; the rest on the loop's one thread.
// Destroy it before its io_context, after the loop stopped running, and
// after Storage::ForgetLoop released it.
#ifndef ASSISTANT_SERVER_HTTP_ASIO_EVENT_LOOP_HPP_
#define ASSISTANT_SERVER_HTTP_ASIO_EVENT_LOOP_HPP_

#include <memory>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>

#include "assistant/event_loop.hpp"

namespace assistant::server::http {

class AsioEventLoop final : public EventLoop {
 public:
  explicit AsioEventLoop(boost::asio::any_io_executor executor);
  ~AsioEventLoop() override;
  AsioEventLoop(const AsioEventLoop&) = delete;
  AsioEventLoop& operator=(const AsioEventLoop&) = delete;

  void Post(std::function<void()> fn) override;
  Handle WatchFd(int fd, Io io, std::function<void()> fn) override;
  Handle RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) override;
  void Cancel(Handle handle) override;

 private:
  struct Pending;
  // Runs the watch or timer `handle` once, unless it was cancelled.
  void Fire(Handle handle);

  const boost::asio::any_io_executor executor_;
  Handle next_ = 0;
  std::unordered_map<Handle, std::unique_ptr<Pending>> pending_;
};

}  // namespace assistant::server::http

#endif  // ASSISTANT_SERVER_HTTP_ASIO_EVENT_LOOP_HPP_
