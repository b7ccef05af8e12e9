#include "logger.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "assistant/types.hpp"
#include "common/json_text.hpp"

namespace assistant::server {
namespace {

using nlohmann::json;

// Appends the current UTC time as 2026-11-22T10:15:30.123Z. The part up to
// the seconds is formatted once per second per thread (the access log runs
// this on every request).
void AppendNowRfc3339(std::string& out) {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  thread_local std::time_t cached_secs = -1;
  thread_local char cached[80];  // "YYYY-MM-DDTHH:MM:SS"; room for any int snprintf may write
  if (secs != cached_secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_secs = secs;
  }
  out += cached;
  const int millis = static_cast<int>(ms % 1000);
  const char frac[6] = {'.', static_cast<char>('0' + millis / 100),
                        static_cast<char>('0' + millis / 10 % 10),
                        static_cast<char>('0' + millis % 10), 'Z', 0};
  out += frac;
}

std::string NowRfc3339() {
  std::string out;
  AppendNowRfc3339(out);
  return out;
}

// Text values are bare when they are simple, quoted JSON strings otherwise,
// so a value can never forge another field or a second line.
void AppendTextValue(std::string& out, std::string_view s) {
  bool bare = !s.empty();
  for (char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) {
      bare = false;
      break;
    }
  }
  if (bare) {
    out += s;
  } else {
    assistant::AppendJsonString(out, s);
  }
}

void AppendTextValue(std::string& out, const json& v) {
  if (v.is_string()) {
    AppendTextValue(out, std::string_view(v.get_ref<const std::string&>()));
  } else {
    assistant::AppendJson(out, v);
  }
}

// The latency with two decimals, as "%.2f" writes it for the values seen
// here (non-negative, far below 2^53 hundredths).
void AppendMillis(std::string& out, double ms) {
  if (!(ms >= 0) || ms > 1e12) {
    char num[32];
    std::snprintf(num, sizeof num, "%.2f", ms);
    out += num;
    return;
  }
  const auto hundredths = static_cast<long long>(std::llround(ms * 100));
  out += std::to_string(hundredths / 100);
  const int frac = static_cast<int>(hundredths % 100);
  const char tail[4] = {'.', static_cast<char>('0' + frac / 10),
                        static_cast<char>('0' + frac % 10), 0};
  out += tail;
}

}  // namespace

Logger::Logger(LogFormat format, int fd) : format_(format), fd_(fd) {
  writer_ = std::thread([this] { Run(); });
}

Logger::~Logger() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
  Flush();
}

std::string Logger::Format(LogFormat format, std::string_view level,
                           std::string_view msg, const Fields& fields) {
  if (format == LogFormat::kJson) {
    json line = json::object();
    line["time"] = NowRfc3339();
    line["level"] = level;
    line["msg"] = msg;
    for (const auto& [k, v] : fields) line[k] = v;
    return assistant::DumpJson(line);
  }
  std::string out;
  out.reserve(128);
  out += "time=";
  AppendNowRfc3339(out);
  out += " level=";
  out += level;
  out += " msg=";
  AppendTextValue(out, msg);
  for (const auto& [k, v] : fields) {
    out += ' ';
    out += k;
    out += '=';
    AppendTextValue(out, v);
  }
  return out;
}

void Logger::Access(std::string_view request_id, std::string_view method,
                    std::string_view route, int status, double latency_ms, std::string_view ip) {
  // Written field by field without json values: this runs on every request.
  std::string line;
  line.reserve(200);
  if (format_ == LogFormat::kJson) {
    line += "{\"time\":\"";
    AppendNowRfc3339(line);
    line += "\",\"level\":\"info\",\"msg\":\"request\",\"request_id\":";
    assistant::AppendJsonString(line, request_id);
    line += ",\"method\":";
    assistant::AppendJsonString(line, method);
    line += ",\"route\":";
    assistant::AppendJsonString(line, route);
    line += ",\"status\":";
    line += std::to_string(status);
    line += ",\"latency_ms\":";
    AppendMillis(line, latency_ms);
    line += ",\"ip\":";
    assistant::AppendJsonString(line, ip);
    line += "}\n";
  } else {
    line += "time=";
    AppendNowRfc3339(line);
    line += " level=info msg=request request_id=";
    AppendTextValue(line, request_id);
    line += " method=";
    AppendTextValue(line, method);
    line += " route=";
    AppendTextValue(line, route);
    line += " status=";
    line += std::to_string(status);
    line += " latency_ms=";
    AppendMillis(line, latency_ms);
    line += " ip=";
    AppendTextValue(line, ip);
    line += '\n';
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    buffer_ += line;
    if (buffer_.size() < (64u << 10)) return;
  }
  Flush();
}

void Logger::Log(std::string_view level, std::string_view msg, const Fields& fields) {
  std::string line = Format(format_, level, msg, fields);
  line += '\n';
  const bool urgent = level != "info";
  {
    std::lock_guard<std::mutex> lock(mu_);
    buffer_ += line;
    if (!urgent && buffer_.size() < (64u << 10)) return;
  }
  Flush();
}

void Logger::Flush() {
  // The write lock is taken first so that buffers reach the fd in order.
  std::lock_guard<std::mutex> write_lock(write_mu_);
  std::string data;
  {
    std::lock_guard<std::mutex> lock(mu_);
    data.swap(buffer_);
  }
  if (!data.empty()) WriteAll(data);
}

void Logger::WriteAll(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to report a failing log; drop the rest
    }
    off += static_cast<size_t>(n);
  }
}

void Logger::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (buffer_.empty()) continue;
    lock.unlock();
    Flush();
    lock.lock();
  }
}

namespace {

class CoreLoggerAdapter final : public assistant::Logger {
 public:
  explicit CoreLoggerAdapter(server::Logger& out) : out_(out) {}
  void Log(LogLevel level, std::string_view message,
           const std::vector<LogField>& fields) override {
    server::Logger::Fields f;
    f.reserve(fields.size());
    for (const auto& [k, v] : fields) f.emplace_back(k, v);
    out_.Log(level == LogLevel::kWarning ? "warn" : LogLevelName(level), message, f);
  }

 private:
  server::Logger& out_;
};

}  // namespace

std::shared_ptr<assistant::Logger> CoreLogger(Logger& logger) {
  return std::make_shared<CoreLoggerAdapter>(logger);
}

}  // namespace assistant::server
