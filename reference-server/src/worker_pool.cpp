#include "worker_pool.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace assistant::server {

struct WorkerPool::State {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  size_t idle = 0;  // idle threads not yet promised a job
  bool stopping = false;
  std::chrono::milliseconds max_idle;
  size_t max_idle_threads;
};

void WorkerPool::Work(std::shared_ptr<State> st, std::function<void()> job) {
  for (;;) {
    job();
    job = nullptr;  // its captures go now, not when the next job comes
    std::unique_lock<std::mutex> lock(st->mu);
    if (st->stopping || st->idle >= st->max_idle_threads) return;
    ++st->idle;
    // Run takes an idle thread (--idle) and queues its job under the same
    // lock, so a queued job always has a thread waiting for it.
    if (!st->cv.wait_for(lock, st->max_idle, [&] { return !st->jobs.empty() || st->stopping; })) {
      --st->idle;
      return;
    }
    if (st->jobs.empty()) {  // stopping
      --st->idle;
      return;
    }
    job = std::move(st->jobs.front());
    st->jobs.pop_front();
  }
}

WorkerPool::WorkerPool(std::chrono::milliseconds max_idle, size_t max_idle_threads)
    : state_(std::make_shared<State>()) {
  state_->max_idle = max_idle;
  state_->max_idle_threads = max_idle_threads;
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stopping = true;
  }
  state_->cv.notify_all();
}

void WorkerPool::Run(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->idle > 0) {
      --state_->idle;
      state_->jobs.push_back(std::move(job));
      state_->cv.notify_one();
      return;
    }
  }
  std::thread(Work, state_, std::move(job)).detach();
}

WorkerPool& WorkerPool::Process() {
  // Never destroyed: detached threads may still use it at exit.
  static WorkerPool* pool = new WorkerPool(std::chrono::seconds(30), 256);
  return *pool;
}

}  // namespace assistant::server
