#include "core/periodic_checkpoint.hpp"

namespace assistant {

PeriodicCheckpoint::PeriodicCheckpoint(Storage& storage, Logger& logger,
                                       std::chrono::milliseconds interval)
    : storage_(storage), logger_(logger), interval_(interval) {
  if (interval_.count() <= 0) return;
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, interval_, [this] { return stopping_; })) {
      lock.unlock();
      RunOnce("checkpoint failed");
      lock.lock();
    }
  });
}

PeriodicCheckpoint::~PeriodicCheckpoint() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Text deleted since the last pass leaves the files before they close.
  RunOnce("final checkpoint failed");
}

void PeriodicCheckpoint::RunOnce(const char* what) {
  if (Status s = storage_.Checkpoint(); !s.ok()) {
    logger_.Log(LogLevel::kWarning, what, {{"cause", s.ToString()}});
  }
}

}  // namespace assistant
