// A client socket to a loopback port with a fixed receive buffer, for tests
// in which a slow reader must push back on the server.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

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
