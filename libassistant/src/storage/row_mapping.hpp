// The mapping between stored rows and the structs of assistant/types.hpp,
// written once for every backend: the column lists each SELECT and INSERT
// names, and the readers that turn a row into a struct. Both backends store
// the same columns the same way (times as Unix milliseconds, JSON as text),
// so only access to a row's values differs, behind a small adapter.
//
// A `Row` adapter provides, for column index i (0-based, in list order):
//   std::string Text(int i) const;                 // "" for NULL
//   std::optional<std::string> OptText(int i) const;
//   int64_t Int(int i) const;
//   std::optional<int64_t> OptInt(int i) const;
// Readers throw Json::exception on a stored document that does not parse;
// each backend maps that to DataLoss.
#ifndef ASSISTANT_SRC_STORAGE_ROW_MAPPING_HPP_
#define ASSISTANT_SRC_STORAGE_ROW_MAPPING_HPP_

#include <optional>
#include <string>
#include <vector>

#include "assistant/runs.hpp"
#include "assistant/types.hpp"

namespace assistant::storage::rows {

template <typename Row>
Timestamp Time(const Row& r, int i) {
  return FromUnixMillis(r.Int(i));
}

template <typename Row>
std::optional<Timestamp> OptTime(const Row& r, int i) {
  std::optional<int64_t> ms = r.OptInt(i);
  if (!ms) return std::nullopt;
  return FromUnixMillis(*ms);
}

template <typename Row>
Json JsonOf(const Row& r, int i) {
  return Json::parse(r.Text(i));
}

inline constexpr const char* kUserCols =
    "id, email, name, email_verified, preferences, password_hash, created_at, updated_at";
template <typename Row>
UserRecord ReadUser(const Row& r) {
  UserRecord u;
  u.user.id = r.Text(0);
  u.user.email = r.Text(1);
  u.user.name = r.Text(2);
  u.user.email_verified = r.Int(3) != 0;
  u.user.preferences = JsonOf(r, 4);
  u.password_hash = r.Text(5);
  u.user.created_at = Time(r, 6);
  u.user.updated_at = Time(r, 7);
  return u;
}

inline constexpr const char* kSessionCols =
    "id, user_id, created_at, last_used_at, expires_at, revoked_at, ip, user_agent";
template <typename Row>
Session ReadSession(const Row& r) {
  Session s;
  s.id = r.Text(0);
  s.user_id = r.Text(1);
  s.created_at = Time(r, 2);
  s.last_used_at = Time(r, 3);
  s.expires_at = Time(r, 4);
  s.revoked_at = OptTime(r, 5);
  s.ip = r.Text(6);
  s.user_agent = r.Text(7);
  return s;
}

inline constexpr const char* kRefreshCols =
    "token_hash, session_id, user_id, created_at, expires_at, used_at";
template <typename Row>
RefreshToken ReadRefresh(const Row& r) {
  RefreshToken t;
  t.token_hash = r.Text(0);
  t.session_id = r.Text(1);
  t.user_id = r.Text(2);
  t.created_at = Time(r, 3);
  t.expires_at = Time(r, 4);
  t.used_at = OptTime(r, 5);
  return t;
}

inline constexpr const char* kApiKeyCols =
    "id, user_id, name, prefix, key_hash, scopes, expires_at, last_used_at, created_at, "
    "revoked_at";
template <typename Row>
ApiKey ReadApiKey(const Row& r) {
  ApiKey k;
  k.id = r.Text(0);
  k.user_id = r.Text(1);
  k.name = r.Text(2);
  k.prefix = r.Text(3);
  k.key_hash = r.Text(4);
  k.scopes = JsonOf(r, 5).template get<std::vector<std::string>>();
  k.expires_at = OptTime(r, 6);
  k.last_used_at = OptTime(r, 7);
  k.created_at = Time(r, 8);
  k.revoked_at = OptTime(r, 9);
  return k;
}

inline constexpr const char* kTaskCols =
    "id, user_id, title, description, completed, due_at, priority, created_at, updated_at";
template <typename Row>
Task ReadTask(const Row& r) {
  Task t;
  t.id = r.Text(0);
  t.user_id = r.Text(1);
  t.title = r.Text(2);
  t.description = r.Text(3);
  t.completed = r.Int(4) != 0;
  t.due_at = OptTime(r, 5);
  t.priority = static_cast<int>(r.Int(6));
  t.created_at = Time(r, 7);
  t.updated_at = Time(r, 8);
  return t;
}

inline constexpr const char* kConversationCols =
    "id, user_id, app_id, title, created_at, updated_at";
template <typename Row>
Conversation ReadConversation(const Row& r) {
  Conversation c;
  c.id = r.Text(0);
  c.user_id = r.Text(1);
  c.app_id = r.OptText(2);
  c.title = r.Text(3);
  c.created_at = Time(r, 4);
  c.updated_at = Time(r, 5);
  return c;
}

inline constexpr const char* kMessageCols =
    "id, conversation_id, role, content, tool_calls, tool_call_id, status, created_at, seq";
template <typename Row>
Message ReadMessage(const Row& r) {
  Message m;
  m.id = r.Text(0);
  m.conversation_id = r.Text(1);
  // A name no version wrote (a row edited by hand) reads as a system
  // message: the one role the agent's prompt replays without asking it
  // to answer or to match a tool call.
  m.role = ParseMessageRole(r.Text(2)).value_or(MessageRole::kSystem);
  m.content = r.Text(3);
  if (std::optional<std::string> tc = r.OptText(4)) m.tool_calls = Json::parse(*tc);
  m.tool_call_id = r.OptText(5);
  // A name no version wrote (a row edited by hand) reads as failed.
  m.status = ParseMessageStatus(r.Text(6)).value_or(MessageStatus::kFailed);
  m.created_at = Time(r, 7);
  return m;
}

inline constexpr const char* kMemoryCols = "id, user_id, content, created_at";
template <typename Row>
Memory ReadMemory(const Row& r) {
  Memory m;
  m.id = r.Text(0);
  m.user_id = r.Text(1);
  m.content = r.Text(2);
  m.created_at = Time(r, 3);
  return m;
}

inline constexpr const char* kUserDataCols = "user_id, ns, key, value, updated_at";
template <typename Row>
UserDataEntry ReadUserData(const Row& r) {
  UserDataEntry e;
  e.user_id = r.Text(0);
  e.ns = r.Text(1);
  e.key = r.Text(2);
  e.value = JsonOf(r, 3);
  e.updated_at = Time(r, 4);
  return e;
}

inline constexpr const char* kAuditCols =
    "id, user_id, type, outcome, ip, user_agent, request_id, details, created_at";
template <typename Row>
AuditEvent ReadAudit(const Row& r) {
  AuditEvent a;
  a.id = r.Text(0);
  a.user_id = r.OptText(1).value_or("");
  a.type = r.Text(2);
  a.outcome = ParseAuditOutcome(r.Text(3)).value_or(AuditOutcome::kFailed);
  a.ip = r.Text(4);
  a.user_agent = r.OptText(5);
  a.request_id = r.Text(6);
  a.details = JsonOf(r, 7);
  a.created_at = Time(r, 8);
  return a;
}

inline constexpr const char* kRunCols =
    "id, user_id, conversation_id, message_id, status, created_at, finished_at, "
    "cancel_requested, owner, heartbeat_at";
template <typename Row>
Run ReadRun(const Row& r) {
  Run run;
  run.id = r.Text(0);
  run.user_id = r.Text(1);
  run.conversation_id = r.Text(2);
  run.message_id = r.Text(3);
  // A name no version wrote (a row edited by hand) reads as failed: such a
  // run cannot be resumed, and a reader must not take it for running.
  run.status = ParseRunStatus(r.Text(4)).value_or(RunStatus::kFailed);
  run.created_at = Time(r, 5);
  run.finished_at = OptTime(r, 6);
  run.cancel_requested = r.Int(7) != 0;
  run.owner = r.Text(8);
  run.heartbeat_at = OptTime(r, 9);
  return run;
}

inline constexpr const char* kSigningKeyCols =
    "kid, purpose, alg, sealed_key, created_at, retired_at";
template <typename Row>
SigningKey ReadSigningKey(const Row& r) {
  SigningKey k;
  k.kid = r.Text(0);
  k.purpose = ParseKeyPurpose(r.Text(1)).value_or(KeyPurpose::kAccess);  // listed by purpose
  k.alg = r.Text(2);
  k.sealed_key = r.Text(3);
  k.created_at = Time(r, 4);
  k.retired_at = OptTime(r, 5);
  return k;
}

// Every column list, for a backend to bring in with one using-directive.
namespace columns {
using rows::kApiKeyCols;
using rows::kAuditCols;
using rows::kConversationCols;
using rows::kMemoryCols;
using rows::kMessageCols;
using rows::kRefreshCols;
using rows::kRunCols;
using rows::kSessionCols;
using rows::kSigningKeyCols;
using rows::kTaskCols;
using rows::kUserCols;
using rows::kUserDataCols;
}  // namespace columns

}  // namespace assistant::storage::rows

#endif  // ASSISTANT_SRC_STORAGE_ROW_MAPPING_HPP_
