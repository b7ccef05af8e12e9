// stream_client: opens many concurrent agent streams against assistant-server
// (POST /api/agent/message with stream:true) and measures, for every
// message.delta, how long its token took from leaving bench/streams'
// upstream (whose send time, CLOCK_MONOTONIC ns, is the delta's text) to
// arriving here: the latency assistant-server adds to a streamed token.
//
//   stream_client --port 8000 --tokens-file tokens.txt --streams 500
//                 [--message "bench tokens=50 interval_ms=50"] [--ramp-ms 1000]
//                 [--rss-pid PID] [--ready-file PATH] [--timeout-s 120]
//
// Prints one line of key=value figures (latencies in microseconds). Streams
// are spread over --ramp-ms so that their tokens do not all fall on the same
// instant. With --ready-file, writes the file once every stream has its
// message.start (all admitted and running), so a script can load the server
// while they are open; with --rss-pid, samples that process's VmRSS then.
//
// One thread and epoll, so the client itself adds little: the arrival time is
// taken right after each recv.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Settings {
  int port = 8000;
  std::string tokens_file;
  int streams = 1;
  int ramp_ms = 1000;
  std::string message = "bench tokens=50 interval_ms=50";
  int rss_pid = 0;
  std::string ready_file;
  int timeout_s = 120;
  std::string latency_file;  // every delta's latency, for looking at the tail
};

enum class Phase { kWaiting, kConnecting, kHead, kChunkSize, kChunkData, kChunkEnd, kDone };

struct Stream {
  int fd = -1;
  Phase phase = Phase::kWaiting;
  int64_t start_at = 0;   // when to connect
  int64_t opened_at = 0;  // connect() called
  std::string request;
  size_t sent = 0;
  std::string buf;        // unparsed response bytes
  size_t chunk_left = 0;
  std::string sse_line;   // the SSE line being assembled
  std::string event;      // the current SSE event's type
  int status = 0;
  bool retry_after = false;
  bool started = false;   // message.start seen
  bool done = false;      // message.done seen
  bool error_event = false;
  int deltas = 0;
};

struct Totals {
  int ok = 0;           // ended with message.done
  int refused = 0;      // 503
  int refused_with_retry_after = 0;
  int other_status = 0;
  int broken = 0;       // connection ended without message.done
  int error_events = 0;
  int started = 0;
  int64_t deltas = 0;
  std::vector<int64_t> latency_ns;
  std::vector<int64_t> start_ns;  // connect to message.start
  // With --latency-file: per delta, its arrival (CLOCK_MONOTONIC), the
  // stream and the delta's number in it, parallel to latency_ns.
  std::vector<int64_t> arrived_ns;
  std::vector<std::pair<int, int>> stream_delta;
};

long VmRssKib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

long Threads(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::strtol(line.c_str() + 8, nullptr, 10);
  }
  return -1;
}

double Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return static_cast<double>(v[k]) / 1000.0;  // microseconds
}

class Client {
 public:
  Client(Settings s, std::vector<std::string> tokens) : s_(std::move(s)), tokens_(std::move(tokens)) {}

