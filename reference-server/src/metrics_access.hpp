// Who may read /metrics. By default anyone who can reach the port (a
// Prometheus scraper on a private network); with --metrics-token-file only a
// request that presents that file's token as `Authorization: Bearer <token>`,
// so that the route counts and latencies are not public where the server is.
//
// Thread safety: pure functions.
#ifndef ASSISTANT_SERVER_METRICS_ACCESS_HPP_
#define ASSISTANT_SERVER_METRICS_ACCESS_HPP_

#include <string>

#include "assistant/status.hpp"

namespace assistant::server {

// The token in `path` (surrounding whitespace removed). InvalidArgument
// naming the flag when the file cannot be read or holds fewer than 16
// characters (a guessable token protects nothing).
Result<std::string> LoadMetricsToken(const std::string& path);

// Whether `authorization` (the request's header) presents `token`; always
// true when `token` is empty (no restriction). Compared in constant time.
bool MetricsAllowed(const std::string& token, const std::string& authorization);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_METRICS_ACCESS_HPP_
