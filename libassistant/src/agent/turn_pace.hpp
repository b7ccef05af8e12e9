// Lockstep between a turn and the one caller that follows it
// (StartOptions::paced): the turn goes on after an event only once the
// caller's sink took it, so a caller that stops at an event stops the turn
// there, not after it ran ahead.
//
// Thread safety: every method is safe to call from many threads at once.
#ifndef ASSISTANT_SRC_AGENT_TURN_PACE_HPP_
#define ASSISTANT_SRC_AGENT_TURN_PACE_HPP_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "agent/run_registry.hpp"

namespace assistant {

class TurnPace {
 public:
  // The caller's sink took event `id`.
  void Took(int64_t id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (id > taken_) taken_ = id;
    }
    cv_.notify_all();
  }
  // The caller follows no more: the turn runs freely from now on.
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  // Until event `id` was taken, the pace released, or `run` cancelled
  // (looked at every few milliseconds: a cancel does not notify).
  void WaitFor(int64_t id, const LiveRun& run) {
    std::unique_lock<std::mutex> lock(mu_);
    while (taken_ < id && !released_ && !run.cancelled()) {
      cv_.wait_for(lock, std::chrono::milliseconds(5));
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t taken_ = 0;      // guarded by mu_
  bool released_ = false;  // guarded by mu_
};

}  // namespace assistant

#endif  // ASSISTANT_SRC_AGENT_TURN_PACE_HPP_
