// libFuzzer target: JWT verification (assistant/jwt.hpp), which reads the
// bearer token of every request. Arbitrary text must be refused as
// Unauthenticated by an HS256 and an EdDSA ring alike; and a token the ring
// signed, changed in the one byte the input picks, must not verify.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "assistant/jwt.hpp"

namespace {

const assistant::KeyRing& Hs256() {
  static const auto ring = *assistant::KeyRing::Hs256("fuzz-secret-0123456789abcdef0123");
  return *ring;
}

const assistant::KeyRing& EdDsa() {
  static const auto ring = *assistant::KeyRing::EphemeralEd25519();
  return *ring;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  assistant::JwtVerifyOptions options;
  options.now = assistant::FromUnixMillis(1767225600000);
  for (const assistant::KeyRing* ring : {&Hs256(), &EdDsa()}) {
    auto verified = ring->Verify(text, options);
    if (!verified.ok() && verified.status().code() != assistant::StatusCode::kUnauthenticated) {
      std::abort();
    }
    if (size >= 2) {
      auto token = ring->Sign({{"sub", "u"}, {"exp", 1767229200}});
      if (!token.ok()) std::abort();
      std::string changed = *token;
      const size_t at = ((size_t{data[0]} << 8) | data[1]) % changed.size();
      const char was = changed[at];
      changed[at] = static_cast<char>(data[size - 1]);
      // base64url's last character may carry unused bits: a change there can
      // decode to the same bytes, so only a different decoding must fail.
      if (was != changed[at] && ring->Verify(changed, options).ok() &&
          ring->Verify(*token, options).ok()) {
        const auto dot = changed.rfind('.');
        if (at + 1 != changed.size() || dot == std::string::npos) std::abort();
      }
    }
  }
  return 0;
}
