#include "assistant/logger.hpp"

namespace assistant {
namespace {

class NullLogger final : public Logger {
 public:
  void Log(LogLevel, std::string_view, const std::vector<LogField>&) override {}
};

}  // namespace

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::shared_ptr<Logger> NewNullLogger() { return std::make_shared<NullLogger>(); }

}  // namespace assistant
