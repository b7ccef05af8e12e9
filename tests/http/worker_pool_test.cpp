// In-process tests of the forwarder's kept threads (worker_pool.hpp): a
// job that blocks (a stream) never holds up another, and threads are
// reused rather than started per job.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <algorithm>
#include <thread>

#include "worker_pool.hpp"

using assistant::server::WorkerPool;
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
  WorkerPool pool(10s, 8);
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
  WorkerPool pool(10s, 8);
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

}  // TEST_SUITE
