// An LLM provider whose answers a test scripts, recording every request.
#ifndef ASSISTANT_TESTS_UNIT_SCRIPTED_PROVIDER_HPP_
#define ASSISTANT_TESTS_UNIT_SCRIPTED_PROVIDER_HPP_

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "assistant/llm.hpp"

namespace assistant::testing {

class ScriptedProvider final : public LlmProvider {
 public:
  // `call` counts the provider's calls from 0.
  using Script = std::function<Result<ChatResponse>(const ChatRequest&, const DeltaSink&,
                                                    const CancellationToken&, int call)>;
  explicit ScriptedProvider(Script script) : script_(std::move(script)) {}
  std::string name() const override { return "scripted"; }
  Result<ChatResponse> Chat(const ChatRequest& request, const DeltaSink& on_delta,
                            const CancellationToken& cancel) override {
    int n;
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(request);
      n = static_cast<int>(requests_.size()) - 1;
    }
    return script_(request, on_delta, cancel, n);
  }
  std::vector<ChatRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  Script script_;
  std::mutex mu_;
  std::vector<ChatRequest> requests_;
};

}  // namespace assistant::testing

#endif  // ASSISTANT_TESTS_UNIT_SCRIPTED_PROVIDER_HPP_
