// The audit log writer shared by auth, users and the agent (the AuditEvent
// of docs/http-api.md; docs/architecture.md "What an embedder plugs in"). Record never fails the operation being audited: a storage error
// goes to the logger without the details and is otherwise ignored. An
// action whose row must exist with it writes the row in the action's
// transaction instead (Make, then Storage::InTransaction with AppendAudit,
// or Storage::CreateSession or FinishRun).
#ifndef ASSISTANT_SRC_SERVICES_AUDIT_LOG_HPP_
#define ASSISTANT_SRC_SERVICES_AUDIT_LOG_HPP_

#include <string>

#include "assistant/logger.hpp"
#include "assistant/clock.hpp"
#include "assistant/storage.hpp"
#include "assistant/types.hpp"

namespace assistant {

class AuditLog {
 public:
  // `logger` null: lines are dropped.
  AuditLog(Storage& storage, Clock& clock, Logger* logger = nullptr);
  // `details` must hold no secret.
  void Record(const std::string& user_id, const std::string& type, bool ok,
              const RequestContext& ctx, Json details = Json::object());
  // The event Record would write, for a caller that writes it together
  // with other changes (Storage::FinishRun).
  AuditEvent Make(const std::string& user_id, const std::string& type, bool ok,
                  const RequestContext& ctx, Json details = Json::object());

 private:
  Storage& storage_;
  Clock& clock_;
  std::shared_ptr<Logger> null_;  // when no logger was given
  Logger& logger_;

 public:
  // The core's logger (Options::logger), for the services that share this log.
  Logger& logger() { return logger_; }
};

}  // namespace assistant

#endif  // ASSISTANT_SRC_SERVICES_AUDIT_LOG_HPP_
