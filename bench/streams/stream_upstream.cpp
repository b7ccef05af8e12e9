// stream_upstream: an OpenAI-compatible chat endpoint for the stream
// benchmarks. It answers every POST .../chat/completions with a chunked SSE
// stream of `tokens` content deltas, one every `interval_ms`, and writes in
// each token's text the CLOCK_MONOTONIC nanoseconds at which it sends it, so
// a client on the same machine can tell how long the token took to reach it
// through assistant-server.
//
//   stream_upstream [--port 0] [--tokens 50] [--interval-ms 50]
//
// Prints the port on the first line of stdout. A request whose body (the
// user's message travels in it) contains `tokens=N` or `interval_ms=N`
// overrides the defaults for that stream, so one upstream serves every
// scenario of bench/streams/run.sh.
//
// One thread and epoll: the upstream must not be what limits 500 streams, nor
// add scheduling noise of its own to the figures.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <csignal>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <vector>

namespace {

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Settings {
  int port = 0;
  int tokens = 50;
  int interval_ms = 50;
};

struct Conn {
  int fd = -1;
  std::string in;            // request bytes until the body is complete
  std::string out;           // bytes the socket did not take yet
  bool responding = false;   // the request was read; tokens are being sent
  int tokens_left = 0;
  int tokens_sent = 0;
  int interval_ms = 0;
  bool closing = false;      // the last chunk is queued; close once flushed
};

struct Stats {
  uint64_t streams = 0;
  uint64_t tokens = 0;
  uint64_t late_writes = 0;  // a token that had to wait for EPOLLOUT
  uint64_t client_gone = 0;
};

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

// `key=<digits>` in `body`, else `fallback`.
int NumberAfter(const std::string& body, const char* key, int fallback) {
  const size_t at = body.find(key);
  if (at == std::string::npos) return fallback;
  const char* p = body.c_str() + at + std::strlen(key);
  char* end = nullptr;
  const long v = std::strtol(p, &end, 10);
  if (end == p || v < 0 || v > 1000000) return fallback;
  return static_cast<int>(v);
}

std::string Chunk(const std::string& payload) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
  return size + payload + "\r\n";
}

std::string DeltaEvent(const std::string& content) {
  return "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\","
         "\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" +
         content + "\"},\"finish_reason\":null}]}\n\n";
}

class Upstream {
 public:
  explicit Upstream(Settings settings) : settings_(settings) {}

