// The agent's bounded thread pool (turn_pool.hpp).
#include "agent/turn_pool.hpp"

#include <algorithm>
#include <utility>

namespace assistant {

TurnPool::TurnPool(int max_in_flight) : max_(std::max(1, max_in_flight)) {}

TurnPool::~TurnPool() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  // A thread leaves only once the queue is empty, so every job runs.
  for (std::thread& t : threads) t.join();
}

bool TurnPool::TryReserve() {
  std::lock_guard<std::mutex> lock(mu_);
  if (reserved_ >= max_) return false;
  ++reserved_;
  return true;
}

void TurnPool::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  --reserved_;
}

void TurnPool::Run(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
    // Each queued job has a place, and each place at most one thread, so
    // this never makes more than max_ threads.
    if (idle_ < static_cast<int>(queue_.size())) {
      threads_.emplace_back([this] { Work(); });
      return;
    }
  }
  cv_.notify_one();
}

void TurnPool::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stopping, nothing left
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // what the job holds goes before its place is free
    lock.lock();
    --reserved_;
  }
}

}  // namespace assistant
