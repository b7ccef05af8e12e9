#include "auth/stored_key_ring.hpp"

#include <openssl/crypto.h>

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "crypto/crypto_util.hpp"
#include "crypto/key_material.hpp"
#include "crypto/seal.hpp"
#include "crypto/base64url.hpp"

namespace assistant {
namespace {

constexpr char kAlg[] = "EdDSA";
// The least time between two reloads for a kid the ring does not hold.
constexpr auto kUnknownKidPause = std::chrono::seconds(1);
// Room for clocks of servers that disagree a little.
constexpr auto kClockMargin = std::chrono::minutes(1);

// The row a sealed key belongs to: a sealed key moved to another row, or to
// another purpose, does not open.
std::string SealContext(KeyPurpose purpose, const std::string& kid) {
  std::string context = "libassistant signing key v1\n";
  context += KeyPurposeName(purpose);
  context += '\n';
  context += kid;
  return context;
}

class StoredKeyRing final : public KeyRing {
 public:
  StoredKeyRing(std::shared_ptr<Storage> storage, Clock& clock, StoredKeyRingOptions options)
      : storage_(std::move(storage)),
        clock_(clock),
        options_(std::move(options)),
        // Labelled, so the sealing key differs from every other use of the secret.
        seal_key_(crypto::HmacSha256(options_.seal_secret, "libassistant signing-key seal v1")) {
    OPENSSL_cleanse(options_.seal_secret.data(), options_.seal_secret.size());
    options_.seal_secret.clear();
  }
  ~StoredKeyRing() override { OPENSSL_cleanse(seal_key_.data(), seal_key_.size()); }

  // Imports or makes the first key when storage has none of this purpose.
  Status Bootstrap() {
    ASSISTANT_ASSIGN_OR_RETURN(std::vector<SigningKey> stored,
                               storage_->ListSigningKeys(options_.purpose));
    for (const SigningKey& k : stored) {
      if (auto pem = Unsealed(k)) {
        OPENSSL_cleanse(pem->data(), pem->size());
        return Status();
      }
    }
    if (options_.read_only) {
      return FailedPreconditionError(std::string("the database holds no ") + KeyPurposeName(options_.purpose) +
                                         " key that this JWT secret opens: start a server on "
                                         "it first, with the same secret",
                                     "no_signing_key");
    }
    // None, or none this secret opens (an instance whose development secret
    // lived in memory only): this instance starts keys of its own.
    ASSISTANT_ASSIGN_OR_RETURN(std::vector<std::string> pems,
                               crypto::ReadEd25519Dir(options_.import_dir));
    const bool fresh = pems.empty();
    if (fresh) {
      ASSISTANT_ASSIGN_OR_RETURN(std::string pem, crypto::NewEd25519Pem());
      pems.push_back(std::move(pem));
    }
    // Oldest first, a millisecond apart, so the newest file key signs. A
    // server starting at the same moment may import the same keys: their
    // kids are taken then, which is the same outcome.
    const Timestamp now = clock_.Now();
    for (size_t i = 0; i < pems.size(); ++i) {
      Status s = Add(pems[i], now + std::chrono::milliseconds(i));
      OPENSSL_cleanse(pems[i].data(), pems[i].size());
      if (!s.ok() && s.code() != StatusCode::kAlreadyExists) return s;
    }
    if (fresh && options_.on_new_key) options_.on_new_key();
    return Status();
  }

  // Reads the stored keys into a new snapshot and deletes those past use.
  Status Reload() const {
    std::lock_guard<std::mutex> reloading(reload_mu_);
    return ReloadLocked();
  }

  JwtAlgorithm algorithm() const override { return JwtAlgorithm::kEdDSA; }

  Result<std::string> Sign(const Json& claims) const override { return Current()->Sign(claims); }

  Result<Json> Verify(std::string_view token, const JwtVerifyOptions& options) const override {
    Result<Json> verified = Current()->Verify(token, options);
    if (verified.ok() || verified.status().message() != crypto::kUnknownKidMessage) {
      return verified;
    }
    // A kid this snapshot lacks: a key rotated on another server, once a
    // second at most.
    if (clock_.Now() - FromUnixMillis(reloaded_at_ms_.load()) < kUnknownKidPause) return verified;
    if (!Reload().ok()) return verified;
    return Current()->Verify(token, options);
  }

  Json Jwks() const override { return Current()->Jwks(); }

  Status Rotate() override {
    ASSISTANT_RETURN_IF_ERROR(RefuseReadOnly());
    ASSISTANT_ASSIGN_OR_RETURN(std::vector<SigningKey> stored,
                               storage_->ListSigningKeys(options_.purpose));
    // Newer than every stored key even when this server's clock is behind
    // the one that made the last key, or in the same millisecond.
    Timestamp at = clock_.Now();
    if (!stored.empty() && at <= stored.back().created_at) {
      at = stored.back().created_at + std::chrono::milliseconds(1);
    }
    ASSISTANT_ASSIGN_OR_RETURN(std::string pem, crypto::NewEd25519Pem());
    Status s = Add(pem, at);
    OPENSSL_cleanse(pem.data(), pem.size());
    ASSISTANT_RETURN_IF_ERROR(s);
    return Reload();
  }

