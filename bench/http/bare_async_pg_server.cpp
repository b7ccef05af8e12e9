// The bound for GET /api/tasks on PostgreSQL (bench/http/pg-async-bound.sh):
// that request served in the asynchronous model and nothing else. One
// io_context per thread; each owns a few libpq connections used with libpq's
// asynchronous API (PQsendQueryPrepared, then PQconsumeInput / PQisBusy /
// PQgetResult as Asio reports the socket readable), so no thread sleeps
// through a query: while PostgreSQL works, the loop reads and writes other
// connections' HTTP. A request that finds all of its loop's connections busy
// waits in that loop's queue.
//
// The same statement as assistant-server's ListTasks for a first page (the
// storage's SQL text and parameters, prepared once per connection), the same
// rows -> Task mapping and the same body writer (api::TaskListBody, with the
// cursor of one row more than the page). No auth check: the user is given on
// the command line (assistant-server's token check is cached, ~1-2 us).
// HTTP is Boost.Beast's parser and serializer; keep-alive as the client asks.
//
//   bare-async-pg-server --port 18660 --database postgresql://... --user-id ID
//                        [--threads 2] [--conns-per-thread 8]
#include <libpq-fe.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/json_shapes.hpp"
#include "common/cursor.hpp"
#include "storage/postgres_task_list.hpp"  // ListTasks' statement, as the storage sends it
#include "loop_per_thread.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr int kPageSize = 50;  // the API's default page

// The body for a query's result, or nullopt when it failed.
using Done = std::function<void(std::optional<std::string>)>;

int64_t Int(const PGresult* r, int row, int col) {
  const char* v = PQgetvalue(r, row, col);
  if (std::strcmp(v, "t") == 0) return 1;
  if (std::strcmp(v, "f") == 0) return 0;
  return std::strtoll(v, nullptr, 10);
}

// The first page of tasks as assistant-server renders it.
std::string Render(const PGresult* r) {
  using assistant::FromUnixMillis;
  assistant::Page<assistant::Task> page;
  const int n = PQntuples(r);
  for (int i = 0; i < n && i < kPageSize; ++i) {
    assistant::Task t;
    t.id = PQgetvalue(r, i, 0);
    t.user_id = PQgetvalue(r, i, 1);
    t.title = PQgetvalue(r, i, 2);
    t.description = PQgetvalue(r, i, 3);
    t.completed = Int(r, i, 4) != 0;
    if (!PQgetisnull(r, i, 5)) t.due_at = FromUnixMillis(Int(r, i, 5));
    t.priority = static_cast<int>(Int(r, i, 6));
    t.created_at = FromUnixMillis(Int(r, i, 7));
    t.updated_at = FromUnixMillis(Int(r, i, 8));
    page.items.push_back(std::move(t));
  }
  if (n > kPageSize) {
    page.next_cursor = assistant::cursor::Encode({page.items.back().created_at, page.items.back().id});
  }
  return assistant::api::TaskListBody(page);
}

// One libpq connection, non-blocking, its socket watched by the loop's Asio.
class PgConnection {
 public:
  PgConnection(asio::io_context& ioc, PGconn* conn)
      : conn_(conn), socket_(ioc, PQsocket(conn)) {}
  ~PgConnection() {
    socket_.release();  // the descriptor is libpq's: PQfinish closes it
    PQfinish(conn_);
  }

  // Sends the list for `user_id`; `done` runs on this loop with the body.
  void List(const std::string& user_id, const std::string& limit, Done done) {
    done_ = std::move(done);
    const char* values[6] = {user_id.c_str(), nullptr, nullptr, nullptr, nullptr, limit.c_str()};
    if (PQsendQueryPrepared(conn_, "list", 6, values, nullptr, nullptr, 0) != 1) {
      return Finish(std::nullopt);
    }
    Flush();
  }

 private:
  // A non-blocking connection may hold part of the query until the socket
  // takes it.
  void Flush() {
    const int f = PQflush(conn_);
    if (f < 0) return Finish(std::nullopt);
    if (f == 1) {
      return socket_.async_wait(asio::posix::stream_descriptor::wait_write,
                                [this](beast::error_code ec) {
                                  if (ec) return Finish(std::nullopt);
                                  Flush();
                                });
    }
    Await();
  }

  void Await() {
    socket_.async_wait(asio::posix::stream_descriptor::wait_read, [this](beast::error_code ec) {
      if (ec || PQconsumeInput(conn_) != 1) return Finish(std::nullopt);
      // Every result in (the rows, then the end), or wait for more bytes.
      while (!PQisBusy(conn_)) {
        PGresult* r = PQgetResult(conn_);
        if (r == nullptr) {
          std::optional<std::string> body = std::move(body_);
          body_.reset();
          return Finish(std::move(body));
        }
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
          body_ = Render(r);
        } else {
          std::cerr << "bare-async-pg-server: " << PQresultErrorMessage(r);
          failed_ = true;
        }
        PQclear(r);
      }
      Await();
    });
  }

  void Finish(std::optional<std::string> body) {
    if (failed_) body.reset();
    failed_ = false;
    body_.reset();
    Done done = std::move(done_);
    done_ = nullptr;
    done(std::move(body));
  }

  PGconn* conn_;
  asio::posix::stream_descriptor socket_;
  Done done_;
  std::optional<std::string> body_;
  bool failed_ = false;
};