  int Run() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    const int64_t t0 = NowNs();
    streams_.resize(static_cast<size_t>(s_.streams));
    for (int i = 0; i < s_.streams; ++i) {
      Stream& st = streams_[static_cast<size_t>(i)];
      st.start_at = t0 + (s_.streams > 1 ? int64_t{s_.ramp_ms} * 1000000 * i / s_.streams : 0);
      const std::string body = "{\"message\":\"" + s_.message + "\",\"stream\":true}";
      st.request = "POST /api/agent/message HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Authorization: Bearer " + tokens_[static_cast<size_t>(i) % tokens_.size()] +
                   "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
                   "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    }
    const int64_t deadline = t0 + int64_t{s_.timeout_s} * 1000000000;
    size_t next_to_open = 0;
    int open = 0;
    bool ready_written = false;
    std::vector<epoll_event> events(1024);
    while (NowNs() < deadline) {
      const int64_t now = NowNs();
      while (next_to_open < streams_.size() && streams_[next_to_open].start_at <= now) {
        if (Connect(next_to_open)) ++open;
        ++next_to_open;
      }
      if (next_to_open == streams_.size() && open == 0) break;
      int timeout_ms = 50;
      if (next_to_open < streams_.size()) {
        const int64_t wait = streams_[next_to_open].start_at - now;
        timeout_ms = std::max<int64_t>(0, std::min<int64_t>(50, wait / 1000000));
      }
      const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                                 timeout_ms);
      const int64_t arrived = NowNs();
      for (int i = 0; i < n; ++i) {
        const size_t idx = events[i].data.u64;
        Stream& st = streams_[idx];
        if (st.phase == Phase::kDone) continue;
        if (!Service(st, events[i].events, arrived)) {
          Finish(st);
          --open;
        }
      }
      if (!ready_written && totals_.started + totals_.refused + totals_.other_status +
                                    totals_.broken >= s_.streams) {
        ready_written = true;
        OnAllOpen();
      }
    }
    for (Stream& st : streams_) {
      if (st.phase != Phase::kDone && st.phase != Phase::kWaiting) Finish(st);
    }
    Report();
    return totals_.broken + totals_.other_status > 0 ? 1 : 0;
  }

 private:
  bool Connect(size_t idx) {
    Stream& st = streams_[idx];
    st.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(st.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(s_.port));
    st.opened_at = NowNs();
    if (::connect(st.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
        errno != EINPROGRESS) {
      ::close(st.fd);
      st.phase = Phase::kDone;
      ++totals_.broken;
      return false;
    }
    st.phase = Phase::kConnecting;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = idx;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, st.fd, &ev);
    return true;
  }

  // False when the stream is over (ended, failed or refused).
  bool Service(Stream& st, uint32_t events, int64_t arrived) {
    if (st.phase == Phase::kConnecting && (events & EPOLLOUT)) {
      while (st.sent < st.request.size()) {
        const ssize_t n = ::send(st.fd, st.request.data() + st.sent, st.request.size() - st.sent,
                                 MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EAGAIN) return true;
          return false;
        }
        st.sent += static_cast<size_t>(n);
      }
      st.phase = Phase::kHead;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = static_cast<uint64_t>(&st - streams_.data());
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, st.fd, &ev);
    }
    if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return true;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(st.fd, buf, sizeof buf, 0);
      if (n == 0) return false;
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        return false;
      }
      st.buf.append(buf, static_cast<size_t>(n));
      if (!Parse(st, arrived)) return false;
    }
  }

  // Consumes st.buf; false when the response is complete or unusable.
  bool Parse(Stream& st, int64_t arrived) {
    size_t pos = 0;
    for (;;) {
      if (st.phase == Phase::kHead) {
        const size_t end = st.buf.find("\r\n\r\n", pos);
        if (end == std::string::npos) break;
        const std::string head = st.buf.substr(pos, end - pos);
        pos = end + 4;
        st.status = std::atoi(head.c_str() + head.find(' ') + 1);
        std::string lower = head;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        st.retry_after = lower.find("\r\nretry-after:") != std::string::npos;
        if (st.status != 200) return false;
        st.phase = Phase::kChunkSize;
      } else if (st.phase == Phase::kChunkSize) {
        const size_t end = st.buf.find("\r\n", pos);
        if (end == std::string::npos) break;
        st.chunk_left = std::strtoul(st.buf.c_str() + pos, nullptr, 16);
        pos = end + 2;
        if (st.chunk_left == 0) {
          st.phase = Phase::kDone;
          return false;
        }
        st.phase = Phase::kChunkData;
      } else if (st.phase == Phase::kChunkData) {
        const size_t take = std::min(st.chunk_left, st.buf.size() - pos);
        if (take == 0) break;
        Sse(st, std::string_view(st.buf).substr(pos, take), arrived);
        pos += take;
        st.chunk_left -= take;
        if (st.chunk_left == 0) st.phase = Phase::kChunkEnd;
      } else if (st.phase == Phase::kChunkEnd) {
        if (st.buf.size() - pos < 2) break;
        pos += 2;
        st.phase = Phase::kChunkSize;
      } else {
        break;
      }
    }
    st.buf.erase(0, pos);
    return true;
  }

  void Sse(Stream& st, std::string_view data, int64_t arrived) {
    for (char ch : data) {
      if (ch != '\n') {
        st.sse_line.push_back(ch);
        continue;
      }
      const std::string& line = st.sse_line;
      if (line.rfind("event: ", 0) == 0) {
        st.event = line.substr(7);
      } else if (line.rfind("data: ", 0) == 0) {
        if (st.event == "message.delta") {
          // {"content":" 123456789"}: the upstream's send time.
          const size_t at = line.find("\"content\":\"");
          if (at != std::string::npos) {
            const char* p = line.c_str() + at + 11;
            while (*p == ' ') ++p;
            char* end = nullptr;
            const long long sent = std::strtoll(p, &end, 10);
            if (end != p && sent > 0) {
              totals_.latency_ns.push_back(arrived - sent);
              if (!s_.latency_file.empty()) {
                totals_.arrived_ns.push_back(arrived);
                totals_.stream_delta.emplace_back(static_cast<int>(&st - streams_.data()),
                                                  st.deltas);
              }
              ++st.deltas;
            }
          }
        } else if (st.event == "message.start") {
          st.started = true;
          ++totals_.started;
          totals_.start_ns.push_back(arrived - st.opened_at);
        } else if (st.event == "message.done") {
          st.done = true;
        } else if (st.event == "error") {
          st.error_event = true;
        }
      }
      st.sse_line.clear();
    }
  }

  void Finish(Stream& st) {
    if (st.fd >= 0) {
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, st.fd, nullptr);
      ::close(st.fd);
      st.fd = -1;
    }
    st.phase = Phase::kDone;
    totals_.deltas += st.deltas;
    if (st.error_event) ++totals_.error_events;
    if (st.status == 503) {
      ++totals_.refused;
      if (st.retry_after) ++totals_.refused_with_retry_after;
    } else if (st.status != 200 && st.status != 0) {
      ++totals_.other_status;
    } else if (st.done) {
      ++totals_.ok;
    } else {
      ++totals_.broken;
    }
  }

  void OnAllOpen() {
    if (s_.rss_pid > 0) {
      rss_open_kib_ = VmRssKib(s_.rss_pid);
      threads_open_ = Threads(s_.rss_pid);
    }
    if (!s_.ready_file.empty()) {
      std::ofstream(s_.ready_file) << "open " << totals_.started << "\n";
    }
  }

  void Report() {
    if (!s_.latency_file.empty()) {
      // Before Report's percentiles sort latency_ns.
      std::ofstream out(s_.latency_file);
      out << "arrived_ns latency_ns stream delta\n";
      for (size_t i = 0; i < totals_.arrived_ns.size(); ++i) {
        out << totals_.arrived_ns[i] << ' ' << totals_.latency_ns[i] << ' '
            << totals_.stream_delta[i].first << ' ' << totals_.stream_delta[i].second << '\n';
      }
    }
    std::printf(
        "streams=%d ok=%d started=%d refused=%d refused_retry_after=%d other_status=%d "
        "broken=%d error_events=%d deltas=%lld p50_us=%.0f p90_us=%.0f p99_us=%.0f "
        "p999_us=%.0f max_us=%.0f start_p50_ms=%.1f start_p99_ms=%.1f rss_open_kib=%ld "
        "threads_open=%ld\n",
        s_.streams, totals_.ok, totals_.started, totals_.refused,
        totals_.refused_with_retry_after, totals_.other_status, totals_.broken,
        totals_.error_events, static_cast<long long>(totals_.deltas),
        Percentile(totals_.latency_ns, 0.50), Percentile(totals_.latency_ns, 0.90),
        Percentile(totals_.latency_ns, 0.99), Percentile(totals_.latency_ns, 0.999),
        Percentile(totals_.latency_ns, 1.0), Percentile(totals_.start_ns, 0.50) / 1000.0,
        Percentile(totals_.start_ns, 0.99) / 1000.0, rss_open_kib_, threads_open_);
    std::fflush(stdout);
  }

  Settings s_;
  std::vector<std::string> tokens_;
  std::vector<Stream> streams_;
  Totals totals_;
  int epoll_fd_ = -1;
  long rss_open_kib_ = -1;
  long threads_open_ = -1;
};