  Status Retire(const std::string& kid) override {
    ASSISTANT_RETURN_IF_ERROR(RefuseReadOnly());
    ASSISTANT_ASSIGN_OR_RETURN(std::vector<SigningKey> stored,
                               storage_->ListSigningKeys(options_.purpose));
    if (!stored.empty() && stored.back().kid == kid) {
      return FailedPreconditionError("the signing key cannot be retired; rotate first",
                                     "signing_key");
    }
    ASSISTANT_RETURN_IF_ERROR(storage_->DeleteSigningKey(options_.purpose, kid));
    return Reload();
  }

 private:
  Status RefuseReadOnly() const {
    if (!options_.read_only) return Status();
    return FailedPreconditionError("this key ring is read-only: rotate on a server",
                                   "signing_key");
  }

  // How long a key verifies after it stopped signing.
  std::chrono::milliseconds Keep() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(options_.token_lifetime) +
           options_.reload_interval + std::chrono::milliseconds(kClockMargin);
  }

  std::optional<std::string> Unsealed(const SigningKey& k) const {
    auto sealed = Base64UrlDecode(k.sealed_key);
    if (!sealed) return std::nullopt;
    return crypto::Unseal(seal_key_, *sealed, SealContext(k.purpose, k.kid));
  }

  Status Add(const std::string& pem, Timestamp at) {
    ASSISTANT_ASSIGN_OR_RETURN(std::string kid, crypto::Ed25519Kid(pem));
    SigningKey k;
    k.kid = kid;
    k.purpose = options_.purpose;
    k.alg = kAlg;
    k.sealed_key = Base64UrlEncode(crypto::Seal(seal_key_, pem, SealContext(k.purpose, k.kid)));
    k.created_at = at;
    return storage_->AddSigningKey(k);
  }

  // Requires reload_mu_.
  Status ReloadLocked() const {
    const Timestamp now = clock_.Now();
    // Whatever the outcome, the next periodic try is an interval away.
    reloaded_at_ms_.store(ToUnixMillis(now));
    ASSISTANT_ASSIGN_OR_RETURN(std::vector<SigningKey> stored,
                               storage_->ListSigningKeys(options_.purpose));
    const Timestamp cutoff = now - Keep();
    std::vector<std::string> pems;
    for (const SigningKey& k : stored) {
      if (k.retired_at && *k.retired_at < cutoff) continue;
      // A key sealed under another secret is not this instance's to use.
      if (auto pem = Unsealed(k)) pems.push_back(std::move(*pem));
    }
    if (pems.empty()) return FailedPreconditionError("storage holds no signing key", "signing_key");
    Result<std::unique_ptr<KeyRing>> ring = crypto::Ed25519RingFromPems(pems);
    for (std::string& pem : pems) OPENSSL_cleanse(pem.data(), pem.size());
    ASSISTANT_RETURN_IF_ERROR(ring.status());
    {
      std::unique_lock<std::shared_mutex> lock(mu_);
      ring_ = std::shared_ptr<const KeyRing>(std::move(ring).value());
    }
    // Best effort: a key past use no longer verifies here either way.
    if (options_.read_only) return Status();
    storage_->DeleteSigningKeysRetiredBefore(options_.purpose, cutoff).status().IgnoreError();
    return Status();
  }

  // The snapshot, read again first when it is older than the interval. A
  // failed reload keeps the old one (storage may be down for a moment).
  std::shared_ptr<const KeyRing> Current() const {
    if (clock_.Now() - FromUnixMillis(reloaded_at_ms_.load()) >= options_.reload_interval) {
      // One thread reloads; the others go on with the snapshot they have.
      std::unique_lock<std::mutex> reloading(reload_mu_, std::try_to_lock);
      if (reloading.owns_lock() &&
          clock_.Now() - FromUnixMillis(reloaded_at_ms_.load()) >= options_.reload_interval) {
        ReloadLocked().IgnoreError();
      }
    }
    std::shared_lock<std::shared_mutex> lock(mu_);
    return ring_;
  }

  const std::shared_ptr<Storage> storage_;
  Clock& clock_;
  StoredKeyRingOptions options_;
  std::string seal_key_;
  mutable std::mutex reload_mu_;
  mutable std::shared_mutex mu_;
  mutable std::shared_ptr<const KeyRing> ring_;
  // Unix ms of the last reload attempt: periodic, and for an unknown kid.
  mutable std::atomic<int64_t> reloaded_at_ms_{0};
};

}  // namespace

Result<std::unique_ptr<KeyRing>> OpenStoredKeyRing(std::shared_ptr<Storage> storage, Clock& clock,
                                                   StoredKeyRingOptions options) {
  if (!storage || options.seal_secret.empty()) {
    return InvalidArgumentError("a stored key ring needs storage and the JWT secret",
                                "jwt_secret");
  }
  auto ring = std::make_unique<StoredKeyRing>(std::move(storage), clock, std::move(options));
  ASSISTANT_RETURN_IF_ERROR(ring->Bootstrap());
  ASSISTANT_RETURN_IF_ERROR(ring->Reload());
  return std::unique_ptr<KeyRing>(std::move(ring));
}

}  // namespace assistant
