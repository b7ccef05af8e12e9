// File: assistant/identity_token.hpp
//
// The token an app receives as X-Assistant-Identity (docs/apps.md "The
// identity token"): EdDSA-signed with the identity key that
// /.well-known/jwks.json publishes, claims iss, sub, aud (the app id), iat,
// exp (60 s later), jti and scope (the caller's scopes that are also the
// app's, space-separated; may be ""). The servers issue it through
// AuthService::IssueIdentityToken; assistant-gateway signs it with the same
// key (docs/gateway.md), so an app checks both the same way.
//
// Thread safety: SignIdentityToken is a pure function; KeyRing::Sign is
// safe concurrently, also on the ring OpenIdentityKeyRing returns.
#ifndef ASSISTANT_IDENTITY_TOKEN_HPP_
#define ASSISTANT_IDENTITY_TOKEN_HPP_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "assistant/jwt.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

// How long an identity token lives (its exp is iat + this).
inline constexpr std::chrono::seconds kIdentityTokenTtl{60};

// Unauthenticated for a principal without a user, InvalidArgument ("app_id")
// for an app id that is not a safe name.
Result<std::string> SignIdentityToken(const KeyRing& ring, const std::string& issuer,
                                      const Principal& principal, const std::string& app_id,
                                      const std::vector<std::string>& app_scopes, Timestamp now);

// The identity key of the servers on `database_url`, stored there sealed
// under their JWT secret (docs/storage.md "Signing keys"), opened read-only
// for a process that signs identity tokens for them (assistant-gateway):
// it follows their rotations by itself and never makes, deletes or rotates
// a key. FailedPrecondition, reason "no_signing_key", when the database
// holds no identity key this secret opens: a key of its own would sign
// tokens no app can check against the servers' JWKS. The database is
// opened without migrating (StorageOptions::migrate): a schema version other
// than this build's is FailedPrecondition "schema_outdated" or
// "schema_too_new" naming both. Storage errors as OpenStorage reports them,
// with field "database".
Result<std::unique_ptr<KeyRing>> OpenIdentityKeyRing(const std::string& database_url,
                                                     std::string jwt_secret);

}  // namespace assistant

#endif  // ASSISTANT_IDENTITY_TOKEN_HPP_