// One thread's loop, its connections and the requests waiting for one.
struct Loop {
  asio::io_context ioc{1};
  std::vector<std::unique_ptr<PgConnection>> all;
  std::vector<PgConnection*> idle;
  std::deque<Done> waiting;
  std::string user_id;
  std::string limit = std::to_string(kPageSize + 1);  // one more tells a next page

  void List(Done done) {
    if (idle.empty()) return waiting.push_back(std::move(done));
    PgConnection* c = idle.back();
    idle.pop_back();
    c->List(user_id, limit, [this, c, done = std::move(done)](std::optional<std::string> body) {
      idle.push_back(c);
      // The connection goes to the longest waiter before this answer is sent.
      if (!waiting.empty()) {
        Done next = std::move(waiting.front());
        waiting.pop_front();
        List(std::move(next));
      }
      done(std::move(body));
    });
  }
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Loop& loop) : client_(std::move(socket)), loop_(loop) {}

  void Start() {
    client_.set_option(tcp::no_delay(true));
    ReadRequest();
  }

 private:
  void ReadRequest() {
    parser_.emplace();
    http::async_read(client_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->OnRequest(ec);
                     });
  }

  void OnRequest(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return Close();
    if (ec) {
      keep_alive_ = false;
      return Reply(http::status::bad_request, R"({"error":"bad request"})");
    }
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    const beast::string_view target = req.target();
    const beast::string_view path = target.substr(0, target.find('?'));
    if (req.method() != http::verb::get || path != "/api/tasks") {
      return Reply(http::status::not_found, R"({"error":"not found"})");
    }
    loop_.List([self = shared_from_this()](std::optional<std::string> body) {
      if (!body) {
        return self->Reply(http::status::service_unavailable,
                           R"({"error":"storage_unavailable"})");
      }
      self->Reply(http::status::ok, std::move(*body));
    });
  }

  void Reply(http::status status, std::string body) {
    response_ = {status, version_};
    response_.set(http::field::content_type, "application/json");
    response_.body() = std::move(body);
    response_.keep_alive(keep_alive_);
    response_.prepare_payload();
    http::async_write(client_, response_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->keep_alive_) return self->Close();
                        self->ReadRequest();
                      });
  }

  void Close() {
    beast::error_code ignored;
    client_.shutdown(tcp::socket::shutdown_send, ignored);
    client_.close(ignored);
  }

  tcp::socket client_;
  Loop& loop_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  http::response<http::string_body> response_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
};

// Opens a connection (blocking, at start only), prepares the list and makes
// the connection non-blocking. nullptr after printing why not.
PGconn* Open(const std::string& url) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::cerr << "bare-async-pg-server: " << PQerrorMessage(c);
    PQfinish(c);
    return nullptr;
  }
  PGresult* r = PQprepare(c, "list", assistant::storage::ListTasksSql().c_str(), 0, nullptr);
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) std::cerr << "bare-async-pg-server: " << PQresultErrorMessage(r);
  PQclear(r);
  if (!ok || PQsetnonblocking(c, 1) != 0) {
    PQfinish(c);
    return nullptr;
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 18660;
  int threads = 2;
  int conns = 8;
  std::string url;
  std::string user_id;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--conns-per-thread") == 0) conns = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--database") == 0) url = argv[i + 1];
    if (std::strcmp(argv[i], "--user-id") == 0) user_id = argv[i + 1];
  }
  if (url.empty() || user_id.empty()) {
    std::cerr << "usage: bare-async-pg-server --database postgresql://... --user-id ID "
                 "[--port N] [--threads N] [--conns-per-thread N]\n";
    return 2;
  }
  if (threads < 1) threads = 1;
  if (conns < 1) conns = 1;
  std::vector<std::unique_ptr<Loop>> loops;
  for (int i = 0; i < threads; ++i) {
    auto loop = std::make_unique<Loop>();
    loop->user_id = user_id;
    for (int j = 0; j < conns; ++j) {
      PGconn* c = Open(url);
      if (c == nullptr) return 1;
      loop->all.push_back(std::make_unique<PgConnection>(loop->ioc, c));
      loop->idle.push_back(loop->all.back().get());
    }
    loops.push_back(std::move(loop));
  }
  return bench::ServeOnLoops("bare-async-pg-server", loops, port, [](tcp::socket s, Loop& loop) {
    std::make_shared<Session>(std::move(s), loop)->Start();
  });
}
