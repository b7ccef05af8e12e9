// The HTTP side shared by the openai, ollama and cohere providers: base-URL
// parsing, one streamed POST with timeouts, cancellation and retries, and the
// mapping of every failure to a Status that names neither the server nor the
// key.
#ifndef ASSISTANT_SRC_LLM_HTTP_PROVIDER_HPP_
#define ASSISTANT_SRC_LLM_HTTP_PROVIDER_HPP_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "assistant/llm.hpp"
#include "assistant/providers.hpp"
#include "assistant/status.hpp"
#include "llm/base_url.hpp"
#include "llm/stream_parsers.hpp"

namespace assistant::llm {

// Replaces every occurrence of the secrets (key, host, origin) in `text`.
std::string Redact(std::string text, const std::string& api_key, const BaseUrl& url);

// Seconds of a Retry-After header (delta-seconds form); -1 when absent or an
// HTTP date.
int64_t ParseRetryAfter(std::string_view value);

// Backoff before retry `attempt` (0-based), with full jitter.
std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap);

// What differs between the APIs.
struct WireFormat {
  std::string provider_name;  // "openai"
  std::string path;           // appended to the base URL's path
  std::string accept;         // Accept header
  Result<Json> (*build)(const ChatRequest&, const std::string& default_model);
  std::unique_ptr<ChatStreamParser> (*new_parser)();
};

// REQUIRES: `config.base_url` parses (the factories check it).
std::unique_ptr<LlmProvider> NewHttpProvider(WireFormat format, ProviderConfig config,
                                             BaseUrl url);

}  // namespace assistant::llm

#endif  // ASSISTANT_SRC_LLM_HTTP_PROVIDER_HPP_
