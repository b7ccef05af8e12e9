// Threads kept for jobs that block on a peer (a forwarded exchange), so that
// a forward does not start and tear down a thread of its own: a job runs on
// an idle thread when there is one, else on a new thread, so a long job (a
// stream) never holds up another. A thread idle for `max_idle`, or beyond
// `max_idle_threads` idle ones, ends.
//
// Thread safety: Run may be called from any thread. The process-wide pool
// lives until exit (its threads are detached).
#ifndef ASSISTANT_SERVER_WORKER_POOL_HPP_
#define ASSISTANT_SERVER_WORKER_POOL_HPP_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace assistant::server {

class WorkerPool final {
 public:
  WorkerPool(std::chrono::milliseconds max_idle, size_t max_idle_threads);
  ~WorkerPool();  // idle threads end; running jobs finish on their own
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Run(std::function<void()> job);

  // The pool the forwarder uses.
  static WorkerPool& Process();

 private:
  struct State;
  static void Work(std::shared_ptr<State> st, std::function<void()> job);
  std::shared_ptr<State> state_;
};

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_WORKER_POOL_HPP_
