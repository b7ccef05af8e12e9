#include "fast_request.hpp"

#include <sys/select.h>

#include <cstring>
#include <exception>

#include "connection_stream.hpp"

// Exported by Debian's libcpp-httplib but not declared in its header: the
// reason phrase the library writes in a status line.
namespace httplib::detail {
const char* status_message(int status);
}  // namespace httplib::detail

namespace assistant::server {
namespace {

constexpr std::string_view kCrlf = "\r\n";

bool IsTchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// A byte the library keeps as it is in a header value.
bool IsValueByte(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

// `name` equals `lower` (lower case) ignoring ASCII case.
bool NameIs(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
    if (c != static_cast<unsigned char>(lower[i])) return false;
  }
  return true;
}

// What the library stores for a header value: URL-decoded (0.11 decodes
// header values; without a '%' that changes nothing).
std::string DecodedValue(std::string_view value) {
  if (value.find('%') == std::string_view::npos) return std::string(value);
  return httplib::detail::decode_url(std::string(value), false);
}

}  // namespace

size_t ParseFastRequest(std::string_view buf, size_t payload_max_length, httplib::Request& req) {
  const size_t head_end = buf.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return 0;  // not whole (or over 4 KiB)
  const std::string_view head = buf.substr(0, head_end + 2);  // each line with its CRLF

  // Request line: METHOD SP /target SP HTTP/1.1
  size_t eol = head.find(kCrlf);
  const std::string_view line = head.substr(0, eol);
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return 0;
  const std::string_view method = line.substr(0, sp1);
  bool body_method = true;
  if (method == "GET") {
    body_method = false;
  } else if (method != "POST" && method != "PUT" && method != "PATCH" && method != "DELETE") {
    return 0;
  }
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return 0;
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (line.substr(sp2 + 1) != "HTTP/1.1") return 0;
  if (target.empty() || target[0] != '/') return 0;
  size_t question = std::string_view::npos;
  for (size_t i = 0; i < target.size(); ++i) {
    const auto c = static_cast<unsigned char>(target[i]);
    if (c <= 0x20 || c >= 0x7f) return 0;
    if (c == '?') {
      // The library splits the target at every '?' and refuses three parts.
      if (question != std::string_view::npos) return 0;
      question = i;
    }
  }

  // Header lines.
  bool has_length = false;
  uint64_t length = 0;
  size_t pos = eol + 2;
  while (pos < head.size()) {
    eol = head.find(kCrlf, pos);
    const std::string_view hline = head.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = 0;
    while (colon < hline.size() && IsTchar(static_cast<unsigned char>(hline[colon]))) ++colon;
    if (colon == 0 || colon == hline.size() || hline[colon] != ':') return 0;  // obs-fold too
    const std::string_view name = hline.substr(0, colon);
    size_t vb = colon + 1;
    size_t ve = hline.size();
    for (size_t i = vb; i < ve; ++i) {
      if (!IsValueByte(static_cast<unsigned char>(hline[i]))) return 0;  // CR, LF, NUL, ...
    }
    while (vb < ve && (hline[vb] == ' ' || hline[vb] == '\t')) ++vb;
    while (ve > vb && (hline[ve - 1] == ' ' || hline[ve - 1] == '\t')) --ve;
    if (vb == ve) return 0;  // the library drops such a header; not worth mirroring
    const std::string_view raw = hline.substr(vb, ve - vb);
    std::string value = DecodedValue(raw);

    switch (name.size()) {
      case 5:
        if (NameIs(name, "range")) return 0;
        break;
      case 6:
        if (NameIs(name, "expect")) return 0;
        break;
      case 12:
        if (NameIs(name, "content-type") &&
            (value.find("multipart/form-data") != std::string::npos ||
             value.find("application/x-www-form-urlencoded") != std::string::npos)) {
          return 0;  // the library parses those bodies itself
        }
        break;
      case 14:
        if (NameIs(name, "content-length")) {
          if (has_length || !body_method) return 0;
          if (raw.size() > 18) return 0;
          for (char c : raw) {
            if (c < '0' || c > '9') return 0;
            length = length * 10 + static_cast<uint64_t>(c - '0');
          }
          has_length = true;
        }
        break;
      case 15:
        if (NameIs(name, "accept-encoding") &&
            (value.find("gzip") != std::string::npos || value.find("br") != std::string::npos)) {
          return 0;  // the library may compress the response
        }
        break;
      case 16:
        if (NameIs(name, "content-encoding")) return 0;
        break;
      case 17:
        if (NameIs(name, "transfer-encoding")) return 0;
        break;
      default:
        break;
    }
    req.headers.emplace(std::string(name), std::move(value));
  }

  size_t consumed = head_end + 4;
  if (has_length) {
    if (length > payload_max_length) return 0;  // the library answers 413
    if (length > buf.size() - consumed) return 0;  // not all here yet
    req.body.assign(buf.data() + consumed, static_cast<size_t>(length));
    consumed += static_cast<size_t>(length);
  }

  req.method.assign(method);
  req.target.assign(target);
  req.version = "HTTP/1.1";
  const std::string_view path = target.substr(0, question);
  if (path.find('%') == std::string_view::npos) {
    req.path.assign(path);
  } else {
    req.path = httplib::detail::decode_url(std::string(path), false);
  }
  if (has_length) {
    // A framed body method goes through the library's `.*` regex routes,
    // whose `.` matches no line break: leave such a path to the library.
    for (char c : req.path) {
      if (static_cast<unsigned char>(c) < 0x20) return 0;
    }
  }
  if (question != std::string_view::npos && question + 1 < target.size()) {
    httplib::detail::parse_query_text(std::string(target.substr(question + 1)), req.params);
  }
  return consumed;
}

FastOutcome ServeFast(ConnectionStream& stream, bool close_connection, size_t payload_max_length,
                      const std::string& keep_alive, FastPathHost& host, std::string& scratch) {
  FastOutcome out;
  // The library (built with select()) answers 500 to such a socket.
  if (stream.socket() >= FD_SETSIZE) return out;
  httplib::Request req;
  const size_t consumed = ParseFastRequest(stream.Buffered(), payload_max_length, req);
  if (consumed == 0) return out;

  // What process_request adds, in its order.
  stream.get_remote_ip_and_port(req.remote_addr, req.remote_port);
  req.set_header("REMOTE_ADDR", req.remote_addr);
  req.set_header("REMOTE_PORT", std::to_string(req.remote_port));
  stream.get_local_ip_and_port(req.local_addr, req.local_port);
  req.set_header("LOCAL_ADDR", req.local_addr);
  req.set_header("LOCAL_PORT", std::to_string(req.local_port));
  const bool client_close = req.get_header_value("Connection") == "close";

  httplib::Response res;
  res.version = "HTTP/1.1";
  try {
    if (!host.HandleUnlessStream(req, res)) return out;  // a stream: the library's
  } catch (...) {
    host.OnException(req, res);
  }
  stream.Consume(consumed);
  host.OnServed();
  out.served = true;
  out.connection_closed = client_close;
  if (res.status == -1) res.status = 200;
  if (res.content_provider_) {
    // Only a route marked as streaming sets a provider, and those were
    // declined above; writing one is the library's job. Not reachable
    // unless a route lies about itself: end the connection rather than
    // send a half-made response.
    out.ok = false;
    return out;
  }

  // write_response_core, for a response with its body in memory, no ranges
  // and no compression.
  if (res.status >= 400) host.OnError(req, res);
  if (!res.body.empty()) res.set_header("Content-Length", std::to_string(res.body.size()));
  if (close_connection || client_close) {
    res.set_header("Connection", "close");
  } else {
    res.set_header("Keep-Alive", keep_alive);
  }
  if (!res.has_header("Content-Type") && !res.body.empty()) {
    res.set_header("Content-Type", "text/plain");
  }
  if (!res.has_header("Content-Length") && res.body.empty()) {
    res.set_header("Content-Length", "0");
  }

  scratch.assign("HTTP/1.1 ");
  scratch += std::to_string(res.status);
  scratch += ' ';
  scratch += httplib::detail::status_message(res.status);
  scratch += kCrlf;
  for (const auto& [name, value] : res.headers) {
    // The library formats each header with "%s: %s\r\n": a NUL ends a field.
    scratch.append(name.c_str(), std::strlen(name.c_str()));
    scratch += ": ";
    scratch.append(value.c_str(), std::strlen(value.c_str()));
    scratch += kCrlf;
  }
  scratch += kCrlf;
  // As the library, a failed header write is noticed at the body's write
  // (or at FinishResponse).
  stream.write(scratch.data(), scratch.size());
  out.ok = res.body.empty() || stream.write(res.body.data(), res.body.size()) >= 0;
  return out;
}

}  // namespace assistant::server
