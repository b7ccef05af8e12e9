// AgentStateService over Storage: the per-(user, app) state document with
// RFC 7386 merge patches (merge_patch.cpp), and the memory list.
#include <string>
#include <vector>

#include "common/text.hpp"
#include "services/service_util.hpp"
#include "services/services.hpp"

namespace assistant {

namespace {

constexpr const char* kAgent = "agent";
constexpr int kMaxMemories = 200;

Status CheckAppId(const std::string& app_id) {
  // "" is the default app.
  if (!app_id.empty() && !services::IsSafeName(app_id)) {
    return InvalidArgumentError("app_id must be 1-128 characters of [A-Za-z0-9._:-]",
                                "app_id");
  }
  return Status();
}

Status CheckState(const Json& state) {
  if (!state.is_object()) {
    return InvalidArgumentError("the agent state must be a JSON object", "state");
  }
  return services::SerializeBounded(state, "state", kJsonDocumentMaxBytes).status();
}

class AgentStateServiceImpl final : public AgentStateService {
 public:
  AgentStateServiceImpl(Storage& storage, Clock& clock) : storage_(storage), clock_(clock) {}

  Result<AgentState> Get(const Principal& p, const std::string& app_id) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kAgent));
    ASSISTANT_RETURN_IF_ERROR(CheckAppId(app_id));
    Result<AgentState> r = storage_.GetAgentState(p.user_id, app_id);
    if (r.ok() || !IsNotFound(r.status())) return r;
    AgentState empty;
    empty.user_id = p.user_id;
    empty.app_id = app_id;
    empty.updated_at = FromUnixMillis(0);
    return empty;
  }

  Result<AgentState> Put(const Principal& p, const std::string& app_id,
                         const Json& state) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kAgent));
    ASSISTANT_RETURN_IF_ERROR(CheckAppId(app_id));
    ASSISTANT_RETURN_IF_ERROR(CheckState(state));
    return storage_.UpdateAgentState(
        p.user_id, app_id,
        [&state](const std::optional<Json>&) -> Result<Json> { return state; },
        services::NowMillis(clock_));
  }

  Result<AgentState> Patch(const Principal& p, const std::string& app_id,
                           const Json& merge_patch) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kAgent));
    ASSISTANT_RETURN_IF_ERROR(CheckAppId(app_id));
    // The merge runs inside storage's read-modify-write, so two concurrent
    // patches both land.
    return storage_.UpdateAgentState(
        p.user_id, app_id,
        [&merge_patch](const std::optional<Json>& current) -> Result<Json> {
          Json merged = ApplyMergePatch(current ? *current : Json::object(), merge_patch);
          ASSISTANT_RETURN_IF_ERROR(CheckState(merged));
          return merged;
        },
        services::NowMillis(clock_));
  }

  Result<std::vector<Memory>> ListMemories(const Principal& p) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kAgent));
    return storage_.ListMemories(p.user_id, kMaxMemories);
  }

  Result<Memory> AddMemory(const Principal& p, const std::string& content) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kAgent));
    Memory m;
    ASSISTANT_ASSIGN_OR_RETURN(m.content,
                               text::CleanText(content, "content", 1, kMemoryMaxChars, true));
    m.id = NewId();
    m.user_id = p.user_id;
    m.created_at = services::NowMillis(clock_);
    ASSISTANT_RETURN_IF_ERROR(storage_.AddMemory(m));
    return m;
  }

  Status DeleteMemory(const Principal& p, const std::string& id) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kAgent));
    return storage_.DeleteMemory(p.user_id, id);
  }

 private:
  Storage& storage_;
  Clock& clock_;
};

}  // namespace

std::unique_ptr<AgentStateService> NewAgentStateService(Storage& storage, Clock& clock) {
  return std::make_unique<AgentStateServiceImpl>(storage, clock);
}

}  // namespace assistant
