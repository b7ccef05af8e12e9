// bare-httplib-server: the benchmark's baseline. A cpp-httplib server with
// the same connection settings as assistant-server, answering GET /api/tasks
// with a fixed 20-task body and nothing else: no auth, no storage, no JSON
// work. assistant-server's throughput is reported as a share of this.
//
// Usage: bare-httplib-server [--port N] [--threads N]   (env PORT also read)
#include <cstdlib>
#include <cstring>
#include <string>

#include <httplib.h>

#include "fixed_body.hpp"

int main(int argc, char** argv) {
  int port = std::getenv("PORT") ? std::atoi(std::getenv("PORT")) : 8080;
  size_t threads = 128;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--threads") == 0) threads = std::strtoul(argv[++i], nullptr, 10);
  }
  const std::string body = FixedTasksBody();

  httplib::Server svr;
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_max_count(10000);
  svr.set_keep_alive_timeout(5);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.Get("/api/tasks", [&body](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "application/json");
  });
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  return svr.listen("127.0.0.1", port) ? 0 : 1;
}
