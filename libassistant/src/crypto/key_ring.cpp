// JWT signing and verification over OpenSSL 3's EVP API: an HS256 ring (one
// shared secret) and an EdDSA ring (Ed25519 keys, several verifying at once
// during a rotation, persisted as PKCS#8 PEM files).
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstdlib>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "assistant/jwt.hpp"
#include "common/json_text.hpp"
#include "crypto/base64url.hpp"
#include "crypto/crypto_util.hpp"
#include "crypto/key_material.hpp"
#include "common/text.hpp"

namespace assistant {

namespace {

// Tokens larger than this are refused before any parsing: no legitimate
// access or identity token comes near it.
constexpr size_t kMaxTokenBytes = 8 * 1024;
constexpr char kKeyFilePrefix[] = "ed25519-";
constexpr char kKeyFileSuffix[] = ".pem";

Status InvalidToken(std::string message) {
  return UnauthenticatedError(std::move(message), "invalid_token");
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::shared_ptr<EVP_PKEY>;

// Parses a JSON document without exceptions; nullopt unless it is an object.
std::optional<Json> ParseObject(std::string_view text) {
  try {
    Json j = text::ParseJsonBounded(text);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    return j;
  } catch (...) {
    return std::nullopt;
  }
}

// The three segments of a compact JWS, checked for shape only.
struct TokenParts {
  std::string_view header_b64;
  std::string_view payload_b64;
  std::string_view signature_b64;
  std::string_view signing_input;  // header.payload
};

Result<TokenParts> SplitToken(std::string_view token) {
  if (token.empty() || token.size() > kMaxTokenBytes) return InvalidToken("malformed token");
  size_t d1 = token.find('.');
  if (d1 == std::string_view::npos) return InvalidToken("malformed token");
  size_t d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return InvalidToken("malformed token");
  }
  TokenParts p;
  p.header_b64 = token.substr(0, d1);
  p.payload_b64 = token.substr(d1 + 1, d2 - d1 - 1);
  p.signature_b64 = token.substr(d2 + 1);
  p.signing_input = token.substr(0, d2);
  return p;
}

// The general header check, for headers other than the exact ones this
// ring writes (those are recognised by comparison, without parsing).
Result<Json> ParseHeader(std::string_view header_b64, const char* alg) {
  auto header_json = Base64UrlDecode(header_b64);
  if (!header_json) return InvalidToken("malformed token header");
  auto header = ParseObject(*header_json);
  if (!header) return InvalidToken("malformed token header");
  auto it = header->find("alg");
  // Only the ring's algorithm: never "none", never a switch between HMAC and
  // signatures chosen by whoever wrote the token.
  if (it == header->end() || !it->is_string() || it->get_ref<const std::string&>() != alg) {
    return InvalidToken("unexpected token algorithm");
  }
  // RFC 7515: extensions we do not understand must be refused.
  if (header->contains("crit")) return InvalidToken("unsupported critical header");
  return std::move(*header);
}

Result<std::string> DecodeSignature(std::string_view signature_b64) {
  auto sig = Base64UrlDecode(signature_b64);
  if (!sig || sig->empty()) return InvalidToken("malformed token signature");
  return std::move(*sig);
}

Result<Json> CheckClaims(std::string_view payload_b64, const JwtVerifyOptions& options,
                         Clock& clock) {
  auto payload = Base64UrlDecode(payload_b64);
  if (!payload) return InvalidToken("malformed token payload");
  auto claims = ParseObject(*payload);
  if (!claims) return InvalidToken("malformed token payload");
  // A default-constructed `now` means "the current time" rather than 1970,
  // which would let every expired token through.
  Timestamp now_tp = options.now == Timestamp{} ? clock.Now() : options.now;
  const double now = static_cast<double>(ToUnixMillis(now_tp)) / 1000.0;
  const double leeway = static_cast<double>(options.leeway.count());
  auto exp = claims->find("exp");
  if (exp == claims->end() || !exp->is_number() || !std::isfinite(exp->get<double>())) {
    return InvalidToken("token has no expiry");
  }
  if (now >= exp->get<double>() + leeway) {
    return UnauthenticatedError("token expired", "token_expired");
  }
  auto nbf = claims->find("nbf");
  if (nbf != claims->end()) {
    if (!nbf->is_number() || !std::isfinite(nbf->get<double>())) {
      return InvalidToken("malformed nbf");
    }
    if (now + leeway < nbf->get<double>()) return InvalidToken("token not yet valid");
  }
  if (!options.issuer.empty()) {
    auto iss = claims->find("iss");
    if (iss == claims->end() || !iss->is_string() ||
        iss->get_ref<const std::string&>() != options.issuer) {
      return InvalidToken("wrong token issuer");
    }
  }
  if (!options.audience.empty()) {
    auto aud = claims->find("aud");
    bool match = false;
    if (aud != claims->end()) {
      if (aud->is_string()) {
        match = aud->get_ref<const std::string&>() == options.audience;
      } else if (aud->is_array()) {
        for (const auto& a : *aud) {
          if (a.is_string() && a.get_ref<const std::string&>() == options.audience) {
            match = true;
            break;
          }
        }
      }
    }
    if (!match) return InvalidToken("wrong token audience");
  }
  return std::move(*claims);
}

std::string EncodeJson(const Json& j) {
  return Base64UrlEncode(DumpJson(j));
}

// ---------------------------------------------------------------- HS256

// HMAC-SHA256 under one key, keyed once: each use copies the prepared
// state instead of fetching the algorithm and hashing the key again.
class PreparedHmac {
 public:
  explicit PreparedHmac(const std::string& key) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) return;
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context keeps its own reference
    if (ctx == nullptr) return;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     params) != 1) {
      EVP_MAC_CTX_free(ctx);
      return;
    }
    prepared_ = ctx;
  }
  ~PreparedHmac() { EVP_MAC_CTX_free(prepared_); }
  PreparedHmac(const PreparedHmac&) = delete;
  PreparedHmac& operator=(const PreparedHmac&) = delete;

  // Empty when OpenSSL fails; the caller then falls back to the one-shot.
  std::string Mac(std::string_view data) const {
    if (prepared_ == nullptr) return {};
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(prepared_);
    if (ctx == nullptr) return {};
    unsigned char out[EVP_MAX_MD_SIZE];
    size_t len = 0;
    bool ok = EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
              EVP_MAC_final(ctx, out, &len, sizeof out) == 1;
    EVP_MAC_CTX_free(ctx);
    if (!ok) return {};
    return std::string(reinterpret_cast<const char*>(out), len);
  }

 private:
  EVP_MAC_CTX* prepared_ = nullptr;
};

