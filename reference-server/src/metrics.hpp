// Prometheus metrics of the HTTP layer: requests by route and status, a
// latency histogram by route, and requests in flight. Routes are a fixed
// table known at start, so every counter is a preallocated atomic and
// recording a request takes no lock.
//
// Thread safety: Observe/InFlight from many threads; Render at any time.
#ifndef ASSISTANT_SERVER_METRICS_HPP_
#define ASSISTANT_SERVER_METRICS_HPP_

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "histogram.hpp"

namespace assistant::server {

class Metrics final {
 public:
  struct RouteLabel {
    std::string method;
    std::string route;  // the route's pattern, e.g. /api/tasks/{id}
  };
  // Index routes.size() is reserved for requests that matched no route.
  explicit Metrics(std::vector<RouteLabel> routes);

  size_t unmatched_index() const { return labels_.size() - 1; }
  void Observe(size_t route_index, int status, double seconds);
  void AddInFlight(int delta) { in_flight_.fetch_add(delta, std::memory_order_relaxed); }
  // A request answered on an I/O thread, no worker involved (TakeOnIo).
  void CountOnIo() { on_io_.fetch_add(1, std::memory_order_relaxed); }
  std::string Render() const;

 private:
  struct RouteStats {
    std::array<std::atomic<uint64_t>, 600> by_status{};  // index = HTTP status
    LatencyHistogram latency;
  };
  std::vector<RouteLabel> labels_;
  std::vector<std::unique_ptr<RouteStats>> stats_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> on_io_{0};
};

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_METRICS_HPP_
