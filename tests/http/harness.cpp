#include "harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#ifdef ASSISTANT_WITH_POSTGRES
#include <pqxx/pqxx>
#endif

#include "response_log.hpp"

namespace http_test {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& log_path,
            const std::string& cwd, const std::map<std::string, std::string>& env = {}) {
  // Everything is prepared before fork: the child only makes system calls.
  std::vector<char*> argv;
  std::string bin = ASSISTANT_SERVER_BIN;
  argv.push_back(bin.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The test's environment with `env` replacing or adding entries.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    if (env.count(name) == 0) env_strings.push_back(entry);
  }
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
  execve(bin.c_str(), argv.data(), envp.data());
  _exit(127);
}

int WaitExit(pid_t pid, int timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    const pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  return -2;  // did not exit in time
}

}  // namespace

std::string Response::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

std::string Response::ErrorCode() const {
  if (json.is_object() && json.contains("error") && json["error"].is_object()) {
    return json["error"].value("code", "");
  }
  return "";
}

TempDir::TempDir() {
  std::string base = std::getenv("ASSISTANT_TEST_TMP") ? std::getenv("ASSISTANT_TEST_TMP") : "/tmp";
  std::filesystem::create_directories(base);
  std::string tmpl = base + "/http-XXXXXX";
  char* p = mkdtemp(tmpl.data());
  path_ = p ? p : tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool PostgresMode() {
  const char* on = std::getenv("ASSISTANT_TEST_HTTP_POSTGRES");
  return on != nullptr && std::string(on) == "1";
}

std::string PostgresDatabaseFor(const std::string& dir) {
  const char* base = std::getenv("ASSISTANT_TEST_PG_URL");
  if (base == nullptr || *base == '\0') {
    const char* ci = std::getenv("CI");
    const bool in_ci = ci != nullptr && std::string(ci) == "true";
    std::fprintf(stderr, "%s: ASSISTANT_TEST_PG_URL is not set (scripts/pg-test-server.sh sets it)\n",
                 in_ci ? "FAIL" : "NOT RUN");
    std::exit(in_ci ? 1 : 77);
  }
#ifdef ASSISTANT_WITH_POSTGRES
  // Directory names are mkdtemp's letters and digits; lower case keeps the
  // identifier plain, and the hash of the full path keeps it unique.
  std::string name = "http_";
  for (char c : std::filesystem::path(dir).filename().string()) {
    if (std::isalnum(static_cast<unsigned char>(c))) name += static_cast<char>(std::tolower(c));
  }
  name += "_" + std::to_string(std::hash<std::string>{}(dir) % 1000000007);
  const std::string url(base);
  const size_t authority = url.find("://") + 3;
  const size_t slash = url.find('/', authority);
  const size_t query = url.find('?', authority);
  const std::string tail = query == std::string::npos ? "" : url.substr(query);
  try {
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    if (n.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name).empty()) {
      n.exec("CREATE DATABASE " + name);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FAIL: cannot create the test database: %s\n", e.what());
    std::exit(1);
  }
  return url.substr(0, std::min(slash, query)) + "/" + name + tail;
#else
  std::fprintf(stderr, "FAIL: this build has no PostgreSQL backend\n");
  std::exit(1);
#endif
}

std::string ServerProcess::db_path() const {
  return dir_ + (PostgresMode() ? "/assistant" : "/test.db");
}

ServerProcess::ServerProcess(std::vector<std::string> args, std::string dir, bool use_defaults,
                             std::map<std::string, std::string> env) {
  if (dir.empty()) {
    own_dir_ = std::make_unique<TempDir>();
    dir_ = own_dir_->path();
  } else {
    dir_ = dir;
  }
  log_path_ = dir_ + "/server-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".log";
  std::vector<std::string> all;
  if (use_defaults) {
    database_ = PostgresMode() ? PostgresDatabaseFor(dir_) : "sqlite://" + db_path();
    all = {"--port", "0", "--database", database_, "--argon2-memory-kib", "256",
           "--argon2-iterations", "1", "--rate-limit-auth", "0", "--rate-limit-api", "0"};
  }
  all.insert(all.end(), args.begin(), args.end());
  pid_ = Spawn(all, log_path_, dir_, env);
  const std::regex port_re(R"((?:port=|"port":)(\d+))");
  for (int i = 0; i < 1500; ++i) {  // up to 30 s on a busy machine
    const std::string log_text = ReadFile(log_path_);
    const auto pos = log_text.find("listening");
    if (pos != std::string::npos) {
      std::smatch m;
      const std::string rest = log_text.substr(pos);
      if (std::regex_search(rest, m, port_re)) {
        port_ = std::stoi(m[1]);
        break;
      }
    }
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Terminate();
}

std::string ServerProcess::log() const { return ReadFile(log_path_); }

int ServerProcess::Terminate() {
  if (pid_ <= 0) return -3;
  kill(pid_, SIGTERM);
  const int code = WaitExit(pid_, 30);
  pid_ = -1;
  return code;
}

void ServerProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int st = 0;
  waitpid(pid_, &st, 0);
  pid_ = -1;
}

Response ServerProcess::Raw(const std::string& method, const std::string& path,
                            const std::string& body, const std::string& content_type,
                            httplib::Headers headers) const {
  Response out = RawAt(port_, method, path, body, content_type, std::move(headers));
  if (out.status != 0) {
    RecordResponse(method, path, out.status, out.Header("Content-Type"), out.body);
  }
  return out;
}

Response RawAt(int port, const std::string& method, const std::string& path,
               const std::string& body, const std::string& content_type,
               httplib::Headers headers) {
  Response out;
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(30, 0);
  cli.set_write_timeout(10, 0);
  httplib::Result r(nullptr, httplib::Error::Unknown);
  if (method == "GET") {
    r = cli.Get(path, headers);
  } else if (method == "POST") {
    r = cli.Post(path, headers, body, content_type);
  } else if (method == "PUT") {
    r = cli.Put(path, headers, body, content_type);
  } else if (method == "PATCH") {
    r = cli.Patch(path, headers, body, content_type);
  } else if (method == "DELETE") {
    r = body.empty() ? cli.Delete(path, headers) : cli.Delete(path, headers, body, content_type);
  } else if (method == "OPTIONS") {
    r = cli.Options(path, headers);
  } else if (method == "HEAD") {
    r = cli.Head(path, headers);
  }
  if (!r) return out;
  out.status = r->status;
  out.body = r->body;
  out.headers = r->headers;
  out.json = Json::parse(out.body, nullptr, false);
  if (out.json.is_discarded()) out.json = nullptr;
  return out;
}

Response ServerProcess::Call(const std::string& method, const std::string& path,
                             const std::optional<Json>& body, const std::string& token,
                             httplib::Headers headers) const {
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  return Raw(method, path, body ? body->dump() : std::string(),
             body ? "application/json" : "", headers);
}

Response CallAt(int port, const std::string& method, const std::string& path,
                const std::optional<Json>& body, const std::string& token,
                httplib::Headers headers) {
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  return RawAt(port, method, path, body ? body->dump() : std::string(),
               body ? "application/json" : "", headers);
}

RunResult RunServerToExit(const std::vector<std::string>& args, const std::string& dir,
                          int timeout_seconds) {
  const std::string log = dir + "/run-" + std::to_string(std::rand()) + ".log";
  const pid_t pid = Spawn(args, log, dir);
  RunResult r;
  r.exit_code = WaitExit(pid, timeout_seconds);
  r.output = ReadFile(log);
  return r;
}

std::string WriteOneAppRegistry(const std::string& dir, const std::string& id,
                                const std::string& upstream) {
  const std::string path = dir + "/apps.json";
  const Json app = {{"id", id}, {"name", id}, {"upstream", upstream},
                    {"scopes", Json::array()}, {"allowed_origins", Json::array()}};
  std::ofstream(path, std::ios::trunc) << Json{{"apps", Json::array({app})}}.dump();
  return path;
}

User Register(const ServerProcess& s, const std::string& name) {
  static std::atomic<int> counter{0};
  User u;
  std::string lower = name;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  u.email = lower + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter) +
            "@example.com";
  u.password = "correct horse battery";
  const Response r = s.Call("POST", "/api/auth/register",
                            Json{{"email", u.email}, {"password", u.password}, {"name", name}});
  if (r.status == 201) {
    u.id = r.json["user"]["id"];
    u.access_token = r.json["access_token"];
    u.refresh_token = r.json["refresh_token"];
  }
  return u;
}

}  // namespace http_test
