// File: assistant/providers.hpp
//
// Factories of the LLM providers that talk to a model server over HTTP(S):
// `openai` (any OpenAI-compatible Chat Completions server), `ollama` (native
// /api/chat) and `cohere` (v2 /v2/chat), plus NewProvider, which picks one of
// these or the built-in `rules` provider from AgentOptions. docs/providers.md
// describes the wire formats.
//
// Every provider streams: text reaches the DeltaSink as it arrives. Failures
// follow LlmProvider's contract: Unavailable (reason "upstream_error") for a
// refused connection, an HTTP error, a malformed or broken stream;
// DeadlineExceeded ("upstream_timeout") when the server sends nothing for
// `read_timeout`; Cancelled when the token fires or the sink returns false,
// which closes the upstream connection within a fraction of a second. Error
// messages never contain the server's address or the API key.
//
// Retries: connection failures, HTTP 429 and 5xx are retried up to
// `max_retries` times with exponential backoff and jitter (429/503 honour
// Retry-After, capped), but only while no text has reached the sink; once
// output has started a failure is returned as is.
//
// Thread safety: a provider is safe to use from many threads at once; each
// Chat call uses its own connection.
//
// Example:
//   assistant::ProviderConfig cfg;
//   cfg.base_url = "http://127.0.0.1:11434";
//   cfg.model = "llama3.1";
//   auto provider = assistant::NewOllamaProvider(cfg);
//   if (!provider.ok()) return provider.status();
//   assistant::CancellationToken cancel;
//   auto reply = (*provider)->Chat(request, [](std::string_view d) {
//     std::cout << d << std::flush; return true; }, cancel);
#ifndef ASSISTANT_PROVIDERS_HPP_
#define ASSISTANT_PROVIDERS_HPP_

#include <chrono>
#include <memory>
#include <string>

#include "assistant/llm.hpp"
#include "assistant/options.hpp"
#include "assistant/status.hpp"

namespace assistant {

struct ProviderConfig {
  // http:// or https:// (TLS through OpenSSL, server certificate verified
  // against the system's CA store). For openai it includes the API version
  // path ("https://api.openai.com/v1"); for ollama and cohere it is the
  // server root ("http://127.0.0.1:11434", "https://api.cohere.com").
  // Default: empty, which picks those public defaults.
  std::string base_url;
  // Used when ChatRequest::model is empty. Required by one or the other.
  std::string model;
  // Sent as "Authorization: Bearer <key>" when not empty. Never logged.
  std::string api_key;
  // TCP (and TLS) connection setup. Default: 10 s.
  std::chrono::milliseconds connect_timeout{10000};
  // Longest silence allowed from the server: before the first byte of the
  // answer and between bytes of the stream. Default: 60 s.
  std::chrono::milliseconds read_timeout{60000};
  // Extra attempts after a retryable failure before any output. Default 2.
  int max_retries = 2;
  // Backoff before retry n (0-based): a random delay in
  // [0, min(retry_max_delay, retry_base_delay * 2^n)]. Defaults 500 ms / 8 s.
  std::chrono::milliseconds retry_base_delay{500};
  std::chrono::milliseconds retry_max_delay{8000};
  // A Retry-After longer than this is cut to it. Default: 30 s.
  std::chrono::milliseconds max_retry_after{30000};
};

// InvalidArgument (field "base_url") when the base URL is not http(s)://host.
Result<std::unique_ptr<LlmProvider>> NewOpenAiProvider(const ProviderConfig& config);
Result<std::unique_ptr<LlmProvider>> NewOllamaProvider(const ProviderConfig& config);
Result<std::unique_ptr<LlmProvider>> NewCohereProvider(const ProviderConfig& config);

// The provider AgentOptions names: rules (NewRulesProvider), openai, ollama
// or cohere, with base_url, model and api_key from the options and
// read_timeout = llm_timeout. InvalidArgument (field "model") when an HTTP
// provider has no model, (field "base_url") for a base URL it cannot use.
Result<std::unique_ptr<LlmProvider>> NewProvider(const AgentOptions& options);

}  // namespace assistant

#endif  // ASSISTANT_PROVIDERS_HPP_