class Hs256Ring final : public KeyRing {
 public:
  Hs256Ring(std::string secret, Clock& clock)
      : secret_(std::move(secret)), hmac_(secret_), clock_(&clock) {
    // The kid names the key without revealing it: a prefix of its hash.
    kid_ = crypto::Sha256Hex(crypto::HmacSha256("libassistant jwt kid", secret_)).substr(0, 16);
    header_b64_ = EncodeJson(Json{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", kid_}});
  }
  ~Hs256Ring() override { OPENSSL_cleanse(secret_.data(), secret_.size()); }

  JwtAlgorithm algorithm() const override { return JwtAlgorithm::kHS256; }

  Result<std::string> Sign(const Json& claims) const override {
    if (!claims.is_object()) return InvalidArgumentError("claims must be an object", "claims");
    std::string out = header_b64_;
    out += '.';
    out += EncodeJson(claims);
    std::string mac = Mac(out);
    out += '.';
    out += Base64UrlEncode(mac);
    return out;
  }

  Result<Json> Verify(std::string_view token, const JwtVerifyOptions& options) const override {
    ASSISTANT_ASSIGN_OR_RETURN(TokenParts t, SplitToken(token));
    if (t.header_b64 != header_b64_) {
      ASSISTANT_ASSIGN_OR_RETURN(Json header, ParseHeader(t.header_b64, "HS256"));
      auto kid = header.find("kid");
      if (kid != header.end() &&
          (!kid->is_string() || kid->get_ref<const std::string&>() != kid_)) {
        return InvalidToken("unknown key id");
      }
    }
    ASSISTANT_ASSIGN_OR_RETURN(std::string signature, DecodeSignature(t.signature_b64));
    if (!crypto::ConstantTimeEquals(Mac(t.signing_input), signature)) {
      return InvalidToken("bad token signature");
    }
    return CheckClaims(t.payload_b64, options, *clock_);
  }

  Json Jwks() const override { return Json{{"keys", Json::array()}}; }
  Status Rotate() override {
    return Status(StatusCode::kUnimplemented, "an HS256 ring has one key; change the secret instead");
  }
  Status Retire(const std::string&) override {
    return Status(StatusCode::kUnimplemented, "an HS256 ring has one key");
  }

 private:
  std::string Mac(std::string_view data) const {
    std::string mac = hmac_.Mac(data);
    return mac.empty() ? crypto::HmacSha256(secret_, data) : mac;
  }

  std::string secret_;
  PreparedHmac hmac_;
  Clock* const clock_;
  std::string kid_;
  std::string header_b64_;
};

// ---------------------------------------------------------------- EdDSA

struct EdKey {
  std::string kid;
  std::string header_b64;  // the signing header naming this kid, made once
  std::string x;           // base64url raw public key
  std::string file;        // path when persisted, else empty
  PkeyPtr pkey;
};

Result<PkeyPtr> GenerateEd25519() {
  EVP_PKEY* p = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (p == nullptr) return InternalError("could not generate an Ed25519 key");
  return PkeyPtr(p, PkeyFree());
}

Result<EdKey> MakeEdKey(PkeyPtr pkey, std::string file) {
  unsigned char pub[32];
  size_t len = sizeof pub;
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519 ||
      EVP_PKEY_get_raw_public_key(pkey.get(), pub, &len) != 1 || len != 32) {
    return InvalidArgumentError("not an Ed25519 private key: " + file, "jwt_key_dir");
  }
  EdKey k;
  k.x = Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(pub), len));
  // RFC 7638 thumbprint: SHA-256 over the required members in lexical order.
  std::string thumb_input = R"({"crv":"Ed25519","kty":"OKP","x":")" + k.x + "\"}";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(thumb_input.data(), thumb_input.size(), md, &md_len, EVP_sha256(), nullptr) != 1) {
    return InternalError("SHA-256 failed");
  }
  k.kid = Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(md), md_len));
  k.header_b64 = EncodeJson(Json{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", k.kid}});
  k.file = std::move(file);
  k.pkey = std::move(pkey);
  return k;
}

Status ErrnoError(const std::string& what, const std::string& path) {
  return InvalidArgumentError(what + " " + path + ": " + std::strerror(errno), "jwt_key_dir");
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot read", path);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = ErrnoError("cannot read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > 64 * 1024) {
      ::close(fd);
      return InvalidArgumentError("key file too large: " + path, "jwt_key_dir");
    }
  }
  ::close(fd);
  return out;
}

