#include "metrics.hpp"

#include <cstdio>

namespace assistant::server {

Metrics::Metrics(std::vector<RouteLabel> routes) : labels_(std::move(routes)) {
  labels_.push_back({"", "unmatched"});
  for (size_t i = 0; i < labels_.size(); ++i) stats_.push_back(std::make_unique<RouteStats>());
}

void Metrics::Observe(size_t route_index, int status, double seconds) {
  if (route_index >= stats_.size()) route_index = unmatched_index();
  RouteStats& s = *stats_[route_index];
  if (status < 0 || status >= 600) status = 0;
  s.by_status[status].fetch_add(1, std::memory_order_relaxed);
  s.latency.Observe(seconds);
}

std::string Metrics::Render() const {
  std::string out;
  char line[512];
  out +=
      "# HELP assistant_http_requests_total HTTP requests by route and status.\n"
      "# TYPE assistant_http_requests_total counter\n";
  for (size_t r = 0; r < stats_.size(); ++r) {
    for (int code = 0; code < 600; ++code) {
      const uint64_t n = stats_[r]->by_status[code].load(std::memory_order_relaxed);
      if (n == 0) continue;
      std::snprintf(line, sizeof line,
                    "assistant_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                    labels_[r].method.c_str(), labels_[r].route.c_str(), code,
                    static_cast<unsigned long long>(n));
      out += line;
    }
  }
  out +=
      "# HELP assistant_http_request_duration_seconds Time from routing to the "
      "response (to the first byte for streams).\n"
      "# TYPE assistant_http_request_duration_seconds histogram\n";
  for (size_t r = 0; r < stats_.size(); ++r) {
    const RouteStats& s = *stats_[r];
    if (s.latency.count() == 0) continue;
    s.latency.Render(&out, "assistant_http_request_duration_seconds",
                     "method=\"" + labels_[r].method + "\",route=\"" + labels_[r].route + "\"");
  }
  std::snprintf(line, sizeof line,
                "# HELP assistant_http_requests_in_flight Requests being served now.\n"
                "# TYPE assistant_http_requests_in_flight gauge\n"
                "assistant_http_requests_in_flight %lld\n",
                static_cast<long long>(in_flight_.load(std::memory_order_relaxed)));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP assistant_http_requests_on_io_total Requests answered on an I/O thread "
                "without a worker (GET /api/tasks with a cached credential).\n"
                "# TYPE assistant_http_requests_on_io_total counter\n"
                "assistant_http_requests_on_io_total %llu\n",
                static_cast<unsigned long long>(on_io_.load(std::memory_order_relaxed)));
  out += line;
  return out;
}

}  // namespace assistant::server
