// Typed results from the server's JSON (docs/server.md's shapes): the
// inverse of the core's api/json_shapes.hpp. A field of the wrong type is
// an error ("bad_response"), never a crash.
#ifndef ASSISTANT_CLIENTS_JSON_READ_HPP_
#define ASSISTANT_CLIENTS_JSON_READ_HPP_

#include "assistant/client/agent_client.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant::client::internal {

Result<User> ReadUser(const Json& j);
Result<Task> ReadTask(const Json& j);
Result<Conversation> ReadConversation(const Json& j);
Result<Message> ReadMessage(const Json& j);
Result<Memory> ReadMemory(const Json& j);
Result<RunInfo> ReadRun(const Json& j);
Result<AgentState> ReadAgentState(const Json& j);
// j[key] as an array of T.
template <typename T>
Result<std::vector<T>> ReadList(const Json& j, const char* key, Result<T> (*read)(const Json&)) {
  std::vector<T> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) {
    return UnavailableError(std::string("the server's answer lacks ") + key, "bad_response");
  }
  for (const auto& item : *it) {
    ASSISTANT_ASSIGN_OR_RETURN(T v, read(item));
    out.push_back(std::move(v));
  }
  return out;
}
// j[key] as the object read by `read`.
template <typename T>
Result<T> ReadField(const Json& j, const char* key, Result<T> (*read)(const Json&)) {
  auto it = j.find(key);
  if (it == j.end()) {
    return UnavailableError(std::string("the server's answer lacks ") + key, "bad_response");
  }
  return read(*it);
}

}  // namespace assistant::client::internal

#endif  // ASSISTANT_CLIENTS_JSON_READ_HPP_
