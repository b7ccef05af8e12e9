#include "http/framing.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

namespace assistant::server::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

FramingRefusal Refused(int status, std::string why = {}) { return {status, std::move(why)}; }

bool IsBodylessMethod(bhttp::verb v) {
  return v == bhttp::verb::get || v == bhttp::verb::head || v == bhttp::verb::options;
}

}  // namespace

size_t FieldCount(const bhttp::request_header<>& head) {
  size_t count = 0;
  for (auto it = head.begin(); it != head.end(); ++it) ++count;
  return count;
}

FramingRefusal CheckLineEnds(std::string_view block) {
  for (size_t i = block.find('\n'); i != std::string_view::npos; i = block.find('\n', i + 1)) {
    if (i == 0 || block[i - 1] != '\r') return Refused(400, "a header line ends with a bare LF");
    if (i + 1 < block.size() && (block[i + 1] == ' ' || block[i + 1] == '\t')) {
      return Refused(400, "a header line is folded (obs-fold)");
    }
  }
  return {};
}

FramingRefusal CheckHeader(const bhttp::basic_parser<true>& parser,
                           const bhttp::request_header<>& head, const FramingLimits& limits) {
  if (head.target().size() > limits.target_limit) return Refused(414);
  if (FieldCount(head) > limits.max_header_fields) return Refused(431);
  const size_t lengths = head.count(bhttp::field::content_length);
  const size_t encodings = head.count(bhttp::field::transfer_encoding);
  if (lengths > 1) return Refused(400, "more than one Content-Length");
  if (lengths == 1) {
    // Beast takes a list of equal values ("2, 2"); RFC 9112 section 6.3
    // allows only digits.
    const auto value = head[bhttp::field::content_length];
    if (value.empty() || value.find_first_not_of("0123456789") != beast::string_view::npos) {
      return Refused(400, "a malformed Content-Length");
    }
  }
  if (lengths == 1 && encodings > 0) {
    return Refused(400, "Content-Length together with Transfer-Encoding");
  }
  if (encodings > 0 && !parser.chunked()) {
    return Refused(400, "a Transfer-Encoding whose last coding is not chunked");
  }
  if (encodings > 0) {
    // chunked is the one coding this server decodes: any other before it
    // (gzip, an unknown one) is refused rather than passed on undecoded.
    beast::string_view value = head[bhttp::field::transfer_encoding];
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (encodings > 1 || !beast::iequals(value, "chunked")) {
      return Refused(400, "a Transfer-Encoding other than chunked alone");
    }
  }
  if (IsBodylessMethod(head.method()) &&
      (parser.chunked() || parser.content_length().value_or(0) > 0)) {
    return Refused(400,
                   "a " + std::string(head.method_string()) + " request must not carry a body");
  }
  // A compressed body could inflate past the body limit after it was read;
  // none is taken (docs/server.md).
  const auto coding = head.find(bhttp::field::content_encoding);
  if (coding != head.end() && !beast::iequals(coding->value(), "identity")) {
    return Refused(415, "send the body without Content-Encoding");
  }
  if (parser.content_length() && *parser.content_length() > limits.body_limit) return Refused(413);
  return {};
}

FramingRefusal CheckTrailer(const bhttp::basic_parser<true>& parser,
                            const bhttp::request_header<>& head, size_t header_fields) {
  if (parser.chunked() && FieldCount(head) != header_fields) {
    return Refused(400, "trailer fields are not accepted");
  }
  return {};
}

}  // namespace assistant::server::http
