// A request body handed over as it is read, for a handler that takes it
// streamed (TransportOptions::stream_body) instead of whole in
// Request::body: an upload passes on without being held in memory.
//
// The transport's parser removes the framing (Content-Length or chunked),
// counts the body limit while reading and applies the body timeout; at
// most one piece and the transport's read buffer are held at a time.
//
// Thread safety: one reader per request, used by the one thread that runs
// its handler, and only while the handler runs.
#ifndef ASSISTANT_SERVER_HTTP_BODY_READER_HPP_
#define ASSISTANT_SERVER_HTTP_BODY_READER_HPP_

#include <string>

namespace assistant::server::http {

class BodyReader {
 public:
  enum class Error {
    kNone,
    kTooLarge,   // over the body limit (answer 413)
    kMalformed,  // bad chunked framing or trailer fields (answer 400)
    kGone,       // the client closed, reset, or stalled past the body timeout
  };
  virtual ~BodyReader() = default;
  // Replaces `*piece` with the next bytes of the body, blocking until the
  // client sent some: true with a non-empty piece, true with an empty one
  // once the body ended (and on every call after), false on an error
  // (error() says which; every later call fails too).
  virtual bool Read(std::string* piece) = 0;
  virtual Error error() const = 0;
};

}  // namespace assistant::server::http

#endif  // ASSISTANT_SERVER_HTTP_BODY_READER_HPP_
