// File: assistant/llm.hpp
//
// The LLM provider interface. One turn: given the conversation so far and the
// tools on offer, the model answers with text, tool calls, or both. Text
// arrives through `on_delta` as it streams; the whole response is returned.
// `rules` (built in, offline) is the default; openai, ollama and cohere speak
// their APIs' wire formats.
//
// Thread safety: a provider is safe to use from many threads at once.
#ifndef ASSISTANT_LLM_HPP_
#define ASSISTANT_LLM_HPP_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

struct ToolCall {
  std::string id;
  std::string name;
  Json arguments = Json::object();
};

struct ChatMessage {
  MessageRole role = MessageRole::kUser;  // as text: MessageRoleName
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant messages asking for tools
  std::string tool_call_id;          // tool messages: which call this answers
  std::string name;                  // tool messages: the tool's name
  // Assistant messages with tool calls: the model's stated plan for them
  // (Cohere's `tool_plan`), sent back with the calls; empty otherwise.
  std::string tool_plan = {};
  // Tool messages from the agent's own tool loop: the result `content` holds
  // as JSON text, shared and never changed while a message refers to it
  // (null otherwise). An in-process provider may read it instead of parsing
  // `content`; a remote one sends `content`.
  std::shared_ptr<const Json> tool_result = {};
};

struct ToolSpec {
  std::string name;
  std::string description;
  Json parameters = Json::object();  // JSON Schema of the arguments object
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens() const { return prompt_tokens + completion_tokens; }
};

// How the model samples its answer; each unset field is the provider's
// default. Ranges are OpenAI's (the agent checks them): temperature 0..2,
// top_p 0..1, max_tokens >= 1 (output tokens of each model call), stop up
// to 4 non-empty sequences.
struct Sampling {
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> max_tokens;
  std::optional<int64_t> seed;
  std::vector<std::string> stop;
  // The name of the first field set ("temperature", ...), empty when none.
  std::string FirstSet() const;
};

struct ChatRequest {
  std::vector<ChatMessage> messages;
  std::vector<ToolSpec> tools;
  std::string model;
  Sampling sampling;
};

struct ChatResponse {
  std::string content;
  std::vector<ToolCall> tool_calls;
  std::string tool_plan;  // the plan a model gave for its tool calls, if any
  Usage usage;
  std::string finish_reason;  // stop | tool_calls | length | cancelled
};

// Set from any thread to ask a running turn to stop as soon as it can.
class CancellationToken {
 public:
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::atomic<bool> cancelled_{false};
};

// Receives text as it streams. Return false to stop (treated as a cancel).
using DeltaSink = std::function<bool(std::string_view delta)>;

class LlmProvider {
 public:
  virtual ~LlmProvider() = default;
  virtual std::string name() const = 0;
  // Whether the model reads the system prompt and earlier turns. A provider
  // that answers from the new message alone (the rules provider) returns
  // false, and the agent then skips loading history, memory and state.
  virtual bool uses_context() const { return true; }
  // Whether ChatRequest::sampling reaches the model. A provider that would
  // ignore it keeps false, and the agent refuses a turn that sets any of it
  // rather than answer something else than was asked.
  virtual bool honours_sampling() const { return false; }
  // Cancelled (StatusCode::kCancelled) when `cancel` fired or the sink
  // returned false, with no retry. Upstream failures: Unavailable (reason
  // "upstream_error") or DeadlineExceeded ("upstream_timeout").
  virtual Result<ChatResponse> Chat(const ChatRequest& request,
                                    const DeltaSink& on_delta,
                                    const CancellationToken& cancel) = 0;
};

// The built-in offline provider: detects task intents (greeting, help,
// add/list/complete/uncomplete/delete/update task, clear completed) in the
// last user message, asks for the matching tool, and phrases the reply from
// the tool results it is given back.
std::unique_ptr<LlmProvider> NewRulesProvider();

}  // namespace assistant

#endif  // ASSISTANT_LLM_HPP_
