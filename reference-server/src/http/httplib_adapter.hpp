// The edge between a cpp-httplib server and the handlers' own types
// (request.hpp, response.hpp): a server still built on httplib::Server
// converts here, so no handler sees a cpp-httplib type.
//
// Thread safety: pure conversions.
#ifndef ASSISTANT_SERVER_HTTP_HTTPLIB_ADAPTER_HPP_
#define ASSISTANT_SERVER_HTTP_HTTPLIB_ADAPTER_HPP_

#include <httplib.h>

#include "http/request.hpp"
#include "http/response.hpp"

namespace assistant::server::http {

// The handlers' view of a request cpp-httplib read (its REMOTE_/LOCAL_
// pseudo-headers left out).
Request FromLibrary(const httplib::Request& req);
// The same without the body, for checks that read only the head.
Request HeadFromLibrary(const httplib::Request& req);

// Puts `in` into `out`: its status, its headers after those `out` already
// has, and its body or stream (a chunked content provider; the stream is
// destroyed when cpp-httplib drops the provider).
void ToLibrary(Response&& in, httplib::Response& out);

}  // namespace assistant::server::http

#endif  // ASSISTANT_SERVER_HTTP_HTTPLIB_ADAPTER_HPP_