// Writes `data` to `path` with mode 0600 via a temporary file and rename, so
// a crash never leaves a half-written key behind.
Status WritePrivateFile(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = ErrnoError("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    Status s = ErrnoError("cannot write", tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = ErrnoError("cannot rename", tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  return Status();
}

// `what` names the key's origin in the error.
Result<PkeyPtr> ParsePem(std::string_view pem, const std::string& what) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* p = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (p == nullptr) return InvalidArgumentError("not a PEM private key: " + what, "jwt_key_dir");
  return PkeyPtr(p, PkeyFree());
}

Result<PkeyPtr> LoadPem(const std::string& path) {
  ASSISTANT_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  Result<PkeyPtr> key = ParsePem(pem, path);
  OPENSSL_cleanse(pem.data(), pem.size());
  return key;
}

// A file name that sorts by creation time, so the newest key is the last:
// after `newest` (the path of the ring's newest key file; may be empty) even
// when both are made within one millisecond, where the random part alone
// would order them by chance.
std::string NewKeyFileName(const std::string& newest, Clock& clock) {
  long long ms = static_cast<long long>(ToUnixMillis(clock.Now()));
  const std::string base = newest.substr(newest.find_last_of('/') + 1);
  const std::string prefix = kKeyFilePrefix;
  if (base.rfind(prefix, 0) == 0) {
    const long long last = std::atoll(base.c_str() + prefix.size());
    if (last >= ms) ms = last + 1;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%016lld-%s%s", kKeyFilePrefix, ms,
                crypto::Sha256Hex(crypto::RandomBytes(16)).substr(0, 8).c_str(), kKeyFileSuffix);
  return buf;
}

Result<std::string> EncodePem(const EVP_PKEY* pkey) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY").
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return InternalError("could not encode the key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<size_t>(len));
  OPENSSL_cleanse(data, static_cast<size_t>(len));
  return pem;
}

