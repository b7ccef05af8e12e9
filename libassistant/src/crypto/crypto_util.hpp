// Small cryptographic helpers over OpenSSL: randomness, hashing, constant-time
// comparison. Used wherever a secret is made, stored or checked.
#ifndef ASSISTANT_SRC_CRYPTO_CRYPTO_UTIL_HPP_
#define ASSISTANT_SRC_CRYPTO_CRYPTO_UTIL_HPP_

#include <cstddef>
#include <string>
#include <string_view>

namespace assistant::crypto {

// `n` bytes from the OS CSPRNG (RAND_bytes). Aborts if the CSPRNG fails.
std::string RandomBytes(size_t n);
// base64url (no padding) of `bytes` random bytes.
std::string RandomToken(size_t bytes);
// Lower-case hex SHA-256: how every stored secret is kept.
std::string Sha256Hex(std::string_view data);
// Raw 32-byte HMAC-SHA256.
std::string HmacSha256(std::string_view key, std::string_view data);
// Compares in time independent of where the inputs differ (CRYPTO_memcmp);
// different lengths compare unequal without an early exit on content.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace assistant::crypto

#endif  // ASSISTANT_SRC_CRYPTO_CRYPTO_UTIL_HPP_
