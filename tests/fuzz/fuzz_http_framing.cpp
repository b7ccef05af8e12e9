// libFuzzer target: HTTP/1.1 request framing, the bytes a client sends the
// server before any route runs. It drives Boost.Beast's request parser, the
// transport's parser (issue 11, item 5), with the server's header limits
// and the smallest body limit --body-limit accepts, and the transport's own
// checks beyond Beast's (reference-server/src/http/framing.hpp: obs-fold, a
// bare LF, a second or non-decimal Content-Length, Transfer-Encoding with
// Content-Length or other than `chunked`, a request-target over its limit,
// too many fields, a Content-Encoding, a body on GET, HEAD or OPTIONS,
// trailer fields). A refusal ends the connection, as the server closes it.
//
// The input, after its first byte, is a connection's byte stream; it is fed
// whole and again cut where the first byte says. Checked besides crashes,
// leaks and UB:
//  - where the cut lands changes neither the messages accepted nor whether
//    the rest is refused (the server reads in any pieces);
//  - an accepted message keeps to the limits;
//  - an accepted message, written back by Beast's serializer, frames again
//    to the same message (what is accepted has one meaning).
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/framing.hpp"

namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;

// The server's limits (reference-server/src/http/transport.hpp), but the
// body limit: --body-limit's smallest value, so that inputs reach it.
constexpr size_t kHeaderLimit = 32 * 1024;  // the header block, request line included
constexpr size_t kMaxFields = 100;
constexpr size_t kTargetLimit = 8192;
constexpr size_t kBodyLimit = 1024;

struct Message {
  std::string method;
  std::string target;
  int version = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;
  bool operator==(const Message& o) const {
    return method == o.method && target == o.target && version == o.version &&
           fields == o.fields && body == o.body;
  }
};

struct Verdict {
  std::vector<Message> messages;
  std::string refusal;  // why the connection ended; "" when the input ran out between messages
  // Which refusal may depend on the cut (a header over the limit whose
  // target is also bad is refused for whichever Beast sees first); that
  // the bytes are refused, and after which messages, may not.
  bool Refused() const { return !refusal.empty() && refusal != "closed_after_message"; }
  bool operator==(const Verdict& o) const {
    return messages == o.messages && Refused() == o.Refused();
  }
  bool operator!=(const Verdict& o) const { return !(*this == o); }
};

using Parser = http::request_parser<http::string_body>;

namespace framing = assistant::server::http;

// The transport's checks on a complete header; `raw` is the header's bytes
// as received. Empty when the header may stand.
std::string StrictHeaderRefusal(const Parser& parser, std::string_view raw) {
  if (auto refused = framing::CheckLineEnds(raw)) return refused.why;
  const framing::FramingLimits limits{kMaxFields, kTargetLimit, kBodyLimit};
  if (auto refused = framing::CheckHeader(parser, parser.get().base(), limits)) {
    return std::to_string(refused.status) + " " + refused.why;
  }
  return "";
}

Message ToMessage(const http::request<http::string_body>& req) {
  Message m;
  m.method = std::string(req.method_string());
  m.target = std::string(req.target());
  m.version = req.version();
  for (const auto& f : req)
    m.fields.emplace_back(std::string(f.name_string()), std::string(f.value()));
  m.body = req.body();
  return m;
}

std::unique_ptr<Parser> NewParser() {
  auto p = std::make_unique<Parser>();
  p->header_limit(kHeaderLimit);
  p->body_limit(kBodyLimit);
  return p;
}

// Frames `pieces` (a connection's bytes as they arrive) as the server does:
// pipelined messages one after another until a refusal, a message that does
// not keep the connection alive, or the end of the input.
Verdict Frame(const std::vector<std::string_view>& pieces) {
  Verdict v;
  auto parser = NewParser();
  std::string buffered;  // received, not yet consumed by the parser
  std::string header;    // the current message's header bytes consumed so far
  size_t header_fields = 0;
  bool started = false;  // the current message has bytes
  for (const std::string_view piece : pieces) {
    buffered.append(piece);
    while (!buffered.empty()) {
      started = true;
      boost::system::error_code ec;
      const bool header_was_done = parser->is_header_done();
      // Beast may consume the start line and still want more (need_more
      // with bytes used): what it used is gone either way.
      const size_t used = parser->put(net::buffer(buffered), ec);
      if (!header_was_done) header.append(buffered, 0, used);
      buffered.erase(0, used);
      if (ec == http::error::need_more) break;
      if (ec) {
        v.refusal = ec.message();
        return v;
      }
      if (!header_was_done && parser->is_header_done()) {
        const std::string refusal = StrictHeaderRefusal(*parser, header);
        if (!refusal.empty()) {
          v.refusal = refusal;
          return v;
        }
        header_fields = framing::FieldCount(parser->get().base());
      }
      if (parser->is_done()) {
        // Trailer fields are refused (found by this target).
        if (auto refused = framing::CheckTrailer(*parser, parser->get().base(), header_fields)) {
          v.refusal = refused.why;
          return v;
        }
        v.messages.push_back(ToMessage(parser->get()));
        if (!parser->get().keep_alive()) {
          v.refusal = "closed_after_message";
          return v;
        }
        parser = NewParser();
        header.clear();
        started = false;
      } else if (used == 0) {
        break;
      }
    }
  }
  if (started) {
    boost::system::error_code ec;
    parser->put_eof(ec);
    v.refusal = ec ? ec.message() : "eof_ended_message";
    if (!ec && parser->is_done()) v.messages.push_back(ToMessage(parser->get()));
  }
  return v;
}

// `req` as Beast writes it.
std::string Serialize(http::request<http::string_body>& req) {
  std::string out;
  http::serializer<true, http::string_body> sr{req};
  boost::system::error_code ec;
  while (!sr.is_done()) {
    sr.next(ec, [&](boost::system::error_code&, const auto& buffers) {
      size_t n = 0;
      for (const auto b : boost::beast::buffers_range_ref(buffers)) {
        out.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      sr.consume(n);
    });
    if (ec) return {};
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t cut = all.empty() ? 0 : data[0] % (all.size() + 1);
  const Verdict whole = Frame({all});
  if (whole != Frame({all.substr(0, cut), all.substr(cut)})) std::abort();
  for (const Message& m : whole.messages) {
    if (m.body.size() > kBodyLimit || m.target.size() > kTargetLimit ||
        m.fields.size() > kMaxFields) {
      std::abort();
    }
    // Rebuild the request from what was accepted and frame Beast's writing of it.
    http::request<http::string_body> req;
    req.method_string(m.method);
    req.target(m.target);
    req.version(m.version);
    for (const auto& [name, value] : m.fields) req.insert(name, value);
    req.body() = m.body;
    const std::string written = Serialize(req);
    const Verdict again = Frame({written});
    if (again.messages.size() != 1 || !(again.messages[0] == m)) std::abort();
  }
  return 0;
}
