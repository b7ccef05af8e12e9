// PgAsyncReader: libpq's asynchronous API driven by the caller's EventLoop
// (the model of bench/http/bare_async_pg_server.cpp, behind the core's own
// seam). Each connection is a small state machine: connect
// (PQconnectStart / PQconnectPoll), session setup, prepare ListTasks'
// statement, then idle or one query at a time (PQsendQueryPrepared, then
// PQconsumeInput / PQisBusy / PQgetResult whenever the socket is readable).
// Every wait has a timer, so a server that stops answering fails the call
// instead of hanging it. The same SQL, row mapping and error mapping as the
// synchronous ListTasks, and the same rules for a lost connection.
#include "storage/postgres_async_reader.hpp"

#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "storage/postgres_errors.hpp"
#include "storage/postgres_task_list.hpp"
#include "storage/row_mapping.hpp"

namespace assistant::storage {

namespace {

constexpr const char* kListStatement = "list_tasks";

// A libpq result row for the shared readers (row_mapping.hpp). BOOLEAN
// columns come as "t"/"f".
struct PqRow {
  const PGresult* r;
  int row;
  bool Null(int i) const { return PQgetisnull(r, row, i) != 0; }
  std::string Text(int i) const {
    if (Null(i)) return std::string();
    return std::string(PQgetvalue(r, row, i), static_cast<size_t>(PQgetlength(r, row, i)));
  }
  std::optional<std::string> OptText(int i) const {
    if (Null(i)) return std::nullopt;
    return Text(i);
  }
  int64_t Int(int i) const {
    const char* v = PQgetvalue(r, row, i);
    if (std::strcmp(v, "t") == 0) return 1;
    if (std::strcmp(v, "f") == 0) return 0;
    return std::strtoll(v, nullptr, 10);
  }
  std::optional<int64_t> OptInt(int i) const {
    if (Null(i)) return std::nullopt;
    return Int(i);
  }
};

std::string ErrorOf(PGconn* pg) {
  std::string what = PQerrorMessage(pg);
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
  return what.empty() ? std::string("connection lost") : what;
}

class Reader final : public PgAsyncReader, public std::enable_shared_from_this<Reader> {
 public:
  Reader(AsyncReaderSettings settings, EventLoop& loop)
      : settings_(std::move(settings)), loop_(loop) {}

  ~Reader() override {
    for (auto& c : conns_) PQfinish(c->pg);
  }

  void ListTasks(std::string user_id, const TaskQuery& query,
                 Storage::TaskListDone done) override {
    waiting_.push_back(Request{std::move(user_id), TaskListParamsOf(query), std::move(done)});
    Pump();
  }

 private:
  struct Request {
    std::string user_id;
    TaskListParams params;
    Storage::TaskListDone done;
    bool resent = false;  // sent again once after a lost connection
  };
  enum class Phase { kConnecting, kSetup, kPreparing, kIdle, kQuery };
  struct Conn {
    PGconn* pg = nullptr;
    Phase phase = Phase::kConnecting;
    EventLoop::Handle watch = 0;
    EventLoop::Handle timer = 0;
    std::optional<Request> request;  // kQuery
    std::vector<Task> rows;
    std::optional<Status> error;  // the first error result of the command
  };
  using Step = void (Reader::*)(Conn&);

  // Gives waiting requests to idle connections, opening more while allowed.
  void Pump() {
    while (!waiting_.empty()) {
      Conn* idle = nullptr;
      size_t connecting = 0;
      for (auto& c : conns_) {
        if (c->phase == Phase::kIdle && idle == nullptr) idle = c.get();
        if (c->phase == Phase::kConnecting || c->phase == Phase::kSetup ||
            c->phase == Phase::kPreparing) {
          ++connecting;
        }
      }
      if (idle != nullptr) {
        Request r = std::move(waiting_.front());
        waiting_.pop_front();
        Send(*idle, std::move(r));
        continue;
      }
      if (connecting >= waiting_.size()) return;  // they will be served as those come up
      if (static_cast<int>(conns_.size()) >= settings_.max_connections) return;
      if (std::chrono::steady_clock::now() < retry_at_) {
        // As the pool does: while the database is down, answer at once.
        if (conns_.empty()) {
          FailWaiting(StorageUnavailable("the last connection attempt failed; retrying shortly"));
        }
        return;
      }
      Open();
    }
  }

