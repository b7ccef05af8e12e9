#include "logger.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>

namespace assistant::server {
namespace {

using nlohmann::json;

std::string NowRfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Text values are bare when they are simple, quoted JSON strings otherwise,
// so a value can never forge another field or a second line.
void AppendTextValue(std::string& out, const json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    bool bare = !s.empty();
    for (char c : s) {
      if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) {
        bare = false;
        break;
      }
    }
    out += bare ? s : Dump(v);
  } else {
    out += Dump(v);
  }
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
    return Dump(line);
  }
  std::string out;
  out.reserve(128);
  out += "time=";
  out += NowRfc3339();
  out += " level=";
  out += level;
  out += " msg=";
  AppendTextValue(out, json(msg));
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
  char num[32];
  std::snprintf(num, sizeof num, "%.2f", latency_ms);
  std::string line;
  line.reserve(200);
  if (format_ == LogFormat::kJson) {
    line += "{\"time\":\"";
    line += NowRfc3339();
    line += "\",\"level\":\"info\",\"msg\":\"request\",\"request_id\":";
    line += Dump(json(request_id));
    line += ",\"method\":";
    line += Dump(json(method));
    line += ",\"route\":";
    line += Dump(json(route));
    line += ",\"status\":";
    line += std::to_string(status);
    line += ",\"latency_ms\":";
    line += num;
    line += ",\"ip\":";
    line += Dump(json(ip));
    line += "}\n";
  } else {
    line += "time=";
    line += NowRfc3339();
    line += " level=info msg=request request_id=";
    AppendTextValue(line, json(request_id));
    line += " method=";
    AppendTextValue(line, json(method));
    line += " route=";
    AppendTextValue(line, json(route));
    line += " status=";
    line += std::to_string(status);
    line += " latency_ms=";
    line += num;
    line += " ip=";
    AppendTextValue(line, json(ip));
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

}  // namespace assistant::server
