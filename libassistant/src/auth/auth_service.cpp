// AuthService: registration, login, refresh-token rotation with a stateless
// grace window, sessions, API keys, password reset, email verification and
// the credential check every request goes through.
//
// Refresh grace without shared state: the successor of a refresh token is
// derived from it (an HMAC under a key every server shares), and the access
// token issued with it depends only on the session and the rotation time
// stored with the used token. Both signature schemes are deterministic, so a
// second presentation within the window recomputes the identical pair on any
// server of the same database.

#include <openssl/crypto.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "assistant/identity_token.hpp"
#include "assistant/settings.hpp"
#include "auth/auth_service_impl.hpp"
#include "auth/stored_key_ring.hpp"
#include "common/text.hpp"
#include "crypto/base64url.hpp"
#include "crypto/crypto_util.hpp"
#include "crypto/password_hasher.hpp"
#include "services/service_util.hpp"

namespace assistant {

namespace {

constexpr size_t kMaxCredentialBytes = 8 * 1024;
constexpr size_t kMaxOpaqueTokenBytes = 512;
constexpr char kRefreshPrefix[] = "rt_";
constexpr char kApiKeyPrefix[] = "ak_";
constexpr size_t kApiKeyShownPrefix = 10;
constexpr size_t kSecretBytes = 32;
constexpr auto kTouchInterval = std::chrono::minutes(1);
constexpr int64_t kMaxApiKeyLifetimeSeconds = 10LL * 366 * 24 * 3600;
constexpr size_t kMaxCacheEntries = 100000;
constexpr char kDerivationFile[] = "refresh-derivation.key";

Status InvalidToken(std::string message = "invalid or expired credential") {
  return UnauthenticatedError(std::move(message), "invalid_token");
}
Status InvalidCredentials() {
  return UnauthenticatedError("invalid email or password", "invalid_credentials");
}

int64_t Seconds(Timestamp t) {
  int64_t ms = ToUnixMillis(t);
  return ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::set<std::string> SplitScopes(std::string_view s) {
  std::set<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.emplace(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

template <typename C>
std::string JoinScopes(const C& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

// Signature checks dominate Authenticate in EdDSA mode (~130 us for Ed25519
// here): a token already verified is remembered until its exp, for at most
// kVerifiedTokenTtl so a retired signing key stops being honoured soon.
// Session liveness is still checked on every use.
constexpr auto kVerifiedTokenTtl = std::chrono::seconds(60);
constexpr size_t kMaxVerifiedTokens = 20000;

// A verified token's claims, and the principal they name when they are an
// access token's (sub and sid present): parsed once per token, not per use.
struct VerifiedClaims {
  Json claims;
  std::optional<Principal> principal;  // nullopt: not an access token
};

struct VerifiedToken {
  std::shared_ptr<const VerifiedClaims> verified;
  Timestamp expires_at{};
  Timestamp verified_at{};
};

struct SessionCacheEntry {
  bool live = false;
  std::string user_id;
  Timestamp checked_at{};
};

// What Authenticate found, with the claims Verify reports (shared with the
// verified-token cache: Authenticate itself never copies them).
struct Authenticated {
  Principal principal;
  std::shared_ptr<const Json> claims;
};

// Hashes std::string keys and std::string_view probes alike, so a cache
// lookup by the presented credential copies nothing.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class AuthServiceImpl final : public AuthServiceInternal {
 public:
  AuthServiceImpl(AuthDeps deps, std::unique_ptr<KeyRing> access_ring,
                  std::unique_ptr<KeyRing> identity_ring, bool keys_stored,
                  std::unique_ptr<crypto::PasswordHasher> hasher, std::string derivation_key,
                  std::string dummy_hash)
      : storage_(std::move(deps.storage)),
        clock_(*deps.clock),
        mailer_(std::move(deps.mailer)),
        audit_(*deps.audit),
        options_(std::move(deps.options)),
        access_ring_(std::move(access_ring)),
        identity_ring_(std::move(identity_ring)),
        keys_stored_(keys_stored),
        hasher_(std::move(hasher)),
        derivation_key_(std::move(derivation_key)),
        dummy_hash_(std::move(dummy_hash)) {}

  ~AuthServiceImpl() override {
    OPENSSL_cleanse(derivation_key_.data(), derivation_key_.size());
  }

  // ------------------------------------------------------------ register / login

  Result<AuthResult> Register(const RegisterInput& input, const RequestContext& ctx) override {
    ASSISTANT_ASSIGN_OR_RETURN(std::string email, CleanEmail(input.email));
    ASSISTANT_ASSIGN_OR_RETURN(std::string name,
                               text::CleanText(input.name, "name", 0, 200, false));
    ASSISTANT_RETURN_IF_ERROR(crypto::ValidatePassword(input.password));
    ASSISTANT_ASSIGN_OR_RETURN(std::string hash, hasher_->Hash(input.password));
    Timestamp now = Now();
    UserRecord rec;
    rec.user.id = NewId();
    rec.user.email = email;
    rec.user.name = name;
    rec.user.created_at = now;
    rec.user.updated_at = now;
    rec.password_hash = std::move(hash);
    Status s = storage_->CreateUser(rec);
    if (IsAlreadyExists(s)) {
      return AlreadyExistsError("an account with this email already exists", "email_taken");
    }
    ASSISTANT_RETURN_IF_ERROR(s);
    ASSISTANT_ASSIGN_OR_RETURN(TokenPair tokens,
                               StartSession(rec.user.id, now, ctx, "user.registered"));
    return AuthResult{rec.user, std::move(tokens)};
  }

  Result<AuthResult> Login(const std::string& email, const std::string& password,
                           const RequestContext& ctx) override {
    // Whatever the outcome, one password verification runs, so the time
    // does not tell whether the account exists.
    std::string norm = email.size() <= 1024 ? text::NormalizeEmail(email) : std::string();
    Result<UserRecord> rec = norm.empty() ? Result<UserRecord>(NotFoundError("no such user"))
                                          : storage_->GetUserByEmail(norm);
    if (!rec.ok() && !IsNotFound(rec.status())) return rec.status();
    if (password.size() > 4 * 1024) {
      // No legitimate password is this long; refuse without hashing it.
      if (rec.ok()) {
        audit_.Record(rec->user.id, "auth.login", false, ctx, {{"reason", "bad_password"}});
      }
      return InvalidCredentials();
    }
    const std::string& stored = rec.ok() ? rec->password_hash : dummy_hash_;
    ASSISTANT_ASSIGN_OR_RETURN(bool match, hasher_->Verify(password, stored));
    if (!rec.ok()) {
      audit_.Record("", "auth.login", false, ctx, {{"reason", "unknown_account"}});
      return InvalidCredentials();
    }
    if (!match) {
      audit_.Record(rec->user.id, "auth.login", false, ctx, {{"reason", "bad_password"}});
      return InvalidCredentials();
    }
    UserRecord user = std::move(rec).value();
    if (hasher_->NeedsRehash(user.password_hash)) {
      // Upgrade imported bcrypt or weaker Argon2 hashes now that the
      // password is known. Failure (busy pool) only postpones it.
      Result<std::string> upgraded = hasher_->Hash(password);
      if (upgraded.ok()) {
        user.password_hash = std::move(upgraded).value();
        Status s = storage_->UpdateUser(user);
        if (!s.ok()) {
          audit_.logger().Log(LogLevel::kWarning, "auth: could not upgrade a password hash",
                              {{"cause", s.ToString()}});
        }
      }
    }
    Timestamp now = Now();
    ASSISTANT_ASSIGN_OR_RETURN(TokenPair tokens,
                               StartSession(user.user.id, now, ctx, "auth.login"));
    return AuthResult{user.user, std::move(tokens)};
  }

  // ------------------------------------------------------------ refresh

  Result<AuthResult> Refresh(const std::string& refresh_token,
                             const RequestContext& ctx) override {
    // "rt_<session id>.<secret>": the session id lets us check the session
    // and build the successor record before the atomic rotation.
    if (refresh_token.size() > kMaxOpaqueTokenBytes || !StartsWith(refresh_token, kRefreshPrefix)) {
      return InvalidToken("invalid refresh token");
    }
    size_t dot = refresh_token.find('.');
    if (dot == std::string::npos || dot <= 3 || dot + 1 >= refresh_token.size()) {
      return InvalidToken("invalid refresh token");
    }
    std::string session_id = refresh_token.substr(3, dot - 3);
    Result<Session> session = storage_->GetSession(session_id);
    if (IsNotFound(session.status())) return InvalidToken("invalid refresh token");
    ASSISTANT_RETURN_IF_ERROR(session.status());
    Timestamp now = Now();
    if (session->revoked_at || session->expires_at <= now) {
      return InvalidToken("the session has ended");
    }
    RefreshToken successor;
    std::string successor_token = SuccessorOf(refresh_token, session_id);
    successor.token_hash = crypto::Sha256Hex(successor_token);
    successor.session_id = session_id;
    successor.user_id = session->user_id;
    successor.created_at = now;
    successor.expires_at = session->expires_at;  // the family's fixed lifetime
    // The rotation commits with its audit row, or not at all. A token of
    // another session or an expired one fails the body, so nothing rotates.
    RefreshRotation rotation;
    Status rotated = storage_->InTransaction([&]() -> Status {
      ASSISTANT_ASSIGN_OR_RETURN(rotation,
                                 Rotate(crypto::Sha256Hex(refresh_token), successor, now));
      if (!rotation.presented.token_hash.empty() &&
          rotation.presented.session_id != session_id) {
        return InvalidToken("invalid refresh token");
      }
      if (rotation.presented.expires_at <= now) return InvalidToken("refresh token expired");
      if (!rotation.rotated) return Status();
      return storage_->AppendAudit(
          audit_.Make(session->user_id, "auth.refresh", true, ctx, {{"session_id", session_id}}));
    });
    ASSISTANT_RETURN_IF_ERROR(rotated);
    Timestamp used_at = rotation.rotated ? now : rotation.presented.used_at.value_or(now);
    if (!rotation.rotated) {
      const auto age = now - used_at;
      const bool in_grace = options_.refresh_grace.count() > 0 &&
                            age >= Timestamp::duration::zero() && age <= options_.refresh_grace;
      if (!in_grace) {
        // A used token presented again: someone holds a copy. End the family,
        // with its audit row.
        Status s = storage_->InTransaction([&]() -> Status {
          Status revoked = storage_->RevokeSession(session->user_id, session_id, now);
          if (!revoked.ok() && !IsNotFound(revoked)) return revoked;
          return storage_->AppendAudit(
              audit_.Make(session->user_id, "auth.refresh", false, ctx,
                          {{"reason", "reuse"}, {"session_id", session_id}}));
        });
        ForgetSessions(session->user_id, session_id);
        ASSISTANT_RETURN_IF_ERROR(s);
        return UnauthenticatedError("refresh token already used; the session was revoked",
                                    "refresh_token_reused");
      }
    }
    Result<UserRecord> user = storage_->GetUserById(session->user_id);
    if (IsNotFound(user.status())) return InvalidToken("the session has ended");
    ASSISTANT_RETURN_IF_ERROR(user.status());
    AuthResult out;
    out.user = user->user;
    ASSISTANT_ASSIGN_OR_RETURN(out.tokens.access_token,
                               RotationAccessToken(session->user_id, session_id, used_at));
    out.tokens.refresh_token = std::move(successor_token);
    out.tokens.expires_in = options_.access_token_ttl.count();
    out.tokens.session_id = session_id;
    if (rotation.rotated) {
      storage_->TouchSession(session_id, now).IgnoreError();
    } else {
      // Nothing else is written for a retry in the grace window: its row alone.
      ASSISTANT_RETURN_IF_ERROR(storage_->AppendAudit(
          audit_.Make(session->user_id, "auth.refresh", true, ctx,
                      {{"session_id", session_id}, {"grace", true}})));
    }
    return out;
  }

  Status Logout(const Principal& principal, const RequestContext& ctx) override {
    if (principal.kind != Principal::Kind::kUser || principal.session_id.empty()) {
      return FailedPreconditionError("this credential is not a session", "not_a_session");
    }
    Status s = storage_->InTransaction([&]() -> Status {
      ASSISTANT_RETURN_IF_ERROR(
          storage_->RevokeSession(principal.user_id, principal.session_id, Now()));
      return storage_->AppendAudit(audit_.Make(principal.user_id, "auth.logout", true, ctx,
                                               {{"session_id", principal.session_id}}));
    });
    ForgetSessions(principal.user_id, principal.session_id);
    if (IsNotFound(s)) return InvalidToken("the session has ended");
    return s;
  }

  // ------------------------------------------------------------ credentials

  Result<Principal> Authenticate(std::string_view credential) override {
    ASSISTANT_ASSIGN_OR_RETURN(Authenticated a, AuthenticateImpl(credential));
    return std::move(a.principal);
  }

  // AuthenticateImpl's answer when the caches hold it; nullopt where it
  // would read storage or check a signature.
  std::optional<Result<Principal>> AuthenticateCached(std::string_view credential) override {
    if (credential.empty() || credential.size() > kMaxCredentialBytes) {
      return Result<Principal>(InvalidToken());
    }
    if (StartsWith(credential, kApiKeyPrefix)) return std::nullopt;
    const Timestamp now = Now();
    std::shared_ptr<const VerifiedClaims> verified = VerifiedFromCache(credential, now);
    if (!verified) return std::nullopt;
    if (!verified->principal) return Result<Principal>(InvalidToken());
    const Principal& principal = *verified->principal;
    std::optional<bool> live = SessionLiveFromCache(principal.user_id, principal.session_id, now);
    if (!live) return std::nullopt;
    if (!*live) return Result<Principal>(InvalidToken("the session has ended"));
    return Result<Principal>(principal);
  }

  Result<Verification> Verify(std::string_view credential) override {
    ASSISTANT_ASSIGN_OR_RETURN(Authenticated a, AuthenticateImpl(credential));
    Result<UserRecord> user = storage_->GetUserById(a.principal.user_id);
    if (IsNotFound(user.status())) return InvalidToken();
    ASSISTANT_RETURN_IF_ERROR(user.status());
    return Verification{std::move(a.principal), user->user, *a.claims};
  }

  // ------------------------------------------------------------ sessions

  Result<std::vector<Session>> ListSessions(const Principal& principal) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(principal, "user:read"));
    return storage_->ListSessions(principal.user_id, Now());
  }

  Status RevokeSession(const Principal& principal, const std::string& session_id,
                       const RequestContext& ctx) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(principal, "user:write"));
    if (session_id.empty() || session_id.size() > 128) return NotFoundError("session not found");
    Status s = storage_->InTransaction([&]() -> Status {
      ASSISTANT_RETURN_IF_ERROR(storage_->RevokeSession(principal.user_id, session_id, Now()));
      return storage_->AppendAudit(audit_.Make(principal.user_id, "session.revoked", true, ctx,
                                               {{"session_id", session_id}}));
    });
    if (IsNotFound(s)) return NotFoundError("session not found");
    ASSISTANT_RETURN_IF_ERROR(s);
    ForgetSessions(principal.user_id, session_id);
    return Status();
  }

