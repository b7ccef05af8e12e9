// base64url without padding (RFC 4648 section 5), the encoding of every
// token format here (JWS segments, JWK members, random tokens). Internal:
// the server, the gateway and the tests use it through assistant_internal.
//
// Thread safety: pure functions.
#ifndef ASSISTANT_SRC_CRYPTO_BASE64URL_HPP_
#define ASSISTANT_SRC_CRYPTO_BASE64URL_HPP_

#include <optional>
#include <string>
#include <string_view>

namespace assistant {

std::string Base64UrlEncode(std::string_view bytes);
// Strict: nullopt for padding, the standard alphabet, whitespace, an
// impossible length or stray low bits, so each byte string has exactly one
// accepted encoding.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace assistant

#endif  // ASSISTANT_SRC_CRYPTO_BASE64URL_HPP_