  void Open() {
    PGconn* pg = PQconnectStart(settings_.url.c_str());
    if (pg == nullptr || PQstatus(pg) == CONNECTION_BAD || PQsetnonblocking(pg, 1) != 0) {
      const std::string why = pg == nullptr ? "out of memory" : ErrorOf(pg);
      PQfinish(pg);
      retry_at_ = std::chrono::steady_clock::now() + kReconnectPause;
      if (conns_.empty()) FailWaiting(StorageUnavailable(why));
      return;
    }
    conns_.push_back(std::make_unique<Conn>());
    Conn& c = *conns_.back();
    c.pg = pg;
    StartTimer(c);
    // libpq: after PQconnectStart, wait as if PQconnectPoll said "writing".
    Watch(c, EventLoop::Io::kWritable, &Reader::OnConnect);
  }

  void OnConnect(Conn& c) {
    switch (PQconnectPoll(c.pg)) {
      case PGRES_POLLING_READING:
        return Watch(c, EventLoop::Io::kReadable, &Reader::OnConnect);
      case PGRES_POLLING_WRITING:
        return Watch(c, EventLoop::Io::kWritable, &Reader::OnConnect);
      case PGRES_POLLING_OK:
        c.phase = Phase::kSetup;
        if (PQsendQuery(c.pg, SessionSetupSql(settings_.lock_timeout_ms).c_str()) != 1) {
          return Lost(c, ErrorOf(c.pg));
        }
        return Flush(c);
      default:
        return Lost(c, ErrorOf(c.pg));
    }
  }

  void Send(Conn& c, Request r) {
    c.phase = Phase::kQuery;
    c.rows.clear();
    c.error.reset();
    c.request.emplace(std::move(r));
    const TaskListParams& p = c.request->params;
    const std::string after_ms = p.after_ms ? std::to_string(*p.after_ms) : std::string();
    const std::string limit = std::to_string(p.limit);
    const char* values[6] = {
        c.request->user_id.c_str(),
        p.completed ? (*p.completed ? "t" : "f") : nullptr,
        p.pattern ? p.pattern->c_str() : nullptr,
        p.after_ms ? after_ms.c_str() : nullptr,
        p.after_id ? p.after_id->c_str() : nullptr,
        limit.c_str(),
    };
    if (PQsendQueryPrepared(c.pg, kListStatement, 6, values, nullptr, nullptr, 0) != 1) {
      return Lost(c, ErrorOf(c.pg));
    }
    StartTimer(c);
    Flush(c);
  }

  // A non-blocking connection may hold part of a command until the socket
  // takes it.
  void Flush(Conn& c) {
    const int f = PQflush(c.pg);
    if (f < 0) return Lost(c, ErrorOf(c.pg));
    if (f == 1) return Watch(c, EventLoop::Io::kWritable, &Reader::Flush);
    Watch(c, EventLoop::Io::kReadable, &Reader::OnReadable);
  }

  void OnReadable(Conn& c) {
    if (PQconsumeInput(c.pg) != 1) return Lost(c, ErrorOf(c.pg));
    while (PQisBusy(c.pg) == 0) {
      PGresult* r = PQgetResult(c.pg);
      if (r == nullptr) return OnCommandDone(c);
      const ExecStatusType st = PQresultStatus(r);
      if (st == PGRES_TUPLES_OK && c.phase == Phase::kQuery) {
        const int n = PQntuples(r);
        c.rows.reserve(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) c.rows.push_back(rows::ReadTask(PqRow{r, i}));
      } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && !c.error) {
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        std::string what = PQresultErrorMessage(r);
        while (!what.empty() && what.back() == '\n') what.pop_back();
        c.error = MapSqlState(state != nullptr ? state : "", what);
      }
      PQclear(r);
    }
    Watch(c, EventLoop::Io::kReadable, &Reader::OnReadable);
  }

