#include "agent/stored_event.hpp"

#include <utility>

#include "assistant/agent.hpp"

namespace assistant {

namespace {

constexpr const char* kMessageRef = "message_ref";
constexpr const char* kResultRef = "result_ref";

// The result of `call_id` in the reply's tool calls, or null.
const Json* CallResult(const Message& reply, const std::string& call_id) {
  if (!reply.tool_calls || !reply.tool_calls->is_array()) return nullptr;
  for (const Json& c : *reply.tool_calls) {
    if (c.is_object() && StoredText(c, "id") == call_id && c.contains("result")) {
      return &c["result"];
    }
  }
  return nullptr;
}

}  // namespace

std::string StoredText(const Json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Json MessageDoneRef(const std::string& message_id, Json usage) {
  return {{kMessageRef, message_id}, {"usage", std::move(usage)}};
}

Json ToolResultRef(const std::string& call_id, const std::string& tool_name) {
  return {{"id", call_id}, {"name", tool_name}, {kResultRef, true}};
}

bool IsStoredEventRef(const RunEvent& e) {
  if (!e.data.is_object()) return false;
  if (e.type == "message.done") return e.data.contains(kMessageRef);
  if (e.type == "tool.result") return e.data.contains(kResultRef);
  return false;
}

void ResolveStoredEvent(RunEvent& e, const std::optional<Message>& reply) {
  if (!IsStoredEventRef(e)) return;
  if (e.type == "message.done") {
    Json usage = e.data.value("usage", Json::object());
    e.data = {{"message", reply ? MessageToJson(*reply) : Json()}, {"usage", std::move(usage)}};
    return;
  }
  const Json* result = reply ? CallResult(*reply, StoredText(e.data, "id")) : nullptr;
  e.data.erase(kResultRef);
  e.data["result"] = result ? *result : Json();
}

std::optional<Json> StoredRef(const RunEvent& e, const Message& reply) {
  if (!e.data.is_object() || IsStoredEventRef(e)) return std::nullopt;
  if (e.type == "message.done") {
    auto message = e.data.find("message");
    if (message == e.data.end() || !message->is_object() ||
        StoredText(*message, "id") != reply.id) {
      return std::nullopt;
    }
    return MessageDoneRef(reply.id, e.data.value("usage", Json::object()));
  }
  if (e.type == "tool.result") {
    const std::string id = StoredText(e.data, "id");
    const Json* result = CallResult(reply, id);
    auto held = e.data.find("result");
    if (!result || held == e.data.end() || *held != *result) return std::nullopt;
    return ToolResultRef(id, StoredText(e.data, "name"));
  }
  return std::nullopt;
}

}  // namespace assistant
