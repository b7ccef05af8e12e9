// Where a streamed reply (SSE) writes its chunks. The transport decides how
// they reach the socket (chunked encoding, buffering, write timeouts).
//
// Thread safety: one writer per stream, used by the one thread that runs it.
#ifndef ASSISTANT_SERVER_HTTP_STREAM_WRITER_HPP_
#define ASSISTANT_SERVER_HTTP_STREAM_WRITER_HPP_

#include <string_view>

namespace assistant::server::http {

class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Sends `data` as one chunk. Blocks while the transport's buffer is full;
  // false once the client is gone (or stopped reading past the write
  // timeout): the stream should end, nothing more will be delivered.
  virtual bool Write(std::string_view data) = 0;
};

}  // namespace assistant::server::http

#endif  // ASSISTANT_SERVER_HTTP_STREAM_WRITER_HPP_
