// Black-box, differential: GET /api/tasks answered on the I/O thread that
// read it (the credential from the caches, the page from the storage's
// asynchronous read: a read connection per loop on SQLite, libpq's
// asynchronous API on PostgreSQL; docs/server.md "Request model") answers
// exactly as the same route on a worker (--reads-on-workers). Two servers
// share one database; the same randomized requests (filters, searches,
// limits, cursors from real pages and forged ones, good, bad, missing and
// cookie credentials, allowed and refused origins, HEAD) go to both, and the
// statuses, headers and bodies must be the same. The counter on /metrics
// shows the path was taken, and a session revoked on the other server is
// refused on it within a second.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifdef ASSISTANT_WITH_POSTGRES
#include <pqxx/pqxx>
#endif

#include "harness.hpp"
#include "test_seed.hpp"

using namespace http_test;

namespace {

// The value of a counter on /metrics; -1 when it is not there.
long long Counter(const ServerProcess& s, const std::string& name) {
  const Response r = s.Call("GET", "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stoll(line.substr(name.size() + 1));
  }
  return -1;
}

// Runs `sql` on the PostgreSQL server at `url`; false (and why, printed)
// when it could not.
bool RunSql(const std::string& url, const std::string& sql) {
#ifdef ASSISTANT_WITH_POSTGRES
  try {
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    n.exec(sql);
    return true;
  } catch (const std::exception& e) {
    MESSAGE("SQL failed: " << e.what());
    return false;
  }
#else
  (void)url;
  (void)sql;
  return false;
#endif
}

// Status, headers (sorted; the request id is the client's) and body.
std::string Describe(const Response& r) {
  std::vector<std::string> fields;
  for (const auto& [name, value] : r.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    fields.push_back(lower + ": " + value);
  }
  std::sort(fields.begin(), fields.end());
  std::ostringstream out;
  out << r.status << "\n";
  for (const auto& f : fields) out << f << "\n";
  out << "\n" << r.body;
  return out.str();
}

}  // namespace

