// What the provider tests share: recorded streams, and a provider aimed at a
// fake upstream with short timeouts and retries.
#ifndef ASSISTANT_TESTS_UNIT_LLM_TEST_SUPPORT_HPP_
#define ASSISTANT_TESTS_UNIT_LLM_TEST_SUPPORT_HPP_

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "assistant/providers.hpp"
#include "fake_upstream/fake_upstream.hpp"

namespace assistant::testing {

// A file of tests/data/llm.
inline std::string RecordedLlm(const std::string& name) {
  auto dir = std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "llm";
  return fake_upstream::ReadFile((dir / name).string());
}

// Timeouts and retries short enough for tests.
inline ProviderConfig FakeUpstreamConfig(const std::string& base_url, const std::string& api_key) {
  ProviderConfig c;
  c.base_url = base_url;
  c.model = "test-model";
  c.api_key = api_key;
  c.connect_timeout = std::chrono::milliseconds(2000);
  c.read_timeout = std::chrono::milliseconds(3000);
  c.max_retries = 2;
  c.retry_base_delay = std::chrono::milliseconds(10);
  c.retry_max_delay = std::chrono::milliseconds(40);
  return c;
}

// protocol: "openai" | "ollama" | "cohere".
inline std::unique_ptr<LlmProvider> MakeProvider(const std::string& protocol,
                                                 const ProviderConfig& c) {
  Result<std::unique_ptr<LlmProvider>> p = protocol == "openai"   ? NewOpenAiProvider(c)
                                           : protocol == "ollama" ? NewOllamaProvider(c)
                                                                  : NewCohereProvider(c);
  REQUIRE(p.ok());
  return std::move(p).value();
}

}  // namespace assistant::testing

#endif  // ASSISTANT_TESTS_UNIT_LLM_TEST_SUPPORT_HPP_
