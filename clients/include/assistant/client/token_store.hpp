// File: assistant/client/token_store.hpp
//
// Where an AuthClient keeps the signed-in user's token pair between calls
// (and, with a file, between runs): the client libraries' counterpart of
// the JavaScript @auth package's storage adapters.
//
// Thread safety: AuthClient serialises its own calls to a store; a store
// shared between clients must be safe for concurrent use (both given here
// are).
#ifndef ASSISTANT_CLIENT_TOKEN_STORE_HPP_
#define ASSISTANT_CLIENT_TOKEN_STORE_HPP_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "assistant/status.hpp"

namespace assistant::client {

struct TokenSet {
  std::string access_token;
  std::string refresh_token;
  // When the access token expires, in milliseconds since the Unix epoch
  // (from the server's expires_in when the pair was issued).
  int64_t access_expires_at_ms = 0;
};

class TokenStore {
 public:
  virtual ~TokenStore() = default;
  // nullopt when nobody is signed in.
  virtual Result<std::optional<TokenSet>> Load() = 0;
  virtual Status Save(const TokenSet& tokens) = 0;
  virtual Status Clear() = 0;
};

// Holds the pair in memory: it ends with the process. The default.
std::unique_ptr<TokenStore> NewMemoryTokenStore();

// Keeps the pair in a JSON file readable by its owner only (0600). Each save
// writes a temporary file beside it and renames it over the old one, so a
// crash leaves the old pair or the new one, never half of either.
std::unique_ptr<TokenStore> NewFileTokenStore(std::string path);

}  // namespace assistant::client

#endif  // ASSISTANT_CLIENT_TOKEN_STORE_HPP_