Status SavePem(const EVP_PKEY* pkey, const std::string& path) {
  ASSISTANT_ASSIGN_OR_RETURN(std::string pem, EncodePem(pkey));
  Status s = WritePrivateFile(path, pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  return s;
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<std::vector<std::string>> ListPemFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoError("cannot open", dir);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || !EndsWith(name, kKeyFileSuffix)) continue;
    names.push_back(name);
  }
  ::closedir(d);
  // Our own names sort by creation time; any other *.pem (an operator's key)
  // counts as older than those, so a rotation always takes over signing.
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    bool oa = a.rfind(kKeyFilePrefix, 0) == 0, ob = b.rfind(kKeyFilePrefix, 0) == 0;
    if (oa != ob) return ob;
    return a < b;
  });
  return names;
}

class Ed25519Ring final : public KeyRing {
 public:
  // `keys` ordered oldest first; the last signs.
  Ed25519Ring(std::string dir, std::vector<EdKey> keys, Clock& clock, bool verify_only = false)
      : dir_(std::move(dir)), verify_only_(verify_only), clock_(&clock), keys_(std::move(keys)) {
    RebuildJwks();
  }

  JwtAlgorithm algorithm() const override { return JwtAlgorithm::kEdDSA; }

  Result<std::string> Sign(const Json& claims) const override {
    if (!claims.is_object()) return InvalidArgumentError("claims must be an object", "claims");
    if (verify_only_) return FailedPreconditionError("a ring from a JWKS only verifies");
    std::string header_b64;
    PkeyPtr pkey;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      if (keys_.empty()) return FailedPreconditionError("the key ring has no signing key");
      header_b64 = keys_.back().header_b64;
      pkey = keys_.back().pkey;
    }
    std::string out = std::move(header_b64);
    out += '.';
    out += EncodeJson(claims);
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    unsigned char sig[64];
    size_t sig_len = sizeof sig;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
        EVP_DigestSign(ctx.get(), sig, &sig_len,
                       reinterpret_cast<const unsigned char*>(out.data()), out.size()) != 1) {
      return InternalError("Ed25519 signing failed");
    }
    out += '.';
    out += Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(sig), sig_len));
    return out;
  }

  Result<Json> Verify(std::string_view token, const JwtVerifyOptions& options) const override {
    ASSISTANT_ASSIGN_OR_RETURN(TokenParts t, SplitToken(token));
    PkeyPtr pkey = FindByHeader(t.header_b64);
    if (!pkey) {
      ASSISTANT_ASSIGN_OR_RETURN(Json header, ParseHeader(t.header_b64, "EdDSA"));
      auto kid = header.find("kid");
      if (kid == header.end() || !kid->is_string()) return InvalidToken("token has no key id");
      pkey = FindByKid(kid->get_ref<const std::string&>());
      if (!pkey) return InvalidToken(crypto::kUnknownKidMessage);
    }
    ASSISTANT_ASSIGN_OR_RETURN(std::string signature, DecodeSignature(t.signature_b64));
    if (signature.size() != 64) return InvalidToken("bad token signature");
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                         signature.size(),
                         reinterpret_cast<const unsigned char*>(t.signing_input.data()),
                         t.signing_input.size()) != 1) {
      return InvalidToken("bad token signature");
    }
    return CheckClaims(t.payload_b64, options, *clock_);
  }

  Json Jwks() const override {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return jwks_;
  }

  Status Rotate() override {
    if (verify_only_) return FailedPreconditionError("a ring from a JWKS only verifies");
    ASSISTANT_ASSIGN_OR_RETURN(PkeyPtr pkey, GenerateEd25519());
    std::string file;
    if (!dir_.empty()) {
      std::string newest;
      {
        std::shared_lock<std::shared_mutex> lock(mu_);
        if (!keys_.empty()) newest = keys_.back().file;
      }
      file = dir_ + "/" + NewKeyFileName(newest, *clock_);
      ASSISTANT_RETURN_IF_ERROR(SavePem(pkey.get(), file));
    }
    ASSISTANT_ASSIGN_OR_RETURN(EdKey key, MakeEdKey(std::move(pkey), file));
    std::unique_lock<std::shared_mutex> lock(mu_);
    keys_.push_back(std::move(key));
    RebuildJwks();
    return Status();
  }

  Status Retire(const std::string& kid) override {
    if (verify_only_) return FailedPreconditionError("a ring from a JWKS only verifies");
    std::unique_lock<std::shared_mutex> lock(mu_);
    auto it = std::find_if(keys_.begin(), keys_.end(),
                           [&](const EdKey& k) { return k.kid == kid; });
    if (it == keys_.end()) return NotFoundError("no key with that kid");
    if (std::next(it) == keys_.end()) {
      return FailedPreconditionError("the signing key cannot be retired; rotate first",
                                     "signing_key");
    }
    // Remove the file too, or the key would come back at the next start.
    if (!it->file.empty() && ::unlink(it->file.c_str()) != 0 && errno != ENOENT) {
      return InternalError("cannot remove the retired key file");
    }
    keys_.erase(it);
    RebuildJwks();
    return Status();
  }

 private:
  // The key whose own header this is, byte for byte (the common case).
  PkeyPtr FindByHeader(std::string_view header_b64) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (const EdKey& k : keys_) {
      if (k.header_b64 == header_b64) return k.pkey;
    }
    return nullptr;
  }
  PkeyPtr FindByKid(const std::string& kid) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (const EdKey& k : keys_) {
      if (k.kid == kid) return k.pkey;
    }
    return nullptr;
  }

  void RebuildJwks() {
    Json keys = Json::array();
    // Newest first: the key a client most likely needs.
    for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
      keys.push_back({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", it->x},
                      {"kid", it->kid}, {"alg", "EdDSA"}, {"use", "sig"}});
    }
    jwks_ = Json{{"keys", std::move(keys)}};
  }

  const std::string dir_;
  const bool verify_only_;
  Clock* const clock_;
  mutable std::shared_mutex mu_;
  std::vector<EdKey> keys_;  // oldest first; back() signs
  Json jwks_;
};

