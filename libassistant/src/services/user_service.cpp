// UserService over Storage: profile, the shared per-user key-value store and
// the caller's audit log.
#include <functional>
#include <string>
#include <vector>

#include "common/cursor.hpp"
#include "common/text.hpp"
#include "services/service_util.hpp"
#include "services/services.hpp"

namespace assistant {
namespace {

constexpr const char* kRead = "user:read";
constexpr const char* kWrite = "user:write";
constexpr size_t kNameMaxChars = 200;
constexpr size_t kPreferencesMaxBytes = 64 * 1024;

Status CheckNames(const std::string& ns, const std::string& key) {
  if (!services::IsSafeName(ns)) {
    return InvalidArgumentError("namespace must be 1-128 characters of [A-Za-z0-9._:-]",
                                "namespace");
  }
  if (!services::IsSafeName(key)) {
    return InvalidArgumentError("key must be 1-128 characters of [A-Za-z0-9._:-]", "key");
  }
  return Status();
}

class UserServiceImpl final : public UserService {
 public:
  UserServiceImpl(Storage& storage, Clock& clock,
                  std::function<void(const std::string&)> on_account_deleted)
      : storage_(storage), clock_(clock), on_account_deleted_(std::move(on_account_deleted)) {}

  Result<User> Me(const Principal& p) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kRead));
    ASSISTANT_ASSIGN_OR_RETURN(UserRecord r, OwnRecord(p));
    return r.user;
  }

  Result<User> UpdateMe(const Principal& p, const UserPatch& patch) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kWrite));
    std::optional<std::string> name;
    if (patch.name) {
      ASSISTANT_ASSIGN_OR_RETURN(name, text::CleanText(*patch.name, "name", 0,
                                                       kNameMaxChars, false));
    }
    if (patch.preferences) {
      if (!patch.preferences->is_object()) {
        return InvalidArgumentError("preferences must be an object", "preferences");
      }
      ASSISTANT_RETURN_IF_ERROR(services::SerializeBounded(*patch.preferences, "preferences",
                                                           kPreferencesMaxBytes)
                                    .status());
    }
    ASSISTANT_ASSIGN_OR_RETURN(UserRecord r, OwnRecord(p));
    if (name) r.user.name = *name;
    if (patch.preferences) r.user.preferences = *patch.preferences;
    r.user.updated_at = services::NowMillis(clock_);
    ASSISTANT_RETURN_IF_ERROR(storage_.UpdateUser(r));
    return r.user;
  }

  Status DeleteMe(const Principal& p, const RequestContext& ctx) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kWrite));
    // No audit event: deleting the account deletes its audit log too.
    ASSISTANT_RETURN_IF_ERROR(storage_.DeleteUser(p.user_id));
    if (on_account_deleted_) on_account_deleted_(p.user_id);
    return Status();
  }

  Result<UserDataEntry> PutData(const Principal& p, const std::string& ns,
                                const std::string& key, const Json& value) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kWrite));
    ASSISTANT_RETURN_IF_ERROR(CheckNames(ns, key));
    ASSISTANT_RETURN_IF_ERROR(
        services::SerializeBounded(value, "value", kJsonDocumentMaxBytes).status());
    UserDataEntry e;
    e.user_id = p.user_id;
    e.ns = ns;
    e.key = key;
    e.value = value;
    e.updated_at = services::NowMillis(clock_);
    ASSISTANT_RETURN_IF_ERROR(storage_.PutUserData(e));
    return e;
  }

  Result<UserDataEntry> GetData(const Principal& p, const std::string& ns,
                                const std::string& key) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kRead));
    ASSISTANT_RETURN_IF_ERROR(CheckNames(ns, key));
    return storage_.GetUserData(p.user_id, ns, key);
  }

  Result<std::vector<UserDataEntry>> ListData(const Principal& p,
                                              const std::string& ns) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kRead));
    ASSISTANT_RETURN_IF_ERROR(CheckNames(ns, "x"));
    return storage_.ListUserData(p.user_id, ns);
  }

  Status DeleteData(const Principal& p, const std::string& ns,
                    const std::string& key) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kWrite));
    ASSISTANT_RETURN_IF_ERROR(CheckNames(ns, key));
    return storage_.DeleteUserData(p.user_id, ns, key);
  }

  Result<Page<AuditEvent>> Audit(const Principal& p, int limit,
                                 const std::string& cursor_text) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kRead));
    const int n = cursor::ClampLimit(limit);
    std::optional<PagePosition> after;
    if (!cursor_text.empty()) {
      ASSISTANT_ASSIGN_OR_RETURN(after, cursor::Decode(cursor_text));
    }
    ASSISTANT_ASSIGN_OR_RETURN(std::vector<AuditEvent> rows,
                               storage_.ListAudit(p.user_id, n + 1, after));
    Page<AuditEvent> page;
    if (static_cast<int>(rows.size()) > n) {
      rows.resize(n);
      page.next_cursor = cursor::Encode({rows.back().created_at, rows.back().id});
    }
    page.items = std::move(rows);
    return page;
  }

 private:
  // The caller's own account. Gone means its credential is dead (deleted
  // through another server whose revocation this one has not seen yet):
  // a 401 that signs the client out, not a 404 about some resource.
  Result<UserRecord> OwnRecord(const Principal& p) {
    Result<UserRecord> r = storage_.GetUserById(p.user_id);
    if (!r.ok() && r.status().code() == StatusCode::kNotFound) {
      return UnauthenticatedError("the account no longer exists", "invalid_token");
    }
    return r;
  }

  Storage& storage_;
  Clock& clock_;
  const std::function<void(const std::string&)> on_account_deleted_;
};

}  // namespace

std::unique_ptr<UserService> NewUserService(
    Storage& storage, Clock& clock,
    std::function<void(const std::string& user_id)> on_account_deleted) {
  return std::make_unique<UserServiceImpl>(storage, clock, std::move(on_account_deleted));
}

}  // namespace assistant
