// Moves deleted text out of the database files on a schedule (the guarantee
// of docs/storage.md "Deletes are hard"), for every embedding alike: Assistant::Open
// starts one, and the instance's destruction stops it and runs a last
// checkpoint.
//
// Thread safety: constructed and destroyed by one owner; its thread only
// calls Storage::Checkpoint, which is safe at any time.
#ifndef ASSISTANT_SRC_CORE_PERIODIC_CHECKPOINT_HPP_
#define ASSISTANT_SRC_CORE_PERIODIC_CHECKPOINT_HPP_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "assistant/logger.hpp"
#include "assistant/storage.hpp"

namespace assistant {

class PeriodicCheckpoint {
 public:
  // `storage` and `logger` must outlive this object. An interval of 0 runs
  // no thread, only the last checkpoint at destruction.
  PeriodicCheckpoint(Storage& storage, Logger& logger, std::chrono::milliseconds interval);
  ~PeriodicCheckpoint();
  PeriodicCheckpoint(const PeriodicCheckpoint&) = delete;
  PeriodicCheckpoint& operator=(const PeriodicCheckpoint&) = delete;

 private:
  void RunOnce(const char* what);

  Storage& storage_;
  Logger& logger_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace assistant

#endif  // ASSISTANT_SRC_CORE_PERIODIC_CHECKPOINT_HPP_
