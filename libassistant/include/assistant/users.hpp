// File: assistant/users.hpp
//
// The caller's profile, the shared per-user key-value store (how app 1 hands
// data to app 2), and the caller's audit log. Profile and data need
// user:read / user:write; the audit log user:read.
//
// Thread safety: every method is safe to call from many threads at once.
#ifndef ASSISTANT_USERS_HPP_
#define ASSISTANT_USERS_HPP_

#include <optional>
#include <string>
#include <vector>

#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

struct UserPatch {
  std::optional<std::string> name;
  std::optional<Json> preferences;  // replaces; must be an object
};

class UserService {
 public:
  virtual ~UserService() = default;
  virtual Result<User> Me(const Principal& p) = 0;
  virtual Result<User> UpdateMe(const Principal& p, const UserPatch& patch) = 0;
  // Deletes the account and everything it owns.
  virtual Status DeleteMe(const Principal& p, const RequestContext& ctx) = 0;

  // Namespace and key: 1..128 characters of [A-Za-z0-9._:-]. Values: any
  // JSON up to 256 KiB serialised.
  virtual Result<UserDataEntry> PutData(const Principal& p, const std::string& ns,
                                        const std::string& key, const Json& value) = 0;
  virtual Result<UserDataEntry> GetData(const Principal& p, const std::string& ns,
                                        const std::string& key) = 0;
  virtual Result<std::vector<UserDataEntry>> ListData(const Principal& p,
                                                      const std::string& ns) = 0;
  virtual Status DeleteData(const Principal& p, const std::string& ns,
                            const std::string& key) = 0;

  // Newest first.
  virtual Result<Page<AuditEvent>> Audit(const Principal& p, int limit,
                                         const std::string& cursor) = 0;
};

}  // namespace assistant

#endif  // ASSISTANT_USERS_HPP_
