// Factory of the Agent implementation, used by Assistant::Open.
#ifndef ASSISTANT_SRC_AGENT_AGENT_IMPL_HPP_
#define ASSISTANT_SRC_AGENT_AGENT_IMPL_HPP_

#include <memory>

#include "assistant/agent.hpp"
#include "assistant/clock.hpp"
#include "assistant/llm.hpp"
#include "assistant/options.hpp"
#include "agent/run_registry.hpp"
#include "assistant/storage.hpp"
#include "services/audit_log.hpp"

namespace assistant {

struct AgentDeps {
  Storage* storage = nullptr;  // required; outlives the agent
  Clock* clock = nullptr;      // required; outlives the agent
  AuditLog* audit = nullptr;   // required; outlives the agent
  // Where the agent's runs are kept; outlives the agent. Null: the agent
  // keeps a private registry (its runs are then reachable only through it).
  RunRegistry* runs = nullptr;
  std::shared_ptr<LlmProvider> provider;  // required
  Observer* observer = nullptr;           // outlives the agent; null = NullObserver()
  AgentOptions options;
};

// An agent with an empty tool registry (the caller registers the built-in
// tools). InvalidArgument when a dependency is missing.
Result<std::unique_ptr<Agent>> NewAgent(AgentDeps deps);

// Rough token count used for the history budget and usage estimates:
// one token per 4 bytes of text, rounded up.
int64_t EstimateTokens(size_t chars);

}  // namespace assistant

#endif  // ASSISTANT_SRC_AGENT_AGENT_IMPL_HPP_
