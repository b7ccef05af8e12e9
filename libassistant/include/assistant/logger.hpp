// File: assistant/logger.hpp
//
// Where the core's log lines go (Options::logger), as LevelDB's
// Options::info_log: the embedding program decides. The core never writes
// to stderr by itself; with no logger its lines are dropped. Lines carry a
// short message and key/value fields; no field ever holds a secret
// (passwords, tokens, keys, message text).
//
// Thread safety: Log is called from many threads at once; an
// implementation must be safe for that.
//
// Example:
//   struct StderrLogger : assistant::Logger {
//     void Log(assistant::LogLevel, std::string_view msg,
//              const std::vector<assistant::LogField>&) override {
//       std::fprintf(stderr, "%.*s\n", int(msg.size()), msg.data());
//     }
//   };
//   options.logger = std::make_shared<StderrLogger>();
#ifndef ASSISTANT_LOGGER_HPP_
#define ASSISTANT_LOGGER_HPP_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace assistant {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// "debug", "info", "warning", "error".
const char* LogLevelName(LogLevel level);

struct LogField {
  std::string key;
  std::string value;
};

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void Log(LogLevel level, std::string_view message,
                   const std::vector<LogField>& fields) = 0;
};

// A logger that drops every line: the default.
std::shared_ptr<Logger> NewNullLogger();

}  // namespace assistant

#endif  // ASSISTANT_LOGGER_HPP_
