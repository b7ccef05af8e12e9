// Authenticated encryption of small secrets kept outside a 0600 file (the
// signing keys in the database): AES-256-GCM over OpenSSL's EVP API.
#ifndef ASSISTANT_SRC_CRYPTO_SEAL_HPP_
#define ASSISTANT_SRC_CRYPTO_SEAL_HPP_

#include <optional>
#include <string>
#include <string_view>

namespace assistant::crypto {

// `plaintext` sealed under the 32-byte `key`: a random 12-byte nonce, the
// ciphertext and the 16-byte tag. `context` is authenticated, not stored, so
// a sealed value opens only in the context it was made for.
std::string Seal(std::string_view key, std::string_view plaintext, std::string_view context);
// The plaintext, or nullopt when `sealed` was not made by Seal under `key`
// and `context` (or was altered).
std::optional<std::string> Unseal(std::string_view key, std::string_view sealed,
                                  std::string_view context);

}  // namespace assistant::crypto

#endif  // ASSISTANT_SRC_CRYPTO_SEAL_HPP_
