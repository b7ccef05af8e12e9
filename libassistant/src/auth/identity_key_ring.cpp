// OpenIdentityKeyRing (assistant/identity_token.hpp): the servers' stored
// identity key, read-only.
#include "assistant/clock.hpp"
#include "assistant/identity_token.hpp"
#include "assistant/storage.hpp"
#include "auth/stored_key_ring.hpp"

namespace assistant {

Result<std::unique_ptr<KeyRing>> OpenIdentityKeyRing(const std::string& database_url,
                                                     std::string jwt_secret) {
  auto storage = OpenStorage(database_url);
  if (!storage.ok()) {
    return Status(storage.status().code(), storage.status().message(), storage.status().reason(),
                  "database");
  }
  StoredKeyRingOptions o;
  o.purpose = "identity";
  o.seal_secret = std::move(jwt_secret);
  o.token_lifetime = kIdentityTokenTtl;
  o.read_only = true;
  return OpenStoredKeyRing(std::shared_ptr<Storage>(std::move(*storage)), *Clock::Default(),
                           std::move(o));
}

}  // namespace assistant
