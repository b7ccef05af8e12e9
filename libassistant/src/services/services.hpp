// Factories of the service implementations, used by Assistant::Open. Each
// service holds references: storage, clock and audit log must outlive it.
#ifndef ASSISTANT_SRC_SERVICES_SERVICES_HPP_
#define ASSISTANT_SRC_SERVICES_SERVICES_HPP_

#include <functional>
#include <memory>
#include <string>

#include "assistant/agent_state.hpp"
#include "assistant/clock.hpp"
#include "assistant/conversations.hpp"
#include "assistant/storage.hpp"
#include "assistant/tasks.hpp"
#include "assistant/users.hpp"
#include "services/audit_log.hpp"

namespace assistant {

// Limits shared by the services and the agent.
inline constexpr size_t kTaskTitleMaxChars = 500;
inline constexpr size_t kTaskDescriptionMaxChars = 10000;
inline constexpr int kTaskPriorityMin = -1000;
inline constexpr int kTaskPriorityMax = 1000;
inline constexpr size_t kConversationTitleMaxChars = 200;
inline constexpr size_t kMessageMaxChars = 32000;
inline constexpr size_t kMemoryMaxChars = 2000;
inline constexpr size_t kJsonDocumentMaxBytes = 256 * 1024;
inline constexpr const char* kDefaultConversationTitle = "New conversation";

std::unique_ptr<TaskService> NewTaskService(Storage& storage, Clock& clock);
std::unique_ptr<ConversationService> NewConversationService(Storage& storage,
                                                            Clock& clock);
// `on_account_deleted` runs after DeleteMe removed an account (the core
// uses it to make the account's access tokens stop at once).
std::unique_ptr<UserService> NewUserService(
    Storage& storage, Clock& clock,
    std::function<void(const std::string& user_id)> on_account_deleted = nullptr);
std::unique_ptr<AgentStateService> NewAgentStateService(Storage& storage,
                                                        Clock& clock);

}  // namespace assistant

#endif  // ASSISTANT_SRC_SERVICES_SERVICES_HPP_
