// Factory of the AuthService implementation, used by Assistant::Open.
#ifndef ASSISTANT_SRC_AUTH_AUTH_SERVICE_IMPL_HPP_
#define ASSISTANT_SRC_AUTH_AUTH_SERVICE_IMPL_HPP_

#include <functional>
#include <memory>

#include "assistant/auth.hpp"
#include "assistant/clock.hpp"
#include "assistant/mailer.hpp"
#include "assistant/options.hpp"
#include "assistant/storage.hpp"
#include "services/audit_log.hpp"

namespace assistant {

struct AuthDeps {
  std::shared_ptr<Storage> storage;  // required
  Clock* clock = nullptr;            // required; outlives the service
  std::shared_ptr<Mailer> mailer;    // required
  AuditLog* audit = nullptr;         // required; outlives the service
  AuthOptions options;
  // Called with "access" or "identity" when a signing key stored in the
  // database was made fresh at open (assistant_core.cpp warns of it).
  std::function<void(const std::string& purpose)> on_new_signing_key;
};

// The auth service as the core wires it: AuthService plus the hook other
// services call when they end a user's sessions behind its back.
class AuthServiceInternal : public AuthService {
 public:
  // Drops every cached "session is live" answer of `user_id`, so an account
  // deleted by UserService::DeleteMe stops authenticating at once.
  virtual void ForgetUser(const std::string& user_id) = 0;
};

// InvalidArgument for unusable options (HS256 with an empty secret, an
// unreadable key dir, Argon2 costs below m=19456 KiB/t=2/p=1 are allowed
// only when explicitly lowered for tests: no floor is enforced here).
Result<std::unique_ptr<AuthServiceInternal>> NewAuthService(AuthDeps deps);

}  // namespace assistant

#endif  // ASSISTANT_SRC_AUTH_AUTH_SERVICE_IMPL_HPP_
