#include "request_id.hpp"

#include <random>

namespace assistant::server {

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string NewRequestId() {
  // One generator per thread: no lock on the hot path.
  thread_local std::mt19937_64 gen{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  uint64_t a = gen(), b = gen();
  for (int i = 0; i < 16; ++i) {
    out[i] = kHex[(a >> (i * 4)) & 0xF];
    out[16 + i] = kHex[(b >> (i * 4)) & 0xF];
  }
  return out;
}

std::string RequestIdFor(std::string_view client_id) {
  return IsSaneRequestId(client_id) ? std::string(client_id) : NewRequestId();
}

}  // namespace assistant::server
