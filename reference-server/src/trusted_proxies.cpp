#include "trusted_proxies.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <optional>

namespace assistant::server {
namespace {

struct Address {
  std::array<uint8_t, 16> bytes{};
  bool v6 = false;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<Address> ParseAddress(std::string_view text) {
  // An IPv6 literal may come bracketed ("[::1]") in X-Forwarded-For.
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);
  Address a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  // ::ffff:a.b.c.d is an IPv4 peer on a dual-stack socket.
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.bytes.data(), kMapped, 12) == 0) {
    std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
    std::memset(a.bytes.data() + 4, 0, 12);
    return a;
  }
  a.v6 = true;
  return a;
}

}  // namespace

Result<TrustedProxies> TrustedProxies::Parse(const std::vector<std::string>& cidrs) {
  TrustedProxies out;
  for (const std::string& entry : cidrs) {
    auto bad = [&] {
      return InvalidArgumentError("--trusted-proxies: \"" + entry +
                                      "\" is not an IPv4 or IPv6 address or CIDR",
                                  "trusted-proxies");
    };
    const std::string_view text = Trim(entry);
    const size_t slash = text.find('/');
    const auto address = ParseAddress(text.substr(0, slash));
    if (!address) return bad();
    Net net;
    net.bytes = address->bytes;
    net.v6 = address->v6;
    const int max_bits = net.v6 ? 128 : 32;
    net.bits = max_bits;
    if (slash != std::string_view::npos) {
      const std::string_view digits = text.substr(slash + 1);
      if (digits.empty() || digits.size() > 3) return bad();
      int bits = 0;
      for (char c : digits) {
        if (c < '0' || c > '9') return bad();
        bits = bits * 10 + (c - '0');
      }
      if (bits > max_bits) return bad();
      net.bits = bits;
    }
    out.nets_.push_back(net);
  }
  return out;
}

bool TrustedProxies::Contains(std::string_view address) const {
  if (nets_.empty()) return false;
  const auto a = ParseAddress(Trim(address));
  if (!a) return false;
  for (const Net& n : nets_) {
    if (n.v6 != a->v6) continue;
    const int whole = n.bits / 8;
    if (std::memcmp(n.bytes.data(), a->bytes.data(), static_cast<size_t>(whole)) != 0) {
      continue;
    }
    const int rest = n.bits % 8;
    if (rest != 0) {
      const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
      if ((n.bytes[whole] & mask) != (a->bytes[whole] & mask)) continue;
    }
    return true;
  }
  return false;
}

std::string TrustedProxies::ClientAddress(const std::string& peer,
                                          const http::Headers& headers) const {
  if (!Contains(peer)) return peer;
  // Every X-Forwarded-For field, in order, as one comma-separated list.
  std::vector<std::string_view> chain;
  for (const auto& [name, value] : headers) {
    if (!http::CaseInsensitiveEqual(name, "X-Forwarded-For")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      chain.push_back(Trim(rest.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  std::string client = peer;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (!ParseAddress(*it)) break;
    client = std::string(*it);
    if (!Contains(*it)) break;
  }
  return client;
}

}  // namespace assistant::server