  // ------------------------------------------------------------ API keys

  Result<CreatedApiKey> CreateApiKey(const Principal& principal, const ApiKeyInput& input,
                                     const RequestContext& ctx) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(principal, "keys"));
    ASSISTANT_ASSIGN_OR_RETURN(std::string name,
                               text::CleanText(input.name, "name", 1, 100, false));
    if (input.scopes.empty()) {
      return InvalidArgumentError("an API key needs at least one scope", "scopes");
    }
    std::vector<std::string> scopes;
    for (const std::string& s : KnownScopes()) {  // canonical order, no duplicates
      if (std::find(input.scopes.begin(), input.scopes.end(), s) != input.scopes.end()) {
        scopes.push_back(s);
      }
    }
    for (const std::string& s : input.scopes) {
      if (std::find(scopes.begin(), scopes.end(), s) == scopes.end()) {
        return InvalidArgumentError("unknown scope: " + s.substr(0, 64), "scopes");
      }
    }
    for (const std::string& s : scopes) {
      if (!principal.HasScope(s)) {
        return PermissionDeniedError("a key cannot grant the scope " + s + " it does not hold");
      }
    }
    Timestamp now = Now();
    ApiKey key;
    if (input.expires_in) {
      if (*input.expires_in <= 0 || *input.expires_in > kMaxApiKeyLifetimeSeconds) {
        return InvalidArgumentError("expires_in must be a positive number of seconds (at most 10 years)",
                                    "expires_in");
      }
      key.expires_at = now + std::chrono::seconds(*input.expires_in);
    }
    std::string secret = kApiKeyPrefix + crypto::RandomToken(kSecretBytes);
    key.id = NewId();
    key.user_id = principal.user_id;
    key.name = std::move(name);
    key.prefix = secret.substr(0, kApiKeyShownPrefix);
    key.key_hash = crypto::Sha256Hex(secret);
    key.scopes = std::move(scopes);
    key.created_at = now;
    ASSISTANT_RETURN_IF_ERROR(storage_->InTransaction([&]() -> Status {
      ASSISTANT_RETURN_IF_ERROR(storage_->CreateApiKey(key));
      return storage_->AppendAudit(audit_.Make(principal.user_id, "apikey.created", true, ctx,
                                               {{"api_key_id", key.id}, {"scopes", key.scopes}}));
    }));
    return CreatedApiKey{std::move(key), std::move(secret)};
  }

  Result<std::vector<ApiKey>> ListApiKeys(const Principal& principal) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(principal, "keys"));
    return storage_->ListApiKeys(principal.user_id);
  }

  Status RevokeApiKey(const Principal& principal, const std::string& id,
                      const RequestContext& ctx) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(principal, "keys"));
    if (id.empty() || id.size() > 128) return NotFoundError("API key not found");
    Status s = storage_->InTransaction([&]() -> Status {
      ASSISTANT_RETURN_IF_ERROR(storage_->RevokeApiKey(principal.user_id, id, Now()));
      return storage_->AppendAudit(
          audit_.Make(principal.user_id, "apikey.revoked", true, ctx, {{"api_key_id", id}}));
    });
    if (IsNotFound(s)) return NotFoundError("API key not found");
    ASSISTANT_RETURN_IF_ERROR(s);
    {
      std::lock_guard<std::mutex> lock(touch_mu_);
      last_touch_.erase("k:" + id);
    }
    return Status();
  }

  // ------------------------------------------------------------ mail tokens

  Status ForgotPassword(const std::string& email, const RequestContext& ctx) override {
    ASSISTANT_ASSIGN_OR_RETURN(std::string norm, CleanEmail(email));
    // The token is made and hashed whether or not the account exists, so
    // the answer and its time say nothing about the address.
    std::string token = crypto::RandomToken(kSecretBytes);
    std::string token_hash = crypto::Sha256Hex(token);
    Result<UserRecord> rec = storage_->GetUserByEmail(norm);
    if (IsNotFound(rec.status())) return Status();
    ASSISTANT_RETURN_IF_ERROR(rec.status());
    Status s = IssueMailToken(rec->user, token, token_hash, TokenPurpose::kPasswordReset,
                              options_.password_reset_ttl);
    if (!s.ok()) {
      // Reporting the failure would reveal that the account exists.
      audit_.logger().Log(LogLevel::kError, "auth: could not send a password-reset mail",
                          {{"cause", s.ToString()}});
    }
    return Status();
  }

  Status ResetPassword(const std::string& token, const std::string& new_password,
                       const RequestContext& ctx) override {
    if (token.empty() || token.size() > kMaxOpaqueTokenBytes) return InvalidToken();
    ASSISTANT_RETURN_IF_ERROR(crypto::ValidatePassword(new_password));
    // Hash before consuming, so a busy pool does not burn the token.
    ASSISTANT_ASSIGN_OR_RETURN(std::string hash, hasher_->Hash(new_password));
    Timestamp now = Now();
    // The spent token, the new password, the ended sessions and the audit
    // row commit together: a failure leaves the token usable again.
    std::string user_id;
    Status s = storage_->InTransaction([&]() -> Status {
      Result<OneTimeToken> ott =
          storage_->ConsumeOneTimeToken(crypto::Sha256Hex(token), TokenPurpose::kPasswordReset, now);
      if (IsNotFound(ott.status())) return InvalidToken("invalid or expired reset token");
      ASSISTANT_RETURN_IF_ERROR(ott.status());
      Result<UserRecord> rec = storage_->GetUserById(ott->user_id);
      if (IsNotFound(rec.status())) return InvalidToken("invalid or expired reset token");
      ASSISTANT_RETURN_IF_ERROR(rec.status());
      user_id = rec->user.id;
      rec->password_hash = hash;
      rec->user.updated_at = now;
      ASSISTANT_RETURN_IF_ERROR(storage_->UpdateUser(*rec));
      ASSISTANT_ASSIGN_OR_RETURN(int revoked, storage_->RevokeAllSessions(user_id, now));
      return storage_->AppendAudit(audit_.Make(user_id, "auth.password_reset", true, ctx,
                                               {{"sessions_revoked", revoked}}));
    });
    if (!user_id.empty()) ForgetSessions(user_id, "");
    return s;
  }

  Status SendVerificationEmail(const Principal& principal, const RequestContext& ctx) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(principal, "user:write"));
    Result<UserRecord> rec = storage_->GetUserById(principal.user_id);
    ASSISTANT_RETURN_IF_ERROR(rec.status());
    if (rec->user.email_verified) {
      return FailedPreconditionError("the email address is already verified", "already_verified");
    }
    std::string token = crypto::RandomToken(kSecretBytes);
    return IssueMailToken(rec->user, token, crypto::Sha256Hex(token), TokenPurpose::kEmailVerification,
                          options_.email_verification_ttl);
  }

  Status VerifyEmail(const std::string& token, const RequestContext& ctx) override {
    if (token.empty() || token.size() > kMaxOpaqueTokenBytes) return InvalidToken();
    Timestamp now = Now();
    Result<OneTimeToken> ott =
        storage_->ConsumeOneTimeToken(crypto::Sha256Hex(token), TokenPurpose::kEmailVerification, now);
    if (IsNotFound(ott.status())) return InvalidToken("invalid or expired verification token");
    ASSISTANT_RETURN_IF_ERROR(ott.status());
    Result<UserRecord> rec = storage_->GetUserById(ott->user_id);
    if (IsNotFound(rec.status())) return InvalidToken("invalid or expired verification token");
    ASSISTANT_RETURN_IF_ERROR(rec.status());
    rec->user.email_verified = true;
    rec->user.updated_at = now;
    return storage_->UpdateUser(*rec);
  }

  // ------------------------------------------------------------ keys for others

  Json Jwks() const override {
    Json keys = Json::array();
    std::set<std::string> kids;
    for (const KeyRing* ring : {access_ring_.get(), identity_ring_.get()}) {
      Json doc = ring->Jwks();
      for (const Json& k : doc.value("keys", Json::array())) {
        // The same directory may hold both rings' keys: list each once.
        if (kids.insert(k.value("kid", "")).second) keys.push_back(k);
      }
    }
    return Json{{"keys", std::move(keys)}};
  }

  Result<std::vector<std::string>> RotateSigningKeys() override {
    if (!keys_stored_) {
      return FailedPreconditionError("signing keys are not stored (no JWT secret to seal them)",
                                     "signing_key");
    }
    std::vector<std::string> kids;
    for (KeyRing* ring : {identity_ring_.get(), access_ring_.get()}) {
      if (ring->algorithm() != JwtAlgorithm::kEdDSA) continue;
      ASSISTANT_RETURN_IF_ERROR(ring->Rotate());
      // The newest key is listed first.
      kids.push_back(ring->Jwks()["keys"][0]["kid"].get<std::string>());
    }
    return kids;
  }

  Result<std::string> IssueIdentityToken(const Principal& principal, const std::string& app_id,
                                         const std::vector<std::string>& app_scopes) override {
    return SignIdentityToken(*identity_ring_, options_.issuer, principal, app_id, app_scopes,
                             Now());
  }

 private:
  Timestamp Now() { return FromUnixMillis(ToUnixMillis(clock_.Now())); }

  Result<std::string> CleanEmail(const std::string& email) {
    ASSISTANT_ASSIGN_OR_RETURN(std::string cleaned, text::CleanText(email, "email", 1, 254, false));
    std::string norm = text::NormalizeEmail(cleaned);
    if (norm.empty()) return InvalidArgumentError("not a valid email address", "email");
    return norm;
  }

  // RotateRefreshToken answers NotFound for unknown tokens: the client sees
  // only "invalid".
  Result<RefreshRotation> Rotate(const std::string& hash, const RefreshToken& successor,
                                 Timestamp now) {
    Result<RefreshRotation> r = storage_->RotateRefreshToken(hash, successor, now);
    if (IsNotFound(r.status())) return InvalidToken("invalid refresh token");
    return r;
  }

  std::string NewRefreshToken(const std::string& session_id) {
    return kRefreshPrefix + session_id + "." + crypto::RandomToken(kSecretBytes);
  }

  std::string SuccessorOf(const std::string& presented, const std::string& session_id) {
    return kRefreshPrefix + session_id + "." +
           Base64UrlEncode(crypto::HmacSha256(derivation_key_, "successor\n" + presented));
  }

  Result<std::string> SignAccess(const std::string& user_id, const std::string& session_id,
                                 int64_t iat, std::string jti) {
    Json claims = {{"sub", user_id},
                   {"sid", session_id},
                   {"iat", iat},
                   {"exp", iat + options_.access_token_ttl.count()},
                   {"iss", options_.issuer},
                   {"aud", options_.audience},
                   {"scope", "*"},
                   {"jti", std::move(jti)}};
    return access_ring_->Sign(claims);
  }

  // The access token of a rotation depends only on (session, rotation
  // time), so the grace path can recompute it exactly.
  Result<std::string> RotationAccessToken(const std::string& user_id, const std::string& session_id,
                                          Timestamp used_at) {
    std::string jti = Base64UrlEncode(
        crypto::HmacSha256(derivation_key_, "jti\n" + session_id + "\n" +
                                                std::to_string(ToUnixMillis(used_at)))
            .substr(0, 16));
    return SignAccess(user_id, session_id, Seconds(used_at), std::move(jti));
  }

  // The session is written with its audit row (`audit_type`, ok), in one
  // transaction: when the row cannot be written, no session exists and the
  // login or registration fails.
  Result<TokenPair> StartSession(const std::string& user_id, Timestamp now,
                                 const RequestContext& ctx, const char* audit_type) {
    Session session;
    session.id = NewId();
    session.user_id = user_id;
    session.created_at = now;
    session.last_used_at = now;
    session.expires_at = now + options_.refresh_token_ttl;
    session.ip = ctx.ip;
    session.user_agent = ctx.user_agent.value_or("");
    TokenPair pair;
    pair.refresh_token = NewRefreshToken(session.id);
    RefreshToken first;
    first.token_hash = crypto::Sha256Hex(pair.refresh_token);
    first.session_id = session.id;
    first.user_id = user_id;
    first.created_at = now;
    first.expires_at = session.expires_at;
    ASSISTANT_RETURN_IF_ERROR(storage_->CreateSession(
        session, first,
        audit_.Make(user_id, audit_type, true, ctx, {{"session_id", session.id}})));
    ASSISTANT_ASSIGN_OR_RETURN(pair.access_token,
                               SignAccess(user_id, session.id, Seconds(now), crypto::RandomToken(16)));
    pair.expires_in = options_.access_token_ttl.count();
    pair.session_id = session.id;
    return pair;
  }

  Status IssueMailToken(const User& user, const std::string& token, const std::string& token_hash,
                        TokenPurpose purpose, std::chrono::seconds ttl) {
    Timestamp now = Now();
    OneTimeToken ott;
    ott.token_hash = token_hash;
    ott.user_id = user.id;
    ott.purpose = purpose;
    ott.created_at = now;
    ott.expires_at = now + ttl;
    ASSISTANT_RETURN_IF_ERROR(storage_->CreateOneTimeToken(ott));
    MailMessage m;
    m.to = user.email;
    m.kind = TokenPurposeName(purpose);
    m.token = token;
    const int64_t minutes = std::max<int64_t>(1, ttl.count() / 60);
    if (ott.purpose == TokenPurpose::kPasswordReset) {
      m.subject = "Reset your password";
      m.body = "Someone asked to reset the password of this account. If it was you, use this "
               "token to choose a new password:\n\n" + token +
               "\n\nIt works once and expires in " + std::to_string(minutes) +
               " minutes. If it was not you, ignore this message.";
    } else {
      m.subject = "Verify your email address";
      m.body = "Use this token to verify your email address:\n\n" + token +
               "\n\nIt works once and expires in " + std::to_string(minutes) + " minutes.";
    }
    return mailer_->Send(m);
  }

  Result<Authenticated> AuthenticateImpl(std::string_view credential) {
    if (credential.empty() || credential.size() > kMaxCredentialBytes) return InvalidToken();
    if (StartsWith(credential, kApiKeyPrefix)) return AuthenticateApiKey(credential);
    Timestamp now = Now();
    JwtVerifyOptions vo;
    vo.issuer = options_.issuer;
    vo.audience = options_.audience;
    vo.now = now;
    ASSISTANT_ASSIGN_OR_RETURN(std::shared_ptr<const VerifiedClaims> verified,
                               VerifyCached(credential, vo));
    // Access tokens always name their session; other tokens signed by a
    // shared key (identity tokens) never do.
    if (!verified->principal) return InvalidToken();
    const Principal& principal = *verified->principal;
    ASSISTANT_ASSIGN_OR_RETURN(bool live,
                               SessionLive(principal.user_id, principal.session_id, now));
    if (!live) return InvalidToken("the session has ended");
    Authenticated a;
    a.principal = principal;
    a.claims = std::shared_ptr<const Json>(verified, &verified->claims);
    return a;
  }

  // The principal of an access token's claims; nullopt unless sub and sid
  // are non-empty strings and scope, when present, a string.
  static std::optional<Principal> AccessPrincipal(const Json& claims) {
    auto sub = claims.find("sub");
    auto sid = claims.find("sid");
    auto scope = claims.find("scope");
    if (sub == claims.end() || !sub->is_string() || sub->get_ref<const std::string&>().empty() ||
        sid == claims.end() || !sid->is_string() || sid->get_ref<const std::string&>().empty() ||
        (scope != claims.end() && !scope->is_string())) {
      return std::nullopt;
    }
    Principal p;
    p.kind = Principal::Kind::kUser;
    p.user_id = sub->get_ref<const std::string&>();
    p.session_id = sid->get_ref<const std::string&>();
    if (scope != claims.end()) p.scopes = SplitScopes(scope->get_ref<const std::string&>());
    return p;
  }

  // This exact token's claims when it was verified before, has not expired
  // and was verified less than kVerifiedTokenTtl ago; else null.
  std::shared_ptr<const VerifiedClaims> VerifiedFromCache(std::string_view credential,
                                                          Timestamp now) {
    std::shared_lock<std::shared_mutex> lock(verified_mu_);
    auto it = verified_.find(credential);
    if (it != verified_.end() && now < it->second.expires_at && now >= it->second.verified_at &&
        now - it->second.verified_at < kVerifiedTokenTtl) {
      return it->second.verified;
    }
    return nullptr;
  }

  // The token's claims, from the verified-token cache when this exact token
  // was verified before and has not expired.
  Result<std::shared_ptr<const VerifiedClaims>> VerifyCached(std::string_view credential,
                                                             const JwtVerifyOptions& vo) {
    const Timestamp now = vo.now;
    if (auto hit = VerifiedFromCache(credential, now)) return hit;
    ASSISTANT_ASSIGN_OR_RETURN(Json claims, access_ring_->Verify(credential, vo));
    // Verify guarantees a numeric exp.
    auto exp = claims.find("exp");
    const bool cacheable = exp != claims.end() && exp->is_number();
    const double exp_seconds = cacheable ? exp->get<double>() : 0;
    auto parsed = std::make_shared<VerifiedClaims>();
    parsed->principal = AccessPrincipal(claims);
    parsed->claims = std::move(claims);
    std::shared_ptr<const VerifiedClaims> shared = std::move(parsed);
    if (cacheable) {
      VerifiedToken entry;
      entry.verified = shared;
      entry.expires_at = FromUnixMillis(static_cast<int64_t>(exp_seconds * 1000.0));
      entry.verified_at = now;
      std::unique_lock<std::shared_mutex> lock(verified_mu_);
      if (verified_.size() >= kMaxVerifiedTokens) {
        for (auto it = verified_.begin(); it != verified_.end();) {
          const bool stale = now >= it->second.expires_at ||
                             now - it->second.verified_at >= kVerifiedTokenTtl;
          it = stale ? verified_.erase(it) : std::next(it);
        }
        if (verified_.size() >= kMaxVerifiedTokens) verified_.clear();
      }
      verified_.insert_or_assign(std::string(credential), std::move(entry));
    }
    return shared;
  }

  Result<Authenticated> AuthenticateApiKey(std::string_view credential) {
    std::string hash = crypto::Sha256Hex(credential);
    Result<ApiKey> key = storage_->GetApiKeyByHash(hash);
    if (IsNotFound(key.status())) return InvalidToken();
    ASSISTANT_RETURN_IF_ERROR(key.status());
    Timestamp now = Now();
    if (!crypto::ConstantTimeEquals(key->key_hash, hash) || key->revoked_at ||
        (key->expires_at && *key->expires_at <= now)) {
      return InvalidToken();
    }
    if (ShouldTouch("k:" + key->id, now)) storage_->TouchApiKey(key->id, now).IgnoreError();
    Authenticated a;
    a.principal.kind = Principal::Kind::kApiKey;
    a.principal.user_id = key->user_id;
    a.principal.api_key_id = key->id;
    a.principal.scopes = std::set<std::string>(key->scopes.begin(), key->scopes.end());
    Json claims = {{"sub", key->user_id}, {"scope", JoinScopes(key->scopes)}, {"api_key_id", key->id}};
    if (key->expires_at) claims["exp"] = Seconds(*key->expires_at);
    a.claims = std::make_shared<const Json>(std::move(claims));
    return a;
  }

  // The cache's answer to whether the session is live, while it is fresh
  // (session_cache_ttl); else nullopt.
  std::optional<bool> SessionLiveFromCache(const std::string& user_id,
                                           const std::string& session_id, Timestamp now) {
    std::shared_lock<std::shared_mutex> lock(cache_mu_);
    auto it = session_cache_.find(session_id);
    if (it != session_cache_.end() && now - it->second.checked_at < options_.session_cache_ttl &&
        now >= it->second.checked_at) {
      return it->second.live && it->second.user_id == user_id;
    }
    return std::nullopt;
  }

  // Whether the session is live, from the cache when the answer is fresh.
  Result<bool> SessionLive(const std::string& user_id, const std::string& session_id,
                           Timestamp now) {
    if (std::optional<bool> cached = SessionLiveFromCache(user_id, session_id, now)) {
      return *cached;
    }
    // A revocation that lands while we read storage must not be overwritten
    // by our possibly older answer: only cache if none happened meanwhile.
    const uint64_t generation = revocations_.load(std::memory_order_acquire);
    Result<Session> s = storage_->GetSession(session_id);
    SessionCacheEntry entry;
    entry.checked_at = now;
    if (s.ok()) {
      entry.live = !s->revoked_at && s->expires_at > now;
      entry.user_id = s->user_id;
    } else if (!IsNotFound(s.status())) {
      return s.status();
    }
    {
      std::unique_lock<std::shared_mutex> lock(cache_mu_);
      if (revocations_.load(std::memory_order_acquire) == generation) {
        if (session_cache_.size() >= kMaxCacheEntries) PruneCacheLocked(now);
        session_cache_[session_id] = entry;
      }
    }
    if (entry.live && ShouldTouch("s:" + session_id, now)) {
      storage_->TouchSession(session_id, now).IgnoreError();
    }
    return entry.live && entry.user_id == user_id;
  }

  void PruneCacheLocked(Timestamp now) {
    for (auto it = session_cache_.begin(); it != session_cache_.end();) {
      if (now - it->second.checked_at >= options_.session_cache_ttl) {
        it = session_cache_.erase(it);
      } else {
        ++it;
      }
    }
    if (session_cache_.size() >= kMaxCacheEntries) session_cache_.clear();
  }

  void ForgetUser(const std::string& user_id) override { ForgetSessions(user_id, ""); }

  // Drops cached answers after a local revocation: one session, or every
  // session of the user when `session_id` is empty.
  void ForgetSessions(const std::string& user_id, const std::string& session_id) {
    std::unique_lock<std::shared_mutex> lock(cache_mu_);
    revocations_.fetch_add(1, std::memory_order_acq_rel);
    if (!session_id.empty()) {
      session_cache_.erase(session_id);
      return;
    }
    for (auto it = session_cache_.begin(); it != session_cache_.end();) {
      if (it->second.user_id == user_id) {
        it = session_cache_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // last_used_at is informative: write it at most once a minute per key or
  // session instead of on every request.
  bool ShouldTouch(const std::string& key, Timestamp now) {
    std::lock_guard<std::mutex> lock(touch_mu_);
    auto it = last_touch_.find(key);
    if (it != last_touch_.end() && now - it->second < kTouchInterval && now >= it->second) {
      return false;
    }
    if (last_touch_.size() >= kMaxCacheEntries) last_touch_.clear();
    last_touch_[key] = now;
    return true;
  }

  const std::shared_ptr<Storage> storage_;
  Clock& clock_;
  const std::shared_ptr<Mailer> mailer_;
  AuditLog& audit_;
  const AuthOptions options_;
  const std::unique_ptr<KeyRing> access_ring_;
  const std::unique_ptr<KeyRing> identity_ring_;
  const bool keys_stored_;  // both rings read storage (stored_key_ring.hpp)
  const std::unique_ptr<crypto::PasswordHasher> hasher_;
  std::string derivation_key_;
  const std::string dummy_hash_;

  std::shared_mutex verified_mu_;
  std::unordered_map<std::string, VerifiedToken, StringHash, std::equal_to<>> verified_;

  mutable std::shared_mutex cache_mu_;
  std::unordered_map<std::string, SessionCacheEntry> session_cache_;
  std::atomic<uint64_t> revocations_{0};

  std::mutex touch_mu_;
  std::unordered_map<std::string, Timestamp> last_touch_;
};

}  // namespace

Result<std::unique_ptr<AuthServiceInternal>> NewAuthService(AuthDeps deps) {
  if (!deps.storage || deps.clock == nullptr || !deps.mailer || deps.audit == nullptr) {
    return InvalidArgumentError("auth needs storage, a clock, a mailer and an audit log", "auth");
  }
  const AuthOptions& o = deps.options;
  if (o.access_token_ttl.count() <= 0 || o.refresh_token_ttl.count() <= 0 ||
      o.refresh_grace.count() < 0 || o.password_reset_ttl.count() <= 0 ||
      o.email_verification_ttl.count() <= 0 || o.session_cache_ttl.count() < 0) {
    return InvalidArgumentError("token lifetimes must be positive", "auth");
  }
  // With a JWT secret to seal them, EdDSA keys live in storage, shared by
  // every instance on it; without one (an embedder's bare AuthService),
  // in the key directories or in memory as before.
  const bool keys_stored = !o.jwt_secret.empty();
  auto stored_ring = [&](KeyPurpose purpose, const std::string& import_dir,
                         std::chrono::seconds lifetime) {
    StoredKeyRingOptions so;
    so.purpose = purpose;
    so.seal_secret = o.jwt_secret;
    so.import_dir = import_dir;
    so.reload_interval = o.signing_key_reload;
    so.token_lifetime = lifetime;
    if (deps.on_new_signing_key) {
      so.on_new_key = [report = deps.on_new_signing_key, purpose] { report(KeyPurposeName(purpose)); };
    }
    return OpenStoredKeyRing(deps.storage, *deps.clock, std::move(so));
  };
  std::unique_ptr<KeyRing> access;
  if (o.jwt_algorithm == JwtAlgorithm::kHS256) {
    if (o.jwt_secret.empty()) {
      return InvalidArgumentError("HS256 needs a JWT secret", "jwt_secret");
    }
    ASSISTANT_ASSIGN_OR_RETURN(access, KeyRing::Hs256(o.jwt_secret));
  } else if (keys_stored) {
    ASSISTANT_ASSIGN_OR_RETURN(access, stored_ring(KeyPurpose::kAccess, o.jwt_key_dir, o.access_token_ttl));
  } else if (!o.jwt_key_dir.empty()) {
    ASSISTANT_ASSIGN_OR_RETURN(access, KeyRing::LoadOrCreateEd25519(o.jwt_key_dir));
  } else {
    ASSISTANT_ASSIGN_OR_RETURN(access, KeyRing::EphemeralEd25519());
  }
  std::unique_ptr<KeyRing> identity;
  if (keys_stored) {
    Result<std::unique_ptr<KeyRing>> r =
        stored_ring(KeyPurpose::kIdentity, o.identity_key_dir, kIdentityTokenTtl);
    if (!r.ok()) {
      return Status(r.status().code(), r.status().message(), r.status().reason(),
                    "identity_key_dir");
    }
    identity = std::move(r).value();
  } else if (!o.identity_key_dir.empty()) {
    Result<std::unique_ptr<KeyRing>> r = KeyRing::LoadOrCreateEd25519(o.identity_key_dir);
    if (!r.ok()) {
      return InvalidArgumentError(r.status().message(), "identity_key_dir");
    }
    identity = std::move(r).value();
  } else {
    ASSISTANT_ASSIGN_OR_RETURN(identity, KeyRing::EphemeralEd25519());
  }
  // The refresh derivation key must be the same on every server sharing the
  // database: the JWT secret when there is one, else a secret kept beside
  // the EdDSA keys; held in memory only when keys are too.
  std::string base;
  if (!o.jwt_secret.empty()) {
    base = o.jwt_secret;
  } else if (!o.jwt_key_dir.empty()) {
    // The settings layer's one creator: safe when two servers start at once.
    ASSISTANT_ASSIGN_OR_RETURN(base, LoadOrCreateSecretFile(o.jwt_key_dir + "/" + kDerivationFile));
  } else {
    base = crypto::RandomBytes(kSecretBytes);
  }
  // Labelled, so the derivation key differs from the HS256 signing key.
  std::string derivation_key = crypto::HmacSha256(base, "libassistant refresh-token derivation v1");
  OPENSSL_cleanse(base.data(), base.size());
  ASSISTANT_ASSIGN_OR_RETURN(std::unique_ptr<crypto::PasswordHasher> hasher,
                             crypto::PasswordHasher::Create(o.password_hash));
  // Verified against when a login names no account, so both paths cost the same.
  ASSISTANT_ASSIGN_OR_RETURN(std::string dummy, hasher->Hash(crypto::RandomToken(24)));
  return std::unique_ptr<AuthServiceInternal>(
      new AuthServiceImpl(std::move(deps), std::move(access), std::move(identity), keys_stored,
                          std::move(hasher),
                          std::move(derivation_key), std::move(dummy)));
}

}  // namespace assistant
