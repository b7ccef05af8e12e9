// --trusted-proxies: the proxies whose X-Forwarded-For the server believes.
// Behind a gateway or a reverse proxy every connection's peer is the proxy,
// so the per-IP rate limit, audit rows and logs would all see one address;
// from any other peer the header is the client's own word and is ignored.
//
// Thread safety: immutable after Parse; share it freely.
#ifndef ASSISTANT_SERVER_TRUSTED_PROXIES_HPP_
#define ASSISTANT_SERVER_TRUSTED_PROXIES_HPP_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/status.hpp"
#include "http/headers.hpp"

namespace assistant::server {

class TrustedProxies {
 public:
  TrustedProxies() = default;  // trusts nobody

  // `cidrs`: "ADDR/BITS" or a bare address (all bits), IPv4 or IPv6, read
  // with inet_pton. InvalidArgument naming the first bad entry.
  static Result<TrustedProxies> Parse(const std::vector<std::string>& cidrs);

  bool empty() const { return nets_.empty(); }
  // Whether `address` (as a transport reports a peer) is in a trusted net.
  // An IPv4-mapped IPv6 address counts as its IPv4 address.
  bool Contains(std::string_view address) const;

  // The address that stands for the client: `peer` unless it is trusted;
  // then the right-most X-Forwarded-For entry (across repeated fields) that
  // is not itself trusted, the left-most if all are, `peer` if there are
  // none. An entry that is not an address ends the walk there: what lies
  // left of it was written by someone no trusted proxy vouches for.
  std::string ClientAddress(const std::string& peer, const http::Headers& headers) const;

 private:
  struct Net {
    std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4
    bool v6 = false;
    int bits = 0;
  };
  std::vector<Net> nets_;
};

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_TRUSTED_PROXIES_HPP_
