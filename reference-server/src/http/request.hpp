// One HTTP request as a handler sees it, whatever transport read it: the
// framing is done, the target split into a path and decoded query
// parameters, the body complete (at most the body limit), or, for a
// request the transport streams (TransportOptions::stream_body), to be read
// from body_reader.
//
// Thread safety: a value type; a handler owns it for the request's life.
#ifndef ASSISTANT_SERVER_HTTP_REQUEST_HPP_
#define ASSISTANT_SERVER_HTTP_REQUEST_HPP_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/body_reader.hpp"
#include "http/headers.hpp"

namespace assistant::server::http {

struct Request {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // as sent: path and query, still percent-encoded
  std::string path;    // the target without its query, percent-decoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  Headers headers;
  std::string body;
  // Set, and `body` empty, when the body streams: valid while the handler
  // runs. What the handler leaves unread closes the connection after the
  // answer.
  BodyReader* body_reader = nullptr;
  std::string remote_addr;
  int remote_port = 0;

  // The first value of query parameter `name`; empty when absent.
  const std::string& Query(std::string_view name) const {
    static const std::string kNone;
    for (const auto& [k, v] : query) {
      if (k == name) return v;
    }
    return kNone;
  }
  bool HasQuery(std::string_view name) const {
    for (const auto& kv : query) {
      if (kv.first == name) return true;
    }
    return false;
  }
};

}  // namespace assistant::server::http

#endif  // ASSISTANT_SERVER_HTTP_REQUEST_HPP_
