// The names of the records' closed sets (assistant/runs.hpp,
// assistant/types.hpp): one table per enum, in enumerator order, read both
// ways. Storage keeps these names and the JSON shows them, so a name never
// changes; a new enumerator appends its name.
#include <cstddef>
#include <iterator>
#include <string_view>

#include "assistant/runs.hpp"
#include "assistant/types.hpp"

namespace assistant {
namespace {

template <typename E, size_t N>
const char* NameIn(const char* const (&names)[N], E value) {
  const auto i = static_cast<size_t>(value);
  return i < N ? names[i] : "";
}

template <typename E, size_t N>
Result<E> ParseIn(const char* const (&names)[N], std::string_view name, const char* message,
                  const char* field) {
  for (size_t i = 0; i < N; ++i) {
    if (name == names[i]) return static_cast<E>(i);
  }
  return InvalidArgumentError(message, field);
}

constexpr const char* kRunStatusNames[] = {"running", "completed", "cancelled", "failed"};
static_assert(std::size(kRunStatusNames) == static_cast<size_t>(RunStatus::kFailed) + 1);

constexpr const char* kMessageRoleNames[] = {"user", "assistant", "system", "tool"};
static_assert(std::size(kMessageRoleNames) == static_cast<size_t>(MessageRole::kTool) + 1);

constexpr const char* kMessageStatusNames[] = {"completed", "cancelled", "failed"};
static_assert(std::size(kMessageStatusNames) == static_cast<size_t>(MessageStatus::kFailed) + 1);

constexpr const char* kTaskFilterNames[] = {"all", "pending", "completed"};
static_assert(std::size(kTaskFilterNames) == static_cast<size_t>(TaskFilter::kCompleted) + 1);

constexpr const char* kAuditOutcomeNames[] = {"ok", "failed"};
static_assert(std::size(kAuditOutcomeNames) == static_cast<size_t>(AuditOutcome::kFailed) + 1);

constexpr const char* kTokenPurposeNames[] = {"password_reset", "email_verification"};
static_assert(std::size(kTokenPurposeNames) ==
              static_cast<size_t>(TokenPurpose::kEmailVerification) + 1);

constexpr const char* kKeyPurposeNames[] = {"access", "identity"};
static_assert(std::size(kKeyPurposeNames) == static_cast<size_t>(KeyPurpose::kIdentity) + 1);

}  // namespace

const char* RunStatusName(RunStatus status) { return NameIn(kRunStatusNames, status); }

Result<RunStatus> ParseRunStatus(std::string_view name) {
  return ParseIn<RunStatus>(kRunStatusNames, name,
                            "status must be running, completed, cancelled or failed", "status");
}

const char* MessageRoleName(MessageRole role) { return NameIn(kMessageRoleNames, role); }

Result<MessageRole> ParseMessageRole(std::string_view name) {
  return ParseIn<MessageRole>(kMessageRoleNames, name,
                              "role must be user, assistant, system or tool", "role");
}

const char* MessageStatusName(MessageStatus status) {
  return NameIn(kMessageStatusNames, status);
}

Result<MessageStatus> ParseMessageStatus(std::string_view name) {
  return ParseIn<MessageStatus>(kMessageStatusNames, name,
                                "status must be completed, cancelled or failed", "status");
}

const char* TaskFilterName(TaskFilter filter) { return NameIn(kTaskFilterNames, filter); }

Result<TaskFilter> ParseTaskFilter(std::string_view name) {
  // An empty query parameter (`?status=`) asks for no filter.
  if (name.empty()) return TaskFilter::kAll;
  return ParseIn<TaskFilter>(kTaskFilterNames, name, "status must be all, pending or completed",
                             "status");
}

const char* AuditOutcomeName(AuditOutcome outcome) { return NameIn(kAuditOutcomeNames, outcome); }

Result<AuditOutcome> ParseAuditOutcome(std::string_view name) {
  return ParseIn<AuditOutcome>(kAuditOutcomeNames, name, "outcome must be ok or failed",
                               "outcome");
}

const char* TokenPurposeName(TokenPurpose purpose) { return NameIn(kTokenPurposeNames, purpose); }

Result<TokenPurpose> ParseTokenPurpose(std::string_view name) {
  return ParseIn<TokenPurpose>(kTokenPurposeNames, name,
                               "purpose must be password_reset or email_verification", "purpose");
}

const char* KeyPurposeName(KeyPurpose purpose) { return NameIn(kKeyPurposeNames, purpose); }

Result<KeyPurpose> ParseKeyPurpose(std::string_view name) {
  return ParseIn<KeyPurpose>(kKeyPurposeNames, name, "purpose must be access or identity",
                             "purpose");
}

}  // namespace assistant