int Usage() {
  std::fprintf(stderr,
               "usage: stream_client --port N --tokens-file F --streams N [--message M] "
               "[--ramp-ms N] [--rss-pid PID] [--ready-file PATH] [--timeout-s N] "
               "[--latency-file PATH]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string v = argv[++i];
    if (a == "--port") {
      s.port = std::atoi(v.c_str());
    } else if (a == "--tokens-file") {
      s.tokens_file = v;
    } else if (a == "--streams") {
      s.streams = std::atoi(v.c_str());
    } else if (a == "--ramp-ms") {
      s.ramp_ms = std::atoi(v.c_str());
    } else if (a == "--message") {
      s.message = v;
    } else if (a == "--rss-pid") {
      s.rss_pid = std::atoi(v.c_str());
    } else if (a == "--ready-file") {
      s.ready_file = v;
    } else if (a == "--timeout-s") {
      s.timeout_s = std::atoi(v.c_str());
    } else if (a == "--latency-file") {
      s.latency_file = v;
    } else {
      return Usage();
    }
  }
  if (s.tokens_file.empty() || s.streams < 1) return Usage();
  std::vector<std::string> tokens;
  std::ifstream in(s.tokens_file);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) tokens.push_back(line);
  }
  if (tokens.empty()) {
    std::fprintf(stderr, "stream_client: no tokens in %s\n", s.tokens_file.c_str());
    return 2;
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  return Client(std::move(s), std::move(tokens)).Run();
}
