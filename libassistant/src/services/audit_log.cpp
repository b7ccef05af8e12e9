#include "services/audit_log.hpp"

#include <utility>

namespace assistant {

AuditLog::AuditLog(Storage& storage, Clock& clock, Logger* logger)
    : storage_(storage), clock_(clock), null_(logger ? nullptr : NewNullLogger()),
      logger_(logger ? *logger : *null_) {}

void AuditLog::Record(const std::string& user_id, const std::string& type, bool ok,
                      const RequestContext& ctx, Json details) {
  AuditEvent e = Make(user_id, type, ok, ctx, std::move(details));
  Status s = storage_.AppendAudit(e);
  if (!s.ok()) {
    logger_.Log(LogLevel::kError, "audit: could not record an event",
                {{"type", type}, {"cause", s.ToString()}});
  }
}

AuditEvent AuditLog::Make(const std::string& user_id, const std::string& type, bool ok,
                          const RequestContext& ctx, Json details) {
  AuditEvent e;
  e.id = NewId();
  e.user_id = user_id;
  e.type = type;
  e.outcome = ok ? AuditOutcome::kOk : AuditOutcome::kFailed;
  e.ip = ctx.ip;
  e.user_agent = ctx.user_agent;
  e.request_id = ctx.request_id;
  e.details = details.is_object() ? std::move(details) : Json::object();
  e.created_at = clock_.Now();
  return e;
}

}  // namespace assistant
