// The framing rules the transport adds to Boost.Beast's request parser
// (RFC 9112; docs/server.md "What the transport refuses"), in one place so
// that the transport and the framing fuzz target run the same code. Beast
// frames the bytes; these only look at what it framed.
//
// Thread safety: pure functions.
#ifndef ASSISTANT_SERVER_HTTP_FRAMING_HPP_
#define ASSISTANT_SERVER_HTTP_FRAMING_HPP_

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/message.hpp>
#include <cstddef>
#include <string>
#include <string_view>

namespace assistant::server::http {

struct FramingLimits {
  size_t max_header_fields = 100;
  size_t target_limit = 8192;
  size_t body_limit = 1 << 20;
};

// Why a request is refused: `status` 0 when it may stand.
struct FramingRefusal {
  int status = 0;
  std::string why;  // for the log and the 400's message; empty for 413/414/431
  explicit operator bool() const { return status != 0; }
};

// The raw header block (request line included) as received, once Beast has
// framed it: a line continued by obs-fold or ended by a bare LF is a 400,
// because a proxy in front may read either otherwise.
FramingRefusal CheckLineEnds(std::string_view block);

// The checks on a complete header that Beast leaves to its user: target
// length (414), field count (431), Content-Length's form and number,
// Transfer-Encoding other than `chunked` alone or beside Content-Length, a
// body on GET/HEAD/OPTIONS (400), a Content-Encoding (415), a declared
// length over the body limit (413). `parser` framed `head`.
FramingRefusal CheckHeader(const boost::beast::http::basic_parser<true>& parser,
                           const boost::beast::http::request_header<>& head,
                           const FramingLimits& limits);

// After the whole message: Beast merges a chunked body's trailer fields into
// the header after CheckHeader saw it, so a trailer could add a field no
// check saw. `header_fields` is the count CheckHeader saw (FieldCount then).
FramingRefusal CheckTrailer(const boost::beast::http::basic_parser<true>& parser,
                            const boost::beast::http::request_header<>& head, size_t header_fields);

size_t FieldCount(const boost::beast::http::request_header<>& head);

}  // namespace assistant::server::http

#endif  // ASSISTANT_SERVER_HTTP_FRAMING_HPP_
