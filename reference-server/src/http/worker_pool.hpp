// The threads that run blocking work off the transport's I/O threads: the
// transport's request handlers (SQLite commits, agent turns, streams) and
// the jobs those handlers start that block on a peer (a forwarded
// exchange, forwarder.hpp). One pool per transport; code that runs on one
// of its threads finds it with Current().
//
// Two ways in. Submit queues a handler: at most `threads` Submit jobs run
// at once, the rest wait in order (the queue is bounded by the transport's
// callers: at most one request per open connection, and the connections
// are capped). Run starts a job at once, on an idle thread or a new one,
// never queued: a handler waits for it, so waiting behind other handlers
// could wait forever. Threads start when needed and end after `max_idle`
// without a job, so a pool holds few threads while quiet.
//
// Thread safety: Submit, Run and Current from any thread; Shutdown from
// one thread (the destructor calls it).
#ifndef ASSISTANT_SERVER_HTTP_WORKER_POOL_HPP_
#define ASSISTANT_SERVER_HTTP_WORKER_POOL_HPP_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace assistant::server::http {

class WorkerPool final {
 public:
  explicit WorkerPool(size_t threads,
                      std::chrono::milliseconds max_idle = std::chrono::seconds(30));
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> job);
  void Run(std::function<void()> job);
  // Runs what was submitted, then waits until every thread ended.
  void Shutdown();

  // The pool whose thread calls; off any pool's thread (tests, a program
  // that forwards without a transport), a process-wide pool that is never
  // destroyed.
  static WorkerPool& Current();

 private:
  struct State;
  static void Work(std::shared_ptr<State> st, WorkerPool* pool, std::function<void()> job,
                   bool submitted);
  void Start(std::function<void()> job, bool submitted);  // under the state's lock
  std::shared_ptr<State> state_;
};

}  // namespace assistant::server::http

#endif  // ASSISTANT_SERVER_HTTP_WORKER_POOL_HPP_
