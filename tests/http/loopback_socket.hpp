// Raw client sockets to a loopback port, for tests that must control the
// bytes on the wire: one with a fixed receive buffer (a slow reader that
// must push back on the server), and one request's exchange read until the
// server closes.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>

// 128 KiB (the kernel doubles it): fixed, so the server's writes meet a full
// socket soon instead of the receive buffer growing to megabytes; and not
// smaller, because with a buffer below twice the loopback MSS (64 KiB) Linux
// can keep the window shut after the reader drained it (its silly-window
// avoidance), which stalls the connection for minutes until the sender's
// probes give up. A 4 KiB buffer did exactly that, now and then.
inline int ConnectWithFixedReceiveBuffer(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  const int size = 128 * 1024;
  REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// The status code of the status line `bytes` starts with, 0 when there is none.
inline int StatusOf(const std::string& bytes) {
  if (bytes.size() < 12 || bytes.compare(0, 7, "HTTP/1.") != 0 || bytes[8] != ' ') return 0;
  for (int i = 9; i < 12; ++i) {
    if (bytes[i] < '0' || bytes[i] > '9') return 0;
  }
  return std::stoi(bytes.substr(9, 3));
}

// Sends `request` in one write on a new connection and returns every byte
// that came back until the server closed it or `wait` passed.
inline std::string ExchangeUntilClose(int port, const std::string& request,
                                      std::chrono::milliseconds wait = std::chrono::seconds(5)) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}
