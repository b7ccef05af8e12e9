// Splits a request-target (origin form, RFC 9112 section 3.2.1) into its
// percent-decoded path and its decoded query parameters, with uriparser
// doing the decoding ('+' is a space in the query, as HTML forms send it).
//
// Thread safety: a pure function.
#ifndef ASSISTANT_SERVER_HTTP_TARGET_HPP_
#define ASSISTANT_SERVER_HTTP_TARGET_HPP_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace assistant::server::http {

// False when the query cannot be split (uriparser refuses it).
bool SplitTarget(std::string_view target, std::string* path,
                 std::vector<std::pair<std::string, std::string>>* query);

}  // namespace assistant::server::http

#endif  // ASSISTANT_SERVER_HTTP_TARGET_HPP_
