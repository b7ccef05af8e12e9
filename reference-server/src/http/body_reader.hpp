// A request body read piece by piece while a handler runs, for a route that
// forwards it (the app proxy) instead of holding it whole in memory.
//
// Thread safety: one reader per request, used by the one thread that runs
// its handler.
#ifndef ASSISTANT_SERVER_HTTP_BODY_READER_HPP_
#define ASSISTANT_SERVER_HTTP_BODY_READER_HPP_

#include <string>

namespace assistant::server::http {

class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Replaces *piece with the next bytes of the body (at most some tens of
  // KiB). False at the end of the body, and when it cannot be read (the
  // client left, was too slow, or sent more than the body limit): then
  // failed() is true and the handler must not treat the body as complete.
  virtual bool Read(std::string* piece) = 0;
  virtual bool failed() const = 0;
};

// The body of a request the transport already read whole.
class StringBodyReader final : public BodyReader {
 public:
  explicit StringBodyReader(const std::string& body) : body_(body) {}
  bool Read(std::string* piece) override {
    if (done_ || body_.empty()) return false;
    done_ = true;
    *piece = body_;
    return true;
  }
  bool failed() const override { return false; }

 private:
  const std::string& body_;
  bool done_ = false;
};

}  // namespace assistant::server::http

#endif  // ASSISTANT_SERVER_HTTP_BODY_READER_HPP_
