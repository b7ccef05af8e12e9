// In-process tests of the worker pool (http/worker_pool.hpp) that the
// transport's handlers and the forwarder's exchanges share: a job that
// blocks (a stream) never holds up a Run job, threads are reused rather
// than started per job, Submit holds to its bound, and a handler's Run job
// lands on the handler's own pool.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <algorithm>
#include <thread>
#include <vector>

#include "http/worker_pool.hpp"

using assistant::server::http::WorkerPool;
using namespace std::chrono_literals;

namespace {

// Counts down; Wait returns false after `timeout` without reaching zero.
class Latch {
 public:
  explicit Latch(int n) : n_(n) {}
  void CountDown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return n_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_;
};

}  // namespace

TEST_SUITE("server.unit") {

TEST_CASE("worker pool: a blocked job does not hold up the next one") {
  WorkerPool pool(8, 10s);
  Latch release(1), second_ran(1), first_done(1);
  pool.Run([&] {
    release.Wait(5s);  // a stream: blocks until told
    first_done.CountDown();
  });
  pool.Run([&] { second_ran.CountDown(); });
  CHECK(second_ran.Wait(2s));
  release.CountDown();
  CHECK(first_done.Wait(2s));
}

TEST_CASE("worker pool: one job after another reuses the same thread") {
  WorkerPool pool(8, 10s);
  // Jobs run so far on the thread a job runs on: 1 each time on fresh
  // threads (an id alone could repeat, as the C library recycles them).
  static thread_local int jobs_on_this_thread = 0;
  int most = 0;
  for (int i = 0; i < 20; ++i) {
    Latch done(1);
    int seen = 0;
    pool.Run([&] {
      seen = ++jobs_on_this_thread;
      done.CountDown();
    });
    REQUIRE(done.Wait(2s));
    most = std::max(most, seen);
    // The thread is idle again once the job's captures are gone.
    std::this_thread::sleep_for(5ms);
  }
  CHECK(most >= 10);
}

TEST_CASE("worker pool: at most `threads` submitted jobs run at once; the rest run after") {
  WorkerPool pool(2, 10s);
  std::mutex mu;
  std::condition_variable cv;
  int running = 0, most = 0;
  bool open = false;
  std::vector<int> order;
  Latch all(5);
  for (int i = 0; i < 5; ++i) {
    pool.Submit([&, i] {
      std::unique_lock<std::mutex> lock(mu);
      most = std::max(most, ++running);
      order.push_back(i);
      cv.wait_for(lock, 5s, [&] { return open; });
      --running;
      all.CountDown();
    });
  }
  std::this_thread::sleep_for(100ms);
  {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(running == 2);
    open = true;
  }
  cv.notify_all();
  REQUIRE(all.Wait(5s));
  CHECK(most == 2);
  // The first two started at once; the others waited for them.
  REQUIRE(order.size() == 5);
  CHECK(std::min(order[0], order[1]) == 0);
  CHECK(std::max(order[0], order[1]) == 1);
}

TEST_CASE("worker pool: a full pool still runs a handler's Run job, on the same pool") {
  WorkerPool pool(1, 10s);
  Latch done(1);
  WorkerPool* seen = nullptr;
  pool.Submit([&] {
    // The only submitted slot is taken by this job: the exchange it waits
    // for must not queue behind it.
    Latch inner(1);
    WorkerPool::Current().Run([&] {
      seen = &WorkerPool::Current();
      inner.CountDown();
    });
    CHECK(inner.Wait(2s));
    done.CountDown();
  });
  REQUIRE(done.Wait(3s));
  CHECK(seen == &pool);
  CHECK(&WorkerPool::Current() != &pool);  // off its threads: the process pool
}

}  // TEST_SUITE
