// The OpenAI-compatible routes of assistant-server (docs/server.md
// "OpenAI-compatible endpoint"):
//
//   GET  /v1/models              {object:"list", data:[{id, object, created, owned_by}]}
//   GET  /v1/models/{model}      one model, or 404 model_not_found
//   POST /v1/chat/completions    chat.completion, or chat.completion.chunk SSE
//
// They expose the agent, tools run on the server, so the official OpenAI
// SDKs work unchanged: the last message (role user) is the turn, the earlier
// ones are its history, `store` (default false, as OpenAI's) decides whether
// the turn is kept as a conversation. Errors have OpenAI's shape
// {"error":{"message","type","param","code"}}; statuses come from
// http_status.hpp like everywhere else.
#ifndef ASSISTANT_SERVER_OPENAI_ROUTES_HPP_
#define ASSISTANT_SERVER_OPENAI_ROUTES_HPP_

#include <string>
#include <string_view>
#include <vector>

#include "assistant/agent.hpp"
#include "assistant/status.hpp"
#include "server.hpp"

namespace assistant::server {

// The one model id /v1/models lists and /v1/chat/completions accepts. It
// names the agent (its tools, memory and the configured provider together),
// so clients need no change when the operator switches --llm-model.
inline constexpr std::string_view kOpenAiModelId = "libassistant";

// A chat completion request, translated for the agent.
struct ChatCompletionInput {
  std::string model;
  AgentRequest request;  // message = the last message; history = the others; store
  // Where the last message's text came from ("messages[2].content"): the
  // param an error about AgentRequest::message names.
  std::string message_param;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

// Reads a /v1/chat/completions body. InvalidArgument naming the OpenAI
// param ("messages[1].role") for anything the endpoint cannot honour.
Result<ChatCompletionInput> ParseChatCompletion(const Json& body);

// OpenAI's error body; an ErrorBodyFn. type is "invalid_request_error" for
// 4xx and "server_error" for 5xx; code is this API's snake_case reason;
// param is the offending field or null.
Json OpenAiErrorBody(int http_status, std::string_view code, std::string_view message,
                     std::string_view request_id, std::string_view field);

// Appends the routes above to `r`.
void OpenAiRoutes(HttpServer& s, std::vector<Route>& r);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_OPENAI_ROUTES_HPP_
