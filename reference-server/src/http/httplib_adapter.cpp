#include "http/httplib_adapter.hpp"

#include <memory>
#include <utility>

namespace assistant::server::http {
namespace {

bool IsPseudoHeader(const std::string& name) {
  return name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" ||
         name == "LOCAL_PORT";
}

// A stream's chunks into cpp-httplib's sink. is_writable() first: it waits
// at most the write timeout for room, where a write into a full socket
// buffer can wait that long more than once before it fails.
class SinkWriter final : public StreamWriter {
 public:
  explicit SinkWriter(httplib::DataSink& sink) : sink_(sink) {}
  bool Write(std::string_view data) override {
    return sink_.is_writable() && sink_.write(data.data(), data.size());
  }

 private:
  httplib::DataSink& sink_;
};

}  // namespace

Request FromLibrary(const httplib::Request& req) {
  Request out = HeadFromLibrary(req);
  out.body = req.body;
  return out;
}

Request HeadFromLibrary(const httplib::Request& req) {
  Request out;
  out.method = req.method;
  out.target = req.target;
  out.path = req.path;
  out.query.assign(req.params.begin(), req.params.end());
  for (const auto& [name, value] : req.headers) {
    if (!IsPseudoHeader(name)) out.headers.Add(name, value);
  }
  out.remote_addr = req.remote_addr;
  out.remote_port = req.remote_port;
  return out;
}

void ToLibrary(Response&& in, httplib::Response& out) {
  out.status = in.status;
  const std::string content_type = in.headers.Get("Content-Type");
  for (const auto& [name, value] : in.headers) {
    if (!CaseInsensitiveEqual(name, "Content-Type")) out.headers.emplace(name, value);
  }
  if (in.stream) {
    auto fn = std::make_shared<std::function<bool(StreamWriter&)>>(std::move(in.stream));
    out.set_chunked_content_provider(
        content_type,
        [fn](size_t, httplib::DataSink& sink) {
          if (!*fn) return false;
          SinkWriter writer(sink);
          const bool whole = (*fn)(writer);
          *fn = nullptr;  // run once; what it holds goes now
          if (!whole) return false;
          sink.done();
          return true;
        },
        [fn](bool) { *fn = nullptr; });
    return;
  }
  out.headers.erase("Content-Type");
  if (!content_type.empty()) out.headers.emplace("Content-Type", content_type);
  out.body = std::move(in.body);
}

}  // namespace assistant::server::http
