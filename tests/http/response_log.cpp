#include "response_log.hpp"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

namespace http_test {

void RecordResponse(const std::string& method, const std::string& path, int status,
                    const std::string& content_type, const std::string& body) {
  static const char* const file = std::getenv("ASSISTANT_RESPONSE_LOG");
  if (file == nullptr || *file == '\0') return;
  static std::mutex mu;
  static bool started = false;
  const nlohmann::json record = {{"method", method},
                                 {"path", path},
                                 {"status", status},
                                 {"content_type", content_type},
                                 {"body", body}};
  // Bodies the tests provoke may not be UTF-8; replacing those bytes keeps
  // the line valid JSON (such a body fails its schema anyway if it is JSON).
  const std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard<std::mutex> lock(mu);
  std::ofstream out(file, started ? std::ios::app : std::ios::trunc);
  started = true;
  out << line << '\n';
}

}  // namespace http_test
