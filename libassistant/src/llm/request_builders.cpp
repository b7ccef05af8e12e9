#include "llm/request_builders.hpp"
#include "common/json_text.hpp"

#include <algorithm>

#include "common/text.hpp"

namespace assistant::llm {

namespace {

Status Validate(const ChatRequest& request, const std::string& default_model) {
  if (request.messages.empty()) {
    return InvalidArgumentError("a chat request needs at least one message", "messages");
  }
  if (request.model.empty() && default_model.empty()) {
    return InvalidArgumentError("no model configured for the LLM provider", "model");
  }
  for (const ChatMessage& m : request.messages) {
    if (*MessageRoleName(m.role) == '\0') {  // a value outside the enum
      return InvalidArgumentError("unknown message role", "role");
    }
    if (m.role == MessageRole::kTool && m.tool_call_id.empty()) {
      return InvalidArgumentError("a tool message must name the call it answers",
                                  "tool_call_id");
    }
    for (const ToolCall& c : m.tool_calls) {
      if (c.name.empty()) {
        return InvalidArgumentError("a tool call needs a name", "tool_calls");
      }
    }
  }
  for (const ToolSpec& t : request.tools) {
    if (t.name.empty()) return InvalidArgumentError("a tool needs a name", "tools");
  }
  return Status::Ok();
}

// JSON Schema of the arguments; the APIs want an object schema even for a
// tool without parameters.
Json ParametersSchema(const ToolSpec& t) {
  if (t.parameters.is_object() && !t.parameters.empty()) return t.parameters;
  return Json{{"type", "object"}, {"properties", Json::object()}};
}

// OpenAI, Ollama and Cohere v2 share the function-tool shape.
Json FunctionTools(const std::vector<ToolSpec>& tools) {
  Json out = Json::array();
  for (const ToolSpec& t : tools) {
    out.push_back({{"type", "function"},
                   {"function",
                    {{"name", t.name},
                     {"description", t.description},
                     {"parameters", ParametersSchema(t)}}}});
  }
  return out;
}

Json ArgumentsObject(const ToolCall& c) {
  return c.arguments.is_object() ? c.arguments : Json::object();
}

std::string ArgumentsText(const ToolCall& c) { return DumpBody(ArgumentsObject(c)); }

// The SDK's ToolContent: a document whose `data` is an object, or a text
// block. An object result is the document; anything else goes as text.
Json CohereToolContent(const ChatMessage& m) {
  Json parsed = m.tool_result != nullptr ? *m.tool_result : text::ParseJsonBounded(m.content);
  if (parsed.is_object()) {
    return {{"type", "document"}, {"document", {{"data", std::move(parsed)}}}};
  }
  return {{"type", "text"}, {"text", m.content}};
}

// Cohere's `p` takes 0.01..0.99; the ends of OpenAI's 0..1 mean the same
// there (keep only the likeliest tokens / keep them all).
double CohereP(double top_p) { return std::clamp(top_p, 0.01, 0.99); }

// Each API's names for the sampling settings (assistant/llm.hpp Sampling):
// openai's own; ollama's `options` (num_predict for max_tokens); cohere's
// max_tokens, p, seed, stop_sequences.
void AddOpenAiSampling(const Sampling& s, Json& body) {
  if (s.temperature) body["temperature"] = *s.temperature;
  if (s.top_p) body["top_p"] = *s.top_p;
  if (s.max_tokens) body["max_tokens"] = *s.max_tokens;
  if (s.seed) body["seed"] = *s.seed;
  if (!s.stop.empty()) body["stop"] = s.stop;
}

void AddOllamaSampling(const Sampling& s, Json& body) {
  Json options = Json::object();
  if (s.temperature) options["temperature"] = *s.temperature;
  if (s.top_p) options["top_p"] = *s.top_p;
  if (s.max_tokens) options["num_predict"] = *s.max_tokens;
  if (s.seed) options["seed"] = *s.seed;
  if (!s.stop.empty()) options["stop"] = s.stop;
  if (!options.empty()) body["options"] = std::move(options);
}

void AddCohereSampling(const Sampling& s, Json& body) {
  if (s.temperature) body["temperature"] = *s.temperature;
  if (s.top_p) body["p"] = CohereP(*s.top_p);
  if (s.max_tokens) body["max_tokens"] = *s.max_tokens;
  if (s.seed) body["seed"] = *s.seed;
  if (!s.stop.empty()) body["stop_sequences"] = s.stop;
}

const std::string& ModelOf(const ChatRequest& r, const std::string& default_model) {
  return r.model.empty() ? default_model : r.model;
}

}  // namespace

std::string DumpBody(const Json& body) {
  return DumpJson(body);
}

Result<Json> BuildOpenAiRequest(const ChatRequest& request,
                                const std::string& default_model) {
  ASSISTANT_RETURN_IF_ERROR(Validate(request, default_model));
  Json messages = Json::array();
  for (const ChatMessage& m : request.messages) {
    Json msg = {{"role", MessageRoleName(m.role)}};
    if (m.role == MessageRole::kAssistant && !m.tool_calls.empty()) {
      // content may be null next to tool calls.
      msg["content"] = m.content.empty() ? Json(nullptr) : Json(m.content);
      Json calls = Json::array();
      for (const ToolCall& c : m.tool_calls) {
        calls.push_back({{"id", c.id},
                         {"type", "function"},
                         {"function", {{"name", c.name}, {"arguments", ArgumentsText(c)}}}});
      }
      msg["tool_calls"] = std::move(calls);
    } else {
      msg["content"] = m.content;
    }
    if (m.role == MessageRole::kTool) msg["tool_call_id"] = m.tool_call_id;
    messages.push_back(std::move(msg));
  }
  Json body = {{"model", ModelOf(request, default_model)},
               {"messages", std::move(messages)},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (!request.tools.empty()) body["tools"] = FunctionTools(request.tools);
  AddOpenAiSampling(request.sampling, body);
  return body;
}

Result<Json> BuildOllamaRequest(const ChatRequest& request,
                                const std::string& default_model) {
  ASSISTANT_RETURN_IF_ERROR(Validate(request, default_model));
  Json messages = Json::array();
  for (const ChatMessage& m : request.messages) {
    Json msg = {{"role", MessageRoleName(m.role)}, {"content", m.content}};
    if (m.role == MessageRole::kAssistant && !m.tool_calls.empty()) {
      Json calls = Json::array();
      for (const ToolCall& c : m.tool_calls) {
        calls.push_back(
            {{"function", {{"name", c.name}, {"arguments", ArgumentsObject(c)}}}});
      }
      msg["tool_calls"] = std::move(calls);
    }
    if (m.role == MessageRole::kTool && !m.name.empty()) msg["tool_name"] = m.name;
    messages.push_back(std::move(msg));
  }
  Json body = {{"model", ModelOf(request, default_model)},
               {"messages", std::move(messages)},
               {"stream", true}};
  if (!request.tools.empty()) body["tools"] = FunctionTools(request.tools);
  AddOllamaSampling(request.sampling, body);
  return body;
}

Result<Json> BuildCohereRequest(const ChatRequest& request,
                                const std::string& default_model) {
  ASSISTANT_RETURN_IF_ERROR(Validate(request, default_model));
  Json messages = Json::array();
  for (const ChatMessage& m : request.messages) {
    Json msg = {{"role", MessageRoleName(m.role)}};
    if (m.role == MessageRole::kAssistant && !m.tool_calls.empty()) {
      // Cohere's docs send the plan back with its calls; text that came
      // without a plan stands in for it.
      const std::string& plan = m.tool_plan.empty() ? m.content : m.tool_plan;
      if (!plan.empty()) msg["tool_plan"] = plan;
      if (!m.tool_plan.empty() && !m.content.empty()) msg["content"] = m.content;
      Json calls = Json::array();
      for (const ToolCall& c : m.tool_calls) {
        calls.push_back({{"id", c.id},
                         {"type", "function"},
                         {"function", {{"name", c.name}, {"arguments", ArgumentsText(c)}}}});
      }
      msg["tool_calls"] = std::move(calls);
    } else if (m.role == MessageRole::kTool) {
      msg["tool_call_id"] = m.tool_call_id;
      msg["content"] = Json::array({CohereToolContent(m)});
    } else {
      msg["content"] = m.content;
    }
    messages.push_back(std::move(msg));
  }
  Json body = {{"model", ModelOf(request, default_model)},
               {"messages", std::move(messages)},
               {"stream", true}};
  if (!request.tools.empty()) body["tools"] = FunctionTools(request.tools);
  AddCohereSampling(request.sampling, body);
  return body;
}

}  // namespace assistant::llm
