// The agent's threads (AgentOptions::max_turns_in_flight): a turn holds one
// for its whole length, since the provider's call blocks. Threads are made
// when no idle one is left and kept for the next turns; there are never
// more than the bound, because a turn needs a place reserved first.
//
// Thread safety: every method is safe to call from many threads at once.
#ifndef ASSISTANT_SRC_AGENT_TURN_POOL_HPP_
#define ASSISTANT_SRC_AGENT_TURN_POOL_HPP_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace assistant {

class TurnPool {
 public:
  // `max_in_flight` below 1 counts as 1.
  explicit TurnPool(int max_in_flight);
  // Waits for every job handed to Run.
  ~TurnPool();
  TurnPool(const TurnPool&) = delete;
  TurnPool& operator=(const TurnPool&) = delete;

  // Takes a place for one job; false when all are taken.
  bool TryReserve();
  // Gives back a place that Run will not use.
  void Release();
  // Runs `job` on a pool thread, in the place reserved before; the place
  // is free again when the job returns.
  void Run(std::function<void()> job);

 private:
  void Work();

  const int max_;
  std::mutex mu_;
  std::condition_variable cv_;                // a job queued, or stopping
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  std::vector<std::thread> threads_;          // guarded by mu_
  int reserved_ = 0;                          // guarded by mu_
  int idle_ = 0;                              // guarded by mu_
  bool stopping_ = false;                     // guarded by mu_
};

}  // namespace assistant

#endif  // ASSISTANT_SRC_AGENT_TURN_POOL_HPP_
