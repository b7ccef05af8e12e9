// File: assistant/auth.hpp
//
// Users' credentials: registration, login, refresh-token rotation with reuse
// detection and a grace window, sessions, API keys, password reset and email
// verification, and turning a presented credential into a Principal.
//
// Passwords are hashed with Argon2id in a bounded pool; imported bcrypt
// hashes verify and are re-hashed at the next login. Every secret (refresh
// token, API key, one-time token) is stored as a SHA-256 hash only and
// compared in constant time.
//
// Thread safety: every method is safe to call from many threads at once.
//
// Example:
//   auto r = core->auth().Register({"ann@example.com", "correct horse", "Ann"}, ctx);
//   auto p = core->auth().Authenticate(r->tokens.access_token);
#ifndef ASSISTANT_AUTH_HPP_
#define ASSISTANT_AUTH_HPP_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

struct TokenPair {
  std::string access_token;
  std::string refresh_token;
  std::string token_type = "Bearer";
  int64_t expires_in = 0;  // seconds until the access token expires
  std::string session_id;
};

struct AuthResult {
  User user;
  TokenPair tokens;
};

struct RegisterInput {
  std::string email;
  std::string password;
  std::string name;
};

struct ApiKeyInput {
  std::string name;
  std::vector<std::string> scopes;
  std::optional<int64_t> expires_in;  // seconds; nullopt = never expires
};

struct CreatedApiKey {
  ApiKey api_key;
  std::string key;  // the only time the whole key is available
};

// What GET /api/auth/verify answers.
struct Verification {
  Principal principal;
  User user;
  Json claims;  // the token's claims; for API keys a synthesised equivalent
};

// Every scope an API key may hold, in their documented order.
const std::vector<std::string>& KnownScopes();

class AuthService {
 public:
  virtual ~AuthService() = default;

  // 201-style: a new user with a first session. InvalidArgument (field
  // "email" / "password" / "name"), AlreadyExists (reason "email_taken").
  virtual Result<AuthResult> Register(const RegisterInput& input,
                                      const RequestContext& ctx) = 0;
  // Unauthenticated (reason "invalid_credentials") for a wrong email or a
  // wrong password alike, in the same time.
  virtual Result<AuthResult> Login(const std::string& email,
                                   const std::string& password,
                                   const RequestContext& ctx) = 0;
  // Rotates: the presented token is used up and a new pair returned. A
  // second use within the grace window returns the identical pair; after it,
  // the session is revoked (Unauthenticated, reason "refresh_token_reused").
  virtual Result<AuthResult> Refresh(const std::string& refresh_token,
                                     const RequestContext& ctx) = 0;
  // Revokes the principal's session. FailedPrecondition (reason
  // "not_a_session") for an API key.
  virtual Status Logout(const Principal& principal, const RequestContext& ctx) = 0;

  // Turns "Bearer" credentials (access token or `ak_` API key) into a
  // Principal: signature, expiry, audience, and a live session / key.
  // Unauthenticated (reason "invalid_token") otherwise.
  virtual Result<Principal> Authenticate(std::string_view credential) = 0;
  // Authenticate's answer when this instance can give it from memory alone:
  // the access token was verified before and its session checked within
  // AuthOptions::session_cache_ttl (an empty or oversized credential is
  // refused too). nullopt when the answer needs storage or a signature
  // check (an API key, a token or session not seen lately): call
  // Authenticate then. For a caller on an event loop, which must not block.
  virtual std::optional<Result<Principal>> AuthenticateCached(std::string_view credential) = 0;
  // Authenticate plus the user and claims.
  virtual Result<Verification> Verify(std::string_view credential) = 0;

  // Needs user:read; revoke needs user:write.
  virtual Result<std::vector<Session>> ListSessions(const Principal& principal) = 0;
  virtual Status RevokeSession(const Principal& principal,
                               const std::string& session_id,
                               const RequestContext& ctx) = 0;

  // Needs `keys`. A key never creates a key broader than itself
  // (PermissionDenied). Unknown scopes are InvalidArgument (field "scopes").
  virtual Result<CreatedApiKey> CreateApiKey(const Principal& principal,
                                             const ApiKeyInput& input,
                                             const RequestContext& ctx) = 0;
  virtual Result<std::vector<ApiKey>> ListApiKeys(const Principal& principal) = 0;
  virtual Status RevokeApiKey(const Principal& principal, const std::string& id,
                              const RequestContext& ctx) = 0;

  // Always OK whether or not the email exists, taking the same time; mails
  // a single-use token when it does.
  virtual Status ForgotPassword(const std::string& email,
                                const RequestContext& ctx) = 0;
  // Sets the password and revokes every session. Unauthenticated (reason
  // "invalid_token") for an unknown, used or expired token.
  virtual Status ResetPassword(const std::string& token,
                               const std::string& new_password,
                               const RequestContext& ctx) = 0;
  virtual Status SendVerificationEmail(const Principal& principal,
                                       const RequestContext& ctx) = 0;
  virtual Status VerifyEmail(const std::string& token, const RequestContext& ctx) = 0;

  // The JWKS document: access-token keys in EdDSA mode plus the identity key.
  virtual Json Jwks() const = 0;
  // Makes new signing keys (docs/storage.md "Signing keys"): the identity
  // key, and the access-token key in EdDSA mode. They are stored, so every
  // instance on the same storage trusts them at once and signs with them
  // within AuthOptions::signing_key_reload; older keys verify until the
  // tokens they signed have expired. Returns the new kids. FailedPrecondition
  // ("signing_key") when keys are not stored (no JWT secret to seal them
  // with). An HS256 secret is not rotated here: it is the operator's file.
  virtual Result<std::vector<std::string>> RotateSigningKeys() = 0;
  // A 60-second EdDSA token for app `app_id` (docs/apps.md "The identity token").
  virtual Result<std::string> IssueIdentityToken(
      const Principal& principal, const std::string& app_id,
      const std::vector<std::string>& app_scopes) = 0;
};

}  // namespace assistant

#endif  // ASSISTANT_AUTH_HPP_
