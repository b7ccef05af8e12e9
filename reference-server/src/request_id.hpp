// Request ids: a client's sane X-Request-ID is kept, anything else replaced
// (docs/http-api.md "Conventions": 1-128 characters of [A-Za-z0-9._:-]).
#ifndef ASSISTANT_SERVER_REQUEST_ID_HPP_
#define ASSISTANT_SERVER_REQUEST_ID_HPP_

#include <string>
#include <string_view>

namespace assistant::server {

bool IsSaneRequestId(std::string_view id);
// 32 random hex digits; unique enough to correlate logs, not a secret.
std::string NewRequestId();
// `client_id` when sane, else a new id.
std::string RequestIdFor(std::string_view client_id);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_REQUEST_ID_HPP_