  // Every result of the command is in.
  void OnCommandDone(Conn& c) {
    if (PQstatus(c.pg) == CONNECTION_BAD) {
      return Lost(c, c.error ? c.error->message() : ErrorOf(c.pg));
    }
    switch (c.phase) {
      case Phase::kSetup:
        if (c.error) return Lost(c, c.error->message());
        c.phase = Phase::kPreparing;
        if (PQsendPrepare(c.pg, kListStatement, ListTasksSql().c_str(), 0, nullptr) != 1) {
          return Lost(c, ErrorOf(c.pg));
        }
        return Flush(c);
      case Phase::kPreparing:
        if (c.error) return Lost(c, c.error->message());
        CancelTimer(c);
        c.phase = Phase::kIdle;
        return Pump();
      case Phase::kQuery: {
        CancelTimer(c);
        Request r = std::move(*c.request);
        c.request.reset();
        Result<std::vector<Task>> out =
            c.error ? Result<std::vector<Task>>(*c.error) : Result<std::vector<Task>>(std::move(c.rows));
        c.rows = {};
        c.error.reset();
        c.phase = Phase::kIdle;
        // The connection goes to the longest waiter before this answer.
        Pump();
        return r.done(std::move(out));
      }
      default:
        return;
    }
  }

  // The connection broke, failed to come up, or stopped answering. Idle
  // ones are dropped too (they went down with it, as in the pool); a query
  // it carried is sent once more on a new connection.
  void Lost(Conn& c, const std::string& why) {
    const bool was_connecting = c.phase != Phase::kIdle && c.phase != Phase::kQuery;
    std::optional<Request> carried = std::move(c.request);
    Remove(&c);
    std::vector<Conn*> idle;
    for (auto& other : conns_) {
      if (other->phase == Phase::kIdle) idle.push_back(other.get());
    }
    for (Conn* other : idle) Remove(other);
    std::optional<Request> failed;
    if (carried) {
      if (carried->resent) {
        failed = std::move(carried);
      } else {
        carried->resent = true;
        waiting_.push_front(std::move(*carried));
      }
    }
    if (was_connecting) {
      retry_at_ = std::chrono::steady_clock::now() + kReconnectPause;
      if (conns_.empty()) FailWaiting(StorageUnavailable(why));
    }
    Pump();
    if (failed) failed->done(StorageUnavailable(why));
  }

  void Remove(Conn* c) {
    if (c->watch != 0) loop_.Cancel(c->watch);
    if (c->timer != 0) loop_.Cancel(c->timer);
    PQfinish(c->pg);
    for (auto it = conns_.begin(); it != conns_.end(); ++it) {
      if (it->get() == c) {
        conns_.erase(it);
        break;
      }
    }
  }

  void FailWaiting(const Status& status) {
    std::deque<Request> failed;
    failed.swap(waiting_);
    for (Request& r : failed) r.done(status);
  }

  // The loop's functions hold the reader weakly: once it is gone they do
  // nothing. A Conn outlives its watch and timer (Remove cancels both).
  void Watch(Conn& c, EventLoop::Io io, Step step) {
    std::weak_ptr<Reader> weak = weak_from_this();
    Conn* conn = &c;
    c.watch = loop_.WatchFd(PQsocket(c.pg), io, [weak, conn, step] {
      if (auto self = weak.lock()) {
        conn->watch = 0;
        (self.get()->*step)(*conn);
      }
    });
  }

  void StartTimer(Conn& c) {
    CancelTimer(c);
    std::weak_ptr<Reader> weak = weak_from_this();
    Conn* conn = &c;
    c.timer = loop_.RunAfter(settings_.timeout, [weak, conn] {
      if (auto self = weak.lock()) {
        conn->timer = 0;
        self->Lost(*conn, "no answer within " + std::to_string(self->settings_.timeout.count()) +
                              " ms");
      }
    });
  }

  void CancelTimer(Conn& c) {
    if (c.timer != 0) loop_.Cancel(c.timer);
    c.timer = 0;
  }

  const AsyncReaderSettings settings_;
  EventLoop& loop_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::deque<Request> waiting_;
  std::chrono::steady_clock::time_point retry_at_;
};

}  // namespace

std::shared_ptr<PgAsyncReader> PgAsyncReader::Create(AsyncReaderSettings settings,
                                                     EventLoop& loop) {
  return std::make_shared<Reader>(std::move(settings), loop);
}

}  // namespace assistant::storage
