#include "metrics_access.hpp"

#include <openssl/crypto.h>

#include <fstream>
#include <sstream>

namespace assistant::server {

namespace {
constexpr const char* kFlag = "metrics-token-file";
constexpr size_t kMinTokenChars = 16;
constexpr const char* kWhitespace = " \t\r\n";
}  // namespace

Result<std::string> LoadMetricsToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgumentError("cannot read --metrics-token-file " + path, kFlag);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  const size_t first = token.find_first_not_of(kWhitespace);
  token = first == std::string::npos
              ? std::string()
              : token.substr(first, token.find_last_not_of(kWhitespace) - first + 1);
  if (token.size() < kMinTokenChars) {
    return InvalidArgumentError("--metrics-token-file " + path + " must hold a token of at least " +
                                    std::to_string(kMinTokenChars) + " characters",
                                kFlag);
  }
  return token;
}

bool MetricsAllowed(const std::string& token, const std::string& authorization) {
  if (token.empty()) return true;
  static const std::string kScheme = "Bearer ";
  if (authorization.size() != kScheme.size() + token.size() ||
      authorization.compare(0, kScheme.size(), kScheme) != 0) {
    return false;
  }
  return CRYPTO_memcmp(authorization.data() + kScheme.size(), token.data(), token.size()) == 0;
}

}  // namespace assistant::server