TEST_SUITE("http.async_reads") {

TEST_CASE("GET /api/tasks on the I/O thread answers as on a worker, byte for byte") {
  const unsigned seed = TestSeed();
  CAPTURE(seed);
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };

  const std::vector<std::string> common = {"--cors-origins", "https://app.example"};
  ServerProcess io(common);
  REQUIRE(io.started());
  std::vector<std::string> worker_args = common;
  worker_args.push_back("--reads-on-workers");
  ServerProcess workers(worker_args, io.dir());
  REQUIRE(workers.started());

  const User ann = Register(io, "Ann");
  const User bob = Register(io, "Bob");
  const std::vector<std::string> words = {"milk", "bread", "tea", "oat", "oatmeal", "call"};
  for (int i = 0; i < 45; ++i) {
    const User& u = i % 5 == 4 ? bob : ann;
    std::string title = words[pick(words.size())] + " " + words[pick(words.size())];
    const Response c = io.Call("POST", "/api/tasks", Json{{"title", title}}, u.access_token);
    REQUIRE(c.status == 201);
    if (pick(3) == 0) {
      REQUIRE(io.Call("PATCH", "/api/tasks/" + c.json["task"]["id"].get<std::string>(),
                      Json{{"completed", true}}, u.access_token)
                  .status == 200);
    }
  }

  // Cursors from real pages of each user, and forged ones.
  std::vector<std::string> cursors = {"", "garbage", "cDE6MTc5NjY0MDk3NzExMzo", "%%%"};
  for (const User* u : {&ann, &bob}) {
    std::string cursor;
    for (int page = 0; page < 6; ++page) {
      const Response r = io.Call(
          "GET", "/api/tasks?limit=4" + (cursor.empty() ? "" : "&cursor=" + cursor), std::nullopt,
          u->access_token);
      REQUIRE(r.status == 200);
      if (!r.json["next_cursor"].is_string()) break;
      cursor = r.json["next_cursor"].get<std::string>();
      cursors.push_back(cursor);
    }
  }

  const std::vector<std::string> statuses = {"", "all", "active", "completed", "done"};
  const std::vector<std::string> queries = {"", "milk", "oat*", "oat", "tea%20call", "%22",
                                            "bread*%20milk", "zzz"};
  const std::vector<std::string> limits = {"", "1", "3", "50", "100", "0", "-1", "abc", "1000"};
  enum class Cred { kAnn, kBob, kNone, kGarbage, kCookie, kCookieWithHeader };
  const long long io_before = Counter(io, "assistant_http_requests_on_io_total");
  int compared = 0;
  for (int i = 0; i < 300; ++i) {
    std::string target = "/api/tasks";
    std::vector<std::string> query;
    if (const auto& v = statuses[pick(statuses.size())]; !v.empty()) query.push_back("status=" + v);
    if (const auto& v = queries[pick(queries.size())]; !v.empty()) query.push_back("q=" + v);
    if (const auto& v = limits[pick(limits.size())]; !v.empty()) query.push_back("limit=" + v);
    if (const auto& v = cursors[pick(cursors.size())]; !v.empty()) query.push_back("cursor=" + v);
    for (size_t k = 0; k < query.size(); ++k) target += (k == 0 ? "?" : "&") + query[k];
    const Cred cred = static_cast<Cred>(pick(6) < 4 ? pick(2) : 2 + pick(4));
    httplib::Headers headers = {{"X-Request-ID", "t-" + std::to_string(i)}};
    switch (cred) {
      case Cred::kAnn: headers.emplace("Authorization", "Bearer " + ann.access_token); break;
      case Cred::kBob: headers.emplace("Authorization", "Bearer " + bob.access_token); break;
      case Cred::kNone: break;
      case Cred::kGarbage: headers.emplace("Authorization", "Bearer x.y.z"); break;
      case Cred::kCookie: headers.emplace("Cookie", "access_token=" + ann.access_token); break;
      case Cred::kCookieWithHeader:
        headers.emplace("Cookie", "access_token=" + bob.access_token);
        headers.emplace("X-Requested-With", "fetch");
        break;
    }
    if (pick(4) == 0) {
      headers.emplace("Origin", pick(2) == 0 ? "https://app.example" : "https://evil.example");
    }
    const std::string method = pick(10) == 0 ? "HEAD" : "GET";
    CAPTURE(method);
    CAPTURE(target);
    CAPTURE(static_cast<int>(cred));
    const Response a = io.Raw(method, target, "", "", headers);
    const Response b = workers.Raw(method, target, "", "", headers);
    REQUIRE(a.status != 0);
    CHECK(Describe(a) == Describe(b));
    ++compared;
  }
  CHECK(compared == 300);

  const long long io_after = Counter(io, "assistant_http_requests_on_io_total");
  CHECK(Counter(workers, "assistant_http_requests_on_io_total") == 0);
  // Most of the 300 had a cached credential (the first use of a token, and
  // one use per session each 500 ms, go to a worker to read storage).
  MESSAGE("answered on the I/O thread: " << io_after - io_before << " of 300");
  CHECK(io_after - io_before >= 100);

  SUBCASE("a session revoked on the other server is refused on the I/O thread within a second") {
    // Keep Ann's session in io's caches, then end it on the other server.
    REQUIRE(io.Call("GET", "/api/tasks", std::nullopt, ann.access_token).status == 200);
    REQUIRE(workers.Call("POST", "/api/auth/logout", std::nullopt, ann.access_token).status ==
            204);
    const auto began = std::chrono::steady_clock::now();
    int status = 200;
    while (status == 200 && std::chrono::steady_clock::now() - began < std::chrono::seconds(3)) {
      status = io.Call("GET", "/api/tasks", std::nullopt, ann.access_token).status;
      if (status == 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto took = std::chrono::steady_clock::now() - began;
    CHECK(status == 401);
    CHECK(took <= std::chrono::milliseconds(1250));
  }

  SUBCASE("its database connections killed: the next GET is answered on new ones") {
    if (!PostgresMode()) return;  // SQLite's connections are files of this process
    const char* base = std::getenv("ASSISTANT_TEST_PG_URL");
    REQUIRE(base != nullptr);
    const std::string db = io.database().substr(io.database().rfind('/') + 1);
    const std::string name = db.substr(0, db.find('?'));
    for (int round = 0; round < 3; ++round) {
      const long long before = Counter(io, "assistant_http_requests_on_io_total");
      REQUIRE(RunSql(base, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                           "datname = '" + name + "' AND pid <> pg_backend_pid()"));
      // A worker's request first, until the pool has reconnected: it warms
      // the caches again, so the next GET is the I/O thread's.
      int me = 0;
      for (int tries = 0; tries < 50 && me != 200; ++tries) {
        me = io.Call("GET", "/api/user/me", std::nullopt, bob.access_token).status;
        if (me != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      REQUIRE(me == 200);
      const Response r = io.Call("GET", "/api/tasks", std::nullopt, bob.access_token);
      CHECK(r.status == 200);
      CHECK(r.json["tasks"].size() == 9);
      CHECK(Counter(io, "assistant_http_requests_on_io_total") > before);
    }
  }
  // A clean exit: the loops' database connections are released before the
  // core closes its storage (main.cpp closes it before the server is gone).
  CHECK(io.Terminate() == 0);
}

}  // TEST_SUITE
