// The JSON request bodies of the three chat APIs, built from one ChatRequest:
// messages (system, user, assistant with tool calls, tool results) and tools
// in each API's own shape, always with streaming on, and the sampling
// settings under each API's own names.
//
// Thread safety: pure functions.
#ifndef ASSISTANT_SRC_LLM_REQUEST_BUILDERS_HPP_
#define ASSISTANT_SRC_LLM_REQUEST_BUILDERS_HPP_

#include <string>

#include "assistant/llm.hpp"
#include "assistant/status.hpp"

namespace assistant::llm {

// Every builder checks the request first: at least one message, known roles,
// a tool message names the call it answers, a model is known (request.model,
// else `default_model`). InvalidArgument otherwise.

// POST {base}/chat/completions. Assistant tool calls carry their arguments as
// a JSON string; tool results are role "tool" with tool_call_id. Asks for the
// usage chunk (stream_options.include_usage).
Result<Json> BuildOpenAiRequest(const ChatRequest& request,
                                const std::string& default_model);

// POST {base}/api/chat. Tool-call arguments are objects; tool results are
// role "tool" with tool_name.
Result<Json> BuildOllamaRequest(const ChatRequest& request,
                                const std::string& default_model);

// POST {base}/v2/chat. An assistant message's tool plan (or, without one,
// the text that accompanies its tool calls) goes out as `tool_plan`; tool
// results are role "tool" with tool_call_id and content as a list holding
// one document whose `data` is the result object, or one text block when
// the result is not an object.
Result<Json> BuildCohereRequest(const ChatRequest& request,
                                const std::string& default_model);

// The body as sent: invalid UTF-8 (which JSON cannot carry) becomes U+FFFD
// rather than an exception.
std::string DumpBody(const Json& body);

}  // namespace assistant::llm

#endif  // ASSISTANT_SRC_LLM_REQUEST_BUILDERS_HPP_
