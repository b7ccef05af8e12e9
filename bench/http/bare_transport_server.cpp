// bare-transport-server: the bound for assistant-server's throughput and
// tail on this machine. The server's own transport (Boost.Beast, 2 I/O
// threads, the worker pool of the default --threads + --max-streams)
// answering GET /api/tasks with the fixed 20-task body of bare-httplib-server
// and nothing else: no auth, no storage, no JSON work. What it cannot reach,
// assistant-server cannot either (docs/performance.md).
//
// Usage: bare-transport-server [--port N]   (env PORT also read)
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "fixed_body.hpp"
#include "http/transport.hpp"

namespace http = assistant::server::http;

int main(int argc, char** argv) {
  int port = std::getenv("PORT") ? std::atoi(std::getenv("PORT")) : 8080;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[++i]);
  }
  const std::string body = FixedTasksBody();

  http::TransportOptions options;
  options.port = port;
  options.workers = 128 + 512;  // assistant-server's --threads + --max-streams defaults
  http::Transport transport(
      options,
      [&body](const http::Request& req, http::Response& res) {
        if (req.path == "/api/tasks") return res.SetBody(body, "application/json");
        res.SetBody("{\"status\":\"ok\"}", "application/json");
      },
      [](int status, const http::Request&, http::Response& res, const std::string&) {
        res.status = status;
      });
  const auto bound = transport.Bind();
  if (!bound.ok()) {
    std::cerr << bound.message() << "\n";
    return 1;
  }
  transport.Run();  // until killed
  return 0;
}
