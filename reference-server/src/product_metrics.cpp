#include "product_metrics.hpp"

#include <chrono>
#include <cstdio>

namespace assistant::server {

namespace {

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

// The counter of `key` in `m`, created at zero on first use.
template <typename Map>
auto& Slot(Map& m, std::string_view key) {
  auto it = m.find(key);
  if (it == m.end()) it = m.emplace(std::string(key), typename Map::mapped_type{}).first;
  return it->second;
}

void Header(std::string* out, const char* name, const char* type, const char* help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

// name{k1="v1",k2="v2"} value
void Sample(std::string* out, const char* name, const std::string& labels, uint64_t value) {
  *out += name;
  if (!labels.empty()) *out += "{" + labels + "}";
  *out += ' ' + std::to_string(value) + '\n';
}

std::string Label(const char* key, const std::string& value) {
  return std::string(key) + "=\"" + PrometheusLabelValue(value) + "\"";
}

}  // namespace

void ProductMetrics::RunStarted() { runs_started_.fetch_add(1, std::memory_order_relaxed); }

void ProductMetrics::RunFinished(const RunFinishedEvent& e) {
  run_duration_.Observe(Seconds(e.duration));
  std::lock_guard<std::mutex> lock(mu_);
  ++Slot(runs_finished_, RunStatusName(e.status));
}

void ProductMetrics::ProviderCall(const ProviderCallEvent& e) {
  std::lock_guard<std::mutex> lock(mu_);
  ProviderSeries& p = Slot(providers_, e.provider);
  p.latency->Observe(Seconds(e.latency));
  ++Slot(p.calls_by_outcome, e.error_reason.empty() ? std::string_view("ok") : e.error_reason);
  p.prompt_tokens += static_cast<uint64_t>(std::max<int64_t>(0, e.prompt_tokens));
  p.completion_tokens += static_cast<uint64_t>(std::max<int64_t>(0, e.completion_tokens));
}

void ProductMetrics::ToolCall(const ToolCallEvent& e) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& counts = Slot(tools_, e.tool);
  ++(e.ok ? counts.first : counts.second);
}

void ProductMetrics::StorageWrite(const StorageWriteEvent& e) {
  storage_write_duration_.Observe(Seconds(e.latency));
  const std::string_view outcome =
      e.busy ? std::string_view("busy") : e.error_reason.empty() ? "ok" : e.error_reason;
  std::lock_guard<std::mutex> lock(mu_);
  ++Slot(Slot(writes_, e.operation), outcome);
}

void ProductMetrics::Render(std::string* out, int64_t open_streams) const {
  Header(out, "assistant_agent_runs_started_total", "counter", "Agent turns that became runs.");
  Sample(out, "assistant_agent_runs_started_total", "",
         runs_started_.load(std::memory_order_relaxed));
  Header(out, "assistant_agent_run_duration_seconds", "histogram",
         "Time from a run's start to its last event.");
  run_duration_.Render(out, "assistant_agent_run_duration_seconds", "");
  Header(out, "assistant_storage_write_duration_seconds", "histogram",
         "Time of each storage call that writes (its commit included).");
  storage_write_duration_.Render(out, "assistant_storage_write_duration_seconds", "");
  Header(out, "assistant_streams_open", "gauge", "Streamed replies being sent now.");
  Sample(out, "assistant_streams_open", "", static_cast<uint64_t>(std::max<int64_t>(0, open_streams)));

  std::lock_guard<std::mutex> lock(mu_);
  Header(out, "assistant_agent_runs_finished_total", "counter", "Runs by final status.");
  for (const auto& [status, n] : runs_finished_) {
    Sample(out, "assistant_agent_runs_finished_total", Label("status", status), n);
  }
  Header(out, "assistant_llm_calls_total", "counter",
         "Model calls by provider and outcome (ok or the failure's reason).");
  for (const auto& [provider, p] : providers_) {
    for (const auto& [outcome, n] : p.calls_by_outcome) {
      Sample(out, "assistant_llm_calls_total",
             Label("provider", provider) + "," + Label("outcome", outcome), n);
    }
  }
  Header(out, "assistant_llm_tokens_total", "counter", "Tokens the providers reported, by kind.");
  for (const auto& [provider, p] : providers_) {
    Sample(out, "assistant_llm_tokens_total",
           Label("provider", provider) + ",kind=\"prompt\"", p.prompt_tokens);
    Sample(out, "assistant_llm_tokens_total",
           Label("provider", provider) + ",kind=\"completion\"", p.completion_tokens);
  }
  Header(out, "assistant_llm_call_duration_seconds", "histogram",
         "Time of each model call, its stream included.");
  for (const auto& [provider, p] : providers_) {
    p.latency->Render(out, "assistant_llm_call_duration_seconds", Label("provider", provider));
  }
  Header(out, "assistant_tool_calls_total", "counter", "Tool calls by tool and outcome.");
  for (const auto& [tool, counts] : tools_) {
    Sample(out, "assistant_tool_calls_total", Label("tool", tool) + ",outcome=\"ok\"",
           counts.first);
    Sample(out, "assistant_tool_calls_total", Label("tool", tool) + ",outcome=\"error\"",
           counts.second);
  }
  Header(out, "assistant_storage_writes_total", "counter",
         "Storage calls that write, by operation and outcome (ok, busy, or the reason).");
  for (const auto& [operation, outcomes] : writes_) {
    for (const auto& [outcome, n] : outcomes) {
      Sample(out, "assistant_storage_writes_total",
             Label("operation", operation) + "," + Label("outcome", outcome), n);
    }
  }
}

}  // namespace assistant::server
