#include "upstream_pool.hpp"

#include <boost/asio/error.hpp>

namespace assistant::server {
namespace {

// "http://host:port" -> host, port (https:// sets `*tls`); false for
// anything else. The registry and the gateway's flags checked the URL's
// form; this only splits it.
bool SplitOrigin(const std::string& origin, std::string* host, std::string* port, bool* tls) {
  const std::string http = "http://";
  const std::string https = "https://";
  *tls = origin.compare(0, https.size(), https) == 0;
  if (!*tls && origin.compare(0, http.size(), http) != 0) return false;
  std::string rest = origin.substr(*tls ? https.size() : http.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find_first_of("/?#@") != std::string::npos) return false;
  size_t colon = rest.rfind(':');
  if (!rest.empty() && rest.front() == '[') {  // [v6]:port
    const size_t close = rest.find(']');
    if (close == std::string::npos) return false;
    *host = rest.substr(1, close - 1);
    colon = close + 1 < rest.size() && rest[close + 1] == ':' ? close + 1 : std::string::npos;
  } else {
    *host = rest.substr(0, colon);
  }
  *port = colon == std::string::npos ? (*tls ? "443" : "80") : rest.substr(colon + 1);
  return !host->empty() && !port->empty() &&
         port->find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

UpstreamPool::UpstreamPool(std::string origin, std::chrono::milliseconds max_age,
                               size_t max_idle)
    : origin_(std::move(origin)), max_age_(max_age), max_idle_(max_idle) {
  if (!SplitOrigin(origin_, &host_, &port_, &tls_)) host_.clear();
  authority_ = origin_.substr(origin_.find("://") == std::string::npos ? 0 : origin_.find("://") + 3);
  if (!authority_.empty() && authority_.back() == '/') authority_.pop_back();
}

std::unique_ptr<UpstreamConnection> UpstreamPool::Take(std::chrono::milliseconds connect_timeout,
                                                         bool* reused,
                                                         boost::system::error_code* ec) {
  const auto now = std::chrono::steady_clock::now();
  std::vector<Idle> stale;  // closed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!idle_.empty()) {
      Idle last = std::move(idle_.back());
      idle_.pop_back();
      if (now - last.since <= max_age_ && last.connection->LooksAlive()) {
        *reused = true;
        return std::move(last.connection);
      }
      stale.push_back(std::move(last));
    }
  }
  *reused = false;
  if (!usable()) {
    *ec = boost::asio::error::invalid_argument;
    return nullptr;
  }
  return UpstreamConnection::Open(host_, port_, tls_, connect_timeout, ec);
}

void UpstreamPool::Give(std::unique_ptr<UpstreamConnection> connection) {
  if (!connection || connection->cut()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_ || idle_.size() >= max_idle_) return;
  idle_.push_back({std::move(connection), std::chrono::steady_clock::now()});
}

void UpstreamPool::Close() {
  std::vector<Idle> idle;  // closed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  idle.swap(idle_);
}

}  // namespace assistant::server
