// Structured logs: one line per event, `key=value` text or JSON lines, on
// stderr. Callers pass fields explicitly; nothing here inspects request
// bodies or headers, so a password, token or key can only reach a log if a
// caller puts it in a field — and no caller does.
//
// Lines are buffered and written by a background thread (at most ~100 ms
// late) so that logging every request costs no system call on the request
// path; warnings and errors are written at once.
//
// Thread safety: Log may be called from many threads.
#ifndef ASSISTANT_SERVER_LOGGER_HPP_
#define ASSISTANT_SERVER_LOGGER_HPP_

#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "assistant/logger.hpp"

namespace assistant::server {

enum class LogFormat { kText, kJson };

class Logger final {
 public:
  using Fields = std::vector<std::pair<std::string, nlohmann::json>>;

  // Writes to `fd` (2 = stderr).
  explicit Logger(LogFormat format, int fd = 2);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void Info(std::string_view msg, const Fields& fields = {}) { Log("info", msg, fields); }
  void Warn(std::string_view msg, const Fields& fields = {}) { Log("warn", msg, fields); }
  void Error(std::string_view msg, const Fields& fields = {}) { Log("error", msg, fields); }
  void Log(std::string_view level, std::string_view msg, const Fields& fields);
  // The access-log line of one request, written without building Fields
  // (it runs once per request). Same keys and escaping as Log.
  void Access(std::string_view request_id, std::string_view method, std::string_view route,
              int status, double latency_ms, std::string_view ip);
  // Writes everything buffered now.
  void Flush();

  // One formatted line (no newline), exposed for tests.
  static std::string Format(LogFormat format, std::string_view level,
                            std::string_view msg, const Fields& fields);

 private:
  void Run();
  void WriteAll(const std::string& data);

  const LogFormat format_;
  const int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string buffer_;
  bool stop_ = false;
  std::mutex write_mu_;
  std::thread writer_;
};

// The core's log lines (assistant/logger.hpp) written through `logger`,
// which must outlive the returned adapter.
std::shared_ptr<assistant::Logger> CoreLogger(Logger& logger);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_LOGGER_HPP_
