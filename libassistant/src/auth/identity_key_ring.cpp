// OpenIdentityKeyRing (assistant/identity_token.hpp): the servers' stored
// identity key, read-only.
#include <filesystem>
#include <system_error>

#include "assistant/clock.hpp"
#include "assistant/identity_token.hpp"
#include "assistant/storage.hpp"
#include "auth/stored_key_ring.hpp"

namespace assistant {

Result<std::unique_ptr<KeyRing>> OpenIdentityKeyRing(const std::string& database_url,
                                                     std::string jwt_secret) {
  // A SQLite file no server made holds no key: refused before opening,
  // which would create it (a mistyped path would leave an empty database).
  auto url = ParseDatabaseUrl(database_url);
  std::error_code ec;
  if (url.ok() && url->backend == DatabaseUrl::Backend::kSqlite && !url->in_memory &&
      !std::filesystem::exists(url->path, ec)) {
    return FailedPreconditionError("the database holds no identity key (there is no file at "
                                   "its path): start a server on it first, with the same secret",
                                   "no_signing_key");
  }
  // The servers own the schema: opened without migrating, so a gateway of
  // another build is refused (naming both versions) rather than changing it.
  StorageOptions options;
  options.migrate = false;
  options.read_connections = 1;
  auto storage = OpenStorage(database_url, options);
  if (!storage.ok()) {
    return Status(storage.status().code(), storage.status().message(), storage.status().reason(),
                  "database");
  }
  StoredKeyRingOptions o;
  o.purpose = KeyPurpose::kIdentity;
  o.seal_secret = std::move(jwt_secret);
  o.token_lifetime = kIdentityTokenTtl;
  o.read_only = true;
  return OpenStoredKeyRing(std::shared_ptr<Storage>(std::move(*storage)), *Clock::Default(),
                           std::move(o));
}

}  // namespace assistant
