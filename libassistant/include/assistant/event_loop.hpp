// File: assistant/event_loop.hpp
//
// The caller's event loop, as the core sees it: a thread that runs functions
// one at a time and can wake one when a file descriptor is ready or a delay
// has passed. The embedder implements it over its own loop (an Asio
// io_context, libuv, epoll, ...); the core needs no loop of its own and knows
// nothing of the embedder's. Asynchronous calls (Storage::ListTasksAsync,
// TaskService::ListAsync) take one and run their callbacks on it.
//
// Contract for an implementation:
//   - Every function given to it runs on the loop's thread, never inline in
//     the call that gave it, and at most once.
//   - Post is safe from any thread. WatchFd, RunAfter and Cancel are called
//     on the loop's thread only (the core calls them from functions the loop
//     runs).
//   - A watch fires once (when `fd` is ready for `io`, or has an error or a
//     hang-up, so the caller finds the error when it reads or writes); to
//     wait again, watch again. The core never watches one fd for the same
//     `io` twice at once.
//   - Cancel of a watch or timer that has not run yet: its function never
//     runs and is destroyed. Cancel of one that ran or was cancelled: a no-op.
//   - A function posted or watched when the loop is destroyed is destroyed
//     without running.
//
// Example (Asio; the handle maps to the embedder's own objects):
//   class AsioLoop : public assistant::EventLoop {
//     void Post(std::function<void()> fn) override { asio::post(ioc_, std::move(fn)); }
//     ...
//   };
#ifndef ASSISTANT_EVENT_LOOP_HPP_
#define ASSISTANT_EVENT_LOOP_HPP_

#include <chrono>
#include <cstdint>
#include <functional>

namespace assistant {

class EventLoop {
 public:
  enum class Io { kReadable, kWritable };
  // Names a watch or a timer for Cancel; 0 is never one.
  using Handle = uint64_t;

  virtual ~EventLoop() = default;

  // Runs `fn` on the loop soon. Any thread.
  virtual void Post(std::function<void()> fn) = 0;
  // Runs `fn` once, on the loop, when `fd` is ready for `io`. Loop thread.
  virtual Handle WatchFd(int fd, Io io, std::function<void()> fn) = 0;
  // Runs `fn` once, on the loop, after `delay`. Loop thread.
  virtual Handle RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  // Forgets a watch or timer that has not run. Loop thread.
  virtual void Cancel(Handle handle) = 0;
};

}  // namespace assistant

#endif  // ASSISTANT_EVENT_LOOP_HPP_
