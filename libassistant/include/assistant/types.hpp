// File: assistant/types.hpp
//
// The records of the core's concepts, as plain value types shared by the
// storage interface and the services. Times are system_clock time points with
// millisecond precision (what storage keeps); render them with FormatTime.
//
// Thread safety: plain values, no shared state.
#ifndef ASSISTANT_TYPES_HPP_
#define ASSISTANT_TYPES_HPP_

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "assistant/status.hpp"

namespace assistant {

using Json = nlohmann::json;

using Timestamp = std::chrono::system_clock::time_point;

// Milliseconds since the Unix epoch, and back (what storage keeps).
int64_t ToUnixMillis(Timestamp t);
Timestamp FromUnixMillis(int64_t ms);
// RFC 3339 UTC with milliseconds: "2026-11-22T10:15:30.123Z".
std::string FormatTime(Timestamp t);
// The years a Timestamp can hold whole (the clock counts nanoseconds in 64
// bits), the range ParseTime accepts.
inline constexpr int kMinTimeYear = 1678;
inline constexpr int kMaxTimeYear = 2261;
// Parses RFC 3339 (any offset, optional fraction). nullopt when malformed or
// when the year is outside kMinTimeYear..kMaxTimeYear.
std::optional<Timestamp> ParseTime(const std::string& text);

// A new time-ordered id (UUID version 7, lower-case text). Ids made in one
// process increase strictly, so ordering by id orders by creation.
std::string NewId();

struct User {
  std::string id;
  std::string email;  // as registered; unique case-insensitively
  std::string name;
  bool email_verified = false;
  Json preferences = Json::object();
  Timestamp created_at{};
  Timestamp updated_at{};
};

// A user as storage holds it, with the credential. Never rendered to clients.
struct UserRecord {
  User user;
  std::string password_hash;  // Argon2id PHC string, or an imported bcrypt hash
};

// One login; holds one refresh-token family.
struct Session {
  std::string id;
  std::string user_id;
  Timestamp created_at{};
  Timestamp last_used_at{};
  Timestamp expires_at{};           // end of the refresh family's life
  std::optional<Timestamp> revoked_at;
  std::string ip;
  std::string user_agent;
};

// One refresh token of a session's family, stored by hash only.
struct RefreshToken {
  std::string token_hash;  // hex SHA-256 of the token
  std::string session_id;
  std::string user_id;
  Timestamp created_at{};
  Timestamp expires_at{};
  std::optional<Timestamp> used_at;  // set when rotated
};

// The outcome of presenting a refresh token (see Storage::RotateRefreshToken).
struct RefreshRotation {
  RefreshToken presented;  // as it was before this call
  bool rotated = false;    // true: this call used it and stored the successor
};

struct ApiKey {
  std::string id;
  std::string user_id;
  std::string name;
  std::string prefix;      // first characters of the key, shown in listings
  std::string key_hash;    // hex SHA-256 of the whole key
  std::vector<std::string> scopes;
  std::optional<Timestamp> expires_at;
  std::optional<Timestamp> last_used_at;
  Timestamp created_at{};
  std::optional<Timestamp> revoked_at;
};

// What a one-time token is for. Storage keeps TokenPurposeName's text; do
// not change the names.
enum class TokenPurpose { kPasswordReset, kEmailVerification };
// "password_reset", "email_verification".
const char* TokenPurposeName(TokenPurpose purpose);
// Exact names. InvalidArgument (field "purpose") for any other.
Result<TokenPurpose> ParseTokenPurpose(std::string_view name);

// Password-reset and email-verification tokens: single use, short-lived.
struct OneTimeToken {
  std::string token_hash;
  std::string user_id;
  TokenPurpose purpose = TokenPurpose::kPasswordReset;
  Timestamp created_at{};
  Timestamp expires_at{};
};

struct Task {
  std::string id;
  std::string user_id;
  std::string title;        // 1..500 characters
  std::string description;
  bool completed = false;
  std::optional<Timestamp> due_at;
  int priority = 0;
  Timestamp created_at{};
  Timestamp updated_at{};
};

// Which tasks a listing shows (by their `completed` flag).
enum class TaskFilter { kAll, kPending, kCompleted };
// "all", "pending", "completed".
const char* TaskFilterName(TaskFilter filter);
// Exact names; "" is all. InvalidArgument (field "status") otherwise.
Result<TaskFilter> ParseTaskFilter(std::string_view name);

struct Conversation {
  std::string id;
  std::string user_id;
  std::optional<std::string> app_id;
  std::string title;
  Timestamp created_at{};
  Timestamp updated_at{};
};

// Who speaks in a stored message. Storage keeps MessageRoleName's text and
// the JSON shows it; do not change the names.
enum class MessageRole { kUser, kAssistant, kSystem, kTool };
// "user", "assistant", "system", "tool".
const char* MessageRoleName(MessageRole role);
// Exact names. InvalidArgument (field "role") for any other.
Result<MessageRole> ParseMessageRole(std::string_view name);

// How a stored message ended. Storage keeps MessageStatusName's text and the
// JSON shows it; do not change the names.
enum class MessageStatus { kCompleted, kCancelled, kFailed };
// "completed", "cancelled", "failed".
const char* MessageStatusName(MessageStatus status);
// Exact names. InvalidArgument (field "status") for any other.
Result<MessageStatus> ParseMessageStatus(std::string_view name);

struct Message {
  std::string id;
  std::string conversation_id;
  MessageRole role = MessageRole::kUser;
  std::string content;
  std::optional<Json> tool_calls;  // array of {id, name, arguments} or null
  std::optional<std::string> tool_call_id;
  MessageStatus status = MessageStatus::kCompleted;
  Timestamp created_at{};
};

struct AgentState {
  std::string user_id;
  std::string app_id;  // "" for the default app
  Json state = Json::object();
  Timestamp updated_at{};
};

struct Memory {
  std::string id;
  std::string user_id;
  std::string content;
  Timestamp created_at{};
};

struct UserDataEntry {
  std::string user_id;
  std::string ns;
  std::string key;
  Json value;
  Timestamp updated_at{};
};

// How an audited action ended. Storage keeps AuditOutcomeName's text and
// the JSON shows it; do not change the names.
enum class AuditOutcome { kOk, kFailed };
// "ok", "failed".
const char* AuditOutcomeName(AuditOutcome outcome);
// Exact names. InvalidArgument (field "outcome") for any other.
Result<AuditOutcome> ParseAuditOutcome(std::string_view name);

struct AuditEvent {
  std::string id;
  std::string user_id;  // may be empty for events with no known account
  std::string type;     // user.registered, auth.login, ...
  AuditOutcome outcome = AuditOutcome::kOk;
  std::string ip;
  std::optional<std::string> user_agent;
  std::string request_id;
  Json details = Json::object();
  Timestamp created_at{};
};

// Which tokens a signing key signs. Storage keeps KeyPurposeName's text; do
// not change the names.
enum class KeyPurpose { kAccess, kIdentity };
// "access", "identity".
const char* KeyPurposeName(KeyPurpose purpose);
// Exact names. InvalidArgument (field "purpose") for any other.
Result<KeyPurpose> ParseKeyPurpose(std::string_view name);

// A token signing key shared by every server on one database
// (docs/storage.md "Signing keys"). The newest key of a purpose signs; older
// ones only verify, until the tokens they signed have expired.
struct SigningKey {
  std::string kid;
  KeyPurpose purpose = KeyPurpose::kAccess;
  std::string alg;      // "EdDSA"
  // The private key sealed by its owner, as text (the core: base64url of
  // AES-256-GCM under a key derived from the JWT secret); storage keeps it
  // as given. Never logged.
  std::string sealed_key;
  Timestamp created_at{};
  // When a newer key took over signing; unset while this one signs.
  std::optional<Timestamp> retired_at;
};

// One key's rate-limit window as stored (Storage::HitRateLimit).
struct RateWindow {
  bool counted = false;     // the hit was counted (false: the window was full)
  int hits = 0;             // hits in the window, this one included when counted
  Timestamp window_start{};  // when the window began
};

// A keyset position: the (time, id) of the last row of the previous page.
struct PagePosition {
  Timestamp time{};
  std::string id;
};

struct MessagePage {
  std::vector<Message> messages;  // oldest first
  bool has_more = false;          // older messages exist before the first
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_cursor;  // opaque; empty when there is no next page
};

// Who is calling. Built by AuthService from a credential, or trusted by an
// embedding program (`Principal::ForUser`).
struct Principal {
  enum class Kind { kUser, kApiKey, kEmbedded };
  Kind kind = Kind::kUser;
  std::string user_id;
  std::string session_id;   // set for access tokens and cookies
  std::string api_key_id;   // set for API keys
  std::set<std::string> scopes;  // "*" means every scope
  std::optional<std::string> app_id;

  bool HasScope(const std::string& scope) const {
    return scopes.count("*") > 0 || scopes.count(scope) > 0;
  }
  // A trusted principal with every scope (the embedding program).
  static Principal ForUser(std::string user_id) {
    Principal p;
    p.kind = Kind::kEmbedded;
    p.user_id = std::move(user_id);
    p.scopes = {"*"};
    return p;
  }
};

// Where a call comes from, for the audit log and rate limits.
struct RequestContext {
  std::string ip;
  std::optional<std::string> user_agent;
  std::string request_id;
};

}  // namespace assistant

#endif  // ASSISTANT_TYPES_HPP_
