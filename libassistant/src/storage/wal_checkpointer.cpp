#include "storage/wal_checkpointer.hpp"

#include <utility>

namespace assistant::storage {

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(const std::string& path,
                                                                const char* synchronous_pragma,
                                                                int threshold_pages) {
  sqlite3* db = nullptr;
  // Used by its own thread only: no per-call mutex.
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK ||
      sqlite3_exec(db, synchronous_pragma, nullptr, nullptr, nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return UnavailableError("cannot open the checkpoint connection: " + why);
  }
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(db, threshold_pages));
}

WalCheckpointer::WalCheckpointer(sqlite3* db, int threshold_pages)
    : db_(db), threshold_pages_(threshold_pages) {
  thread_ = std::thread([this] { Loop(); });
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
  sqlite3_close(db_);
}

void WalCheckpointer::Attach(sqlite3* writer) { sqlite3_wal_hook(writer, &OnCommit, this); }

int WalCheckpointer::OnCommit(void* self, sqlite3* writer, const char*, int wal_pages) {
  auto* me = static_cast<WalCheckpointer*>(self);
  if (me->finish_due_.exchange(false, std::memory_order_relaxed)) {
    // Only what was appended during the background pass is left to copy.
    (void)sqlite3_wal_checkpoint_v2(writer, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }
  if (wal_pages < me->threshold_pages_) return SQLITE_OK;
  {
    std::lock_guard<std::mutex> lock(me->mu_);
    if (me->requested_) return SQLITE_OK;
    me->requested_ = true;
  }
  me->cv_.notify_one();
  return SQLITE_OK;
}

void WalCheckpointer::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return requested_ || stopping_; });
    if (stopping_) return;
    requested_ = false;
    lock.unlock();
    // PASSIVE: copies what no reader still needs, never waits for a lock.
    // Busy or failed, it is simply asked again after a later commit; the
    // frames stay in the WAL meanwhile, as with SQLite's own checkpoints.
    // Frames keep coming during a pass; further passes copy those, each
    // shorter than the last, until what is left for the writer is small.
    int rc = SQLITE_OK;
    {
      std::lock_guard<std::mutex> passing(pass_mu_);
      int seen = 0;
      for (int pass = 0; pass < kMaxPasses; ++pass) {
        int log_frames = 0;
        int copied = 0;
        rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                       &copied);
        if (rc != SQLITE_OK || log_frames - seen <= kSmallRemainder) break;
        seen = log_frames;
      }
    }
    lock.lock();
    if (rc == SQLITE_OK) {
      // Commits during the pass asked for another; the writer's finish
      // comes first, and the next pass only if a later commit asks (the
      // finish would find this thread's checkpoint lock busy otherwise).
      requested_ = false;
      finish_due_.store(true, std::memory_order_relaxed);
    }
  }
}

}  // namespace assistant::storage
