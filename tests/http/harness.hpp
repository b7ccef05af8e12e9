// Starts the real assistant-server binary for black-box tests: a fresh
// temporary directory and SQLite file, port 0 (the server picks a free one
// and logs it), fast Argon2 settings and rate limits off unless a test asks
// for them. Stops it with SIGTERM (or kill -9) at the end.
#ifndef ASSISTANT_TESTS_HTTP_HARNESS_HPP_
#define ASSISTANT_TESTS_HTTP_HARNESS_HPP_

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace http_test {

using Json = nlohmann::json;

struct Response {
  int status = 0;  // 0: no response (connection failed)
  Json json;       // parsed body, or null
  std::string body;
  httplib::Headers headers;
  std::string Header(const std::string& name) const;
  std::string ErrorCode() const;
};

// A temporary directory removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// True when the suite runs its servers on PostgreSQL
// (ASSISTANT_TEST_HTTP_POSTGRES=1, the http_postgres ctest registration):
// each server directory gets a database of its own on $ASSISTANT_TEST_PG_URL.
bool PostgresMode();

// The PostgreSQL URL of the database for server directory `dir`, created on
// first use so a restart in the same directory finds its data. Exits the
// suite when there is no server to use: 1 in CI, 77 (not run) elsewhere.
std::string PostgresDatabaseFor(const std::string& dir);

class ServerProcess {
 public:
  // `args` are added to the defaults; `dir` holds the database (a fresh
  // temporary directory when empty, so restarts can reuse one). `env` is
  // set on top of the test's own environment (secrets such as
  // ASSISTANT_LLM_API_KEY are only read from there).
  explicit ServerProcess(std::vector<std::string> args = {}, std::string dir = "",
                         bool use_defaults = true,
                         std::map<std::string, std::string> env = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool started() const { return port_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // The SQLite file, or on PostgreSQL (PostgresMode) the base name the
  // server gives the files it keeps beside a server database (secret,
  // outbox) in its working directory, which is dir().
  std::string db_path() const;
  // The --database URL the server was started with (with the defaults).
  const std::string& database() const { return database_; }
  std::string log() const;  // everything the server wrote so far

  // SIGTERM and wait; returns the exit status (-1 when killed by a signal).
  int Terminate();
  void Kill9();

  Response Call(const std::string& method, const std::string& path,
                const std::optional<Json>& body = std::nullopt, const std::string& token = "",
                httplib::Headers headers = {}) const;
  // A raw request: body and content type as given.
  Response Raw(const std::string& method, const std::string& path, const std::string& body,
               const std::string& content_type, httplib::Headers headers = {}) const;

 private:
  std::unique_ptr<TempDir> own_dir_;
  std::string dir_;
  std::string log_path_;
  std::string database_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// The same requests to whatever listens on loopback `port` (a gateway),
// not recorded for the OpenAPI check (the document is the server's).
Response CallAt(int port, const std::string& method, const std::string& path,
                const std::optional<Json>& body = std::nullopt, const std::string& token = "",
                httplib::Headers headers = {});
Response RawAt(int port, const std::string& method, const std::string& path,
               const std::string& body, const std::string& content_type,
               httplib::Headers headers = {});

// Runs the binary to completion (for --help / refusals): exit code and output.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult RunServerToExit(const std::vector<std::string>& args, const std::string& dir,
                          int timeout_seconds = 20);

// Writes `dir`/apps.json, a registry of one app `id` (named as its id, no
// scopes, no allowed origins) at `upstream`; its path, for --apps.
std::string WriteOneAppRegistry(const std::string& dir, const std::string& id,
                                const std::string& upstream);

// A registered user with its tokens.
struct User {
  std::string email;
  std::string password;
  std::string id;
  std::string access_token;
  std::string refresh_token;
};
User Register(const ServerProcess& s, const std::string& name = "Ann");

}  // namespace http_test

#endif  // ASSISTANT_TESTS_HTTP_HARNESS_HPP_
