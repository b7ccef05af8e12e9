// The fast path: a plain request that is whole in the connection's read-ahead
// buffer is parsed here and its response written here, instead of by
// cpp-httplib's process_request.
//
// Why: the library reads a request through a virtual read() per byte, keeps
// headers in a case-insensitive multimap built by tolower compares, formats
// every response header with snprintf and builds a std::stringstream per
// response for Keep-Alive; together ~20% of the CPU of an authenticated
// GET /api/tasks (docs/performance.md). POSTs also go through its `.*`
// std::regex routing.
//
// What it must keep: the Request a handler sees (method, target, path
// URL-decoded, params, headers with their values URL-decoded as the library
// does, the REMOTE_ and LOCAL_ pseudo-headers and addresses) and the bytes
// of the response (status line, the same headers in the same order,
// Connection/Keep-Alive, Content-Type/Content-Length defaults, the error
// handler for statuses >= 400). The library's own functions are used where
// they decide something (decode_url, parse_query_text, status_message).
//
// What it declines (the request then goes to process_request untouched,
// still in the buffer): a request not wholly in the buffer (the header block
// or the body); anything but GET, POST, PUT, PATCH, DELETE (HEAD and OPTIONS
// included); anything but HTTP/1.1; a request line that is not exactly
// `METHOD SP /target SP HTTP/1.1` (one `?` at most, bytes 0x21-0x7E); a
// header line that is not `token ":" value` with visible bytes, tabs or
// obs-text (obs-fold, bare CR or LF, control bytes, an empty value);
// Transfer-Encoding, Expect, Range, Content-Encoding; an Accept-Encoding
// containing "gzip" or "br" (Debian's build compresses then); a form or
// multipart Content-Type; Content-Length on a GET, more than one, or one
// that is not plain digits; a body over the payload limit; on a body method
// with Content-Length, a decoded path with control bytes (the library's `.*`
// regex would not match it); a route that can answer with a stream (SSE:
// Route::doc.sse), decided before the handler runs; a socket number the
// library's select() could not take.
//
// Smuggling: framing is only taken from one well-formed Content-Length
// (never with Transfer-Encoding), and everything ambiguous is left to the
// library, which parses it as it always has.
#ifndef ASSISTANT_SERVER_FAST_REQUEST_HPP_
#define ASSISTANT_SERVER_FAST_REQUEST_HPP_

#include <cstddef>
#include <string>
#include <string_view>

#include <httplib.h>

namespace assistant::server {

class ConnectionStream;

// What the fast path needs from the server.
class FastPathHost {
 public:
  virtual ~FastPathHost() = default;
  // Serves the request as the library's handlers would, unless its route may
  // answer with a stream: then false, and nothing was done.
  virtual bool HandleUnlessStream(const httplib::Request& req, httplib::Response& res) = 0;
  // The library's error handler (responses with status >= 400).
  virtual void OnError(const httplib::Request& req, httplib::Response& res) = 0;
  // The library's exception handler.
  virtual void OnException(const httplib::Request& req, httplib::Response& res) = 0;
  // The fast path took the request (called before its response is written).
  virtual void OnServed() = 0;
};

// Parses the request at the start of `buf` into `req` (method, target,
// version, path, params, headers as received, body). Returns the bytes the
// request takes, or 0 when the fast path declines it (see above).
size_t ParseFastRequest(std::string_view buf, size_t payload_max_length, httplib::Request& req);

struct FastOutcome {
  bool served = false;             // false: declined, nothing consumed or written
  bool ok = false;                 // as process_request's result
  bool connection_closed = false;  // the client asked to close
};

// Serves the request buffered in `stream` if the fast path takes it.
// `keep_alive` is the Keep-Alive header value the library would send;
// `scratch` is reused for the header block.
FastOutcome ServeFast(ConnectionStream& stream, bool close_connection, size_t payload_max_length,
                      const std::string& keep_alive, FastPathHost& host, std::string& scratch);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_FAST_REQUEST_HPP_
