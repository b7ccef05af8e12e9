// Prometheus series of what the product does, beside the HTTP ones: agent
// runs, model calls, tool calls and storage writes, fed by the core as its
// Observer (assistant/observer.hpp) and rendered on /metrics.
//
// Thread safety: the Observer methods from any thread; Render at any time.
// Label sets (provider, tool, storage operation, reason) are small and
// fixed by the code and configuration, so series are created on first use
// under a mutex and never removed.
#ifndef ASSISTANT_SERVER_PRODUCT_METRICS_HPP_
#define ASSISTANT_SERVER_PRODUCT_METRICS_HPP_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "assistant/observer.hpp"
#include "histogram.hpp"

namespace assistant::server {

class ProductMetrics final : public Observer {
 public:
  void RunStarted() override;
  void RunFinished(const RunFinishedEvent& e) override;
  void ProviderCall(const ProviderCallEvent& e) override;
  void ToolCall(const ToolCallEvent& e) override;
  void StorageWrite(const StorageWriteEvent& e) override;

  // Appends the series in the text exposition format; `open_streams` is
  // the server's count of streamed replies in flight.
  void Render(std::string* out, int64_t open_streams) const;

 private:
  struct ProviderSeries {
    std::map<std::string, uint64_t, std::less<>> calls_by_outcome;  // "ok" or a reason
    uint64_t prompt_tokens = 0;
    uint64_t completion_tokens = 0;
    std::unique_ptr<LatencyHistogram> latency = std::make_unique<LatencyHistogram>();
  };

  std::atomic<uint64_t> runs_started_{0};
  LatencyHistogram run_duration_;
  LatencyHistogram storage_write_duration_;

  mutable std::mutex mu_;
  std::map<std::string, uint64_t, std::less<>> runs_finished_;  // by status
  std::map<std::string, ProviderSeries, std::less<>> providers_;
  std::map<std::string, std::pair<uint64_t, uint64_t>, std::less<>> tools_;  // ok, error
  // By operation, then by outcome: ok, busy, or the failure's reason.
  std::map<std::string, std::map<std::string, uint64_t, std::less<>>, std::less<>> writes_;
};

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_PRODUCT_METRICS_HPP_
