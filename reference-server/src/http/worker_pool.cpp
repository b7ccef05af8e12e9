#include "http/worker_pool.hpp"

#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>
#include <utility>

namespace assistant::server::http {
namespace {

thread_local WorkerPool* current_pool = nullptr;

struct Job {
  std::function<void()> fn;
  bool submitted = false;  // counts against the Submit bound
};

}  // namespace

struct WorkerPool::State {
  std::mutex mu;
  std::condition_variable cv;       // idle threads wait for `ready`
  std::condition_variable ended;    // Shutdown waits for `live` to reach 0
  std::deque<Job> ready;            // each promised to an idle thread
  std::deque<std::function<void()>> waiting;  // Submit jobs over the bound
  size_t threads = 0;               // the Submit bound
  size_t running_submitted = 0;
  size_t idle = 0;                  // idle threads not yet promised a job
  size_t live = 0;
  bool stopping = false;
  std::chrono::milliseconds max_idle{0};
};

WorkerPool::WorkerPool(size_t threads, std::chrono::milliseconds max_idle)
    : state_(std::make_shared<State>()) {
  state_->threads = threads;
  state_->max_idle = max_idle;
}

WorkerPool::~WorkerPool() { Shutdown(); }

void WorkerPool::Work(std::shared_ptr<State> st, WorkerPool* pool, std::function<void()> job,
                      bool submitted) {
  current_pool = pool;
  for (;;) {
    job();
    job = nullptr;  // its captures go now, not when the next job comes
    std::unique_lock<std::mutex> lock(st->mu);
    if (submitted) {
      --st->running_submitted;
      if (!st->waiting.empty()) {  // a handler that waited for room
        job = std::move(st->waiting.front());
        st->waiting.pop_front();
        ++st->running_submitted;
        continue;
      }
    }
    if (!st->stopping) {
      ++st->idle;
      // Submit and Run take an idle thread (--idle) and queue its job under
      // the same lock, so a ready job always has a thread waiting for it.
      st->cv.wait_for(lock, st->max_idle, [&] { return !st->ready.empty() || st->stopping; });
      if (!st->ready.empty()) {
        job = std::move(st->ready.front().fn);
        submitted = st->ready.front().submitted;
        st->ready.pop_front();
        continue;
      }
      --st->idle;
    }
    --st->live;
    st->ended.notify_all();
    return;
  }
}

void WorkerPool::Start(std::function<void()> job, bool submitted) {
  State& st = *state_;
  if (st.idle > 0) {
    --st.idle;
    st.ready.push_back({std::move(job), submitted});
    st.cv.notify_one();
    return;
  }
  ++st.live;
  std::thread(Work, state_, this, std::move(job), submitted).detach();
}

void WorkerPool::Submit(std::function<void()> job) {
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->running_submitted >= state_->threads) {
    state_->waiting.push_back(std::move(job));
    return;
  }
  ++state_->running_submitted;
  Start(std::move(job), true);
}

void WorkerPool::Run(std::function<void()> job) {
  std::lock_guard<std::mutex> lock(state_->mu);
  Start(std::move(job), false);
}

void WorkerPool::Shutdown() {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->stopping = true;
  state_->cv.notify_all();
  // A waiting job is taken by a Submit job's thread as it finishes.
  state_->ended.wait(lock, [this] { return state_->live == 0; });
}

WorkerPool& WorkerPool::Current() {
  if (current_pool != nullptr) return *current_pool;
  // Never destroyed: its threads may still run at exit.
  static WorkerPool* process = new WorkerPool(std::numeric_limits<size_t>::max());
  return *process;
}

}  // namespace assistant::server::http
