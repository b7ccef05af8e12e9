// The public factories of the HTTP providers and the one that picks a
// provider from AgentOptions.
#include "assistant/providers.hpp"

#include <utility>

#include "assistant/settings.hpp"
#include "llm/http_provider.hpp"
#include "llm/request_builders.hpp"
#include "llm/stream_parsers.hpp"

namespace assistant {

namespace {

// Public endpoints used when no base URL is configured.
constexpr const char* kOpenAiDefaultBaseUrl = "https://api.openai.com/v1";
constexpr const char* kOllamaDefaultBaseUrl = "http://127.0.0.1:11434";
constexpr const char* kCohereDefaultBaseUrl = "https://api.cohere.com";

template <typename Parser>
std::unique_ptr<llm::ChatStreamParser> MakeParser() {
  return std::make_unique<Parser>();
}

Result<std::unique_ptr<LlmProvider>> Make(llm::WireFormat format, ProviderConfig config,
                                          const char* default_base_url) {
  if (config.base_url.empty()) config.base_url = default_base_url;
  Result<llm::BaseUrl> url = llm::ParseBaseUrl(config.base_url);
  if (!url.ok()) return url.status();
  if (config.max_retries < 0) {
    return InvalidArgumentError("max_retries must not be negative", "max_retries");
  }
  if (config.connect_timeout.count() <= 0 || config.read_timeout.count() <= 0) {
    return InvalidArgumentError("timeouts must be positive", "timeout");
  }
  return llm::NewHttpProvider(std::move(format), std::move(config), std::move(*url));
}

}  // namespace

Result<std::unique_ptr<LlmProvider>> NewOpenAiProvider(const ProviderConfig& config) {
  return Make({"openai", "/chat/completions", "text/event-stream", &llm::BuildOpenAiRequest,
               &MakeParser<llm::OpenAiStreamParser>},
              config, kOpenAiDefaultBaseUrl);
}

Result<std::unique_ptr<LlmProvider>> NewOllamaProvider(const ProviderConfig& config) {
  return Make({"ollama", "/api/chat", "application/x-ndjson", &llm::BuildOllamaRequest,
               &MakeParser<llm::OllamaStreamParser>},
              config, kOllamaDefaultBaseUrl);
}

Result<std::unique_ptr<LlmProvider>> NewCohereProvider(const ProviderConfig& config) {
  return Make({"cohere", "/v2/chat", "text/event-stream", &llm::BuildCohereRequest,
               &MakeParser<llm::CohereStreamParser>},
              config, kCohereDefaultBaseUrl);
}

Result<std::unique_ptr<LlmProvider>> NewProvider(const AgentOptions& options) {
  const ProviderKind kind = options.provider;
  if (kind == ProviderKind::kRules) return NewRulesProvider();
  ProviderConfig config;
  config.base_url = options.base_url;
  config.model = options.model;
  config.api_key = options.api_key;
  if (options.llm_timeout.count() > 0) config.read_timeout = options.llm_timeout;
  // Connecting never needs longer than the whole answer may take.
  config.connect_timeout = std::min<std::chrono::milliseconds>(config.connect_timeout,
                                                               config.read_timeout);
  if (config.model.empty()) {
    return InvalidArgumentError(std::string("the ") + ProviderKindName(kind) +
                                    " provider needs a model",
                                "model");
  }
  switch (kind) {
    case ProviderKind::kOpenAi: return NewOpenAiProvider(config);
    case ProviderKind::kOllama: return NewOllamaProvider(config);
    case ProviderKind::kCohere: return NewCohereProvider(config);
    case ProviderKind::kRules: break;
  }
  return NewRulesProvider();
}

}  // namespace assistant
