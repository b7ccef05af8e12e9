// ListTasks on PostgreSQL without a blocked thread: libpq's asynchronous API
// on a few connections owned by one caller's EventLoop (docs/storage.md,
// "The asynchronous read"). One reader per (storage, loop); everything it
// does runs on that loop's thread.
#ifndef ASSISTANT_SRC_STORAGE_POSTGRES_ASYNC_READER_HPP_
#define ASSISTANT_SRC_STORAGE_POSTGRES_ASYNC_READER_HPP_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "assistant/event_loop.hpp"
#include "assistant/storage.hpp"

namespace assistant::storage {

struct AsyncReaderSettings {
  std::string url;  // never logged: it may hold a password
  int max_connections = 8;
  int64_t lock_timeout_ms = 5000;
  // No answer (to a connect or a query) for this long: the connection is
  // taken for lost.
  std::chrono::milliseconds timeout{10000};
};

class PgAsyncReader {
 public:
  // Lifetime: held by a shared_ptr; every function it gives the loop holds a
  // weak one, so a reader dropped with its storage is gone for the loop too
  // (its requests in flight dropped uncalled). It never calls the loop when
  // destroyed.
  static std::shared_ptr<PgAsyncReader> Create(AsyncReaderSettings settings, EventLoop& loop);
  virtual ~PgAsyncReader() = default;

  // Loop thread only. Connections open lazily, up to max_connections; a
  // request finding all busy waits its turn. A connection lost before the
  // answer is replaced and the query sent once more; a failed connect fails
  // every call at once for kReconnectPause. `done` runs once, on the loop.
  virtual void ListTasks(std::string user_id, const TaskQuery& query,
                         Storage::TaskListDone done) = 0;
};

}  // namespace assistant::storage

#endif  // ASSISTANT_SRC_STORAGE_POSTGRES_ASYNC_READER_HPP_
