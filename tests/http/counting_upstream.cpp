#include "counting_upstream.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

namespace http_test {

namespace http = assistant::server::http;

uint64_t Fnv1a(std::string_view data, uint64_t h) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

long PeakMemoryKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

PartialUpload::PartialUpload(int port, const std::string& head, size_t body_bytes) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
  std::string data = head + std::string(body_bytes, 'p');
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
  sent_ = true;
}

void PartialUpload::Abandon() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

CountingUpstream::CountingUpstream() {
  http::TransportOptions o;
  o.body_limit = size_t{1} << 32;
  o.stream_body = [](const http::Request&) { return true; };
  transport_ = std::make_unique<http::Transport>(
      o,
      [this](const http::Request& req, http::Response& res) {
        if (!req.body_reader) return res.SetBody("{}", "application/json");
        ++reading;
        uint64_t n = 0;
        uint64_t h = Fnv1a({});
        std::string piece;
        bool ok = false;
        while (req.body_reader->Read(&piece)) {
          if (piece.empty()) {
            ok = true;
            break;
          }
          if (n == 0) {
            first_piece_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - start_)
                                 .count();
          }
          n += piece.size();
          h = Fnv1a(piece, h);
        }
        ++(ok ? bodies_ended : bodies_failed);
        --reading;
        res.SetBody(nlohmann::json{{"bytes", n},
                                   {"fnv", std::to_string(h)},
                                   {"content_type", req.headers.Get("Content-Type")},
                                   {"complete", ok}}
                        .dump(),
                    "application/json");
      },
      [](int status, const http::Request&, http::Response& res, const std::string&) {
        res.status = status;
      });
  if (transport_->Bind().ok()) port_ = transport_->port();
  thread_ = std::thread([this] { transport_->Run(); });
}

CountingUpstream::~CountingUpstream() {
  transport_->Stop();
  thread_.join();
}

}  // namespace http_test
