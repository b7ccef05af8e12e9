#include "histogram.hpp"

#include <cstdio>

namespace assistant::server {

const std::array<double, 14>& LatencyHistogram::Buckets() {
  static const std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

void LatencyHistogram::Observe(double seconds) {
  const auto& b = Buckets();
  size_t i = 0;
  while (i < b.size() && seconds > b[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void LatencyHistogram::Render(std::string* out, const char* name,
                              const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  char line[512];
  const auto& b = Buckets();
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= b.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    char le[32];
    if (i < b.size()) {
      std::snprintf(le, sizeof le, "%g", b[i]);
    } else {
      std::snprintf(le, sizeof le, "+Inf");
    }
    std::snprintf(line, sizeof line, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels.c_str(),
                  sep.c_str(), le, static_cast<unsigned long long>(cumulative));
    *out += line;
  }
  std::snprintf(line, sizeof line, "%s_sum%s %.6f\n%s_count%s %llu\n", name, braces.c_str(),
                sum_micros_.load(std::memory_order_relaxed) / 1e6, name, braces.c_str(),
                static_cast<unsigned long long>(count()));
  *out += line;
}

std::string PrometheusLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace assistant::server
