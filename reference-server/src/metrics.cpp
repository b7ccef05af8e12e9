#include "metrics.hpp"

#include <cstdio>

namespace assistant::server {

const std::array<double, 14>& Metrics::Buckets() {
  static const std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

Metrics::Metrics(std::vector<RouteLabel> routes) : labels_(std::move(routes)) {
  labels_.push_back({"", "unmatched"});
  for (size_t i = 0; i < labels_.size(); ++i) stats_.push_back(std::make_unique<RouteStats>());
}

void Metrics::Observe(size_t route_index, int status, double seconds) {
  if (route_index >= stats_.size()) route_index = unmatched_index();
  RouteStats& s = *stats_[route_index];
  if (status < 0 || status >= 600) status = 0;
  s.by_status[status].fetch_add(1, std::memory_order_relaxed);
  const auto& b = Buckets();
  size_t i = 0;
  while (i < b.size() && seconds > b[i]) ++i;
  s.buckets[i].fetch_add(1, std::memory_order_relaxed);
  s.sum_micros.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  s.count.fetch_add(1, std::memory_order_relaxed);
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
  const auto& b = Buckets();
  for (size_t r = 0; r < stats_.size(); ++r) {
    const RouteStats& s = *stats_[r];
    const uint64_t count = s.count.load(std::memory_order_relaxed);
    if (count == 0) continue;
    const std::string labels =
        "method=\"" + labels_[r].method + "\",route=\"" + labels_[r].route + "\"";
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= b.size(); ++i) {
      cumulative += s.buckets[i].load(std::memory_order_relaxed);
      if (i < b.size()) {
        std::snprintf(line, sizeof line,
                      "assistant_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
                      labels.c_str(), b[i], static_cast<unsigned long long>(cumulative));
      } else {
        std::snprintf(line, sizeof line,
                      "assistant_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n",
                      labels.c_str(), static_cast<unsigned long long>(cumulative));
      }
      out += line;
    }
    std::snprintf(line, sizeof line,
                  "assistant_http_request_duration_seconds_sum{%s} %.6f\n"
                  "assistant_http_request_duration_seconds_count{%s} %llu\n",
                  labels.c_str(), s.sum_micros.load(std::memory_order_relaxed) / 1e6,
                  labels.c_str(), static_cast<unsigned long long>(count));
    out += line;
  }
  std::snprintf(line, sizeof line,
                "# HELP assistant_http_requests_in_flight Requests being served now.\n"
                "# TYPE assistant_http_requests_in_flight gauge\n"
                "assistant_http_requests_in_flight %lld\n",
                static_cast<long long>(in_flight_.load(std::memory_order_relaxed)));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP assistant_http_fast_path_requests_total Requests parsed and answered "
                "without cpp-httplib's request parser.\n"
                "# TYPE assistant_http_fast_path_requests_total counter\n"
                "assistant_http_fast_path_requests_total %llu\n",
                static_cast<unsigned long long>(fast_path_.load(std::memory_order_relaxed)));
  out += line;
  return out;
}

}  // namespace assistant::server
