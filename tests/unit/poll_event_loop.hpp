// A plain assistant::EventLoop for tests: one thread (the one in RunUntil),
// poll(2) over the watched descriptors and a self-pipe that Post writes to
// wake it. It holds the interface's contract strictly, so a caller that
// breaks it fails here: a watch, timer or cancel from another thread while
// the loop runs aborts.
#ifndef ASSISTANT_TESTS_UNIT_POLL_EVENT_LOOP_HPP_
#define ASSISTANT_TESTS_UNIT_POLL_EVENT_LOOP_HPP_

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "assistant/event_loop.hpp"

namespace assistant::testing {

class PollEventLoop final : public EventLoop {
 public:
  using Clock = std::chrono::steady_clock;

  PollEventLoop() {
    if (::pipe2(wake_, O_NONBLOCK | O_CLOEXEC) != 0) std::abort();
  }
  ~PollEventLoop() override {
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  PollEventLoop(const PollEventLoop&) = delete;
  PollEventLoop& operator=(const PollEventLoop&) = delete;

  void Post(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      posted_.push_back(std::move(fn));
    }
    const char byte = 1;
    (void)!::write(wake_[1], &byte, 1);  // a full pipe already wakes the loop
  }

  Handle WatchFd(int fd, Io io, std::function<void()> fn) override {
    OnLoopThread();
    const Handle h = ++next_;
    watches_[h] = Watch{fd, io, std::move(fn)};
    return h;
  }

  Handle RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) override {
    OnLoopThread();
    const Handle h = ++next_;
    timers_[h] = Timer{Clock::now() + delay, std::move(fn)};
    return h;
  }

  void Cancel(Handle h) override {
    OnLoopThread();
    watches_.erase(h);
    timers_.erase(h);
  }

  // Runs the loop on this thread until `done()` holds or `limit` passes;
  // returns done().
  bool RunUntil(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const Clock::time_point deadline = Clock::now() + limit;
    running_ = std::this_thread::get_id();
    while (!done() && Clock::now() < deadline) Step(deadline);
    running_ = std::thread::id();
    return done();
  }

  // Watches and timers pending (a caller that forgot one leaks it here).
  size_t Pending() const { return watches_.size() + timers_.size(); }

  std::thread::id thread() const { return running_; }

 private:
  struct Watch {
    int fd;
    Io io;
    std::function<void()> fn;
  };
  struct Timer {
    Clock::time_point at;
    std::function<void()> fn;
  };

  void OnLoopThread() const {
    if (running_ != std::thread::id() && running_ != std::this_thread::get_id()) std::abort();
  }

  void Step(Clock::time_point deadline) {
    Clock::time_point wake_at = deadline;
    for (const auto& [h, t] : timers_) wake_at = std::min(wake_at, t.at);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!posted_.empty()) wake_at = Clock::now();
    }
    std::vector<pollfd> fds{{wake_[0], POLLIN, 0}};
    std::vector<Handle> handles{0};
    for (const auto& [h, w] : watches_) {
      fds.push_back({w.fd, static_cast<short>(w.io == Io::kReadable ? POLLIN : POLLOUT), 0});
      handles.push_back(h);
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake_at - Clock::now());
    const int timeout = static_cast<int>(std::max<int64_t>(0, wait.count() + 1));
    if (::poll(fds.data(), fds.size(), timeout) < 0) return;  // EINTR: go round

    char drain[64];
    while (::read(wake_[0], drain, sizeof drain) > 0) {
    }
    const Clock::time_point now = Clock::now();
    std::vector<Handle> due;
    for (const auto& [h, t] : timers_) {
      if (t.at <= now) due.push_back(h);
    }
    for (Handle h : due) RunOnce(timers_, h);
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) RunOnce(watches_, handles[i]);
    }
    std::vector<std::function<void()>> posted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      posted.swap(posted_);
    }
    for (auto& fn : posted) fn();
  }

  // Runs and forgets the entry, unless an earlier function cancelled it.
  template <typename Map>
  static void RunOnce(Map& map, Handle h) {
    auto it = map.find(h);
    if (it == map.end()) return;
    std::function<void()> fn = std::move(it->second.fn);
    map.erase(it);
    fn();
  }

  int wake_[2] = {-1, -1};
  std::mutex mu_;
  std::vector<std::function<void()>> posted_;  // guarded by mu_
  std::map<Handle, Watch> watches_;
  std::map<Handle, Timer> timers_;
  Handle next_ = 0;
  std::atomic<std::thread::id> running_{};
};

}  // namespace assistant::testing

#endif  // ASSISTANT_TESTS_UNIT_POLL_EVENT_LOOP_HPP_
