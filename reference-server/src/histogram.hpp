// A Prometheus latency histogram of fixed buckets, lock-free to record.
//
// Thread safety: Observe from many threads; Render at any time.
#ifndef ASSISTANT_SERVER_HISTOGRAM_HPP_
#define ASSISTANT_SERVER_HISTOGRAM_HPP_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace assistant::server {

class LatencyHistogram final {
 public:
  // Upper bounds of the buckets, in seconds.
  static const std::array<double, 14>& Buckets();

  void Observe(double seconds);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  // Appends the _bucket, _sum and _count lines of `name`; `labels` is
  // empty or `a="b",c="d"` (already escaped).
  void Render(std::string* out, const char* name, const std::string& labels) const;

 private:
  std::array<std::atomic<uint64_t>, 15> buckets_{};  // last = +Inf
  std::atomic<uint64_t> sum_micros_{0};
  std::atomic<uint64_t> count_{0};
};

// A label value as Prometheus's text format requires (\, " and newline
// escaped).
std::string PrometheusLabelValue(const std::string& value);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_HISTOGRAM_HPP_
