// An EdDSA key ring held in storage (Storage::*SigningKey), so that every
// server on one database signs with the same newest key and trusts the same
// older ones (docs/storage.md "Signing keys").
//
// - The ring is a snapshot of the stored keys. It is read again when it is
//   older than `reload_interval` (so signing moves to a key rotated
//   elsewhere within that bound) and when a token names a kid it does not
//   hold (at most once per second, so forged kids cannot flood storage).
// - A key stops signing when a newer one is added and keeps verifying for
//   `token_lifetime` + `reload_interval` + a minute after that (a server
//   that has not reloaded yet may still sign with it); then it is deleted.
// - Private keys are sealed (AES-256-GCM) under a key derived from the JWT
//   secret, which every server on the database shares: the database alone
//   does not give them away, as the 0600 key files did not.
// - On a database without keys of its purpose, the keys of `import_dir`
//   (the key directory used before) are imported once, so tokens they
//   signed stay valid; without any, a fresh key is made.
//
// Thread safety: as KeyRing; Sign and Verify read a snapshot, and one
// thread at a time reloads it.
#ifndef ASSISTANT_SRC_AUTH_STORED_KEY_RING_HPP_
#define ASSISTANT_SRC_AUTH_STORED_KEY_RING_HPP_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "assistant/clock.hpp"
#include "assistant/jwt.hpp"
#include "assistant/storage.hpp"

namespace assistant {

struct StoredKeyRingOptions {
  KeyPurpose purpose = KeyPurpose::kAccess;  // rings of each purpose are apart
  std::string seal_secret;  // the JWT secret; required
  std::string import_dir;   // a key directory to import from; may be empty
  std::chrono::milliseconds reload_interval{10000};
  std::chrono::seconds token_lifetime{900};  // the longest a signed token lives
  // For a process that signs with the servers' key and owns none of it
  // (assistant-gateway): no key is made or imported (FailedPrecondition,
  // reason "no_signing_key", when storage holds none this secret opens),
  // none is deleted, and Rotate and Retire are refused.
  bool read_only = false;
  // Called once, during the open, when a first key was made fresh (not
  // imported): tokens signed before, by a lost key, fail from now on.
  std::function<void()> on_new_key;
};

// Opens the ring: imports or makes a first key when storage holds none that
// this secret opens, then reads the keys. Keys sealed under another secret
// are left alone and never used: an instance with another secret (a
// development secret held in memory) keeps keys of its own, and its tokens
// do not verify on the others. Storage errors as storage reports them.
Result<std::unique_ptr<KeyRing>> OpenStoredKeyRing(std::shared_ptr<Storage> storage,
                                                   Clock& clock, StoredKeyRingOptions options);

}  // namespace assistant

#endif  // ASSISTANT_SRC_AUTH_STORED_KEY_RING_HPP_