// Holds an exclusive flock on `dir`/.lock for its lifetime, so two processes
// starting on an empty directory do not each create a different first key.
class DirLock {
 public:
  explicit DirLock(const std::string& dir) {
    fd_ = ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) {
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace

const char* JwtAlgorithmName(JwtAlgorithm alg) {
  return alg == JwtAlgorithm::kEdDSA ? "EdDSA" : "HS256";
}

Result<JwtAlgorithm> ParseJwtAlgorithm(std::string_view name) {
  if (name == "HS256") return JwtAlgorithm::kHS256;
  if (name == "EdDSA") return JwtAlgorithm::kEdDSA;
  return InvalidArgumentError("unknown JWT algorithm (HS256 or EdDSA)", "jwt_alg");
}

Result<std::unique_ptr<KeyRing>> KeyRing::Hs256(std::string secret, Clock& clock) {
  if (secret.empty()) return InvalidArgumentError("the HS256 secret is empty", "jwt_secret");
  return std::unique_ptr<KeyRing>(new Hs256Ring(std::move(secret), clock));
}

Result<std::unique_ptr<KeyRing>> KeyRing::EphemeralEd25519(Clock& clock) {
  ASSISTANT_ASSIGN_OR_RETURN(PkeyPtr pkey, GenerateEd25519());
  ASSISTANT_ASSIGN_OR_RETURN(EdKey key, MakeEdKey(std::move(pkey), ""));
  std::vector<EdKey> keys;
  keys.push_back(std::move(key));
  return std::unique_ptr<KeyRing>(new Ed25519Ring("", std::move(keys), clock));
}

Result<std::unique_ptr<KeyRing>> KeyRing::FromJwks(const Json& jwks, Clock& clock) {
  auto list = jwks.is_object() ? jwks.find("keys") : jwks.end();
  if (!jwks.is_object() || list == jwks.end() || !list->is_array()) {
    return InvalidArgumentError("a JWKS is an object with a keys array", "jwks");
  }
  std::vector<EdKey> keys;
  for (const Json& jwk : *list) {
    if (!jwk.is_object() || jwk.value("kty", "") != "OKP" || jwk.value("crv", "") != "Ed25519") {
      continue;
    }
    const auto x = jwk.find("x");
    std::optional<std::string> raw;
    if (x != jwk.end() && x->is_string()) raw = Base64UrlDecode(x->get_ref<const std::string&>());
    if (!raw || raw->size() != 32) return InvalidArgumentError("a bad Ed25519 key x", "jwks");
    EVP_PKEY* p = EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw->data()), 32);
    if (p == nullptr) return InvalidArgumentError("a bad Ed25519 key x", "jwks");
    ASSISTANT_ASSIGN_OR_RETURN(EdKey key, MakeEdKey(PkeyPtr(p, PkeyFree()), ""));
    // The publisher's kid names the key in its tokens, whatever its scheme.
    const auto kid = jwk.find("kid");
    if (kid != jwk.end() && kid->is_string()) key.kid = kid->get<std::string>();
    keys.push_back(std::move(key));
  }
  // Verify looks a token's key up by kid, so a ring of no keys is valid:
  // it verifies nothing.
  return std::unique_ptr<KeyRing>(new Ed25519Ring("", std::move(keys), clock, /*verify_only=*/true));
}