  bool Listen() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return false;
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(settings_.port));
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    if (::listen(listen_fd_, 4096) != 0) return false;
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) == 0;
  }

  int port() const { return port_; }
  const Stats& stats() const { return stats_; }

  void Run() {
    std::vector<epoll_event> events(1024);
    while (!g_stop) {
      int timeout_ms = 100;
      if (!timers_.empty()) {
        // Rounded up: a tick up to 1 ms late costs nothing (the token carries
        // its real send time), a spinning loop would steal CPU from the server.
        const int64_t wait_ns = timers_.top().first - NowNs();
        timeout_ms = wait_ns <= 0 ? 0 : static_cast<int>((wait_ns + 999999) / 1000000);
        if (timeout_ms > 100) timeout_ms = 100;
      }
      const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                                 timeout_ms);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          Accept();
          continue;
        }
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        Conn& c = *it->second;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) {
          Drop(fd, true);
          continue;
        }
        if (events[i].events & EPOLLIN) {
          if (!Read(c)) {
            Drop(fd, c.responding);
            continue;
          }
        }
        if ((events[i].events & EPOLLOUT) && !Flush(c)) {
          Drop(fd, true);
          continue;
        }
      }
      FireTimers();
    }
  }

 private:
  void Accept() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.fd = fd;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
      conns_[fd] = std::move(c);
    }
  }

  // False when the peer closed or the request is unusable.
  bool Read(Conn& c) {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n == 0) return false;
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return false;
      }
      if (!c.responding) c.in.append(buf, static_cast<size_t>(n));
    }
    if (c.responding) return true;
    const size_t head_end = c.in.find("\r\n\r\n");
    if (head_end == std::string::npos) return true;
    size_t length = 0;
    for (const char* name : {"Content-Length:", "content-length:"}) {
      const size_t at = c.in.find(name);
      if (at != std::string::npos && at < head_end) {
        length = std::strtoul(c.in.c_str() + at + std::strlen(name), nullptr, 10);
      }
    }
    if (c.in.size() < head_end + 4 + length) return true;
    const std::string body = c.in.substr(head_end + 4, length);
    c.responding = true;
    c.tokens_left = NumberAfter(body, "tokens=", settings_.tokens);
    c.interval_ms = NumberAfter(body, "interval_ms=", settings_.interval_ms);
    c.in.clear();
    ++stats_.streams;
    Send(c,
         "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
         "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
             Chunk(DeltaEvent("")));
    timers_.push({NowNs() + int64_t{c.interval_ms} * 1000000, c.fd});
    return true;
  }

  void FireTimers() {
    const int64_t now = NowNs();
    while (!timers_.empty() && timers_.top().first <= now) {
      const auto [due, fd] = timers_.top();
      timers_.pop();
      auto it = conns_.find(fd);
      if (it == conns_.end()) continue;
      Conn& c = *it->second;
      if (c.tokens_left > 0) {
        --c.tokens_left;
        ++c.tokens_sent;
        ++stats_.tokens;
        // The timestamp is taken as late as possible: right before the send.
        const std::string text = " " + std::to_string(NowNs());
        if (!Send(c, Chunk(DeltaEvent(text)))) {
          Drop(fd, true);
          continue;
        }
        // From the due time, not from now: a late tick does not slow the rate.
        timers_.push({due + int64_t{c.interval_ms} * 1000000, fd});
      } else {
        const std::string tail =
            "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\","
            "\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{},"
            "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,"
            "\"completion_tokens\":" + std::to_string(c.tokens_sent) +
            ",\"total_tokens\":" + std::to_string(10 + c.tokens_sent) + "}}\n\ndata: [DONE]\n\n";
        c.closing = true;
        if (!Send(c, Chunk(tail) + "0\r\n\r\n") || c.out.empty()) Drop(fd, false);
      }
    }
  }

  // Queues `data` and writes what the socket takes. False on a dead socket.
  bool Send(Conn& c, const std::string& data) {
    if (!c.out.empty()) {
      ++stats_.late_writes;
      c.out += data;
      return true;
    }
    c.out = data;
    return Flush(c);
  }

  bool Flush(Conn& c) {
    while (!c.out.empty()) {
      const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return false;
      }
      c.out.erase(0, static_cast<size_t>(n));
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (c.out.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
    ev.data.fd = c.fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    if (c.out.empty() && c.closing) {
      ::shutdown(c.fd, SHUT_WR);
    }
    return true;
  }

  void Drop(int fd, bool client_gone) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    if (client_gone && it->second->responding && it->second->tokens_left > 0) {
      ++stats_.client_gone;
    }
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns_.erase(it);
  }

  Settings settings_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int port_ = 0;
  std::map<int, std::unique_ptr<Conn>> conns_;
  // (due time ns, fd), earliest first.
  std::priority_queue<std::pair<int64_t, int>, std::vector<std::pair<int64_t, int>>,
                      std::greater<>>
      timers_;
  Stats stats_;
};

int Usage() {
  std::fprintf(stderr, "usage: stream_upstream [--port N] [--tokens N] [--interval-ms N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return Usage();
    const int v = std::atoi(argv[++i]);
    if (a == "--port") {
      s.port = v;
    } else if (a == "--tokens") {
      s.tokens = v;
    } else if (a == "--interval-ms") {
      s.interval_ms = v;
    } else {
      return Usage();
    }
  }
  // 500 streams are 500 sockets here; the soft limit may be 1024.
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  Upstream up(s);
  if (!up.Listen()) {
    std::fprintf(stderr, "stream_upstream: cannot listen: %s\n", std::strerror(errno));
    return 1;
  }
  std::printf("%d\n", up.port());
  std::fflush(stdout);
  up.Run();
  const Stats& st = up.stats();
  std::fprintf(stderr,
               "stream_upstream: streams=%llu tokens=%llu late_writes=%llu client_gone=%llu\n",
               static_cast<unsigned long long>(st.streams),
               static_cast<unsigned long long>(st.tokens),
               static_cast<unsigned long long>(st.late_writes),
               static_cast<unsigned long long>(st.client_gone));
  return 0;
}
