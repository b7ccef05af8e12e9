// File: assistant/agent_state.hpp
//
// What the agent remembers about a user: one JSON state document per
// (user, app) — replaced with Put, changed with a JSON merge patch (RFC 7386)
// — and a list of memory facts the agent puts in its prompt. Needs `agent`.
//
// Thread safety: every method is safe to call from many threads at once;
// Patch is an atomic read-modify-write.
#ifndef ASSISTANT_AGENT_STATE_HPP_
#define ASSISTANT_AGENT_STATE_HPP_

#include <string>
#include <vector>

#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

// RFC 7386: returns `target` with `patch` merged in.
Json ApplyMergePatch(Json target, const Json& patch);

class AgentStateService {
 public:
  virtual ~AgentStateService() = default;
  // An empty object with updated_at at the epoch when never written.
  virtual Result<AgentState> Get(const Principal& p, const std::string& app_id) = 0;
  // `state` must be an object, at most 256 KiB serialised.
  virtual Result<AgentState> Put(const Principal& p, const std::string& app_id,
                                 const Json& state) = 0;
  virtual Result<AgentState> Patch(const Principal& p, const std::string& app_id,
                                   const Json& merge_patch) = 0;

  // Newest first. Content: 1..2000 characters, multi-line.
  virtual Result<std::vector<Memory>> ListMemories(const Principal& p) = 0;
  virtual Result<Memory> AddMemory(const Principal& p, const std::string& content) = 0;
  virtual Status DeleteMemory(const Principal& p, const std::string& id) = 0;
};

}  // namespace assistant

#endif  // ASSISTANT_AGENT_STATE_HPP_
