// Ed25519 keys as PKCS#8 PEM text, for rings whose keys are kept somewhere
// other than a key directory (the database: auth/stored_key_ring.hpp).
// Implemented in key_ring.cpp beside the EdDSA ring they build.
#ifndef ASSISTANT_SRC_CRYPTO_KEY_MATERIAL_HPP_
#define ASSISTANT_SRC_CRYPTO_KEY_MATERIAL_HPP_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/jwt.hpp"
#include "assistant/status.hpp"

namespace assistant::crypto {

// The message Verify gives a token naming a kid the ring does not hold: the
// one failure a reload of the ring may cure.
inline constexpr char kUnknownKidMessage[] = "unknown key id";

// A fresh Ed25519 private key as PKCS#8 PEM.
Result<std::string> NewEd25519Pem();
// The kid a ring gives this key (its RFC 7638 thumbprint).
Result<std::string> Ed25519Kid(std::string_view pem);
// The PEM text of every key in a key directory, oldest first (the order
// KeyRing::LoadOrCreateEd25519 gives them); empty when the directory does not
// exist. Creates nothing.
Result<std::vector<std::string>> ReadEd25519Dir(const std::string& dir);
// An EdDSA ring of these keys held in memory, oldest first: the last signs.
// InvalidArgument when one is not an Ed25519 private key.
Result<std::unique_ptr<KeyRing>> Ed25519RingFromPems(const std::vector<std::string>& pems);

}  // namespace assistant::crypto

#endif  // ASSISTANT_SRC_CRYPTO_KEY_MATERIAL_HPP_
