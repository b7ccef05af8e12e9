#include "services/audit_log.hpp"

#include <cstdio>
#include <utility>

namespace assistant {

void AuditLog::Record(const std::string& user_id, const std::string& type, bool ok,
                      const RequestContext& ctx, Json details) {
  AuditEvent e = Make(user_id, type, ok, ctx, std::move(details));
  Status s = storage_.AppendAudit(e);
  if (!s.ok()) {
    std::fprintf(stderr, "audit: could not record %s: %s\n", type.c_str(),
                 s.ToString().c_str());
  }
}

AuditEvent AuditLog::Make(const std::string& user_id, const std::string& type, bool ok,
                          const RequestContext& ctx, Json details) {
  AuditEvent e;
  e.id = NewId();
  e.user_id = user_id;
  e.type = type;
  e.outcome = ok ? "ok" : "failed";
  e.ip = ctx.ip;
  e.user_agent = ctx.user_agent;
  e.request_id = ctx.request_id;
  e.details = details.is_object() ? std::move(details) : Json::object();
  e.created_at = clock_.Now();
  return e;
}

}  // namespace assistant