namespace crypto {

Result<std::string> NewEd25519Pem() {
  ASSISTANT_ASSIGN_OR_RETURN(PkeyPtr pkey, GenerateEd25519());
  return EncodePem(pkey.get());
}

Result<std::string> Ed25519Kid(std::string_view pem) {
  ASSISTANT_ASSIGN_OR_RETURN(PkeyPtr pkey, ParsePem(pem, "stored key"));
  ASSISTANT_ASSIGN_OR_RETURN(EdKey key, MakeEdKey(std::move(pkey), ""));
  return key.kid;
}

Result<std::vector<std::string>> ReadEd25519Dir(const std::string& dir) {
  struct stat st{};
  if (dir.empty() || ::stat(dir.c_str(), &st) != 0) return std::vector<std::string>{};
  ASSISTANT_ASSIGN_OR_RETURN(std::vector<std::string> names, ListPemFiles(dir));
  std::vector<std::string> pems;
  for (const std::string& name : names) {
    ASSISTANT_ASSIGN_OR_RETURN(std::string pem, ReadFile(dir + "/" + name));
    pems.push_back(std::move(pem));
  }
  return pems;
}

Result<std::unique_ptr<KeyRing>> Ed25519RingFromPems(const std::vector<std::string>& pems) {
  std::vector<EdKey> keys;
  for (const std::string& pem : pems) {
    ASSISTANT_ASSIGN_OR_RETURN(PkeyPtr pkey, ParsePem(pem, "stored key"));
    ASSISTANT_ASSIGN_OR_RETURN(EdKey key, MakeEdKey(std::move(pkey), ""));
    keys.push_back(std::move(key));
  }
  // Its callers give Verify their own clock's `now`; no file is named here.
  return std::unique_ptr<KeyRing>(new Ed25519Ring("", std::move(keys), *Clock::Default()));
}

}  // namespace crypto

Result<std::unique_ptr<KeyRing>> KeyRing::LoadOrCreateEd25519(const std::string& dir_in,
                                                              Clock& clock) {
  if (dir_in.empty()) return InvalidArgumentError("the key directory is empty", "jwt_key_dir");
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  // mkdir -p, each new level 0700.
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoError("cannot create", part);
  }
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return InvalidArgumentError("not a directory: " + dir, "jwt_key_dir");
  }
  DirLock lock(dir);
  ASSISTANT_ASSIGN_OR_RETURN(std::vector<std::string> names, ListPemFiles(dir));
  std::vector<EdKey> keys;
  for (const std::string& name : names) {
    std::string path = dir + "/" + name;
    ASSISTANT_ASSIGN_OR_RETURN(PkeyPtr pkey, LoadPem(path));
    ASSISTANT_ASSIGN_OR_RETURN(EdKey key, MakeEdKey(std::move(pkey), path));
    keys.push_back(std::move(key));
  }
  if (keys.empty()) {
    ASSISTANT_ASSIGN_OR_RETURN(PkeyPtr pkey, GenerateEd25519());
    std::string path = dir + "/" + NewKeyFileName(std::string(), clock);
    ASSISTANT_RETURN_IF_ERROR(SavePem(pkey.get(), path));
    ASSISTANT_ASSIGN_OR_RETURN(EdKey key, MakeEdKey(std::move(pkey), path));
    keys.push_back(std::move(key));
  }
  return std::unique_ptr<KeyRing>(new Ed25519Ring(dir, std::move(keys), clock));
}

}  // namespace assistant
