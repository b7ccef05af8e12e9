#include "agent/stored_event.hpp"

#include <utility>

#include "assistant/agent.hpp"

namespace assistant {

namespace {

constexpr const char* kMessageRef = "message_ref";
constexpr const char* kResultRef = "result_ref";
constexpr const char* kContentRef = "content_ref";

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
  if (e.type == "message.delta") return e.data.contains(kContentRef);
  return false;
}

void ResolveStoredEvent(RunEvent& e, const std::optional<Message>& reply) {
  if (!IsStoredEventRef(e)) return;
  if (e.type == "message.done") {
    Json usage = e.data.value("usage", Json::object());
    e.data = {{"message", reply ? MessageToJson(*reply) : Json()}, {"usage", std::move(usage)}};
    return;
  }
  if (e.type == "message.delta") {
    const Json& range = e.data[kContentRef];
    std::string content;
    if (reply && range.is_array() && range.size() == 2 && range[0].is_number_integer() &&
        range[1].is_number_integer()) {
      const auto from = range[0].get<int64_t>();
      const auto to = range[1].get<int64_t>();
      if (0 <= from && from <= to && static_cast<uint64_t>(to) <= reply->content.size()) {
        content = reply->content.substr(static_cast<size_t>(from), static_cast<size_t>(to - from));
      }
    }
    e.data = {{"content", std::move(content)}};
    return;
  }
  const Json* result = reply ? CallResult(*reply, StoredText(e.data, "id")) : nullptr;
  e.data.erase(kResultRef);
  e.data["result"] = result ? *result : Json();
}

std::optional<Json> StoredRef(const RunEvent& e, const Message& reply, size_t& text_offset) {
  if (e.type == "message.delta") {
    const auto content = e.data.is_object() ? e.data.find("content") : e.data.end();
    if (content == e.data.end() || !content->is_string() || e.data.size() != 1 ||
        text_offset == std::string::npos) {
      text_offset = std::string::npos;
      return std::nullopt;
    }
    const std::string& text = content->get_ref<const std::string&>();
    if (text_offset + text.size() > reply.content.size() ||
        reply.content.compare(text_offset, text.size(), text) != 0) {
      text_offset = std::string::npos;
      return std::nullopt;
    }
    const size_t from = text_offset;
    text_offset += text.size();
    return Json{{kContentRef, {from, text_offset}}};
  }
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
