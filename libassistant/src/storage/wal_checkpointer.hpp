// Checkpoints a WAL database on a thread of its own.
//
// Why: SQLite's automatic checkpoint runs inside the COMMIT that pushes the
// WAL past its threshold, on the connection that committed. Here that is the
// one writer connection, with the whole commit group waiting for its
// acknowledgement: every ~1,000 pages one group of writes waited for a
// checkpoint (copying the pages into the database file, two fsyncs) on top
// of its own commit, and every other writer in the process waited behind
// it. A PASSIVE checkpoint from another connection runs concurrently with
// writers and readers, so the writer only notes that one is due.
//
// The WAL starts over from its beginning only when a write begins with
// every frame already copied, which a concurrent checkpoint never leaves
// behind while writes keep coming (the file grew without bound under load:
// 87 MB for 3,000 small writes). So the thread repeats its pass while many
// frames arrived during the last one, then the writer's next commit copies
// the few appended meanwhile itself, holding the write lock, and the write
// after it starts the WAL over.
//
// Thread safety: Attach before the writer is shared; the WAL hook it
// installs runs on whichever thread holds the writer; the destructor stops
// the thread (a checkpoint in progress finishes first) and must run after
// the writer is closed.
#ifndef ASSISTANT_SRC_STORAGE_WAL_CHECKPOINTER_HPP_
#define ASSISTANT_SRC_STORAGE_WAL_CHECKPOINTER_HPP_

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "assistant/status.hpp"

namespace assistant::storage {

class WalCheckpointer {
 public:
  // SQLite's own default threshold (wal_autocheckpoint), in WAL pages.
  static constexpr int kDefaultPages = 1000;

  // Opens a connection of its own to `path` (a WAL database) with the
  // writer's `synchronous` setting, which governs a checkpoint's fsyncs.
  static Result<std::unique_ptr<WalCheckpointer>> Start(const std::string& path,
                                                        const char* synchronous_pragma,
                                                        int threshold_pages = kDefaultPages);
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Replaces `writer`'s automatic checkpoints: after each of its commits
  // that leaves the WAL at threshold_pages or more, a checkpoint is asked
  // of this thread. `writer` must not outlive this object with the hook.
  void Attach(sqlite3* writer);

  // While the returned lock is held no background pass runs: a checkpoint
  // of the caller's own (TRUNCATE) would otherwise find SQLite's checkpoint
  // lock taken and give up busy.
  std::unique_lock<std::mutex> HoldPasses() { return std::unique_lock<std::mutex>(pass_mu_); }

 private:
  WalCheckpointer(sqlite3* db, int threshold_pages);
  // Background passes per checkpoint at most, and the number of frames
  // appended during a pass below which the writer's finish may take the rest.
  static constexpr int kMaxPasses = 4;
  static constexpr int kSmallRemainder = 64;

  static int OnCommit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void Loop();

  sqlite3* const db_;
  const int threshold_pages_;
  std::mutex pass_mu_;  // held during background passes
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;  // guarded by mu_
  // A pass finished: the writer's next commit completes it (see above).
  std::atomic<bool> finish_due_{false};
  bool stopping_ = false;   // guarded by mu_
  std::thread thread_;
};

}  // namespace assistant::storage

#endif  // ASSISTANT_SRC_STORAGE_WAL_CHECKPOINTER_HPP_
