#include "assistant/identity_token.hpp"

#include <algorithm>
#include <chrono>

#include "crypto/crypto_util.hpp"
#include "services/service_util.hpp"

namespace assistant {

Result<std::string> SignIdentityToken(const KeyRing& ring, const std::string& issuer,
                                      const Principal& principal, const std::string& app_id,
                                      const std::vector<std::string>& app_scopes, Timestamp now) {
  if (principal.user_id.empty()) return UnauthenticatedError("authentication required");
  if (!services::IsSafeName(app_id)) return InvalidArgumentError("invalid app id", "app_id");
  std::string scope;
  std::vector<std::string> granted;
  for (const std::string& s : app_scopes) {
    if (!principal.HasScope(s) || std::find(granted.begin(), granted.end(), s) != granted.end()) {
      continue;
    }
    granted.push_back(s);
    if (!scope.empty()) scope += ' ';
    scope += s;
  }
  const int64_t ms = ToUnixMillis(now);
  const int64_t iat = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  Json claims = {{"iss", issuer},
                 {"sub", principal.user_id},
                 {"aud", app_id},
                 {"iat", iat},
                 {"exp", iat + kIdentityTokenTtl.count()},
                 {"jti", crypto::RandomToken(16)},
                 {"scope", scope}};
  return ring.Sign(claims);
}

}  // namespace assistant
