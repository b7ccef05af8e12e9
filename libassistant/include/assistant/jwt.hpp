// File: assistant/jwt.hpp
//
// JSON Web Tokens with a key ring: HS256 (one shared secret) or EdDSA
// (Ed25519 key pairs; several live at once during a rotation, each with a
// `kid`, the public halves published as a JWKS document). Only the ring's
// configured algorithm is accepted; `alg` is never taken from the token.
// Built on OpenSSL's EVP API.
//
// Thread safety: a KeyRing is safe for concurrent Sign/Verify/Jwks; Rotate
// may run concurrently with them.
//
// Example:
//   auto ring = assistant::KeyRing::LoadOrCreateEd25519("/var/lib/assistant/keys");
//   auto token = (*ring)->Sign({{"sub", user_id}, {"exp", now + 900}});
//   auto claims = (*ring)->Verify(*token, {.issuer = "me", .audience = "me"});
#ifndef ASSISTANT_JWT_HPP_
#define ASSISTANT_JWT_HPP_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "assistant/clock.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

enum class JwtAlgorithm { kHS256, kEdDSA };

// "HS256" / "EdDSA"; parsing is exact.
const char* JwtAlgorithmName(JwtAlgorithm alg);
Result<JwtAlgorithm> ParseJwtAlgorithm(std::string_view name);

struct JwtVerifyOptions {
  std::string issuer;    // required `iss`; empty = not checked
  std::string audience;  // required in `aud` (string or array); empty = not checked
  Timestamp now{};       // the time to check exp/nbf against; unset: the ring's clock
  std::chrono::seconds leeway{0};
};

// Every ring reads the time from the `clock` it is made with (the system
// clock by default; it must outlive the ring): Verify's `now` when unset,
// and the creation time that orders a directory's key files.
class KeyRing {
 public:
  virtual ~KeyRing() = default;

  // An HS256 ring. `secret` must be at least 1 byte (the caller enforces
  // stronger minimums in production). The kid is derived from the secret.
  static Result<std::unique_ptr<KeyRing>> Hs256(std::string secret,
                                                Clock& clock = *Clock::Default());
  // An EdDSA ring from `dir`: every `*.pem` private key there verifies, the
  // newest signs. Creates the directory (0700) and a first key (0600) when
  // empty.
  static Result<std::unique_ptr<KeyRing>> LoadOrCreateEd25519(const std::string& dir,
                                                              Clock& clock = *Clock::Default());
  // An EdDSA ring held only in memory with one fresh key.
  static Result<std::unique_ptr<KeyRing>> EphemeralEd25519(Clock& clock = *Clock::Default());
  // A verify-only EdDSA ring from a JWKS document ({"keys":[...]}, as
  // Jwks() makes): its Ed25519 keys verify, keeping their `kid`; other key
  // types are skipped. Sign, Rotate and Retire fail with FailedPrecondition.
  // InvalidArgument ("jwks") when the document is malformed.
  static Result<std::unique_ptr<KeyRing>> FromJwks(const Json& jwks,
                                                   Clock& clock = *Clock::Default());

  virtual JwtAlgorithm algorithm() const = 0;
  // Signs `claims` with the current key; the header carries alg, typ, kid.
  virtual Result<std::string> Sign(const Json& claims) const = 0;
  // Verifies structure, header alg (must equal the ring's), kid, signature,
  // then exp (required), nbf, iss and aud. Unauthenticated with reason
  // "invalid_token" (or "token_expired") on any failure.
  virtual Result<Json> Verify(std::string_view token,
                              const JwtVerifyOptions& options) const = 0;
  // {"keys":[...]} with the public keys (EdDSA); an empty list for HS256.
  virtual Json Jwks() const = 0;
  // EdDSA: makes a new signing key (persisted when the ring has a dir);
  // older keys keep verifying. Unimplemented for HS256.
  virtual Status Rotate() = 0;
  // EdDSA: forgets a retired key so tokens it signed stop verifying.
  virtual Status Retire(const std::string& kid) = 0;
};

}  // namespace assistant

#endif  // ASSISTANT_JWT_HPP_
