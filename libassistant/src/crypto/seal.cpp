#include "crypto/seal.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "crypto/crypto_util.hpp"

namespace assistant::crypto {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Starts AES-256-GCM with `key` and `nonce` and feeds `context` as AAD.
CipherCtx Start(bool encrypt, std::string_view key, std::string_view nonce,
                std::string_view context) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int unused = 0;
  if (!ctx || key.size() != kKeyBytes ||
      EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), Bytes(nonce),
                        encrypt ? 1 : 0) != 1 ||
      (!context.empty() && EVP_CipherUpdate(ctx.get(), nullptr, &unused, Bytes(context),
                                            static_cast<int>(context.size())) != 1)) {
    return nullptr;
  }
  return ctx;
}

}  // namespace

std::string Seal(std::string_view key, std::string_view plaintext, std::string_view context) {
  const std::string nonce = RandomBytes(kNonceBytes);
  CipherCtx ctx = Start(true, key, nonce, context);
  std::string out = nonce;
  out.resize(kNonceBytes + plaintext.size() + kTagBytes);
  auto* body = reinterpret_cast<unsigned char*>(out.data()) + kNonceBytes;
  int len = 0, tail = 0;
  if (!ctx ||
      EVP_CipherUpdate(ctx.get(), body, &len, Bytes(plaintext),
                       static_cast<int>(plaintext.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), body + len, &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          body + plaintext.size()) != 1) {
    // A key that cannot be sealed must not be stored in the clear instead.
    std::fprintf(stderr, "libassistant: AES-256-GCM failed; aborting\n");
    std::abort();
  }
  return out;
}

std::optional<std::string> Unseal(std::string_view key, std::string_view sealed,
                                  std::string_view context) {
  if (sealed.size() < kNonceBytes + kTagBytes) return std::nullopt;
  const std::string_view nonce = sealed.substr(0, kNonceBytes);
  const std::string_view body = sealed.substr(kNonceBytes, sealed.size() - kNonceBytes - kTagBytes);
  std::string tag(sealed.substr(sealed.size() - kTagBytes));
  CipherCtx ctx = Start(false, key, nonce, context);
  std::string out(body.size(), '\0');
  int len = 0, tail = 0;
  if (!ctx ||
      EVP_CipherUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, Bytes(body),
                       static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &tail) !=
          1) {
    return std::nullopt;
  }
  return out;
}

}  // namespace assistant::crypto
