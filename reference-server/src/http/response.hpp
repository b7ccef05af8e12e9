// The reply a handler builds: status, header fields and either a body or a
// stream that the transport runs after the headers went out.
//
// Thread safety: a value type; the handler owns it until it returns.
#ifndef ASSISTANT_SERVER_HTTP_RESPONSE_HPP_
#define ASSISTANT_SERVER_HTTP_RESPONSE_HPP_

#include <functional>
#include <string>

#include "http/headers.hpp"
#include "http/stream_writer.hpp"

namespace assistant::server::http {

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Set for a streamed reply (sent chunked): called at most once, on a
  // worker thread, after the status and headers went out; returns false
  // when the stream ended because the client left. Destroyed when the
  // transport is done with it, run or not: what it holds is released then.
  std::function<bool(StreamWriter&)> stream;

  void SetBody(std::string text, std::string content_type) {
    body = std::move(text);
    headers.Set("Content-Type", std::move(content_type));
  }
  void SetStream(std::string content_type, std::function<bool(StreamWriter&)> fn) {
    headers.Set("Content-Type", std::move(content_type));
    stream = std::move(fn);
  }
};

}  // namespace assistant::server::http

#endif  // ASSISTANT_SERVER_HTTP_RESPONSE_HPP_
