// Which headers cross a proxy, in each direction (RFC 9110 §7.6.1): the
// hop-by-hop ones never do (Connection and every header it names,
// Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-*), nor do the
// ones a forwarder re-frames or sets itself, named by the caller.
//
// Thread safety: pure functions.
#ifndef ASSISTANT_SERVER_HEADER_POLICY_HPP_
#define ASSISTANT_SERVER_HEADER_POLICY_HPP_

#include <string>
#include <string_view>
#include <vector>

#include "http/headers.hpp"

namespace assistant::server {

// Case-insensitive ASCII equality, as header names compare.
bool HeaderNameIs(std::string_view name, std::string_view other);

struct HeaderPolicy {
  // Dropped besides the hop-by-hop headers (case-insensitive names).
  std::vector<std::string> drop;
  // Dropped when the name starts with one of these (case-insensitive).
  std::vector<std::string> drop_prefixes;
};

// `in` without the hop-by-hop headers (those `in`'s own Connection header
// names included) and without what `policy` drops, in the original order.
http::Headers EndToEndHeaders(const http::Headers& in, const HeaderPolicy& policy);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_HEADER_POLICY_HPP_
